//! The [`Authenticator`] that checks JWTs.

use std::fmt;
use std::sync::Arc;

use tidings_core::{async_trait, AuthRefusal, Authenticator, ConnectRequest, Identity};

use crate::builder::JwtAuthenticatorBuilder;
use crate::header;
use crate::identity::{identity, ClaimNames};
use crate::keyring::KeyRing;
use crate::refusal::Refusal;
use crate::source::TokenSources;
use crate::verify::Verifier;
use crate::Algorithm;

/// Authenticates connections by a signed JWT, and refreshes them in band with a new one.
///
/// Made with [`JwtAuthenticator::builder`]; cheap to clone (clones share keys and the JWKS refresh task, which
/// stops when the last clone is dropped).
///
/// ```
/// use tidings_core::{Authenticator, ConnectRequest};
/// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let secret = b"a shared secret of at least thirty-two bytes";
/// let auth = JwtAuthenticator::builder()
///     .algorithms([Algorithm::HS256])
///     .key(Key::hmac(secret)?)
///     .issuer("https://auth.example.com")
///     .audience("chat")
///     .build()?;
///
/// // A token as the identity provider would sign it (here with jsonwebtoken).
/// let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
/// let claims = serde_json::json!({
///     "sub": "ann", "iss": "https://auth.example.com", "aud": "chat", "exp": exp, "topics": ["chat:*"],
/// });
/// let token = jsonwebtoken::encode(
///     &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
///     &claims,
///     &jsonwebtoken::EncodingKey::from_secret(secret),
/// )?;
///
/// let request = ConnectRequest::new("websocket", None, "").with_header("Authorization", &format!("Bearer {token}"));
/// let identity = auth.authenticate(&request).await?;
/// assert_eq!(identity.user.as_deref(), Some("ann"));
/// assert!(identity.allows_topic("chat:lobby") && !identity.allows_topic("admin"));
///
/// let refused = auth.authenticate(&ConnectRequest::new("websocket", None, "")).await.unwrap_err();
/// assert_eq!((refused.status, refused.reason.as_ref()), (401, "no token"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct JwtAuthenticator {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) sources: TokenSources,
    pub(crate) keys: KeyRing,
    pub(crate) verifier: Verifier,
    pub(crate) claims: ClaimNames,
}

impl JwtAuthenticator {
    /// Starts a configuration; see [`JwtAuthenticatorBuilder`].
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// let auth = JwtAuthenticator::builder().algorithms([Algorithm::HS256]).key(Key::hmac([7u8; 32])?).build()?;
    /// let hub = tidings_core::Hub::builder().authenticator(auth).build().unwrap();
    /// # drop(hub);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn builder() -> JwtAuthenticatorBuilder {
        JwtAuthenticatorBuilder::default()
    }

    pub(crate) fn from_inner(inner: Inner) -> JwtAuthenticator {
        JwtAuthenticator { inner: Arc::new(inner) }
    }

    /// Checks a token as a connection's would be checked, wherever it came from (an HTTP endpoint of the
    /// application, say), and returns the identity it proves. Refusals are not logged here: that is the caller's
    /// call.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// let auth = JwtAuthenticator::builder().algorithms([Algorithm::HS256]).key(Key::hmac([1; 32])?).build()?;
    /// let refused = auth.verify(&format!("{}.{}.", "eyJhbGciOiJub25lIn0", "e30")).await.unwrap_err();
    /// assert_eq!(refused.reason, "algorithm none not allowed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthRefusal> {
        self.check(token).await.map_err(AuthRefusal::from)
    }

    async fn check(&self, token: &str) -> Result<Identity, Refusal> {
        let inner = &*self.inner;
        let header = header::read(token)?;
        // The token's `alg` only picks among the configured algorithms; it never adds one.
        let alg = match header.alg {
            Ok(alg) if inner.algorithms.contains(&alg) => alg,
            Ok(alg) => return Err(Refusal::AlgorithmNotAllowed(alg.name().into())),
            Err(unknown) => return Err(Refusal::AlgorithmNotAllowed(unknown)),
        };
        let keys = inner.keys.candidates(alg, header.kid.as_deref()).await?;
        let claims = inner.verifier.verify(token, alg, &keys)?;
        identity(claims, &inner.claims)
    }
}

#[async_trait]
impl Authenticator for JwtAuthenticator {
    async fn authenticate(&self, request: &ConnectRequest) -> Result<Identity, AuthRefusal> {
        let peer = request.peer().map(|ip| ip.to_string());
        let peer = peer.as_deref().unwrap_or("-");
        let (token, source) = self.inner.sources.find(request).inspect_err(|refusal| {
            tracing::info!(reason = %refusal, transport = request.transport(), peer, "refused a connection");
        })?;
        match self.check(&token).await {
            Ok(identity) => {
                tracing::debug!(user = identity.user.as_deref(), transport = request.transport(), peer, %source, "token accepted");
                Ok(identity)
            }
            Err(refusal) => {
                tracing::info!(reason = %refusal, transport = request.transport(), peer, %source, "refused a connection");
                Err(refusal.into())
            }
        }
    }

    async fn refresh(&self, token: &str) -> Result<Identity, AuthRefusal> {
        self.check(token).await.map_err(|refusal| {
            tracing::info!(reason = %refusal, "refused a token refresh");
            refusal.into()
        })
    }
}

impl fmt::Debug for JwtAuthenticator {
    // The shape of the configuration, never a key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("algorithms", &self.inner.algorithms)
            .field("configured_keys", &self.inner.keys.fixed_len())
            .field("jwks_url", &self.inner.keys.has_remote())
            .finish_non_exhaustive()
    }
}
