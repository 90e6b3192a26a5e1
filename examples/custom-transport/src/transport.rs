use bytes::{Bytes, BytesMut};
use tidings::{async_trait, Close, Connect, ConnectRequest, EncodedFrame, Hub, Transport, TransportError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Newline-delimited JSON over a TCP connection: one protocol frame per line, both ways.
pub struct LineTransport {
    stream: TcpStream,
    buf: BytesMut,
    max: usize,
}

#[async_trait(?Send)]
impl Transport for LineTransport {
    fn name(&self) -> &'static str {
        "tcp-lines"
    }

    async fn send(&mut self, frames: &[EncodedFrame]) -> Result<(), TransportError> {
        let mut out = Vec::new();
        for frame in frames {
            frame.write_to(&mut out);
            out.push(b'\n');
        }
        self.stream.write_all(&out).await.map_err(|e| TransportError::Lost(e.to_string()))
    }

    async fn recv(&mut self) -> Result<Option<Bytes>, TransportError> {
        loop {
            if let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
                let line = self.buf.split_to(end + 1);
                return Ok(Some(Bytes::copy_from_slice(&line[..end])));
            }
            if self.buf.len() > self.max {
                let close = Close::new(tidings::CloseCode::MESSAGE_TOO_BIG, "line too long");
                return Err(TransportError::Close(close));
            }
            // read_buf is cancel-safe: bytes are either in `buf` or still in the socket.
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) => return Err(TransportError::Lost(e.to_string())),
            }
        }
    }

    async fn close(&mut self, close: Close) {
        // Lines have no close frame of their own; this transport's convention is a last line with the code.
        let line = format!("{{\"type\":\"close\",\"code\":{}}}\n", close.code);
        let _ = self.stream.write_all(line.as_bytes()).await;
    }
}

/// Serves every connection `listener` accepts. Call it on an actix runtime (a task spawned from
/// `#[actix_web::main]`, say): sessions are actix actors.
pub async fn accept_loop(hub: Hub, listener: tokio::net::TcpListener) {
    while let Ok((stream, peer)) = listener.accept().await {
        let hub = hub.clone();
        actix_web::rt::spawn(async move {
            // The hub's checks (connect rate, the authenticator, session limits) apply to every transport. This one
            // has no headers to offer the authenticator; a real one would read credentials from the first line.
            let request = ConnectRequest::new("tcp-lines", Some(peer.ip()), "");
            let Ok(identity) = hub.admit(&request, None).await else { return };
            let transport = LineTransport { stream, buf: BytesMut::new(), max: hub.config().max_message_bytes };
            // A real transport reads `session` and `ack` from the client's first line to resume; this one starts
            // afresh.
            hub.serve(transport, Connect::new(identity).from_peer(Some(peer.ip()))).await;
        });
    }
}
