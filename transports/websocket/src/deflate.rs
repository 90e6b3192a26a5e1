//! RFC 7692 permessage-deflate: compressing what the server sends, inflating what the client sends.
//!
//! Two server modes:
//! - **dedicated**: a compressor per connection, keeping its LZ77 window between messages (best ratio). It costs
//!   about 256 KiB while it exists, so it is created on the first message worth compressing and dropped again
//!   when the connection has been quiet for a while (`idle_release`). Dropping it is always safe: a fresh
//!   compressor never refers back to data the client's inflater may still hold.
//! - **shared**: the server asks for `server_no_context_takeover`, so every message is compressed on its own and a
//!   broadcast is compressed once for all its recipients (per window size). The per-session `{"seq":N,` prefix
//!   travels in a DEFLATE *stored* block in front of the shared compressed body: the body never refers back past
//!   its own start, so the concatenation is one valid stream. Messages that are not shared (replies) go through a
//!   per-thread compressor, reset for each message. No connection holds a compressor.
//!
//! Inflating: the server always asks for `client_no_context_takeover`, so it keeps no window between client
//! messages; the inflater exists while a compressed message is being received and is released when idle.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The end of every sync-flushed DEFLATE stream; RFC 7692 strips it from messages and the receiver puts it back.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// How the server compresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateMode {
    /// A compressor per connection with context takeover: best ratio, about 256 KiB per active connection.
    Dedicated,
    /// `server_no_context_takeover`: each message compressed on its own, each broadcast compressed once for all.
    Shared,
}

/// permessage-deflate settings. Set `WebSocketConfig::deflate` to `None` to decline compression altogether.
#[derive(Debug, Clone)]
pub struct DeflateConfig {
    /// Dedicated or shared compression.
    pub mode: DeflateMode,
    /// zlib compression level, 0 to 9.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed (compressing them costs more than it saves).
    pub threshold: usize,
    /// Largest LZ77 window the server compresses with, 9 to 15 bits (smaller saves memory in dedicated mode).
    pub max_window_bits: u8,
    /// In dedicated mode, a connection's compressor is released after this many ping intervals without a
    /// compressed message; its inflater likewise.
    pub idle_release_pings: u32,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            mode: DeflateMode::Shared,
            level: 6,
            threshold: 256,
            max_window_bits: 15,
            idle_release_pings: 1,
        }
    }
}

/// Counters a WebSocket endpoint exposes: what compression actually did. Clone it into the config and keep a clone
/// to read.
#[derive(Debug, Clone, Default)]
pub struct WebSocketStats(Arc<StatsInner>);

#[derive(Debug, Default)]
struct StatsInner {
    shared_compressions: AtomicU64,
    message_compressions: AtomicU64,
    compressed_messages_sent: AtomicU64,
    compressed_messages_received: AtomicU64,
}

impl WebSocketStats {
    /// Shared bodies (broadcasts) compressed: once per publication and window size, whatever the recipients.
    pub fn shared_compressions(&self) -> u64 {
        self.0.shared_compressions.load(Ordering::Relaxed)
    }

    /// Messages compressed for one connection (dedicated mode, and unshared messages in shared mode).
    pub fn message_compressions(&self) -> u64 {
        self.0.message_compressions.load(Ordering::Relaxed)
    }

    /// Messages sent with RSV1 set.
    pub fn compressed_messages_sent(&self) -> u64 {
        self.0.compressed_messages_sent.load(Ordering::Relaxed)
    }

    /// Compressed messages received and inflated.
    pub fn compressed_messages_received(&self) -> u64 {
        self.0.compressed_messages_received.load(Ordering::Relaxed)
    }

    pub(crate) fn count_received(&self) {
        self.0.compressed_messages_received.fetch_add(1, Ordering::Relaxed);
    }
}

/// Appends `input` compressed to `out`, flushing with `flush`.
fn deflate_into(c: &mut Compress, mut input: &[u8], out: &mut BytesMut, flush: FlushCompress) {
    loop {
        out.reserve(input.len() / 2 + 64);
        let len = out.len();
        let spare = out.capacity() - len;
        out.resize(len + spare, 0);
        let (in_before, out_before) = (c.total_in(), c.total_out());
        // Compressing into memory fails only on a stream error, impossible with valid parameters.
        c.compress(input, &mut out[len..], flush).expect("deflate into memory");
        let consumed = (c.total_in() - in_before) as usize;
        let produced = (c.total_out() - out_before) as usize;
        out.truncate(len + produced);
        input = &input[consumed..];
        // Done when all input is taken and the flush did not fill the space it had.
        if input.is_empty() && produced < spare {
            return;
        }
    }
}

