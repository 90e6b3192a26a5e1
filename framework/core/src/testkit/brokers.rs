//! Checks that a [`Broker`] keeps the rules every broker shares, for broker authors' own tests.

use std::sync::Arc;

use serde_json::value::RawValue;
use tidings_protocol::StreamPosition;

use crate::broker::{Broker, HistoryPage};

fn offsets(page: &HistoryPage) -> Vec<u64> {
    page.publications.iter().map(|p| p.position.offset).collect()
}

/// Publishes five publications to topic `topic` (never published to before) of `broker`, which must keep a history
/// of exactly three, then checks offsets, history pages, limits and gaps; panics on the first rule broken.
///
/// ```
/// # actix_rt::System::new().block_on(async {
/// use tidings_core::{MemoryBroker, MemoryBrokerConfig};
/// let broker = MemoryBroker::new(MemoryBrokerConfig { history_size: 3, ..Default::default() });
/// tidings_core::testkit::brokers::check_history_rules(&broker, "t").await;
/// # });
/// ```
pub async fn check_history_rules(broker: &dyn Broker, topic: &str) {
    let raw = |n: u64| -> Arc<RawValue> { serde_json::value::to_raw_value(&n).expect("a number encodes").into() };
    let nothing = broker.history(topic, None, 10).await.expect("history");
    assert_eq!((nothing.position.offset, nothing.gap()), (0, false), "a topic never published to");
    for n in 1..=5 {
        assert_eq!(broker.publish(topic, raw(n)).await.expect("publish").offset, n, "offsets count from 1");
    }
    let all = broker.history(topic, None, 100).await.expect("history");
    assert_eq!((offsets(&all), all.gap()), (vec![3, 4, 5], false), "the last three are kept");
    assert_eq!(all.publications[0].data.get(), "3", "payloads kept as they were");
    let epoch = all.position.epoch.clone();
    let at = |offset| StreamPosition { offset, epoch: epoch.clone() };
    let page = |since: StreamPosition, limit| async move {
        let page = broker.history(topic, Some(&since), limit).await.expect("history");
        (offsets(&page), page.gap())
    };
    assert_eq!(page(at(3), 100).await, (vec![4, 5], false), "after a retained offset");
    assert_eq!(page(at(2), 1).await, (vec![3], false), "limited");
    assert_eq!(page(at(1), 100).await, (vec![3, 4, 5], true), "2 is no longer retained");
    assert_eq!(page(at(5), 100).await, (vec![], false), "up to date");
    let other_epoch = StreamPosition { offset: 4, epoch: "nope".into() };
    assert_eq!(page(other_epoch, 100).await, (vec![3, 4, 5], true), "a position in another epoch");
    let seen_nothing = StreamPosition { offset: 0, epoch: "whatever".into() };
    assert_eq!(page(seen_nothing, 100).await, (vec![3, 4, 5], true), "seen nothing, but 1 and 2 are gone");
}
