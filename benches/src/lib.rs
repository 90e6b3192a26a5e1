//! The pieces of the load generator (`src/bin/loadgen.rs`): a lean WebSocket client, the wire dialects of the
//! servers it measures, and the measurements. See `docs/performance.md`.

pub mod dialect;
pub mod hub;
pub mod payload;
pub mod stats;
pub mod wsclient;
