//! RFC 6455 section 5.2: the frame header.

use bytes::{BufMut, BytesMut};

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    /// Continues a fragmented message.
    Continuation,
    /// Starts a text message.
    Text,
    /// Starts a binary message.
    Binary,
    /// Closes the connection.
    Close,
    /// Asks for a pong.
    Ping,
    /// Answers a ping.
    Pong,
}

impl OpCode {
    fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: at most 125 bytes, never fragmented, allowed in the middle of a fragmented message.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last frame of its message.
    pub fin: bool,
    /// The RSV1-3 bits, in the low three bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the frame is masked (every client frame must be).
    pub mask: Option<[u8; 4]>,
    /// Payload length.
    pub payload_len: u64,
    /// Length of the header itself (2 to 14 bytes).
    pub header_len: usize,
}

/// A header that breaks RFC 6455.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// An opcode the RFC reserves.
    ReservedOpcode(u8),
    /// A 64-bit length with its most significant bit set.
    LengthOverflow,
}

/// Parses a frame header from the start of `buf`; `Ok(None)` when more bytes are needed.
pub fn parse_header(buf: &[u8]) -> Result<Option<FrameHeader>, HeaderError> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(HeaderError::ReservedOpcode(b0 & 0x0F))?;
    let masked = b1 & 0x80 != 0;
    let (payload_len, mut header_len) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes(b.try_into().expect("8-byte slice"));
                if len >> 63 != 0 {
                    return Err(HeaderError::LengthOverflow);
                }
                (len, 10)
            }
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    let mask = if masked {
        let Some(key) = buf.get(header_len..header_len + 4) else { return Ok(None) };
        header_len += 4;
        Some(key.try_into().expect("4-byte slice"))
    } else {
        None
    };
    Ok(Some(FrameHeader { fin: b0 & 0x80 != 0, rsv: (b0 >> 4) & 0x07, opcode, mask, payload_len, header_len }))
}

/// Writes an unmasked (server) frame header for a payload of `len` bytes.
pub fn write_header(out: &mut BytesMut, fin: bool, rsv: u8, opcode: OpCode, len: usize) {
    out.put_u8(if fin { 0x80 } else { 0 } | (rsv & 0x07) << 4 | opcode.bits());
    match len {
        0..=125 => out.put_u8(len as u8),
        126..=0xFFFF => {
            out.put_u8(126);
            out.put_u16(len as u16);
        }
        _ => {
            out.put_u8(127);
            out.put_u64(len as u64);
        }
    }
}

/// XORs `data` with the masking key, as if it started at `offset` bytes into the payload.
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    let key =
        u32::from_ne_bytes([key[offset % 4], key[(offset + 1) % 4], key[(offset + 2) % 4], key[(offset + 3) % 4]]);
    let mut chunks = data.chunks_exact_mut(4);
    for chunk in &mut chunks {
        let word = u32::from_ne_bytes(chunk.try_into().expect("4-byte chunk")) ^ key;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    let key = key.to_ne_bytes();
    for (byte, k) in chunks.into_remainder().iter_mut().zip(key) {
        *byte ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lengths() {
        for len in [0usize, 125, 126, 65535, 65536, 1 << 40] {
            let mut out = BytesMut::new();
            write_header(&mut out, true, 0, OpCode::Binary, len);
            let h = parse_header(&out).unwrap().unwrap();
            assert_eq!((h.payload_len, h.header_len, h.fin, h.mask), (len as u64, out.len(), true, None));
            assert_eq!(parse_header(&out[..out.len() - 1]).unwrap(), None, "a truncated header needs more bytes");
        }
    }

    #[test]
    fn masked_header_and_rsv_bits() {
        let h = parse_header(&[0b1100_0001, 0x80 | 5, 1, 2, 3, 4]).unwrap().unwrap();
        assert_eq!((h.rsv, h.opcode, h.mask, h.header_len), (0b100, OpCode::Text, Some([1, 2, 3, 4]), 6));
        assert_eq!(parse_header(&[0x81, 0x85, 1, 2, 3]).unwrap(), None);
    }

    #[test]
    fn bad_headers() {
        assert_eq!(parse_header(&[0x83, 0]), Err(HeaderError::ReservedOpcode(3)));
        assert_eq!(parse_header(&[0x8B, 0]), Err(HeaderError::ReservedOpcode(0xB)));
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&u64::MAX.to_be_bytes());
        assert_eq!(parse_header(&huge), Err(HeaderError::LengthOverflow));
    }

    #[test]
    fn masking_round_trips_at_any_offset() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let text = b"Hello, masked world!".to_vec();
        for split in 0..text.len() {
            let mut data = text.clone();
            let (a, b) = data.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            // The same as masking in one go, byte by byte.
            let expected: Vec<u8> = text.iter().enumerate().map(|(i, c)| c ^ key[i % 4]).collect();
            assert_eq!(data, expected);
        }
    }
}
