//! From bytes to messages: frame reassembly, unmasking, UTF-8 validation and size limits (RFC 6455 sections 5
//! and 8).

use bytes::{Buf, Bytes, BytesMut};
use tidings_core::CloseCode;

use crate::deflate::{InflateError, Inflater, WebSocketStats};
use crate::frame::{apply_mask, parse_header, HeaderError, OpCode};

/// A complete message from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, valid UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping with its application data.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame: its code and reason, when it had them.
    Close(Option<(u16, String)>),
}

/// Why the connection must close, with the code to close it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// 1002 (protocol error), 1007 (invalid UTF-8) or 1009 (too big).
    pub code: CloseCode,
    /// What the client did.
    pub reason: &'static str,
}

fn violation(code: CloseCode, reason: &'static str) -> Violation {
    Violation { code, reason }
}

/// Reassembles client messages from frames.
pub struct Decoder {
    max_message: usize,
    /// A fragmented message in progress.
    partial: Option<Partial>,
    /// Present when permessage-deflate was negotiated: RSV1 then marks a compressed message.
    inflater: Option<Inflater>,
    stats: Option<WebSocketStats>,
    /// UTF-8 already checked in the text frame whose payload is still arriving.
    peek: Peek,
}

/// How far the payload of an incomplete text frame has been validated, so that invalid UTF-8 fails the connection
/// as soon as the bad bytes arrive, not when the frame completes, and each byte is checked once.
#[derive(Default)]
struct Peek {
    /// Payload bytes of the frame validated so far.
    validated: usize,
    /// An incomplete character at the end of what was validated.
    carry: [u8; 4],
    carry_len: usize,
}

struct Partial {
    text: bool,
    compressed: bool,
    data: BytesMut,
    /// How much of `data` is known to be valid UTF-8 (text only); the rest is an incomplete trailing character.
    utf8_checked: usize,
}

impl Decoder {
    /// A decoder that refuses messages (and frames) longer than `max_message` bytes with 1009.
    pub fn new(max_message: usize) -> Self {
        Decoder { max_message, partial: None, inflater: None, stats: None, peek: Peek::default() }
    }

    /// Accepts compressed messages (permessage-deflate was negotiated). Their inflated size is limited like any
    /// message's, so a small compressed message that inflates past the limit is refused with 1009 as soon as it
    /// does (a decompression bomb costs at most the limit plus a chunk).
    pub fn with_deflate(mut self, release_after_pings: u32, stats: WebSocketStats) -> Self {
        self.inflater = Some(Inflater::new(release_after_pings));
        self.stats = Some(stats);
        self
    }

    /// Checks the UTF-8 of the part of an uncompressed text frame that has arrived (`available`, still masked).
    fn peek_utf8(
        &mut self,
        opcode: OpCode,
        compressed: bool,
        available: &[u8],
        mask: [u8; 4],
    ) -> Result<(), Violation> {
        let text = match opcode {
            OpCode::Text => !compressed,
            OpCode::Continuation => self.partial.as_ref().is_some_and(|p| p.text && !p.compressed),
            _ => false,
        };
        if !text || available.len() <= self.peek.validated {
            return Ok(());
        }
        if self.peek.validated == 0 {
            // A continuation picks up the incomplete character the previous fragment ended with.
            let tail = match (opcode, &self.partial) {
                (OpCode::Continuation, Some(p)) => &p.data[p.utf8_checked..],
                _ => &[][..],
            };
            // At most an incomplete character (3 bytes) is ever left unchecked; anything else is not UTF-8.
            if tail.len() > 3 {
                return Err(violation(CloseCode::INVALID_PAYLOAD, "text message is not valid UTF-8"));
            }
            self.peek.carry[..tail.len()].copy_from_slice(tail);
            self.peek.carry_len = tail.len();
        }
        let mut fresh = Vec::with_capacity(self.peek.carry_len + available.len() - self.peek.validated);
        fresh.extend_from_slice(&self.peek.carry[..self.peek.carry_len]);
        let start = fresh.len();
        fresh.extend_from_slice(&available[self.peek.validated..]);
        apply_mask(&mut fresh[start..], mask, self.peek.validated);
        self.peek.validated = available.len();
        match std::str::from_utf8(&fresh) {
            Ok(_) => self.peek.carry_len = 0,
            Err(e) if e.error_len().is_none() => {
                let rest = &fresh[e.valid_up_to()..];
                self.peek.carry[..rest.len()].copy_from_slice(rest);
                self.peek.carry_len = rest.len();
            }
            Err(_) => return Err(violation(CloseCode::INVALID_PAYLOAD, "text message is not valid UTF-8")),
        }
        Ok(())
    }