/// Compresses the concatenation of `parts` as one RFC 7692 message payload (sync-flushed, tail stripped).
fn compress_parts(c: &mut Compress, parts: &[&[u8]], out: &mut BytesMut) {
    let start = out.len();
    for (i, part) in parts.iter().enumerate() {
        let flush = if i + 1 == parts.len() { FlushCompress::Sync } else { FlushCompress::None };
        deflate_into(c, part, out, flush);
    }
    debug_assert!(out[start..].ends_with(&SYNC_TAIL), "a sync flush ends with 00 00 ff ff");
    out.truncate(out.len() - SYNC_TAIL.len());
}

/// A DEFLATE stored block holding `data` (at most 65535 bytes), byte-aligned, not final.
fn stored_block(data: &[u8], out: &mut BytesMut) {
    let len = data.len() as u16;
    out.put_u8(0x00); // BFINAL = 0, BTYPE = 00, padding
    out.put_u16_le(len);
    out.put_u16_le(!len);
    out.put_slice(data);
}

thread_local! {
    /// The per-thread compressors of shared mode, one per window size, reset for every message.
    static THREAD_COMPRESSORS: RefCell<Vec<(u8, u32, Compress)>> = const { RefCell::new(Vec::new()) };
}

fn with_thread_compressor<R>(bits: u8, level: u32, f: impl FnOnce(&mut Compress) -> R) -> R {
    THREAD_COMPRESSORS.with(|cell| {
        let mut compressors = cell.borrow_mut();
        let i = match compressors.iter().position(|(b, l, _)| *b == bits && *l == level) {
            Some(i) => i,
            None => {
                compressors.push((bits, level, Compress::new_with_window_bits(Compression::new(level), false, bits)));
                compressors.len() - 1
            }
        };
        let c = &mut compressors[i].2;
        c.reset();
        f(c)
    })
}

/// The sending side of permessage-deflate on one connection.
pub(crate) struct Deflater {
    config: DeflateConfig,
    params: crate::extension::DeflateParams,
    stats: WebSocketStats,
    /// Dedicated mode only, created on first use.
    dedicated: Option<Compress>,
    idle_pings: u32,
}

impl Deflater {
    pub(crate) fn new(config: DeflateConfig, params: crate::extension::DeflateParams, stats: WebSocketStats) -> Self {
        Deflater { config, params, stats, dedicated: None, idle_pings: 0 }
    }

    /// Whether a message of `len` bytes should be compressed.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.config.threshold
    }

    /// The compressed payload of a message made of a per-session `prefix` and a `body`, using the body's shared
    /// cache when the mode allows.
    pub(crate) fn compress(
        &mut self,
        prefix: &[u8],
        body: &Bytes,
        cache: Option<&tidings_core::protocol::encode::EncodingCache>,
        out: &mut BytesMut,
    ) {
        self.idle_pings = 0;
        self.stats.0.compressed_messages_sent.fetch_add(1, Ordering::Relaxed);
        let bits = self.params.server_max_window_bits;
        let level = self.config.level.min(9);
        match (self.config.mode, cache) {
            (DeflateMode::Shared, Some(cache)) if prefix.len() <= u16::MAX as usize => {
                let stats = &self.stats;
                let shared = cache.get_or_insert_with(cache_key(bits, level), || {
                    stats.0.shared_compressions.fetch_add(1, Ordering::Relaxed);
                    let mut compressed = BytesMut::with_capacity(body.len() / 2 + 64);
                    with_thread_compressor(bits, level, |c| compress_parts(c, &[body], &mut compressed));
                    compressed.freeze()
                });
                stored_block(prefix, out);
                out.put_slice(&shared);
            }
            (DeflateMode::Shared, _) => {
                self.stats.0.message_compressions.fetch_add(1, Ordering::Relaxed);
                with_thread_compressor(bits, level, |c| compress_parts(c, &[prefix, body], out));
            }
            (DeflateMode::Dedicated, _) => {
                self.stats.0.message_compressions.fetch_add(1, Ordering::Relaxed);
                let c = self
                    .dedicated
                    .get_or_insert_with(|| Compress::new_with_window_bits(Compression::new(level), false, bits));
                compress_parts(c, &[prefix, body], out);
                if self.params.server_no_context_takeover {
                    c.reset();
                }
            }
        }
    }

    /// Called on every ping tick: releases the dedicated compressor of a connection that has been quiet.
    pub(crate) fn tick(&mut self) {
        self.idle_pings += 1;
        if self.idle_pings > self.config.idle_release_pings {
            self.dedicated = None;
        }
    }

    /// Whether a dedicated compressor is held now (for memory accounting in tests).
    #[cfg(test)]
    pub(crate) fn holds_compressor(&self) -> bool {
        self.dedicated.is_some()
    }
}

