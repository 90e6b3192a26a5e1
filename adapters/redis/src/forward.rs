//! Requests between nodes (the control channel): a node publishes a request on the target node's channel and waits
//! for the answer on its own.
//!
//! Request: `q<id> <reply node> <service>\n<body>`. Answer: `r<id> <1 or 0>\n<body or error>`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use dashmap::DashMap;
use redis::AsyncCommands;
use tidings_core::BrokerError;
use tokio::sync::oneshot;

use crate::broker::{unavailable, Shared};

type Answer = Result<Bytes, String>;

/// Requests this node sent and waits an answer for.
#[derive(Default)]
pub(crate) struct Pending {
    next: AtomicU64,
    waiting: DashMap<u64, oneshot::Sender<Answer>>,
}

/// Removes the entry however the wait ends (answer, timeout, or the caller giving up).
struct Waiting<'a>(&'a Pending, u64);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.remove(&self.1);
    }
}

pub(crate) async fn request(
    shared: &Arc<Shared>,
    node: &str,
    service: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<Bytes, BrokerError> {
    let pending = &shared.pending;
    let id = pending.next.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    pending.waiting.insert(id, tx);
    let _entry = Waiting(pending, id);
    let mut message = format!("q{id} {} {service}\n", shared.config.node_id).into_bytes();
    message.extend_from_slice(&body);
    let receivers: u64 = shared.conn.clone().publish(shared.keys.node(node), message).await.map_err(unavailable)?;
    if receivers == 0 {
        return Err(BrokerError::NoSuchNode(node.to_owned()));
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(Ok(answer))) => Ok(answer),
        Ok(Ok(Err(e))) => Err(BrokerError::Unavailable(format!("node {node} answered: {e}"))),
        Ok(Err(_)) => Err(BrokerError::Unavailable("the answer was dropped".into())),
        Err(_) => Err(BrokerError::Unavailable(format!("node {node} did not answer within {timeout:?}"))),
    }
}

/// A message on this node's channel.
pub(crate) fn receive(shared: &Arc<Shared>, payload: &[u8]) {
    let Some(newline) = payload.iter().position(|b| *b == b'\n') else {
        tracing::warn!("malformed message on the node channel");
        return;
    };
    let header = String::from_utf8_lossy(&payload[..newline]);
    let body = Bytes::copy_from_slice(&payload[newline + 1..]);
    let mut words = header.split(' ');
    match (words.next(), words.next(), words.next()) {
        (Some(id), Some(reply_to), Some(service)) if id.starts_with('q') => {
            let (id, reply_to, service) = (id[1..].to_owned(), reply_to.to_owned(), service.to_owned());
            let Some(sink) = shared.sink().cloned() else { return };
            let shared = shared.clone();
            tokio::spawn(async move {
                let answer = sink.forwarded(&service, body).await;
                let mut message = match &answer {
                    Ok(_) => format!("r{id} 1\n").into_bytes(),
                    Err(e) => format!("r{id} 0\n{e}").into_bytes(),
                };
                if let Ok(body) = &answer {
                    message.extend_from_slice(body);
                }
                let sent: redis::RedisResult<u64> =
                    shared.conn.clone().publish(shared.keys.node(&reply_to), message).await;
                if let Err(e) = sent {
                    tracing::warn!(node = reply_to, error = %e, "could not answer a forwarded request");
                }
            });
        }
        (Some(id), Some(ok), None) if id.starts_with('r') => {
            let Ok(id) = id[1..].parse::<u64>() else { return };
            if let Some((_, waiter)) = shared.pending.waiting.remove(&id) {
                let answer = if ok == "1" { Ok(body) } else { Err(String::from_utf8_lossy(&body).into_owned()) };
                let _ = waiter.send(answer);
            }
        }
        _ => tracing::warn!(header = %header, "malformed message on the node channel"),
    }
}
