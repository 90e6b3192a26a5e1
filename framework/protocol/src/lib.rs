//! The Tidings wire protocol, version 1.
//!
//! This crate holds what both ends of a Tidings connection must agree on: the JSON frames a client sends
//! ([`ClientFrame`], decoded into a [`Request`]), the frames a server sends ([`ServerFrame`], and the encoders that
//! build them once per publication in [`encode`]), the [`ErrorCode`]s and [`CloseCode`]s, and the rules for
//! [`topic`] names. It has no I/O and no runtime, so that clients can depend on it without pulling in a server.
//!
//! The complete specification is `docs/protocol.md` in the repository.

pub mod client_frame;
pub mod codes;
pub mod encode;
pub mod position;
pub mod server_frame;
pub mod topic;

pub use client_frame::{ClientFrame, FrameError, Request};
pub use codes::{CloseCode, ErrorCode};
pub use encode::EncodedFrame;
pub use position::{Missed, StreamPosition};
pub use server_frame::{Member, ServerFrame};

/// The protocol version this crate speaks. Clients select it with the `v` query parameter of the endpoint.
pub const VERSION: u32 = 1;
