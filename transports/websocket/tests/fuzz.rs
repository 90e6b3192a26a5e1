//! Property tests over arbitrary input for the two decoders that read untrusted bytes: the frame decoder and the
//! inflater behind it. They stand in for cargo-fuzz targets (which need a nightly toolchain): every run feeds a
//! few thousand generated inputs; `PROPTEST_CASES=100000 cargo test -p tidings-websocket --test fuzz` runs longer.
//!
//! The properties: no input panics or makes the decoder hold more than the limit; a stream of valid frames,
//! however it is split into reads, decodes to the messages it encodes.

use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;
use tidings_websocket::decoder::{Decoder, Message};
use tidings_websocket::frame::apply_mask;
use tidings_websocket::WebSocketStats;

const LIMIT: usize = 4096;

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(default);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// Feeds `input` in chunks of the given sizes, decoding after each; stops at the first violation.
fn run(mut decoder: Decoder, input: &[u8], chunks: &[usize]) -> (Vec<Message>, bool) {
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.put_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(message)) => {
                    let len = match &message {
                        Message::Text(b) | Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
                        Message::Close(_) => 0,
                    };
                    assert!(len <= LIMIT, "a message over the limit came out");
                    messages.push(message);
                }
                Ok(None) => break,
                Err(_) => return (messages, true),
            }
        }
        // Never more than a frame header and the limit buffered (plus the chunk just added).
        assert!(buf.len() <= LIMIT + 14 + 4096, "the decoder holds {} bytes", buf.len());
    }
    (messages, false)
}

/// A masked client frame.
fn frame(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    let mut data = payload.to_vec();
    apply_mask(&mut data, key, 0);
    out.extend_from_slice(&data);
    out
}

fn decoders() -> impl Strategy<Value = bool> {
    any::<bool>()
}

fn decoder(deflate: bool) -> Decoder {
    let decoder = Decoder::new(LIMIT);
    if deflate {
        decoder.with_deflate(1, WebSocketStats::default())
    } else {
        decoder
    }
}

proptest! {
    #![proptest_config(cases(3000))]

    /// Arbitrary bytes: never a panic, never more than the limit held or produced.
    #[test]
    fn arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..2048), chunks in prop::collection::vec(1usize..64, 1..8), deflate in decoders()) {
        run(decoder(deflate), &input, &chunks);
    }

    /// Arbitrary frames (any header bits, masked, random payloads, some of them compressed-looking): never a panic.
    #[test]
    fn arbitrary_frames(frames in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..300), any::<[u8; 4]>()), 1..12),
                        chunks in prop::collection::vec(1usize..200, 1..8), deflate in decoders()) {
        let input: Vec<u8> = frames.iter().flat_map(|(first, payload, key)| frame(*first, payload, *key)).collect();
        run(decoder(deflate), &input, &chunks);
    }

    /// Valid messages, fragmented at random and interleaved with pings, decode to themselves however the bytes are
    /// split into reads.
    #[test]
    fn valid_messages_round_trip(messages in prop::collection::vec((any::<bool>(), ".{0,200}", prop::collection::vec(1usize..50, 1..4)), 1..8),
                                 chunks in prop::collection::vec(1usize..100, 1..8), key in any::<[u8; 4]>()) {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for (text, content, cuts) in &messages {
            let bytes = content.as_bytes();
            let opcode = if *text { 1 } else { 2 };
            // Split the payload at the given cut lengths (text may be cut inside a character).
            let mut pieces = Vec::new();
            let mut rest = bytes;
            for cut in cuts {
                let n = (*cut).min(rest.len());
                pieces.push(&rest[..n]);
                rest = &rest[n..];
            }
            pieces.push(rest);
            for (i, piece) in pieces.iter().enumerate() {
                let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
                let op = if i == 0 { opcode } else { 0 };
                input.extend(frame(fin | op, piece, key));
                if i == 0 {
                    input.extend(frame(0x89, b"p", key));
                    expected.push(Message::Ping(Bytes::from_static(b"p")));
                }
            }
            let data = Bytes::copy_from_slice(bytes);
            expected.push(if *text { Message::Text(data) } else { Message::Binary(data) });
        }
        // The ping comes out before the message it interrupted.
        let (got, failed) = run(decoder(false), &input, &chunks);
        prop_assert!(!failed);
        prop_assert_eq!(got, expected);
    }

    /// Compressed messages from a real compressor, at any fragmentation: inflated to the original; and arbitrary
    /// bytes after a valid compressed start: never a panic.
    #[test]
    fn compressed_round_trip(content in ".{0,1500}", cut in 0usize..200, garbage in prop::collection::vec(any::<u8>(), 0..64), key in any::<[u8; 4]>()) {
        let mut c = flate2::Compress::new_with_window_bits(flate2::Compression::default(), false, 15);
        let mut packed = Vec::with_capacity(content.len() + 128);
        c.compress_vec(content.as_bytes(), &mut packed, flate2::FlushCompress::Sync).unwrap();
        packed.truncate(packed.len() - 4);
        let cut = cut.min(packed.len());
        let mut input = frame(0x41, &packed[..cut], key);
        input.extend(frame(0x80, &packed[cut..], key));
        let (got, failed) = run(decoder(true), &input, &[37]);
        prop_assert!(!failed);
        prop_assert_eq!(got, vec![Message::Text(Bytes::copy_from_slice(content.as_bytes()))]);

        let mut corrupt = packed[..cut].to_vec();
        corrupt.extend_from_slice(&garbage);
        run(decoder(true), &frame(0xC1, &corrupt, key), &[13]);
    }
}
