//! The near-limit baseline: a minimal pre-framed tokio broadcast server. Each text message a client sends is
//! framed once, and those same bytes are written to every connection (one `Bytes` shared through a broadcast
//! channel); each connection writes whatever has queued up in one call. No sessions, acks, history or limits: what
//! is left is the cost of the sockets, which is what Tidings is compared with.
//!
//! `baseline-server [PORT]` (0, the default, lets the OS pick). Prints `listening on PORT`. One thread: run it under
//! `taskset -c 0` as the benchmark script does.

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// Broadcasts a connection may fall behind by before it skips some (the load generator counts them as lost).
const BACKLOG: usize = 1 << 16;
/// A connection writes at most this much at once.
const WRITE_BATCH: usize = 256 * 1024;

#[tokio::main(flavor = "current_thread")]
#[expect(clippy::print_stdout, reason = "the listening port is the program's output")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).map_or(0, |p| p.parse().expect("PORT"));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?.port());
    let (tx, _) = broadcast::channel::<Bytes>(BACKLOG);
    loop {
        let (stream, _) = listener.accept().await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            let _ = connection(stream, tx).await;
        });
    }
}

async fn connection(mut stream: TcpStream, tx: broadcast::Sender<Bytes>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = BytesMut::with_capacity(4096);
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let key = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-key")))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let accept = base64::engine::general_purpose::STANDARD
        .encode(Sha1::digest(format!("{key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11").as_bytes()));
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await?;
    let _ = buf.split_to(end);
    let (mut reader, mut writer) = stream.into_split();
    let mut rx = tx.subscribe();
    let writing = tokio::spawn(async move {
        let mut out = Vec::with_capacity(WRITE_BATCH);
        loop {
            let first = match rx.recv().await {
                Ok(frame) => frame,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            out.clear();
            out.extend_from_slice(&first);
            while out.len() < WRITE_BATCH {
                match rx.try_recv() {
                    Ok(frame) => out.extend_from_slice(&frame),
                    Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
            if writer.write_all(&out).await.is_err() {
                return;
            }
        }
    });
    // Client frames: masked; text frames are broadcast, a close ends the connection, the rest is ignored.
    loop {
        while let Some((opcode, payload)) = take_frame(&mut buf) {
            match opcode {
                0x1 => {
                    let mut frame = BytesMut::with_capacity(payload.len() + 10);
                    frame.put_u8(0x81);
                    match payload.len() {
                        len @ 0..=125 => frame.put_u8(len as u8),
                        len @ 126..=65535 => {
                            frame.put_u8(126);
                            frame.put_u16(len as u16);
                        }
                        len => {
                            frame.put_u8(127);
                            frame.put_u64(len as u64);
                        }
                    }
                    frame.put_slice(&payload);
                    let _ = tx.send(frame.freeze());
                }
                0x8 => {
                    writing.abort();
                    return Ok(());
                }
                _ => {}
            }
        }
        if reader.read_buf(&mut buf).await? == 0 {
            writing.abort();
            return Ok(());
        }
    }
}

/// The first complete frame in `buf`, unmasked.
fn take_frame(buf: &mut BytesMut) -> Option<(u8, Vec<u8>)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")) as usize, 10),
        126 | 127 => return None,
        len => (len as usize, 2),
    };
    let mask = if masked {
        if buf.len() < at + 4 {
            return None;
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    if buf.len() < at + len {
        return None;
    }
    let frame = buf.split_to(at + len);
    let mut payload = frame[at..].to_vec();
    if let Some(mask) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
    }
    Some((opcode, payload))
}
