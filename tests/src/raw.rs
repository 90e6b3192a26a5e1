//! A WebSocket client with no manners: it sends any frame it is told to, masked or not.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use tidings_websocket::frame::{apply_mask, parse_header, OpCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawFrame {
    /// A text frame.
    Text(String),
    /// A close frame: code and reason.
    Close(Option<u16>, String),
    /// A ping.
    Ping,
    /// Any other opcode.
    Other(OpCode),
}

/// A raw client connection.
pub struct RawSocket {
    stream: TcpStream,
    buf: BytesMut,
    /// Present once permessage-deflate was negotiated: inflates RSV1 messages (keeping the window, which is
    /// harmless when the server does not use it).
    inflater: Option<Decompress>,
    /// The sizes of the compressed payloads received, in order.
    pub compressed_sizes: Vec<usize>,
}

impl RawSocket {
    /// Opens a WebSocket to `path` with a valid handshake, and checks for `101`.
    pub async fn connect(addr: SocketAddr, path: &str) -> RawSocket {
        let (status, socket) = RawSocket::handshake(addr, path, &[]).await;
        assert!(status.starts_with("HTTP/1.1 101"), "expected 101, got {status}");
        socket
    }

    /// Sends an upgrade request with the standard headers plus `extra` (which replace standard ones of the same
    /// name), and returns the response's status line and head, and the socket.
    pub async fn handshake(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> (String, RawSocket) {
        let stream = TcpStream::connect(addr).await.expect("connect");
        RawSocket::handshake_on(stream, path, extra).await
    }

    /// Opens a WebSocket to `path` over a socket whose kernel buffers are `buffer` bytes each way (the kernel
    /// doubles it), so that a few kilobytes unread fill the connection: what a slow or busy client looks like.
    pub async fn connect_small_buffers(addr: SocketAddr, path: &str, buffer: u32) -> RawSocket {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_send_buffer_size(buffer).expect("SO_SNDBUF");
        socket.set_recv_buffer_size(buffer).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("connect");
        let (status, socket) = RawSocket::handshake_on(stream, path, &[]).await;
        assert!(status.starts_with("HTTP/1.1 101"), "expected 101, got {status}");
        socket
    }

    /// The handshake of [`RawSocket::handshake`] over a connected `stream`.
    async fn handshake_on(mut stream: TcpStream, path: &str, extra: &[(&str, &str)]) -> (String, RawSocket) {
        let mut headers = vec![
            ("Host", "127.0.0.1"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        headers.retain(|(name, _)| !extra.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
        headers.extend(extra.iter().filter(|(_, v)| !v.is_empty()));
        let mut request = format!("GET {path} HTTP/1.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await.expect("write handshake");
        let mut buf = BytesMut::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read_buf(&mut buf))
                .await
                .expect("response in time")
                .expect("read");
            assert!(n > 0, "connection closed during the handshake");
        };
        let head = String::from_utf8_lossy(&buf.split_to(head_end)).into_owned();
        let deflate = head.to_ascii_lowercase().contains("sec-websocket-extensions: permessage-deflate");
        let inflater = deflate.then(|| Decompress::new_with_window_bits(false, 15));
        (head, RawSocket { stream, buf, inflater, compressed_sizes: Vec::new() })
    }

    /// Opens a WebSocket offering permessage-deflate with `offer` (for example `permessage-deflate`), checks for
    /// 101, and returns the socket and the server's `Sec-WebSocket-Extensions` answer (empty when declined).
    pub async fn connect_deflate(addr: SocketAddr, path: &str, offer: &str) -> (RawSocket, String) {
        let (head, socket) = RawSocket::handshake(addr, path, &[("Sec-WebSocket-Extensions", offer)]).await;
        assert!(head.starts_with("HTTP/1.1 101"), "expected 101, got {head}");
        let answer = head
            .lines()
            .find_map(|line| {
                line.split_once(':').filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-extensions"))
            })
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_default();
        (socket, answer)
    }

    /// Sends `data` as one compressed (RSV1) text message, compressed on its own.
    pub async fn send_compressed(&mut self, data: &[u8]) {
        let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
        let mut packed = Vec::with_capacity(data.len() / 2 + 64);
        while c.total_in() < data.len() as u64 || packed.is_empty() {
            packed.reserve(data.len() / 2 + 64);
            let from = c.total_in() as usize;
            c.compress_vec(&data[from..], &mut packed, FlushCompress::Sync).expect("compress");
        }
        packed.truncate(packed.len() - 4);
        self.send_frame(0xC1, &packed, true).await;
    }

    /// Sends a frame with the given first byte (FIN, RSV, opcode), masked or not.
    pub async fn send_frame(&mut self, first_byte: u8, payload: &[u8], masked: bool) {
        let mut frame = vec![first_byte];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => frame.push(mask_bit | n as u8),
            n @ 126..=0xFFFF => {
                frame.push(mask_bit | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(mask_bit | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mut data = payload.to_vec();
        if masked {
            let key: [u8; 4] = rand::random();
            frame.extend_from_slice(&key);
            apply_mask(&mut data, key, 0);
        }
        frame.extend_from_slice(&data);
        // The server may close before reading everything; a failed write shows up as a close on read.
        let _ = self.stream.write_all(&frame).await;
    }

    /// Sends only the (masked) header of a frame announcing `len` payload bytes: what a client about to send a huge
    /// message starts with.
    pub async fn send_header_only(&mut self, first_byte: u8, len: u64) {
        let mut header = vec![first_byte, 0x80 | 127];
        header.extend_from_slice(&len.to_be_bytes());
        header.extend_from_slice(&rand::random::<[u8; 4]>());
        let _ = self.stream.write_all(&header).await;
    }

    /// Sends a masked text frame.
    pub async fn send_text(&mut self, text: &str) {
        self.send_frame(0x81, text.as_bytes(), true).await;
    }

    /// The next frame from the server (answering pings is not done: tests run well within the ping interval).
    pub async fn next(&mut self) -> Option<RawFrame> {
        loop {
            if let Some(header) = parse_header(&self.buf).expect("server frames are well-formed") {
                assert!(header.mask.is_none(), "server frames must not be masked");
                let total = header.header_len + header.payload_len as usize;
                if self.buf.len() >= total {
                    let frame = self.buf.split_to(total);
                    let mut payload = frame[header.header_len..].to_vec();
                    if header.rsv & 0b100 != 0 {
                        self.compressed_sizes.push(payload.len());
                        payload = self.inflate(&payload);
                    }
                    let payload = &payload[..];
                    return Some(match header.opcode {
                        OpCode::Text => {
                            RawFrame::Text(String::from_utf8(payload.to_vec()).expect("server text is UTF-8"))
                        }
                        OpCode::Close => {
                            let code = payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
                            RawFrame::Close(
                                code,
                                String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned(),
                            )
                        }
                        OpCode::Ping => RawFrame::Ping,
                        other => RawFrame::Other(other),
                    });
                }
            }
            let read = tokio::time::timeout(Duration::from_secs(5), self.stream.read_buf(&mut self.buf)).await;
            match read.expect("a frame within 5 seconds") {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    fn inflate(&mut self, payload: &[u8]) -> Vec<u8> {
        let inflater = self.inflater.as_mut().expect("RSV1 only after negotiating permessage-deflate");
        let mut input = payload.to_vec();
        input.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let start = inflater.total_in();
        while inflater.total_in() - start < input.len() as u64 {
            out.reserve(input.len() * 4 + 64);
            let from = (inflater.total_in() - start) as usize;
            inflater
                .decompress_vec(&input[from..], &mut out, FlushDecompress::Sync)
                .expect("valid DEFLATE from the server");
        }
        out
    }

    /// The next text frame, parsed as JSON (skipping pings).
    pub async fn next_json(&mut self) -> serde_json::Value {
        loop {
            match self.next().await {
                Some(RawFrame::Text(text)) => return serde_json::from_str(&text).expect("server frames are JSON"),
                Some(RawFrame::Ping) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Reads until the server's close frame and returns its code, then checks that the server closes the TCP
    /// connection after the client answers.
    pub async fn expect_close(&mut self) -> u16 {
        loop {
            match self.next().await {
                Some(RawFrame::Close(code, _)) => {
                    let code = code.expect("a close code");
                    self.send_frame(0x88, &code.to_be_bytes(), true).await;
                    let mut rest = [0u8; 64];
                    let eof = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut rest)).await;
                    assert!(
                        matches!(eof, Ok(Ok(0)) | Ok(Err(_))),
                        "server should close the TCP connection after the close handshake"
                    );
                    return code;
                }
                Some(_) => continue,
                None => panic!("connection ended without a close frame"),
            }
        }
    }
}
