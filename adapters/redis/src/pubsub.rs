//! The node's pub/sub connection: topic channels this node has subscribers for, its own request channel and the
//! notice channel. Reconnects with exponential backoff; after each reconnect every topic is checked for what was
//! missed (see `continuity`), and topics that diverged meanwhile are reset for every node.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::PubSub;
use redis::AsyncCommands;
use serde_json::value::RawValue;
use tidings_core::{Delivery, Publication, SessionId};
use tidings_protocol::StreamPosition;
use tokio::sync::{mpsc, oneshot};

use crate::broker::{random_epoch, Shared};

/// What the broker asks of the pub/sub connection.
pub(crate) enum Command {
    /// Subscribe to a channel; answered once Redis confirmed it.
    Subscribe(String, oneshot::Sender<Result<(), String>>),
    Unsubscribe(String),
}

/// Why the topic subscribers of a reset topic are closed.
const RESET_REASON: &str = "a node published while Redis was unreachable; subscribe again with since";

pub(crate) async fn run(
    shared: Arc<Shared>,
    client: redis::Client,
    mut commands: mpsc::UnboundedReceiver<Command>,
    mut ready: Option<oneshot::Sender<()>>,
) {
    let span = tracing::info_span!("redis_pubsub", node = %shared.config.node_id);
    let _entered = span.enter();
    drop(_entered);
    let mut backoff = shared.config.min_backoff;
    loop {
        match connect(&shared, &client).await {
            Ok(pubsub) => {
                backoff = shared.config.min_backoff;
                shared.connected.store(true, Ordering::Release);
                tracing::info!(parent: &span, "pub/sub connected");
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                tokio::spawn(after_reconnect(shared.clone()));
                let more = serve(&shared, pubsub, &mut commands).await;
                shared.connected.store(false, Ordering::Release);
                if !more {
                    return;
                }
                tracing::warn!(parent: &span, "pub/sub connection lost; reconnecting");
            }
            Err(e) => {
                tracing::warn!(parent: &span, error = %e, ?backoff, "cannot reach redis; retrying");
                let deadline = tokio::time::sleep(backoff);
                tokio::pin!(deadline);
                // Meanwhile, subscriptions fail at once rather than wait for an outage to end.
                loop {
                    tokio::select! {
                        _ = &mut deadline => break,
                        command = commands.recv() => match command {
                            Some(Command::Subscribe(_, done)) => {
                                let _ = done.send(Err("redis is unreachable".into()));
                            }
                            Some(Command::Unsubscribe(_)) => {}
                            None => return,
                        },
                    }
                }
                backoff = (backoff * 2).min(shared.config.max_backoff);
            }
        }
    }
}

async fn connect(shared: &Shared, client: &redis::Client) -> redis::RedisResult<PubSub> {
    let timeout = shared.config.command_timeout;
    let connecting = async {
        let mut pubsub = client.get_async_pubsub().await?;
        let mut channels = vec![shared.keys.node(&shared.config.node_id), shared.keys.control()];
        channels.extend(shared.continuity.topics().iter().map(|t| shared.keys.channel(t)));
        for chunk in channels.chunks(512) {
            pubsub.subscribe(chunk).await?;
        }
        Ok(pubsub)
    };
    match tokio::time::timeout(timeout * 2, connecting).await {
        Ok(result) => result,
        Err(_) => {
            Err(redis::RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, "connecting timed out")))
        }
    }
}

