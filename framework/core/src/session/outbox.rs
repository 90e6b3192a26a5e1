//! A session's bounded outbound queue.
//!
//! Fan-out pushes into it from any thread without going through the session actor's mailbox (a broadcast to ten
//! thousand sessions is ten thousand short lock/push/notify steps, not ten thousand boxed actor messages), and the
//! transport attached to the session drains it. Sequence numbers are assigned here, under the same lock as the
//! push, so that they are gap-free and in queue order.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tidings_protocol::encode::EncodingCache;
use tidings_protocol::EncodedFrame;
use tokio::sync::Notify;

use crate::close::Close;

/// Why a push did not queue a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The queue was full: the session is now closing as a slow consumer.
    #[error("the session's outbound queue overflowed; the session is closing")]
    Overflow,
    /// The session is closing or closed.
    #[error("the session is closed")]
    Closed,
    /// The payload could not be encoded as JSON.
    #[error("the payload could not be encoded as JSON")]
    Encode,
}

pub(crate) struct Outbox {
    state: Mutex<State>,
    ready: Notify,
    max_frames: usize,
    max_bytes: usize,
}

struct State {
    queue: VecDeque<EncodedFrame>,
    bytes: usize,
    next_seq: u64,
    /// Set once: the close to send after the queue drains.
    close: Option<Close>,
}

impl Outbox {
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Outbox {
            state: Mutex::new(State { queue: VecDeque::new(), bytes: 0, next_seq: 1, close: None }),
            ready: Notify::new(),
            max_frames: max_frames.max(1),
            max_bytes,
        }
    }

    /// Queues a frame body under the next sequence number.
    ///
    /// On overflow the queue is emptied (a slow consumer will not catch up by being sent more) and the session is
    /// marked to close with 4000.
    pub(crate) fn push(&self, body: Bytes, cache: Option<Arc<EncodingCache>>) -> Result<u64, PushError> {
        let mut state = self.state.lock();
        if state.close.is_some() {
            return Err(PushError::Closed);
        }
        // An empty queue always takes one frame, so a frame larger than `max_bytes` still goes out.
        let full = state.queue.len() >= self.max_frames || state.bytes + body.len() > self.max_bytes;
        if full && !state.queue.is_empty() {
            state.queue = VecDeque::new();
            state.bytes = 0;
            state.close = Some(Close::slow_consumer());
            drop(state);
            self.ready.notify_one();
            return Err(PushError::Overflow);
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.bytes += body.len();
        state.queue.push_back(EncodedFrame { seq: Some(seq), body, cache });
        drop(state);
        self.ready.notify_one();
        Ok(seq)
    }

    /// Marks the session to close with `close` once the frames already queued are sent. The first close wins.
    pub(crate) fn close(&self, close: Close) {
        let mut state = self.state.lock();
        if state.close.is_none() {
            state.close = Some(close);
        }
        drop(state);
        self.ready.notify_one();
    }

    /// Waits until there is something to send, then moves up to `max` frames into `out` and returns `None`, or,
    /// once the queue is empty and a close was requested, returns the close.
    ///
    /// Cancel-safe: frames leave the queue only when the call returns.
    pub(crate) async fn next(&self, out: &mut Vec<EncodedFrame>, max: usize) -> Option<Close> {
        loop {
            {
                let mut state = self.state.lock();
                if !state.queue.is_empty() {
                    let n = state.queue.len().min(max.max(1));
                    let mut bytes = 0;
                    out.extend(state.queue.drain(..n).inspect(|f| bytes += f.body.len()));
                    state.bytes -= bytes;
                    return None;
                }
                if let Some(close) = &state.close {
                    return Some(close.clone());
                }
            }
            // A push between the unlock above and this await leaves a permit, so no wake-up is lost.
            self.ready.notified().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings_protocol::CloseCode;

    fn body(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[actix_rt::test]
    async fn numbers_frames_and_drains_in_order() {
        let outbox = Outbox::new(10, 1000);
        assert_eq!(outbox.push(body(1), None), Ok(1));
        assert_eq!(outbox.push(body(2), None), Ok(2));
        let mut out = Vec::new();
        assert_eq!(outbox.next(&mut out, 1).await, None);
        assert_eq!(outbox.next(&mut out, 10).await, None);
        assert_eq!(out.iter().map(|f| f.seq.unwrap()).collect::<Vec<_>>(), [1, 2]);
    }

    #[actix_rt::test]
    async fn overflow_by_count_closes_as_slow_consumer_and_frees_the_queue() {
        let outbox = Outbox::new(2, 1000);
        outbox.push(body(1), None).unwrap();
        outbox.push(body(1), None).unwrap();
        assert_eq!(outbox.push(body(1), None), Err(PushError::Overflow));
        assert_eq!(outbox.push(body(1), None), Err(PushError::Closed));
        let close = outbox.next(&mut Vec::new(), 10).await.unwrap();
        assert_eq!(close.code, CloseCode::SLOW_CONSUMER);
    }

    #[actix_rt::test]
    async fn overflow_by_bytes_but_one_big_frame_always_fits() {
        let outbox = Outbox::new(100, 10);
        assert!(outbox.push(body(50), None).is_ok());
        assert_eq!(outbox.push(body(1), None), Err(PushError::Overflow));
    }

    #[actix_rt::test]
    async fn close_waits_for_queued_frames() {
        let outbox = Outbox::new(10, 1000);
        outbox.push(body(1), None).unwrap();
        outbox.close(Close::going_away());
        assert_eq!(outbox.push(body(1), None), Err(PushError::Closed));
        let mut out = Vec::new();
        assert_eq!(outbox.next(&mut out, 10).await, None);
        assert_eq!(outbox.next(&mut out, 10).await.unwrap().code, CloseCode::GOING_AWAY);
    }

    #[actix_rt::test]
    async fn a_push_from_another_thread_wakes_the_reader() {
        let outbox = std::sync::Arc::new(Outbox::new(10, 1000));
        let pusher = outbox.clone();
        let thread = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            pusher.push(body(3), None).unwrap();
        });
        let mut out = Vec::new();
        assert_eq!(outbox.next(&mut out, 10).await, None);
        assert_eq!(out.len(), 1);
        thread.join().unwrap();
    }
}