    fn finish(&self, partial: Partial) -> Message {
        if partial.compressed {
            if let Some(stats) = &self.stats {
                stats.count_received();
            }
        }
        partial.into_message()
    }

    /// Releases idle inflate state; call on every ping tick. Never in the middle of a compressed message, whose
    /// fragments need the window built by the ones before.
    pub fn tick(&mut self) {
        let mid_message = self.partial.as_ref().is_some_and(|p| p.compressed);
        if let (Some(inflater), false) = (&mut self.inflater, mid_message) {
            inflater.tick();
        }
    }

    /// Takes the next message out of `buf`, consuming the frames it used. `Ok(None)`: more bytes are needed.
    /// After an error the connection must close; the message in progress is dropped, so that what follows (while
    /// the close handshake waits for the client's close frame) is read as frames without a message to continue.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Violation> {
        let result = self.decode_frames(buf);
        if result.is_err() {
            self.partial = None;
            self.peek = Peek::default();
        }
        result
    }

    fn decode_frames(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Violation> {
        loop {
            let header = match parse_header(buf) {
                Ok(Some(header)) => header,
                Ok(None) => return Ok(None),
                Err(HeaderError::ReservedOpcode(_)) => {
                    return Err(violation(CloseCode::PROTOCOL_ERROR, "reserved opcode"));
                }
                Err(HeaderError::LengthOverflow) => {
                    return Err(violation(CloseCode::PROTOCOL_ERROR, "invalid payload length"));
                }
            };
            // RSV1 marks the first frame of a compressed message, and only that, when deflate was negotiated.
            let starts_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
            let compressed = header.rsv == 0b100 && starts_message && self.inflater.is_some();
            if header.rsv != 0 && !compressed {
                return Err(violation(CloseCode::PROTOCOL_ERROR, "reserved bits set without a negotiated extension"));
            }
            let Some(mask) = header.mask else {
                return Err(violation(CloseCode::PROTOCOL_ERROR, "client frames must be masked"));
            };
            if header.opcode.is_control() {
                if !header.fin {
                    return Err(violation(CloseCode::PROTOCOL_ERROR, "fragmented control frame"));
                }
                if header.payload_len > 125 {
                    return Err(violation(CloseCode::PROTOCOL_ERROR, "control frame payload over 125 bytes"));
                }
            }
            // Checked on the header, before any of the payload is buffered. Control frames (125 bytes at most) do
            // not count towards the message they interrupt, and a compressed message's inflated size is the
            // inflater's to limit (its compressed fragments would not add up to it).
            let buffered = match &self.partial {
                Some(partial) if !header.opcode.is_control() && !partial.compressed => partial.data.len() as u64,
                _ => 0,
            };
            if buffered + header.payload_len > self.max_message as u64 {
                return Err(violation(CloseCode::MESSAGE_TOO_BIG, "message over the size limit"));
            }
            let len = header.payload_len as usize;
            if buf.len() < header.header_len + len {
                self.peek_utf8(header.opcode, compressed, &buf[header.header_len..], mask)?;
                // Reserve what the frame needs, so the read loop does not reallocate chunk by chunk.
                buf.reserve(header.header_len + len - buf.len());
                return Ok(None);
            }
            self.peek = Peek::default();
            buf.advance(header.header_len);
            let mut payload = buf.split_to(len);
            apply_mask(&mut payload, mask, 0);

            if let Some(message) = self.frame(header.opcode, header.fin, compressed, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Handles one complete, unmasked frame; returns a message when one is complete.
    fn frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        compressed: bool,
        payload: BytesMut,
    ) -> Result<Option<Message>, Violation> {
        match opcode {
            OpCode::Ping => Ok(Some(Message::Ping(payload.freeze()))),
            OpCode::Pong => Ok(Some(Message::Pong(payload.freeze()))),
            OpCode::Close => parse_close(&payload).map(|c| Some(Message::Close(c))),
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return Err(violation(CloseCode::PROTOCOL_ERROR, "new message before the previous one finished"));
                }
                let text = opcode == OpCode::Text;
                let mut partial = if compressed {
                    let mut partial = Partial { text, compressed, data: BytesMut::new(), utf8_checked: 0 };
                    partial.inflate(self.inflater.as_mut(), &payload, fin, self.max_message)?;
                    partial
                } else {
                    Partial { text, compressed, data: payload, utf8_checked: 0 }
                };
                partial.check_utf8(fin)?;
                if fin {
                    return Ok(Some(self.finish(partial)));
                }
                self.partial = Some(partial);
                Ok(None)
            }
            OpCode::Continuation => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(violation(
                        CloseCode::PROTOCOL_ERROR,
                        "continuation frame without a message to continue",
                    ));
                };
                if partial.compressed {
                    partial.inflate(self.inflater.as_mut(), &payload, fin, self.max_message)?;
                } else {
                    partial.data.unsplit(payload);
                }
                partial.check_utf8(fin)?;
                if fin {
                    return Ok(self.partial.take().map(|p| self.finish(p)));
                }
                Ok(None)
            }
        }
    }
}