/// Reads messages and carries out commands until the connection fails (true) or the broker is gone (false).
async fn serve(shared: &Arc<Shared>, pubsub: PubSub, commands: &mut mpsc::UnboundedReceiver<Command>) -> bool {
    let timeout = shared.config.command_timeout;
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(timeout);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => dispatch(shared, message.get_channel_name(), message.get_payload_bytes()),
                None => return true,
            },
            command = commands.recv() => match command {
                Some(Command::Subscribe(channel, done)) => {
                    let result = tokio::time::timeout(timeout, sink.subscribe(&channel)).await;
                    let failed = !matches!(result, Ok(Ok(())));
                    let _ = done.send(match result {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("redis did not confirm in time".into()),
                    });
                    if failed {
                        return true;
                    }
                }
                Some(Command::Unsubscribe(channel)) => {
                    if !matches!(tokio::time::timeout(timeout, sink.unsubscribe(&channel)).await, Ok(Ok(()))) {
                        return true;
                    }
                }
                None => return false,
            },
            _ = ping.tick() => {
                // Topics that diverged while only the command connection was down are reset from here.
                shared.continuity.reset_diverged(shared);
                // A connection that silently died (no reset, no FIN) shows here.
                if !matches!(tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await, Ok(Ok(_))) {
                    return true;
                }
            }
        }
    }
}

fn dispatch(shared: &Arc<Shared>, channel: &str, payload: &[u8]) {
    if let Some(topic) = shared.keys.topic_of(channel) {
        match payload.split_first() {
            Some((b'p', rest)) => match parse_publication(topic, rest) {
                Some(publication) => shared.continuity.receive(shared, publication),
                None => tracing::warn!(topic, "malformed publication on redis"),
            },
            Some((b'e', rest)) => {
                let Some(space) = rest.iter().position(|b| *b == b' ') else { return };
                let exclude = std::str::from_utf8(&rest[..space]).ok().filter(|s| *s != "-");
                let delivery = Delivery::Event {
                    topic: topic.into(),
                    body: bytes::Bytes::copy_from_slice(&rest[space + 1..]),
                    exclude: exclude.map(SessionId::from_wire),
                };
                if let Some(sink) = shared.sink() {
                    sink.deliver(delivery);
                }
            }
            _ => tracing::warn!(topic, "unknown message on a topic channel"),
        }
    } else if channel == shared.keys.control() {
        if let Some(topic) = payload.strip_prefix(b"x").and_then(|t| std::str::from_utf8(t).ok()) {
            shared.continuity.reset(shared, topic, RESET_REASON);
        }
    } else {
        crate::forward::receive(shared, payload);
    }
}

/// `<epoch> <offset> <payload>`.
fn parse_publication(topic: &str, text: &[u8]) -> Option<Publication> {
    let text = std::str::from_utf8(text).ok()?;
    let (epoch, rest) = text.split_once(' ')?;
    let (offset, data) = rest.split_once(' ')?;
    let data = RawValue::from_string(data.to_owned()).ok()?;
    let position = StreamPosition { offset: offset.parse().ok()?, epoch: epoch.to_owned() };
    Some(Publication { topic: topic.into(), position, data: data.into() })
}

/// After (re)connecting: topics that got local-only publications start a new epoch everywhere, then every topic
/// is checked for what this node missed.
async fn after_reconnect(shared: Arc<Shared>) {
    shared.continuity.reset_diverged(&shared);
    // Let the connection settle before reading history (it is usually a burst of reconnects).
    tokio::time::sleep(Duration::from_millis(10)).await;
    shared.continuity.check_all(&shared);
}

/// Gives `topic` a new epoch and tells every node (this one too), whose subscribers of it learn of the gap.
pub(crate) async fn reset_everywhere(shared: &Shared, topic: &str) -> bool {
    let reset: redis::RedisResult<u64> = shared
        .scripts
        .reset
        .key(shared.keys.meta(topic))
        .key(shared.keys.history(topic))
        .arg(random_epoch())
        .arg(shared.config.meta_ttl.as_secs().max(1))
        .invoke_async(&mut shared.conn.clone())
        .await;
    let told: redis::RedisResult<u64> = match reset {
        Ok(_) => shared.conn.clone().publish(shared.keys.control(), format!("x{topic}")).await,
        Err(e) => Err(e),
    };
    match told {
        Ok(_) => {
            tracing::info!(topic, "topic reset on every node after local-only publications");
            true
        }
        Err(e) => {
            tracing::warn!(topic, error = %e, "could not reset a diverged topic; will retry");
            false
        }
    }
}