/// The cache key of a shared compressed body: window bits and level.
fn cache_key(bits: u8, level: u32) -> u32 {
    u32::from(bits) << 8 | level
}

/// Why inflating failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The inflated message would pass the size limit.
    TooBig,
    /// The data is not valid DEFLATE.
    Corrupt,
}

/// The receiving side: inflates compressed client messages, never past a size limit.
pub(crate) struct Inflater {
    state: Option<Decompress>,
    /// The message's DEFLATE stream ended with a final (BFINAL) block: nothing more may inflate.
    ended: bool,
    idle_pings: u32,
    release_after: u32,
}

impl Inflater {
    pub(crate) fn new(release_after: u32) -> Self {
        Inflater { state: None, ended: false, idle_pings: 0, release_after }
    }

    /// Inflates one fragment of a compressed message into `out`; `last` adds the stripped sync tail. Fails as soon
    /// as `out` would exceed `limit` bytes, having produced at most a chunk more.
    ///
    /// A sender may end a message with a final block (BFINAL set) instead of a sync flush; whatever follows the
    /// end of the stream in that message is ignored.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), InflateError> {
        self.idle_pings = 0;
        let d = self.state.get_or_insert_with(|| Decompress::new_with_window_bits(false, 15));
        if !self.ended {
            self.ended = inflate_into(d, input, out, limit)?;
        }
        if last {
            if !self.ended {
                inflate_into(d, &SYNC_TAIL, out, limit)?;
            }
            // Client messages never share a window (client_no_context_takeover): start the next one afresh.
            d.reset(false);
            self.ended = false;
        }
        Ok(())
    }

    /// Releases the inflate state after a quiet spell (called on every ping tick).
    pub(crate) fn tick(&mut self) {
        self.idle_pings += 1;
        if self.idle_pings > self.release_after {
            self.state = None;
        }
    }
}

