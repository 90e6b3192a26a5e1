//! When to acknowledge: after so many frames, or so long after the first frame not yet acknowledged.

use std::time::Duration;

use tokio::time::Instant;

/// When the client sends `ack` frames on WebSocket and SSE (long polling acknowledges with every poll instead).
/// The server keeps every frame until it is acknowledged, and closes a session that holds too many (4096 by
/// default), so a client must acknowledge often enough; each `ack` is a frame of its own, so not too often either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckPolicy {
    /// Acknowledge once this many frames are processed and not yet acknowledged.
    pub max_unacked: u64,
    /// Acknowledge at most this long after processing a frame.
    pub max_delay: Duration,
}

impl Default for AckPolicy {
    /// 256 frames, 1 second: what `docs/protocol.md` asks of clients.
    fn default() -> Self {
        AckPolicy { max_unacked: 256, max_delay: Duration::from_secs(1) }
    }
}

/// The acknowledgement state of one session.
#[derive(Debug)]
pub(crate) struct AckTracker {
    policy: AckPolicy,
    processed: u64,
    acked: u64,
    /// When the oldest processed-but-unacknowledged frame must be acknowledged by.
    deadline: Option<Instant>,
}

impl AckTracker {
    pub(crate) fn new(policy: AckPolicy) -> Self {
        AckTracker { policy, processed: 0, acked: 0, deadline: None }
    }

    /// Starts over from `seq`, which the server already knows the client processed: a new session (0), or a
    /// connection that resumed with `ack=seq`, or long polling, whose polls acknowledge.
    pub(crate) fn reset(&mut self, seq: u64) {
        self.processed = seq;
        self.acked = seq;
        self.deadline = None;
    }

    /// Records that frame `seq` was processed. True when an `ack` is due at once (too many unacknowledged).
    pub(crate) fn processed(&mut self, seq: u64, now: Instant) -> bool {
        self.processed = self.processed.max(seq);
        if self.processed > self.acked && self.deadline.is_none() {
            // The deadline runs from the first frame left unacknowledged, not the last: a steady trickle of
            // frames must not postpone the ack forever.
            self.deadline = Some(now + self.policy.max_delay);
        }
        self.processed - self.acked >= self.policy.max_unacked.max(1)
    }

    /// When an `ack` will be due, if any frame is unacknowledged.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The `seq` to acknowledge now, if anything is unacknowledged; counts it as acknowledged.
    pub(crate) fn take(&mut self) -> Option<u64> {
        self.deadline = None;
        (self.processed > self.acked).then(|| {
            self.acked = self.processed;
            self.processed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_after_max_unacked_frames() {
        let mut t = AckTracker::new(AckPolicy { max_unacked: 3, max_delay: Duration::from_secs(1) });
        let now = Instant::now();
        assert!(!t.processed(1, now));
        assert!(!t.processed(2, now));
        assert!(t.processed(3, now));
        assert_eq!(t.take(), Some(3));
        assert_eq!(t.take(), None, "nothing new");
        assert_eq!(t.deadline(), None);
        assert!(!t.processed(4, now));
    }

    #[test]
    fn the_deadline_runs_from_the_first_unacked_frame() {
        let mut t = AckTracker::new(AckPolicy::default());
        let start = Instant::now();
        assert_eq!(t.deadline(), None);
        t.processed(1, start);
        t.processed(2, start + Duration::from_millis(600));
        assert_eq!(t.deadline(), Some(start + Duration::from_secs(1)));
        assert_eq!(t.take(), Some(2));
        t.processed(3, start + Duration::from_millis(700));
        assert_eq!(t.deadline(), Some(start + Duration::from_millis(1700)));
    }

    #[test]
    fn reset_forgets_what_the_server_already_knows() {
        let mut t = AckTracker::new(AckPolicy::default());
        t.processed(10, Instant::now());
        t.reset(10);
        assert_eq!((t.take(), t.deadline()), (None, None));
        // A new session numbers from 1 again.
        t.reset(0);
        t.processed(1, Instant::now());
        assert_eq!(t.take(), Some(1));
    }

    #[test]
    fn the_default_is_the_protocols() {
        let mut t = AckTracker::new(AckPolicy::default());
        let now = Instant::now();
        assert!((1..256).all(|seq| !t.processed(seq, now)));
        assert!(t.processed(256, now));
    }
}