impl Partial {
    fn inflate(
        &mut self,
        inflater: Option<&mut Inflater>,
        payload: &[u8],
        fin: bool,
        limit: usize,
    ) -> Result<(), Violation> {
        let inflater = inflater.expect("compressed messages are accepted only with an inflater");
        inflater.inflate(payload, fin, &mut self.data, limit).map_err(|e| match e {
            InflateError::TooBig => violation(CloseCode::MESSAGE_TOO_BIG, "message inflates past the size limit"),
            InflateError::Corrupt => violation(CloseCode::INVALID_PAYLOAD, "compressed message is not valid DEFLATE"),
        })
    }

    /// Validates the UTF-8 received so far, so that a bad text message fails at the first bad frame rather than at
    /// its end. An incomplete character at the end is allowed until the last frame.
    fn check_utf8(&mut self, fin: bool) -> Result<(), Violation> {
        if !self.text {
            return Ok(());
        }
        let invalid = || violation(CloseCode::INVALID_PAYLOAD, "text message is not valid UTF-8");
        match std::str::from_utf8(&self.data[self.utf8_checked..]) {
            Ok(_) => self.utf8_checked = self.data.len(),
            Err(e) if e.error_len().is_none() && !fin => self.utf8_checked += e.valid_up_to(),
            Err(_) => return Err(invalid()),
        }
        Ok(())
    }

    fn into_message(self) -> Message {
        if self.text {
            Message::Text(self.data.freeze())
        } else {
            Message::Binary(self.data.freeze())
        }
    }
}

