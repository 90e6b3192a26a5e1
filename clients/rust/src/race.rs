//! Connecting is a race, like "happy eyeballs" for addresses (docs/transports.md, "How a client chooses"): the
//! first transport starts; each [`ClientOptions::race_delay`](crate::ClientOptions::race_delay) without a
//! `welcome`, the next starts beside it, and a transport that fails starts the next at once. The first `welcome`
//! wins and the other attempts are dropped. Behind a proxy that hangs WebSocket upgrades and buffers SSE, that is
//! long polling within about twice the delay, where trying them in turn took two open timeouts.
//!
//! The winner is remembered per endpoint for this process, and goes first in the next race.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use crate::endpoint::Resume;
use crate::error::Error;
use crate::options::TransportKind;
use crate::transport::{open, Link, Opener, Welcome};

/// How a race ended well: the index of the winner in the transports, its link and its welcome.
pub(crate) struct Won {
    pub(crate) index: usize,
    pub(crate) link: Link,
    pub(crate) welcome: Welcome,
    /// Attempts were still under way when it won (and were dropped): one that resumed the session may have taken
    /// it over at the server, whose 4500 to the winner is then this client's own doing.
    pub(crate) dropped_others: bool,
}

/// Races `transports` (most preferred first; the one remembered for this endpoint goes first), each attempt
/// resuming `resume` when given. Fails, when none opens, with the first refusal of the credentials if there was
/// one, or else with every failure.
pub(crate) async fn race(
    opener: &Opener,
    transports: &[TransportKind],
    resume: Option<&Resume>,
    delay: Duration,
    remember: bool,
    demoted: &[TransportKind],
) -> Result<Won, Error> {
    let order = order(transports, remember.then(|| recall(opener.endpoint.base())).flatten(), demoted);
    let mut attempts = FuturesUnordered::new();
    let mut next = 0;
    let mut failures = Vec::new();
    let mut refused = None;
    let mut deadline = Instant::now();
    // Each turn of the loop follows a start, a failure or the race delay: the next transport starts.
    loop {
        if next < order.len() {
            let index = order[next];
            let kind = transports[index];
            next += 1;
            attempts.push(async move { (index, open(kind, opener, resume).await) });
            deadline = Instant::now() + delay;
        }
        if attempts.is_empty() {
            if let Some(refusal) = refused {
                return Err(refusal);
            }
            return Err(Error::Connect(if failures.is_empty() {
                "no transports configured".to_owned()
            } else {
                failures.join("; ")
            }));
        }
        tokio::select! {
            Some((index, result)) = attempts.next() => match result {
                Ok((link, welcome)) => {
                    if remember {
                        remember_for(opener.endpoint.base(), transports[index]);
                    }
                    return Ok(Won { index, link, welcome, dropped_others: !attempts.is_empty() });
                }
                // A refusal of the credentials may be a proxy's refusal of one transport (403 to WebSocket
                // upgrades): the others still run, and it is the answer only if none of them opens.
                Err(e @ Error::Unauthorized { .. }) => {
                    tracing::debug!(transport = %transports[index], error = %e, "transport refused");
                    refused.get_or_insert(e);
                }
                Err(e) => {
                    tracing::debug!(transport = %transports[index], error = %e, "transport failed to open");
                    failures.push(e.to_string());
                }
            },
            () = tokio::time::sleep_until(deadline), if next < order.len() => {}
        }
    }
}

/// The indexes of `transports` in the order to start them: the remembered one first, those `demoted` (their
/// streams stalled lately) last.
fn order(transports: &[TransportKind], remembered: Option<TransportKind>, demoted: &[TransportKind]) -> Vec<usize> {
    let first = remembered.and_then(|kind| transports.iter().position(|t| *t == kind));
    let preferred: Vec<usize> = first.into_iter().chain((0..transports.len()).filter(|i| Some(*i) != first)).collect();
    let (last, rest): (Vec<usize>, Vec<usize>) = preferred.into_iter().partition(|i| demoted.contains(&transports[*i]));
    rest.into_iter().chain(last).collect()
}

fn memory() -> &'static Mutex<HashMap<String, TransportKind>> {
    static MEMORY: OnceLock<Mutex<HashMap<String, TransportKind>>> = OnceLock::new();
    MEMORY.get_or_init(Default::default)
}

/// The transport that last won a race to `endpoint` in this process.
pub(crate) fn recall(endpoint: &str) -> Option<TransportKind> {
    memory().lock().ok()?.get(endpoint).copied()
}

/// Remembers that `kind` reached `endpoint`.
pub(crate) fn remember_for(endpoint: &str, kind: TransportKind) {
    if let Ok(mut memory) = memory().lock() {
        memory.insert(endpoint.to_owned(), kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransportKind::*;

    #[test]
    fn the_remembered_transport_goes_first_and_the_rest_keep_their_order() {
        let all = [WebSocket, Sse, LongPoll];
        assert_eq!(order(&all, None, &[]), [0, 1, 2]);
        assert_eq!(order(&all, Some(LongPoll), &[]), [2, 0, 1]);
        assert_eq!(order(&all, Some(Sse), &[]), [1, 0, 2]);
        // Remembered but not configured: ignored.
        assert_eq!(order(&[WebSocket, Sse], Some(LongPoll), &[]), [0, 1]);
        // A transport that stalled goes last, even when remembered.
        assert_eq!(order(&all, Some(WebSocket), &[WebSocket]), [1, 2, 0]);
        assert_eq!(order(&all, None, &[WebSocket, Sse]), [2, 0, 1]);
    }
}
