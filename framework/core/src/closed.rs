//! Sessions their clients closed, remembered for a while.
//!
//! A request that was already on its way when the client closed its session (a long poll the client gave up on, a
//! reconnect racing the close) still names that session. Answering it with a new session would leave an orphan that
//! no client ever uses, alive for a whole resume window; answering with a close ends the exchange. The memory is
//! bounded both in time (the resume window: no resume of the session could be valid after that anyway) and in
//! count (the oldest are forgotten first, so a flood of short sessions cannot grow it).

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::identity::SessionId;

/// At most this many closed sessions are remembered.
const CAPACITY: usize = 16 * 1024;

pub(crate) struct ClosedSessions {
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    ids: HashSet<SessionId>,
    /// Oldest first.
    order: VecDeque<(Instant, SessionId)>,
}

impl ClosedSessions {
    pub(crate) fn new(ttl: Duration) -> Self {
        ClosedSessions { ttl, state: Mutex::new(State::default()) }
    }

    /// The client closed `id`.
    pub(crate) fn insert(&self, id: &SessionId) {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.forget_older_than(now.checked_sub(self.ttl));
        if state.order.len() >= CAPACITY {
            if let Some((_, oldest)) = state.order.pop_front() {
                state.ids.remove(&oldest);
            }
        }
        if state.ids.insert(id.clone()) {
            state.order.push_back((now, id.clone()));
        }
    }

    /// Whether the client closed `id` within the remembered time.
    pub(crate) fn contains(&self, id: &str) -> bool {
        let mut state = self.state.lock();
        state.forget_older_than(Instant::now().checked_sub(self.ttl));
        state.ids.contains(id)
    }
}

impl State {
    fn forget_older_than(&mut self, cutoff: Option<Instant>) {
        let Some(cutoff) = cutoff else { return };
        while self.order.front().is_some_and(|(at, _)| *at < cutoff) {
            let (_, id) = self.order.pop_front().expect("checked above");
            self.ids.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_the_time_and_forgets_after() {
        let closed = ClosedSessions::new(Duration::from_millis(50));
        let id = SessionId::random();
        assert!(!closed.contains(id.as_str()));
        closed.insert(&id);
        assert!(closed.contains(id.as_str()));
        std::thread::sleep(Duration::from_millis(80));
        assert!(!closed.contains(id.as_str()));
    }

    #[test]
    fn forgets_the_oldest_beyond_its_capacity() {
        let closed = ClosedSessions::new(Duration::from_secs(600));
        let ids: Vec<SessionId> = (0..CAPACITY + 1).map(|_| SessionId::random()).collect();
        for id in &ids {
            closed.insert(id);
        }
        assert!(!closed.contains(ids[0].as_str()));
        assert!(closed.contains(ids[1].as_str()));
        assert!(closed.contains(ids[CAPACITY].as_str()));
        assert_eq!(closed.state.lock().ids.len(), CAPACITY);
    }
}
