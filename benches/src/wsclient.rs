//! A lean WebSocket client for load generation: one read buffer per connection, frames parsed in place, text
//! frames written masked. It trusts the server (the servers measured are local and known).

use std::io;
use std::net::{IpAddr, SocketAddr};

use bytes::{Buf, BytesMut};
use flate2::{Decompress, FlushDecompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// What [`WsClient::next`] found.
pub enum Frame<'a> {
    /// A text message (inflated when it was compressed).
    Text(&'a [u8]),
    /// The server closed the connection.
    Closed,
}

/// One WebSocket connection.
pub struct WsClient {
    stream: TcpStream,
    buf: BytesMut,
    /// The last inflated message.
    inflated: Vec<u8>,
    inflater: Option<Decompress>,
    out: Vec<u8>,
}

/// Connects from `local` (a loopback address, so that many connections can be spread over several source
/// addresses) to `server`, and upgrades at `path` with the extra request headers `headers`.
pub async fn connect(local: IpAddr, server: SocketAddr, path: &str, headers: &[(&str, &str)]) -> io::Result<WsClient> {
    let socket = if server.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.bind(SocketAddr::new(local, 0))?;
    let mut stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during the handshake"));
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 101") {
        return Err(io::Error::other(format!("upgrade refused: {}", head.lines().next().unwrap_or_default())));
    }
    let deflate = head.contains("sec-websocket-extensions: permessage-deflate");
    buf.advance(end);
    Ok(WsClient {
        stream,
        buf,
        inflated: Vec::new(),
        inflater: deflate.then(|| Decompress::new(false)),
        out: Vec::with_capacity(256),
    })
}

impl WsClient {
    /// The next text message; pings are answered, other control frames skipped.
    pub async fn next(&mut self) -> io::Result<Frame<'_>> {
        loop {
            if let Some((header, len, opcode, rsv1)) = self.parse() {
                if self.buf.len() < header + len {
                    self.buf.reserve(header + len - self.buf.len());
                    if self.stream.read_buf(&mut self.buf).await? == 0 {
                        return Ok(Frame::Closed);
                    }
                    continue;
                }
                self.buf.advance(header);
                let payload = self.buf.split_to(len);
                match opcode {
                    0x1 if rsv1 => {
                        self.inflate(&payload)?;
                        return Ok(Frame::Text(&self.inflated));
                    }
                    0x1 => {
                        self.inflated.clear();
                        self.inflated.extend_from_slice(&payload);
                        return Ok(Frame::Text(&self.inflated));
                    }
                    0x8 => return Ok(Frame::Closed),
                    0x9 => self.send_frame(0xA, &payload).await?,
                    _ => {}
                }
                continue;
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Ok(Frame::Closed);
            }
        }
    }

    /// (header length, payload length, opcode, rsv1) of the frame at the front of the buffer, once its header is in.
    fn parse(&self) -> Option<(usize, usize, u8, bool)> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        let (opcode, rsv1) = (b[0] & 0x0F, b[0] & 0x40 != 0);
        match b[1] & 0x7F {
            126 if b.len() >= 4 => Some((4, u16::from_be_bytes([b[2], b[3]]) as usize, opcode, rsv1)),
            127 if b.len() >= 10 => {
                let len = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize;
                Some((10, len, opcode, rsv1))
            }
            126 | 127 => None,
            len => Some((2, len as usize, opcode, rsv1)),
        }
    }

    fn inflate(&mut self, payload: &[u8]) -> io::Result<()> {
        let inflater = self.inflater.as_mut().ok_or_else(|| io::Error::other("compressed frame without deflate"))?;
        // The servers measured compress each message on its own (no context takeover).
        inflater.reset(false);
        self.inflated.clear();
        let mut input = payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut consumed = 0;
        loop {
            self.inflated.reserve(input.len() * 4 + 64);
            let before = (inflater.total_in(), inflater.total_out());
            inflater
                .decompress_vec(&input[consumed..], &mut self.inflated, FlushDecompress::Sync)
                .map_err(io::Error::other)?;
            consumed += (inflater.total_in() - before.0) as usize;
            if consumed >= input.len() && self.inflated.len() < self.inflated.capacity() {
                return Ok(());
            }
            if inflater.total_out() == before.1 && inflater.total_in() == before.0 {
                return Ok(());
            }
        }
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &[u8]) -> io::Result<()> {
        self.send_frame(0x1, text).await
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> io::Result<()> {
        const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
        self.out.clear();
        self.out.push(0x80 | opcode);
        match payload.len() {
            len @ 0..=125 => self.out.push(0x80 | len as u8),
            len @ 126..=65535 => {
                self.out.push(0x80 | 126);
                self.out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                self.out.push(0x80 | 127);
                self.out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        self.out.extend_from_slice(&MASK);
        self.out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        self.stream.write_all(&self.out).await
    }
}
