//! Turns the hub's counters into a snapshot a second: current values, per-second rates, the busiest topics, and
//! the last five minutes of snapshots for pages that open later.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use tidings::{HubMetrics, TopicSubscribers};

/// Snapshots kept: five minutes at one a second.
pub const KEEP: usize = 300;
/// Topics listed in a snapshot.
pub const TOP_TOPICS: usize = 50;

/// What `metrics:hub` publishes every second.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Snapshot {
    /// When, in milliseconds since the Unix epoch.
    pub time: u64,
    /// Live sessions.
    pub sessions: usize,
    /// Sessions by transport; `websocket`, `sse` and `longpoll` are always present.
    pub connections: BTreeMap<&'static str, usize>,
    /// Per second, over the time since the previous snapshot.
    pub rates: Rates,
    /// Counters since the hub started.
    pub totals: Totals,
    /// The most subscribed topics, most first.
    pub topics: Vec<TopicSubscribers>,
}

/// Per-second rates.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rates {
    /// Client frames received.
    pub messages_in: f64,
    /// Frames queued to clients.
    pub messages_out: f64,
    /// Publications.
    pub publications: f64,
}

/// Counters since the hub started.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Totals {
    /// Client frames received.
    pub messages_in: u64,
    /// Frames queued to clients.
    pub messages_out: u64,
    /// Publications.
    pub publications: u64,
    /// Sessions closed as slow consumers.
    pub slow_consumer_drops: u64,
    /// Publications conflated for lagging clients.
    pub conflated: u64,
}

/// Keeps the previous reading (for rates) and the recent snapshots.
#[derive(Debug, Default)]
pub struct Sampler {
    previous: Option<(HubMetrics, u64)>,
    recent: VecDeque<Snapshot>,
}

impl Sampler {
    /// Takes a reading made at `time` (ms) and returns its snapshot, which is also kept.
    pub fn sample(&mut self, metrics: HubMetrics, mut topics: Vec<TopicSubscribers>, time: u64) -> Snapshot {
        let rate = |now: u64, before: Option<u64>, elapsed: Duration| match before {
            Some(before) if !elapsed.is_zero() => now.saturating_sub(before) as f64 / elapsed.as_secs_f64(),
            _ => 0.0,
        };
        // Wall-clock time may step back (NTP): no rate for that interval rather than a nonsense one.
        let elapsed =
            self.previous.as_ref().map_or(Duration::ZERO, |(_, at)| Duration::from_millis(time.saturating_sub(*at)));
        let before = self.previous.as_ref().map(|(m, _)| m);
        let rates = Rates {
            messages_in: rate(metrics.messages_in, before.map(|m| m.messages_in), elapsed),
            messages_out: rate(metrics.messages_out, before.map(|m| m.messages_out), elapsed),
            publications: rate(metrics.publications, before.map(|m| m.publications), elapsed),
        };
        let mut connections = metrics.connections.clone();
        for transport in ["websocket", "sse", "longpoll"] {
            connections.entry(transport).or_default();
        }
        topics.truncate(TOP_TOPICS);
        let snapshot = Snapshot {
            time,
            sessions: metrics.sessions,
            connections,
            rates,
            totals: Totals {
                messages_in: metrics.messages_in,
                messages_out: metrics.messages_out,
                publications: metrics.publications,
                slow_consumer_drops: metrics.slow_consumer_drops,
                conflated: metrics.conflated,
            },
            topics,
        };
        self.previous = Some((metrics, time));
        if self.recent.len() == KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back(snapshot.clone());
        snapshot
    }

    /// The kept snapshots, oldest first.
    pub fn recent(&self) -> Vec<Snapshot> {
        self.recent.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(messages_out: u64, websocket: usize) -> HubMetrics {
        HubMetrics {
            sessions: websocket,
            connections: [("websocket", websocket)].into_iter().collect(),
            messages_out,
            ..HubMetrics::default()
        }
    }

    #[test]
    fn rates_come_from_the_previous_reading_and_five_minutes_are_kept() {
        let mut sampler = Sampler::default();
        let first = sampler.sample(metrics(100, 1), Vec::new(), 1_000);
        assert_eq!(first.rates.messages_out, 0.0);
        assert_eq!(first.connections.keys().copied().collect::<Vec<_>>(), ["longpoll", "sse", "websocket"]);
        let second = sampler.sample(metrics(400, 2), Vec::new(), 3_000);
        assert_eq!(second.rates.messages_out, 150.0);
        assert_eq!(second.connections["websocket"], 2);
        for n in 0..KEEP as u64 {
            sampler.sample(metrics(400 + n, 2), Vec::new(), 4_000 + n * 1000);
        }
        let recent = sampler.recent();
        assert_eq!(recent.len(), KEEP);
        assert_eq!(recent[0].time, 4_000);
        // The clock stepped back: no rate, no panic.
        assert_eq!(sampler.sample(metrics(1_000_000, 2), Vec::new(), 1_000).rates.messages_out, 0.0);
    }

    #[test]
    fn only_the_busiest_topics_are_listed() {
        let mut sampler = Sampler::default();
        let topics = (0..80).map(|n| TopicSubscribers { topic: format!("t:{n}"), subscribers: 80 - n }).collect();
        let snapshot = sampler.sample(HubMetrics::default(), topics, 1_000);
        assert_eq!(snapshot.topics.len(), TOP_TOPICS);
        assert_eq!(snapshot.topics[0].subscribers, 80);
    }
}
