//! A JWKS URL kept fresh by a background task: refetched on an interval, and early (at most once per cooldown) when
//! a token names a key it does not have, which is how a rotation shows before the next interval.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::error::ConfigError;
use crate::fetch::Fetcher;
use crate::key::Key;

/// How often, and how eagerly, a JWKS URL is fetched.
#[derive(Debug, Clone)]
pub(crate) struct RemoteSettings {
    pub(crate) url: String,
    pub(crate) interval: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) timeout: Duration,
    pub(crate) allow_http: bool,
}

/// The keys last fetched, and how many fetches were started and finished (so that a waiter knows when the fetch it
/// asked for is done).
#[derive(Debug, Clone, Default)]
struct Fetched {
    keys: Arc<[Arc<Key>]>,
    started: u64,
    finished: u64,
}

/// The latest keys of a JWKS URL. Dropping it stops the background task.
#[derive(Debug)]
pub(crate) struct RemoteJwks {
    fetched: watch::Receiver<Fetched>,
    wake: Arc<Notify>,
    last_early: Mutex<Option<Instant>>,
    cooldown: Duration,
    /// How long a request waits for a fetch it asked for: the fetch's own timeout, and a little more.
    wait: Duration,
    task: AbortHandle,
}

impl RemoteJwks {
    /// Starts fetching in a task on the current Tokio runtime: the first fetch begins at once.
    pub(crate) fn start(settings: &RemoteSettings) -> Result<RemoteJwks, ConfigError> {
        let fetcher = Fetcher::new(&settings.url, settings.timeout, settings.allow_http)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::JwksUrl {
            url: settings.url.clone(),
            detail:
                "refreshing keys needs a Tokio runtime: build the authenticator inside one (actix-web's main is one)"
                    .into(),
        })?;
        let (sender, fetched) = watch::channel(Fetched::default());
        let wake = Arc::new(Notify::new());
        let task = runtime.spawn(keep_fresh(fetcher, sender, wake.clone(), settings.interval)).abort_handle();
        Ok(RemoteJwks {
            fetched,
            wake,
            last_early: Mutex::new(None),
            cooldown: settings.cooldown,
            wait: settings.timeout + Duration::from_secs(1),
            task,
        })
    }

    /// The keys as last fetched (none before the first fetch succeeds).
    pub(crate) fn keys(&self) -> Arc<[Arc<Key>]> {
        self.fetched.borrow().keys.clone()
    }

    /// Whether no fetch has finished yet.
    pub(crate) fn pending(&self) -> bool {
        self.fetched.borrow().finished == 0
    }

    /// Asks for a fetch now and waits for it, unless one was asked for less than a cooldown ago: a stream of tokens
    /// with made-up key ids must not turn into a stream of requests to the key server. Before the first fetch has
    /// finished, waits for that one instead. Returns whether a fetch finished (so the keys may have changed).
    pub(crate) async fn refresh_early(&self) -> bool {
        let mut fetched = self.fetched.clone();
        let (started, finished) = {
            let now = fetched.borrow_and_update();
            (now.started, now.finished)
        };
        let target = if finished == 0 {
            1
        } else if self.claim_early_slot() {
            self.wake.notify_one();
            // A fetch under way may have begun before the keys changed: wait for the one after it, which the wake
            // (kept by `Notify` until the task next waits) starts as soon as it ends.
            started + 1
        } else {
            return false;
        };
        // The `Ref` that `wait_for` returns holds a read lock: dropped at the end of this statement.
        let done =
            matches!(tokio::time::timeout(self.wait, fetched.wait_for(|f| f.finished >= target)).await, Ok(Ok(_)));
        done
    }

    /// Whether an early fetch may start now; if so, the next one may not until the cooldown has passed.
    fn claim_early_slot(&self) -> bool {
        let mut last = self.last_early.lock().unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < self.cooldown) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

impl Drop for RemoteJwks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Fetches now, then every `interval` or when woken. A failed fetch keeps the previous keys (a key server that is
/// down for a moment must not lock everyone out) and is retried sooner, backing off from a second up to the interval.
async fn keep_fresh(fetcher: Fetcher, fetched: watch::Sender<Fetched>, wake: Arc<Notify>, interval: Duration) {
    let mut retry = Duration::from_secs(1);
    loop {
        fetched.send_modify(|f| f.started += 1);
        let next = match fetcher.fetch().await {
            Ok(keys) => {
                tracing::debug!(jwks = fetcher.url(), keys = keys.len(), "fetched JWKS");
                let keys: Arc<[Arc<Key>]> = keys.into_iter().map(Arc::new).collect();
                fetched.send_modify(|f| {
                    f.keys = keys;
                    f.finished += 1;
                });
                retry = Duration::from_secs(1);
                interval
            }
            Err(reason) => {
                tracing::warn!(jwks = fetcher.url(), %reason, "JWKS fetch failed; keeping the previous keys");
                fetched.send_modify(|f| f.finished += 1);
                let next = retry.min(interval);
                retry = (retry * 2).min(interval);
                next
            }
        };
        tokio::select! {
            () = tokio::time::sleep(next) => {}
            () = wake.notified() => {}
            // Every reader gone (the authenticator was dropped without the abort reaching us, say): stop.
            () = fetched.closed() => return,
        }
    }
}
