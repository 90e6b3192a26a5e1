//! A session's bounded outbound queue, which is also its replay buffer.
//!
//! Fan-out pushes into it from any thread without going through the session actor's mailbox (a broadcast to ten
//! thousand sessions is ten thousand short lock/push/notify steps, not ten thousand boxed actor messages), and the
//! connection attached to the session reads from it. Sequence numbers are assigned here, under the same lock as
//! the push, so that they are gap-free and in queue order.
//!
//! A frame stays in the queue after it is sent, until the client acknowledges it: a client that reconnects says
//! which frames it processed, and the queue sends the rest again. Both parts are bounded on their own: frames not
//! yet sent by the session's limits (beyond them the client is a slow consumer), sent ones by the same limits again
//! (beyond them the oldest are forgotten, and a resume from before them starts a new session). Acknowledgements are
//! what keeps that replay part small, but the bound holds even for a client whose acks are stuck behind its own
//! requests. Each attached connection holds a *generation*;
//! attaching a new one makes the old one's reads end, so that two connections never read the same session.
//!
//! A session whose client is away (no connection attached) cannot drain its queue, which then fills at the rate of
//! its topics. Its publications that do not fit are not a reason to end it: they are dropped, topic by topic, from
//! the first that did not fit until the client has come back and its queue is half empty again, and the range of
//! each topic's dropped offsets is then told to the client as a `gap` frame (after what was queued, before anything
//! newer of the topic). The session keeps its subscriptions, memberships and positions. Other frames (replies,
//! pushes, presence) still overflow.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tidings_protocol::encode::{self, EncodingCache};
use tidings_protocol::{EncodedFrame, Missed, StreamPosition};
use tokio::sync::Notify;

use crate::close::Close;

/// Smallest size of `State::latest` at which its stale entries are dropped.
const LATEST_PRUNE_AT: usize = 256;

/// What a push did with its frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Queued under a new sequence number.
    New,
    /// Put in place of an older publication of the same conflated topic that was not sent yet (under its number).
    Replaced,
    /// Held back while the session recovers the topic; queued after the recovered publications.
    Held,
    /// Dropped: the session already has this publication, from history.
    Duplicate,
    /// Dropped: the session's client is away and its queue is full; the client is told of the range on resume.
    Missed,
}

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

/// What a connection reading the queue is to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Frames were moved into the caller's buffer: send them.
    Frames,
    /// Every queued frame was handed out and the session is ending: close the connection with this.
    Close(Close),
    /// Another connection took the session over: end this one (with 4500 where the transport can say so).
    Superseded,
    /// The connection is to be dropped without a close (`Hub::drop_connection`); the session stays resumable.
    Dropped,
}

/// Why a connection could not take the session over at the point it asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResumeGap;

pub(crate) struct Outbox {
    state: Mutex<State>,
    ready: Notify,
    max_frames: usize,
    max_bytes: usize,
}

struct State {
    /// Frames not yet acknowledged, contiguous: the first one's `seq` is `acked + 1`. Those before `cursor` were
    /// sent.
    queue: VecDeque<EncodedFrame>,
    /// Bytes of the frames not sent yet.
    unsent_bytes: usize,
    /// Bytes of the frames sent and not acknowledged.
    sent_bytes: usize,
    next_seq: u64,
    /// Every frame up to this one was acknowledged (or forgotten) and dropped.
    acked: u64,
    /// The highest `seq` the client itself acknowledged (with an `ack`, or the `ack` of a resume). While it is at
    /// least `acked`, every dropped frame was processed by the client, not forgotten for the limits.
    confirmed: u64,
    /// The next frame to hand to the attached connection.
    cursor: u64,
    /// Set once: the close to send after the queue drains.
    close: Option<Close>,
    /// The generation of the connection entitled to read.
    generation: u64,
    /// A generation whose connection is to be dropped.
    dropped: Option<u64>,
    /// Whether a connection is attached (the session's first connection counts from the start).
    attached: bool,
    /// The session has ended: no connection may take it over any more.
    ended: bool,
    /// Publications of one topic held back while the session recovers that topic from history.
    hold: Option<Hold>,
    /// Topics recovered from history up to an offset: a live copy of one of those publications arriving late (its
    /// broker delivers live publications on another path than history reads, as Redis does) is dropped, not sent
    /// twice. An entry goes once a newer publication of its topic arrives.
    recovered: Vec<(Arc<str>, u64)>,
    /// Conflated topics: the `seq` of each one's newest queued publication. While that frame is unsent, a newer
    /// publication of the topic replaces it in place; once sent, the entry is stale and the next one is queued anew.
    latest: HashMap<Arc<str>, u64>,
    /// The size of `latest` at which its stale entries are dropped next.
    prune_latest_at: usize,
    /// Publications dropped while no connection was attached and the queue was full: per topic and epoch, the
    /// range of offsets, told to the client when it resumes.
    missed: Vec<(Arc<str>, String, Missed)>,
}