/// Reads a close frame's payload: empty, or a valid code followed by a UTF-8 reason (RFC 6455 section 7.4).
fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, Violation> {
    match payload {
        [] => Ok(None),
        [_] => Err(violation(CloseCode::PROTOCOL_ERROR, "close payload of one byte")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !is_valid_close_code(code) {
                return Err(violation(CloseCode::PROTOCOL_ERROR, "invalid close code"));
            }
            let reason = std::str::from_utf8(reason)
                .map_err(|_| violation(CloseCode::INVALID_PAYLOAD, "close reason is not valid UTF-8"))?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

/// Codes a peer may send: the registered ones that are not reserved for local use (1004-1006, 1015), and the
/// ranges for libraries (3000-3999) and applications (4000-4999).
pub(crate) fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;

    const KEY: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];

    /// A masked client frame.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        out.put_u8(if fin { 0x80 } else { 0 } | opcode);
        match payload.len() {
            n @ 0..=125 => out.put_u8(0x80 | n as u8),
            n @ 126..=0xFFFF => {
                out.put_u8(0x80 | 126);
                out.put_u16(n as u16);
            }
            n => {
                out.put_u8(0x80 | 127);
                out.put_u64(n as u64);
            }
        }
        out.put_slice(&KEY);
        let mut data = payload.to_vec();
        apply_mask(&mut data, KEY, 0);
        out.put_slice(&data);
        out.to_vec()
    }

    fn decode_all(bytes: &[u8], max: usize) -> Result<Vec<Message>, Violation> {
        decode_with(Decoder::new(max), bytes)
    }

    fn decode_with(mut decoder: Decoder, bytes: &[u8]) -> Result<Vec<Message>, Violation> {
        let mut buf = BytesMut::from(bytes);
        let mut out = vec![];
        while let Some(m) = decoder.decode(&mut buf)? {
            out.push(m);
        }
        assert!(buf.is_empty(), "all input consumed");
        Ok(out)
    }

    /// Decodes `bytes` delivered one byte per read.
    fn decode_bytewise(bytes: &[u8]) -> Vec<Message> {
        let mut decoder = Decoder::new(1 << 20);
        let mut buf = BytesMut::new();
        let mut got = vec![];
        for byte in bytes {
            buf.put_u8(*byte);
            while let Some(m) = decoder.decode(&mut buf).unwrap() {
                got.push(m);
            }
        }
        got
    }

    fn code_of(bytes: &[u8]) -> u16 {
        decode_all(bytes, 1 << 20).unwrap_err().code.0
    }

    #[test]
    fn single_and_fragmented_messages_byte_by_byte() {
        let mut input = frame(true, 1, b"hello");
        input.extend(frame(false, 1, "ça ".as_bytes()));
        input.extend(frame(true, 9, b"ping!")); // control frames may interleave
        input.extend(frame(false, 0, &"va €".as_bytes()[..5])); // splits the euro sign across frames
        input.extend(frame(true, 0, &"va €".as_bytes()[5..]));
        input.extend(frame(true, 2, &[0, 159, 146, 150]));
        let expected = vec![
            Message::Text(Bytes::from_static(b"hello")),
            Message::Ping(Bytes::from_static(b"ping!")),
            Message::Text(Bytes::from("ça va €")),
            Message::Binary(Bytes::from_static(&[0, 159, 146, 150])),
        ];
        assert_eq!(decode_all(&input, 1 << 20).unwrap(), expected);
        assert_eq!(decode_bytewise(&input), expected, "fed one byte at a time, the result is the same");
    }

    #[test]
    fn long_lengths() {
        let big = vec![b'a'; 70_000];
        assert_eq!(decode_all(&frame(true, 1, &big), 1 << 20).unwrap(), [Message::Text(Bytes::from(big))]);
    }

    #[test]
    fn protocol_errors_are_1002() {
        let mut unmasked = frame(true, 1, b"hi");
        unmasked[1] &= 0x7F;
        unmasked.drain(2..6);
        assert_eq!(code_of(&unmasked), 1002);
        let mut rsv = frame(true, 1, b"hi");
        rsv[0] |= 0x40;
        assert_eq!(code_of(&rsv), 1002);
        assert_eq!(code_of(&frame(true, 3, b"")), 1002);
        assert_eq!(code_of(&frame(false, 9, b"")), 1002);
        assert_eq!(code_of(&frame(true, 9, &[0; 126])), 1002);
        assert_eq!(code_of(&frame(true, 0, b"orphan")), 1002);
        let mut twice = frame(false, 1, b"a");
        twice.extend(frame(true, 1, b"b"));
        assert_eq!(code_of(&twice), 1002);
    }

    #[test]
    fn invalid_utf8_is_1007_and_fails_fast() {
        assert_eq!(code_of(&frame(true, 1, &[0xce, 0xba, 0xff])), 1007);
        // The bad byte arrives while its frame is still incomplete: the error comes at once.
        let mut decoder = Decoder::new(1 << 20);
        let whole = frame(true, 1, &[b'a', b'b', 0xff, b'c', b'd', b'e']);
        let mut buf = BytesMut::from(&whole[..whole.len() - 3]);
        assert_eq!(decoder.decode(&mut buf).unwrap_err().code.0, 1007);
        // A character split across reads and across fragments is fine.
        let euro = "€".as_bytes();
        let mut input = frame(false, 1, &euro[..1]);
        input.extend(frame(true, 0, &euro[1..]));
        assert_eq!(decode_bytewise(&input), [Message::Text(Bytes::from("€"))]);
        // The bad byte is in the first fragment: the error comes before the message is complete.
        let mut decoder = Decoder::new(1 << 20);
        let mut buf = BytesMut::from(&frame(false, 1, &[b'a', 0xc0, 0xaf])[..]);
        assert_eq!(decoder.decode(&mut buf).unwrap_err().code.0, 1007);
        // An incomplete character at the very end is invalid too.
        assert_eq!(code_of(&frame(true, 1, &[b'a', 0xe2, 0x82])), 1007);
    }

    #[test]
    fn size_limits_are_1009_before_buffering() {
        assert_eq!(decode_all(&frame(true, 1, &[b'a'; 100]), 99).unwrap_err().code.0, 1009);
        let mut fragments = frame(false, 1, &[b'a'; 60]);
        fragments.extend(frame(true, 0, &[b'a'; 60]));
        assert_eq!(decode_all(&fragments, 100).unwrap_err().code.0, 1009);
        // A ping in the middle of a message that nearly fills the limit is still a ping.
        let mut near_full = frame(false, 1, &[b'a'; 95]);
        near_full.extend(frame(true, 9, b"ping-ping-ping"));
        near_full.extend(frame(true, 0, b"end"));
        assert_eq!(decode_all(&near_full, 100).unwrap().len(), 2);
        // A header announcing a huge frame is refused without waiting for its payload.
        let mut decoder = Decoder::new(1000);
        let mut header = BytesMut::from(&[0x81u8, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4][..]);
        assert_eq!(decoder.decode(&mut header).unwrap_err().code.0, 1009);
    }

    /// A compressed message as a client sends it: raw DEFLATE, sync-flushed, tail stripped.
    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::default(), false, 15);
        let mut out = Vec::with_capacity(data.len() + 64);
        c.compress_vec(data, &mut out, flate2::FlushCompress::Sync).unwrap();
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn compressed_messages_whole_and_fragmented() {
        let text = "{\"type\":\"publish\",\"data\":\"".to_string() + &"é".repeat(500) + "\"}";
        let packed = deflate(text.as_bytes());
        let mut input = frame(true, 0x40 | 1, &packed);
        input.extend(frame(false, 0x40 | 1, &packed[..7]));
        input.extend(frame(true, 9, b"")); // a ping between fragments
        input.extend(frame(true, 0, &packed[7..]));
        let got = decode_with(Decoder::new(1 << 20).with_deflate(1, WebSocketStats::default()), &input).unwrap();
        let expected = Message::Text(Bytes::from(text));
        assert_eq!(got, vec![expected.clone(), Message::Ping(Bytes::new()), expected]);
    }

    #[test]
    fn after_a_violation_the_next_frames_are_read_without_the_broken_message() {
        // Invalid UTF-8 in a continuation, then an incomplete continuation: the close handshake reads on.
        let mut decoder = Decoder::new(1 << 20);
        let mut input = frame(false, 1, b"a");
        input.extend(frame(false, 0, &[0xff; 5]));
        let next = frame(true, 0, &[b'x'; 10]);
        input.extend(&next[..next.len() - 9]);
        let mut buf = BytesMut::from(&input[..]);
        assert_eq!(decoder.decode(&mut buf).unwrap_err().code.0, 1007);
        assert_eq!(decoder.decode(&mut buf), Ok(None));
        buf.put_slice(&next[next.len() - 9..]);
        assert_eq!(decoder.decode(&mut buf).unwrap_err().code.0, 1002, "a continuation of nothing");
    }

    #[test]
    fn compression_errors() {
        let with_deflate = |bytes: &[u8], max: usize| {
            decode_with(Decoder::new(max).with_deflate(1, WebSocketStats::default()), bytes).unwrap_err().code.0
        };
        // RSV1 without negotiation, on a continuation, or on a control frame.
        assert_eq!(code_of(&frame(true, 0x40 | 1, &deflate(b"hi"))), 1002);
        let mut cont = frame(false, 1, b"a");
        cont.extend(frame(true, 0x40, b"b"));
        assert_eq!(with_deflate(&cont, 1000), 1002);
        assert_eq!(with_deflate(&frame(true, 0x40 | 9, b""), 1000), 1002);
        // A bomb: 1 MiB of zeros in about a kilobyte.
        let bomb = deflate(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 2048);
        assert_eq!(with_deflate(&frame(true, 0x40 | 1, &bomb), 64 * 1024), 1009);
        // Not DEFLATE at all, and valid DEFLATE of invalid UTF-8.
        assert_eq!(with_deflate(&frame(true, 0x40 | 1, &[0xff; 20]), 1000), 1007);
        assert_eq!(with_deflate(&frame(true, 0x40 | 1, &deflate(&[0xc0, 0xaf])), 1000), 1007);
    }

    #[test]
    fn close_frames() {
        assert_eq!(decode_all(&frame(true, 8, b""), 100).unwrap(), [Message::Close(None)]);
        let mut payload = 1000u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        assert_eq!(decode_all(&frame(true, 8, &payload), 100).unwrap(), [Message::Close(Some((1000, "bye".into())))]);
        assert_eq!(code_of(&frame(true, 8, &[3])), 1002);
        for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert_eq!(code_of(&frame(true, 8, &bad.to_be_bytes())), 1002, "code {bad}");
        }
        let mut bad_reason = 1000u16.to_be_bytes().to_vec();
        bad_reason.push(0xff);
        assert_eq!(code_of(&frame(true, 8, &bad_reason)), 1007);
    }
}
