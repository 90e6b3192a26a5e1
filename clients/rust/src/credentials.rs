//! Credentials: where the client's token comes from, and the token every request carries now.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::error::Error;

/// How many consecutive connect attempts the server may refuse with 401 or 403 while the client reconnects before
/// the client gives up, in [`ConnectionState::Unauthorized`](crate::ConnectionState::Unauthorized). (Each attempt
/// asks a [`TokenSource::Callback`] for a fresh token; a successful connection starts the count over.)
pub const MAX_AUTH_REFUSALS: u32 = 3;

/// A function that produces a token: see [`TokenSource::Callback`].
pub type TokenCallback = Arc<dyn Fn() -> BoxFuture<'static, Result<String, Error>> + Send + Sync>;

/// Where the client gets the token it sends as `Authorization: Bearer <token>` on every request of every transport
/// (the WebSocket handshake; the SSE stream, each poll and each `POST /send`).
///
/// ```no_run
/// use tidings_client::{ClientOptions, TokenSource};
///
/// // A token that does not change (until `Client::refresh` replaces it):
/// let fixed = ClientOptions { token: Some(TokenSource::fixed("eyJhbGciOi...")), ..Default::default() };
///
/// // A fresh token before every connect attempt, from the application's own login service:
/// async fn fetch_token() -> Result<String, tidings_client::Error> {
///     Ok("eyJhbGciOi...".to_owned())
/// }
/// let fresh = ClientOptions { token: Some(TokenSource::callback(fetch_token)), ..Default::default() };
/// ```
#[derive(Clone)]
pub enum TokenSource {
    /// The same token for every connect attempt. A successful [`Client::refresh`](crate::Client::refresh)
    /// replaces it, so that a later reconnect sends the refreshed token.
    Fixed(String),
    /// Called before every connect attempt (the first connect, and each transport tried by each reconnect round),
    /// so that a reconnect after the credentials expired (close code 4003) sends a fresh token. Its call counts
    /// toward [`ClientOptions::open_timeout`](crate::ClientOptions::open_timeout). An error fails that attempt;
    /// an [`Error::Unauthorized`] counts as the server refusing the credentials.
    Callback(TokenCallback),
}

impl TokenSource {
    /// A fixed token.
    pub fn fixed(token: impl Into<String>) -> Self {
        TokenSource::Fixed(token.into())
    }

    /// A token from `f`, called before every connect attempt.
    pub fn callback<F, Fut>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, Error>> + Send + 'static,
    {
        TokenSource::Callback(Arc::new(move || f().boxed()))
    }
}

impl fmt::Debug for TokenSource {
    /// Never shows the token: options get logged.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Fixed(_) => f.write_str("TokenSource::Fixed(<redacted>)"),
            TokenSource::Callback(_) => f.write_str("TokenSource::Callback(..)"),
        }
    }
}

impl From<String> for TokenSource {
    fn from(token: String) -> Self {
        TokenSource::Fixed(token)
    }
}

impl From<&str> for TokenSource {
    fn from(token: &str) -> Self {
        TokenSource::Fixed(token.to_owned())
    }
}

/// The client's credentials: the source, and the token requests carry now (the last one obtained for a connect
/// attempt, or accepted by an in-band refresh since).
pub(crate) struct Credentials {
    source: Option<TokenSource>,
    current: Mutex<Option<String>>,
}

impl Credentials {
    pub(crate) fn new(source: Option<TokenSource>) -> Self {
        let current = match &source {
            Some(TokenSource::Fixed(token)) => Some(token.clone()),
            _ => None,
        };
        Credentials { source, current: Mutex::new(current) }
    }

    /// Before a connect attempt: asks the callback, if there is one, for a fresh token.
    pub(crate) async fn obtain(&self) -> Result<(), Error> {
        let Some(TokenSource::Callback(callback)) = &self.source else { return Ok(()) };
        let token = callback().await?;
        self.set(token);
        Ok(())
    }

    /// The token to send now, if any.
    pub(crate) fn current(&self) -> Option<String> {
        self.current.lock().expect("credentials lock").clone()
    }

    /// The server accepted `token` in band: later requests and reconnects send it.
    pub(crate) fn set(&self, token: String) {
        *self.current.lock().expect("credentials lock") = Some(token);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_fixed_token_is_sent_until_a_refresh_replaces_it() {
        let credentials = Credentials::new(Some("a".into()));
        credentials.obtain().await.unwrap();
        assert_eq!(credentials.current().as_deref(), Some("a"));
        credentials.set("b".into());
        credentials.obtain().await.unwrap();
        assert_eq!(credentials.current().as_deref(), Some("b"), "a reconnect sends the refreshed token");
    }

    #[tokio::test]
    async fn a_callback_is_asked_before_every_attempt() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let source = TokenSource::callback(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 2 {
                    Err(Error::Connect("down".into()))
                } else {
                    Ok(format!("t{n}"))
                }
            }
        });
        let credentials = Credentials::new(Some(source));
        assert_eq!(credentials.current(), None, "nothing before the first attempt");
        credentials.obtain().await.unwrap();
        assert_eq!(credentials.current().as_deref(), Some("t0"));
        credentials.obtain().await.unwrap();
        assert_eq!(credentials.current().as_deref(), Some("t1"));
        assert!(credentials.obtain().await.is_err());
        assert_eq!(credentials.current().as_deref(), Some("t1"), "a failed call keeps the last token");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn no_source_no_token() {
        let credentials = Credentials::new(None);
        credentials.obtain().await.unwrap();
        assert_eq!(credentials.current(), None);
    }

    #[test]
    fn debug_output_hides_the_token() {
        let shown = format!("{:?}", TokenSource::fixed("secret-token"));
        assert!(!shown.contains("secret"), "{shown}");
    }
}