impl State {
    /// Drops sent frames up to `seq` (at most every sent frame).
    fn ack(&mut self, seq: u64) {
        let seq = seq.min(self.cursor - 1);
        self.confirmed = self.confirmed.max(seq);
        while self.acked < seq {
            let frame = self.queue.pop_front().expect("unacknowledged frames are queued");
            self.sent_bytes -= frame.body.len();
            self.acked += 1;
        }
    }

    fn unsent(&self) -> usize {
        (self.next_seq - self.cursor) as usize
    }

    fn sent(&self) -> usize {
        (self.cursor - self.acked - 1) as usize
    }
}

struct Hold {
    topic: Arc<str>,
    frames: Vec<(u64, Bytes, Option<Arc<EncodingCache>>)>,
}

impl Outbox {
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Outbox {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                unsent_bytes: 0,
                sent_bytes: 0,
                next_seq: 1,
                acked: 0,
                confirmed: 0,
                cursor: 1,
                close: None,
                generation: 0,
                dropped: None,
                attached: true,
                ended: false,
                hold: None,
                recovered: Vec::new(),
                latest: HashMap::new(),
                prune_latest_at: LATEST_PRUNE_AT,
                missed: Vec::new(),
            }),
            ready: Notify::new(),
            max_frames: max_frames.max(1),
            max_bytes,
        }
    }

    /// Queues a frame body under the next sequence number. `publication` names the topic and offset of a
    /// publication, which is held back instead while the session recovers that topic (see [`Outbox::hold`]).
    /// With `conflate`, the publication replaces its topic's previous one if that is still waiting to be sent
    /// (or held): a client whose queue is empty when each publication arrives gets every one, one that lags gets
    /// the latest of each topic rather than a growing backlog (its sequence numbers stay gap-free; the topic's
    /// offsets skip). A replacement still counts against the byte limit.
    ///
    /// On overflow the queue is emptied (a slow consumer will not catch up by being sent more) and the session is
    /// marked to close with 4000.
    pub(crate) fn push(
        &self,
        body: Bytes,
        cache: Option<Arc<EncodingCache>>,
        publication: Option<(&str, &StreamPosition)>,
        conflate: bool,
    ) -> Result<Queued, PushError> {
        let mut state = self.state.lock();
        if state.close.is_some() {
            return Err(PushError::Closed);
        }
        if let Some((topic, position)) = publication {
            if self.miss_while_away(&mut state, topic, position, body.len(), conflate) {
                return Ok(Queued::Missed);
            }
        }
        let publication = publication.map(|(topic, position)| (topic, position.offset));
        if let Some((topic, offset)) = publication {
            if let Some(i) = state.recovered.iter().position(|(t, _)| **t == *topic) {
                if offset <= state.recovered[i].1 {
                    return Ok(Queued::Duplicate);
                }
                state.recovered.swap_remove(i);
            }
        }
        let unsent = state.unsent();
        if let (Some(hold), Some((topic, offset))) = (&mut state.hold, publication) {
            if *hold.topic == *topic {
                // A conflated topic keeps only its newest held publication.
                if conflate {
                    if let Some(newest) = hold.frames.last_mut() {
                        *newest = (offset, body, cache);
                        return Ok(Queued::Replaced);
                    }
                }
                // Held frames count against the limits too: a hot topic during a slow history read must not grow
                // the session without bound.
                if hold.frames.len() + unsent < self.max_frames {
                    hold.frames.push((offset, body, cache));
                    return Ok(Queued::Held);
                }
                self.overflow(&mut state);
                return Err(PushError::Overflow);
            }
        }
        let queued = match publication {
            Some((topic, _)) if conflate => self.conflate(&mut state, topic, body, cache)?,
            _ => {
                self.enqueue(&mut state, body, cache)?;
                Queued::New
            }
        };
        drop(state);
        self.ready.notify_one();
        Ok(queued)
    }

    /// While no connection is attached (or one is, but the ranges missed while none was are not told yet), a
    /// publication that would overflow the queue is dropped and its offset starts the topic's missed range; until that range is told (see `tell_missed`), the topic's next publications
    /// are dropped and extend it, attached or not. True when the publication was dropped.
    fn miss_while_away(
        &self,
        state: &mut State,
        topic: &str,
        position: &StreamPosition,
        len: usize,
        conflate: bool,
    ) -> bool {
        // The common case, on every delivery: attached, nothing missed.
        if state.attached && state.missed.is_empty() {
            return false;
        }
        let missing = state.missed.iter().position(|(t, epoch, _)| **t == *topic && *epoch == position.epoch);
        match missing {
            Some(i) => state.missed[i].2 = state.missed[i].2.through(position.offset),
            // A conflated topic whose newest publication is still unsent replaces it in place: nothing is missed.
            None if conflate && state.latest.get(topic).is_some_and(|&seq| seq >= state.cursor) => return false,
            // Away, or back but still draining what piled up meanwhile (ranges not told yet).
            None if self.full(state, len) && state.unsent() > 0 => {
                tracing::info!(
                    topic,
                    from = position.offset,
                    "the client of a detached session is behind: its publications of this topic are dropped until it \
                     resumes, and it will be told which"
                );
                let missed = Missed { from: Some(position.offset), to: position.offset };
                state.missed.push((topic.into(), position.epoch.clone(), missed));
            }
            None => return false,
        }
        true
    }

    /// Once the queue is half empty again, queues a `gap` frame for each topic whose publications were dropped
    /// while the client was away; the topic's next publications are queued after it. (Beyond the limits if need
    /// be: there is one per topic at most, and the client must hear of them.)
    fn tell_missed(&self, state: &mut State) {
        let room = state.unsent() <= self.max_frames / 2 && state.unsent_bytes <= self.max_bytes / 2;
        if state.missed.is_empty() || !room {
            return;
        }
        for (topic, epoch, missed) in std::mem::take(&mut state.missed) {
            // A conflated topic's queued publication, before the gap, must not take the place of a newer one.
            state.latest.remove(&*topic);
            push_frame(state, encode::gap_body(&topic, &epoch, &missed), None);
        }
    }

    /// Replaces `topic`'s unsent publication with `body`, or queues `body` anew and remembers it as the topic's.
    fn conflate(
        &self,
        state: &mut State,
        topic: &str,
        body: Bytes,
        cache: Option<Arc<EncodingCache>>,
    ) -> Result<Queued, PushError> {
        if let Some(&seq) = state.latest.get(topic) {
            if seq >= state.cursor {
                let index = (seq - state.acked - 1) as usize;
                let old = state.queue[index].body.len();
                if state.unsent_bytes - old + body.len() > self.max_bytes && state.unsent() > 1 {
                    self.overflow(state);
                    return Err(PushError::Overflow);
                }
                let frame = &mut state.queue[index];
                debug_assert_eq!(frame.seq, Some(seq), "the latest map points at its topic's frame");
                frame.body = body;
                frame.cache = cache;
                state.unsent_bytes = state.unsent_bytes - old + frame.body.len();
                return Ok(Queued::Replaced);
            }
        }
        self.enqueue(state, body, cache)?;
        let seq = state.next_seq - 1;
        match state.latest.get_mut(topic) {
            Some(latest) => *latest = seq,
            None => {
                // Entries of topics whose frames went out are stale: drop them once the map has doubled since the
                // last time, so that cycling through many topics costs nothing lasting and pruning stays rare.
                if state.latest.len() >= state.prune_latest_at {
                    let cursor = state.cursor;
                    state.latest.retain(|_, seq| *seq >= cursor);
                    state.prune_latest_at = (state.latest.len() * 2).max(LATEST_PRUNE_AT);
                }
                state.latest.insert(topic.into(), seq);
            }
        }
        Ok(Queued::New)
    }

    fn enqueue(&self, state: &mut State, body: Bytes, cache: Option<Arc<EncodingCache>>) -> Result<(), PushError> {
        // An empty queue always takes one frame, so a frame larger than `max_bytes` still goes out.
        if self.full(state, body.len()) && state.unsent() > 0 {
            self.overflow(state);
            return Err(PushError::Overflow);
        }
        push_frame(state, body, cache);
        Ok(())
    }

    /// Whether a frame of `len` bytes does not fit among the unsent ones.
    fn full(&self, state: &State, len: usize) -> bool {
        state.unsent() >= self.max_frames || state.unsent_bytes + len > self.max_bytes
    }

    /// Forgets the oldest sent frames while more are kept for a resume than the limits allow.
    fn forget_beyond_replay_limits(&self, state: &mut State) {
        let mut forgotten = 0;
        while state.sent() > self.max_frames || (state.sent_bytes > self.max_bytes && state.sent() > 1) {
            let frame = state.queue.pop_front().expect("sent frames are queued");
            state.sent_bytes -= frame.body.len();
            state.acked += 1;
            forgotten += 1;
        }
        if forgotten > 0 {
            tracing::trace!(forgotten, "unacknowledged frames beyond the replay limits forgotten");
        }
    }

    /// The session fell too far behind: free everything and close it as a slow consumer.
    fn overflow(&self, state: &mut State) {
        state.queue = VecDeque::new();
        state.unsent_bytes = 0;
        state.sent_bytes = 0;
        state.acked = state.next_seq - 1;
        state.hold = None;
        state.latest = HashMap::new();
        state.prune_latest_at = LATEST_PRUNE_AT;
        state.missed = Vec::new();
        state.cursor = state.next_seq;
        state.close = Some(Close::slow_consumer());
        self.ready.notify_waiters();
    }

    /// The session starts receiving `topic` (again): a publication of it still unsent from an earlier
    /// subscription must not be replaced by the new subscription's, which would then jump ahead of the
    /// subscribe's reply and of the publications recovered for it.
    pub(crate) fn forget_latest(&self, topic: &str) {
        self.state.lock().latest.remove(topic);
    }

    /// Starts holding back `topic`'s publications, until [`Outbox::release`].
    pub(crate) fn hold(&self, topic: &str) {
        self.state.lock().hold = Some(Hold { topic: topic.into(), frames: Vec::new() });
    }

    /// Stops holding back publications, dropping those held (the subscription they were for failed).
    pub(crate) fn unhold(&self) {
        self.state.lock().hold = None;
    }

    /// Queues `recovered` (bodies of publications up to offset `last`, read from history), then the held
    /// publications newer than `last`, and stops holding: all in one step, so that nothing published meanwhile is
    /// lost, doubled or reordered.
    pub(crate) fn release(&self, recovered: Vec<Bytes>, last: u64) -> Result<(), PushError> {
        let mut state = self.state.lock();
        let Some(hold) = state.hold.take() else { return Err(PushError::Closed) };
        if state.close.is_some() {
            return Err(PushError::Closed);
        }
        for body in recovered {
            self.enqueue(&mut state, body, None)?;
        }
        let mut newest = last;
        for (offset, body, cache) in hold.frames {
            if offset > last {
                newest = newest.max(offset);
                self.enqueue(&mut state, body, cache)?;
            }
        }
        state.recovered.retain(|(t, _)| *t != hold.topic);
        state.recovered.push((hold.topic, newest));
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// How many more frames, and bytes, the queue takes before it overflows (held publications count as queued).
    pub(crate) fn room(&self) -> (usize, usize) {
        let state = self.state.lock();
        let held = state.hold.as_ref().map_or(0, |h| h.frames.len());
        let held_bytes: usize = state.hold.as_ref().map_or(0, |h| h.frames.iter().map(|(_, b, _)| b.len()).sum());
        (
            self.max_frames.saturating_sub(state.unsent() + held),
            self.max_bytes.saturating_sub(state.unsent_bytes + held_bytes),
        )
    }

    /// Marks the session to close with `close` once the frames already queued are sent. The first close wins.
    pub(crate) fn close(&self, close: Close) {
        let mut state = self.state.lock();
        if state.close.is_none() {
            state.close = Some(close);
        }
        drop(state);
        self.ready.notify_waiters();
        self.ready.notify_one();
    }

    /// Whether the session is closing.
    pub(crate) fn is_closing(&self) -> bool {
        self.state.lock().close.is_some()
    }

    /// Whether the session has ended.
    pub(crate) fn is_ended(&self) -> bool {
        self.state.lock().ended
    }

    /// Whether frames wait to be sent.
    pub(crate) fn has_unsent(&self) -> bool {
        self.state.lock().unsent() > 0
    }

    /// The session has ended (its actor stopped): refuse takeovers, and end any reader with `close` (unless the
    /// session was closing already).
    pub(crate) fn end(&self, close: Close) {
        let mut state = self.state.lock();
        state.ended = true;
        if state.close.is_none() {
            state.close = Some(close);
        }
        // Nothing is sent any more: a reader gets the close at once.
        state.cursor = state.next_seq;
        drop(state);
        self.ready.notify_waiters();
    }

    /// The client processed every frame up to `seq`: forget them. Acknowledging a frame not sent yet counts as
    /// acknowledging what was sent.
    pub(crate) fn ack(&self, seq: u64) {
        self.state.lock().ack(seq);
    }

    /// A new connection takes the session over, having processed every frame up to `ack`: the frames after it
    /// will be sent again, and the previous connection's reads end. Returns the new connection's generation.
    ///
    /// An `ack` below what the client acknowledged since is read as that acknowledgement: a client switching
    /// transport opens the new connection with the `ack` of that moment and goes on acknowledging on the old one
    /// until the new one is up, and frames it acknowledged are frames it processed.
    ///
    /// Fails when frames after `ack` were forgotten for the replay limits without the client acknowledging them,
    /// or when `ack` is beyond what was ever sent: the session cannot continue exactly where the client is.
    pub(crate) fn take_over(&self, ack: u64) -> Result<u64, ResumeGap> {
        let mut state = self.state.lock();
        // A closing session may still be taken over while it has frames to deliver before its close.
        let closed = state.close.is_some() && state.unsent() == 0;
        let forgotten_unprocessed = ack < state.acked && state.confirmed < state.acked;
        if forgotten_unprocessed || ack >= state.cursor || state.ended || closed {
            return Err(ResumeGap);
        }
        let ack = ack.max(state.acked);
        state.ack(ack);
        // What was sent after `ack` counts as unsent again.
        let resent: usize = state.queue.iter().take(state.sent()).map(|f| f.body.len()).sum();
        state.sent_bytes -= resent;
        state.unsent_bytes += resent;
        state.cursor = ack + 1;
        state.generation += 1;
        state.attached = true;
        self.tell_missed(&mut state);
        let generation = state.generation;
        drop(state);
        // Wakes the previous connection, which finds itself superseded.
        self.ready.notify_waiters();
        Ok(generation)
    }

    /// Ends the reads of connection `generation` without a close (see [`Next::Dropped`]). False when that
    /// connection is no longer the session's.
    pub(crate) fn drop_connection(&self, generation: u64) -> bool {
        let mut state = self.state.lock();
        if state.generation != generation || !state.attached {
            return false;
        }
        state.dropped = Some(generation);
        drop(state);
        self.ready.notify_waiters();
        true
    }

    /// The generation of the connection entitled to read.
    pub(crate) fn generation(&self) -> u64 {
        self.state.lock().generation
    }

    /// Connection `generation` is gone. True when it was the session's current connection (which leaves the
    /// session without one).
    pub(crate) fn detach(&self, generation: u64) -> bool {
        let mut state = self.state.lock();
        let current = state.generation == generation;
        if current {
            state.attached = false;
        }
        current
    }

    /// Whether a connection is attached.
    pub(crate) fn is_attached(&self) -> bool {
        self.state.lock().attached
    }

    /// For connection `generation`: waits until there is something to send, then moves up to `max` frames into
    /// `out` (they stay queued until acknowledged); or says why the connection must end.
    ///
    /// Cancel-safe: frames are handed out only when the call returns.
    pub(crate) async fn next(&self, generation: u64, out: &mut Vec<EncodedFrame>, max: usize) -> Next {
        loop {
            // Created before the check, so that a change between the check and the wait still wakes it (both
            // `notify_one`'s stored permit and `notify_waiters` reach a future created before the notification).
            let changed = self.ready.notified();
            {
                let mut state = self.state.lock();
                if state.generation != generation {
                    drop(state);
                    // A permit this connection may have consumed was meant for the new one.
                    self.ready.notify_one();
                    return Next::Superseded;
                }
                if state.dropped == Some(generation) {
                    return Next::Dropped;
                }
                if state.unsent() > 0 {
                    let start = state.sent();
                    let n = state.unsent().min(max.max(1));
                    let mut bytes = 0;
                    out.extend(state.queue.range(start..start + n).inspect(|f| bytes += f.body.len()).cloned());
                    state.cursor += n as u64;
                    state.unsent_bytes -= bytes;
                    state.sent_bytes += bytes;
                    self.forget_beyond_replay_limits(&mut state);
                    self.tell_missed(&mut state);
                    return Next::Frames;
                }
                if let Some(close) = &state.close {
                    return Next::Close(close.clone());
                }
            }
            changed.await;
        }
    }
}

/// Queues `body` under the next sequence number, whatever the limits (the caller checked them, or may pass them).
fn push_frame(state: &mut State, body: Bytes, cache: Option<Arc<EncodingCache>>) {
    let seq = state.next_seq;
    state.next_seq += 1;
    state.unsent_bytes += body.len();
    state.queue.push_back(EncodedFrame { seq: Some(seq), body, cache });
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