/// Inflates `input` into `out`; returns whether the DEFLATE stream ended (a final block).
fn inflate_into(d: &mut Decompress, mut input: &[u8], out: &mut BytesMut, limit: usize) -> Result<bool, InflateError> {
    const CHUNK: usize = 16 * 1024;
    loop {
        let len = out.len();
        // One byte past the limit is enough to know it was passed.
        let room = limit.saturating_add(1).saturating_sub(len).min(CHUNK);
        if room == 0 {
            return Err(InflateError::TooBig);
        }
        out.resize(len + room, 0);
        let (in_before, out_before) = (d.total_in(), d.total_out());
        let status = d.decompress(input, &mut out[len..], FlushDecompress::Sync).map_err(|_| InflateError::Corrupt);
        let consumed = (d.total_in() - in_before) as usize;
        let produced = (d.total_out() - out_before) as usize;
        out.truncate(len + produced);
        let status = status?;
        if out.len() > limit {
            return Err(InflateError::TooBig);
        }
        input = &input[consumed..];
        match status {
            Status::StreamEnd => return Ok(true),
            _ if input.is_empty() && produced < room => return Ok(false),
            _ if consumed == 0 && produced == 0 => return Err(InflateError::Corrupt),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::DeflateParams;

    fn params(no_takeover: bool) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: no_takeover,
            client_no_context_takeover: true,
            server_max_window_bits: 15,
        }
    }

    /// Inflates a server message the way a client does.
    fn client_inflate(d: &mut Decompress, payload: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        let mut data = payload.to_vec();
        data.extend_from_slice(&SYNC_TAIL);
        inflate_into(d, &data, &mut out, 1 << 24).unwrap();
        out.to_vec()
    }

    #[test]
    fn shared_bodies_are_compressed_once_and_prefixes_ride_in_stored_blocks() {
        let stats = WebSocketStats::default();
        let config = DeflateConfig { mode: DeflateMode::Shared, ..Default::default() };
        let body = Bytes::from(format!("\"type\":\"pub\",\"data\":{}}}", "[1,2,3,4,5,6,7,8,9]".repeat(40)));
        let cache = tidings_core::protocol::encode::EncodingCache::default();
        let mut client = Decompress::new_with_window_bits(false, 15);
        for seq in 1..=3 {
            let mut deflater = Deflater::new(config.clone(), params(true), stats.clone());
            let prefix = format!("{{\"seq\":{seq},");
            let mut out = BytesMut::new();
            deflater.compress(prefix.as_bytes(), &body, Some(&cache), &mut out);
            assert!(out.len() < body.len() / 4, "compressed: {} of {}", out.len(), body.len());
            let mut expected = prefix.into_bytes();
            expected.extend_from_slice(&body);
            assert_eq!(client_inflate(&mut client, &out), expected);
            client.reset(false);
        }
        assert_eq!(stats.shared_compressions(), 1);
    }

    #[test]
    fn dedicated_mode_keeps_context_and_releases_when_idle() {
        let stats = WebSocketStats::default();
        let config = DeflateConfig { mode: DeflateMode::Dedicated, ..Default::default() };
        let mut deflater = Deflater::new(config, params(false), stats.clone());
        let mut client = Decompress::new_with_window_bits(false, 15);
        let body = Bytes::from(
            "\"type\":\"pub\",\"topic\":\"ticker:AAPL\",\"data\":{\"price\":187.25,\"size\":100}}".repeat(4),
        );
        let mut sizes = vec![];
        for seq in 1..=2 {
            let prefix = format!("{{\"seq\":{seq},");
            let mut out = BytesMut::new();
            deflater.compress(prefix.as_bytes(), &body, None, &mut out);
            sizes.push(out.len());
            let mut expected = prefix.into_bytes();
            expected.extend_from_slice(&body);
            assert_eq!(client_inflate(&mut client, &out), expected, "context carried over in the client too");
        }
        assert!(sizes[1] < sizes[0] / 2, "the second message refers back to the first: {sizes:?}");
        assert!(deflater.holds_compressor());
        deflater.tick();
        deflater.tick();
        assert!(!deflater.holds_compressor());
        // After release, a fresh compressor still produces what a client with old context can read.
        let mut out = BytesMut::new();
        deflater.compress(b"{", &body, None, &mut out);
        assert!(client_inflate(&mut client, &out).ends_with(&body));
    }

    #[test]
    fn a_message_may_end_with_a_final_block() {
        // "Hello" in one final fixed-Huffman block (the example of RFC 7692 section 7.2.3.4).
        let final_block = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        let mut inflater = Inflater::new(1);
        let mut out = BytesMut::new();
        inflater.inflate(&final_block, true, &mut out, 100).unwrap();
        assert_eq!(&out[..], b"Hello");
        // The next message starts afresh, and a final block may end a fragmented message too.
        let mut out = BytesMut::new();
        inflater.inflate(&final_block[..3], false, &mut out, 100).unwrap();
        inflater.inflate(&final_block[3..], true, &mut out, 100).unwrap();
        assert_eq!(&out[..], b"Hello");
    }

    #[test]
    fn inflating_stops_at_the_limit() {
        // 1 MiB of zeros compresses to about a kilobyte.
        let mut c = Compress::new_with_window_bits(Compression::default(), false, 15);
        let mut bomb = BytesMut::new();
        compress_parts(&mut c, &[&vec![0u8; 1 << 20]], &mut bomb);
        assert!(bomb.len() < 2048);
        let mut inflater = Inflater::new(1);
        let mut out = BytesMut::new();
        assert_eq!(inflater.inflate(&bomb, true, &mut out, 64 * 1024), Err(InflateError::TooBig));
        assert!(out.len() <= 64 * 1024 + 16 * 1024, "stopped within a chunk of the limit");
        let mut inflater = Inflater::new(1);
        let mut out = BytesMut::new();
        inflater.inflate(&bomb, true, &mut out, 2 << 20).unwrap();
        assert_eq!(out.len(), 1 << 20);
        assert_eq!(
            Inflater::new(1).inflate(&[0xff, 0xff, 0xff], true, &mut BytesMut::new(), 100),
            Err(InflateError::Corrupt)
        );
    }
}
