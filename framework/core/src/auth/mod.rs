//! Who may connect: the [`Authenticator`] trait, its built-ins, and what it sees of a connect request.
//!
//! Every transport asks the hub's authenticator before it upgrades or starts a stream; a refusal reaches the client
//! as a plain HTTP status (401 or 403) with a reason. Authorisation per topic is the handlers' call, with the
//! identity in hand (and [`Identity::topics`] checked before them when an authenticator sets it).

mod admit;
mod origin;
mod request;

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;

pub use request::ConnectRequest;

use crate::identity::Identity;

/// A refused connection (or token refresh): the HTTP status the client gets, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {reason}")]
pub struct AuthRefusal {
    /// 401 when the client did not prove who it is, 403 when it did but may not connect.
    pub status: u16,
    /// Why, for the response body and the log. Never the token itself.
    pub reason: Cow<'static, str>,
}

impl AuthRefusal {
    /// 401: no credentials, or credentials that do not check out (expired, wrong signature, wrong audience...).
    pub fn unauthorized(reason: impl Into<Cow<'static, str>>) -> Self {
        AuthRefusal { status: 401, reason: reason.into() }
    }

    /// 403: a known client that may not connect.
    pub fn forbidden(reason: impl Into<Cow<'static, str>>) -> Self {
        AuthRefusal { status: 403, reason: reason.into() }
    }
}

/// Turns a connect request into an [`Identity`], or refuses it.
///
/// Set one with [`HubBuilder::authenticator`](crate::HubBuilder::authenticator). A hub without one refuses every
/// connection with 401: accepting anonymous clients is an explicit choice ([`AllowAnonymous`]).
///
/// ```
/// use tidings_core::{async_trait, AuthRefusal, Authenticator, ConnectRequest, Identity};
///
/// /// Clients present a shared secret in a header.
/// struct SharedSecret(String);
///
/// #[async_trait]
/// impl Authenticator for SharedSecret {
///     async fn authenticate(&self, request: &ConnectRequest) -> Result<Identity, AuthRefusal> {
///         match request.header("x-secret") {
///             Some(secret) if secret == self.0 => Ok(Identity::user("service")),
///             Some(_) => Err(AuthRefusal::unauthorized("wrong secret")),
///             None => Err(AuthRefusal::unauthorized("missing x-secret")),
///         }
///     }
/// }
/// ```
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Decides who the client is, from its connect request (headers, cookies, query, peer address).
    async fn authenticate(&self, request: &ConnectRequest) -> Result<Identity, AuthRefusal>;

    /// Checks a token a connected client sent in band (`refresh` frame) to extend its session before its current
    /// credentials expire. The session keeps going only if the result names the same user. The default refuses:
    /// the authenticator has no tokens to refresh.
    async fn refresh(&self, token: &str) -> Result<Identity, AuthRefusal> {
        let _ = token;
        Err(AuthRefusal::forbidden("this server does not refresh credentials in band"))
    }
}

/// Accepts every client as anonymous: the explicit opt-in for public endpoints.
///
/// ```
/// let hub = tidings_core::Hub::builder().authenticator(tidings_core::AllowAnonymous).build().unwrap();
/// # drop(hub);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAnonymous;

#[async_trait]
impl Authenticator for AllowAnonymous {
    async fn authenticate(&self, _request: &ConnectRequest) -> Result<Identity, AuthRefusal> {
        Ok(Identity::anonymous())
    }
}

/// An authenticator from a closure, for rules that need no I/O.
///
/// ```
/// use tidings_core::{authenticate_with, AuthRefusal, Identity};
/// let by_header = authenticate_with(|request| match request.header("x-user") {
///     Some(user) if !user.is_empty() => Ok(Identity::user(user)),
///     _ => Err(AuthRefusal::unauthorized("who are you?")),
/// });
/// let hub = tidings_core::Hub::builder().authenticator(by_header).build().unwrap();
/// # drop(hub);
/// ```
pub fn authenticate_with<F>(check: F) -> impl Authenticator
where
    F: Fn(&ConnectRequest) -> Result<Identity, AuthRefusal> + Send + Sync + 'static,
{
    struct Closure<F>(F);

    #[async_trait]
    impl<F> Authenticator for Closure<F>
    where
        F: Fn(&ConnectRequest) -> Result<Identity, AuthRefusal> + Send + Sync + 'static,
    {
        async fn authenticate(&self, request: &ConnectRequest) -> Result<Identity, AuthRefusal> {
            (self.0)(request)
        }
    }

    Closure(check)
}

/// What a hub uses when the application chose no authenticator: nobody gets in, and the log says why.
pub(crate) struct NotConfigured;

#[async_trait]
impl Authenticator for NotConfigured {
    async fn authenticate(&self, _request: &ConnectRequest) -> Result<Identity, AuthRefusal> {
        tracing::error!(
            "refused a connection: the hub has no authenticator (HubBuilder::authenticator; AllowAnonymous accepts \
             anonymous clients)"
        );
        Err(AuthRefusal::unauthorized("this server accepts no connections yet: no authenticator is configured"))
    }
}

pub(crate) type SharedAuthenticator = Arc<dyn Authenticator>;
