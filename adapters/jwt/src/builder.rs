//! The configuration of a [`JwtAuthenticator`], checked as a whole when it is built.

use std::path::PathBuf;
use std::time::Duration;

use crate::authenticator::{Inner, JwtAuthenticator};
use crate::error::ConfigError;
use crate::identity::ClaimNames;
use crate::jwks::{self, Trust};
use crate::keyring::KeyRing;
use crate::remote::{RemoteJwks, RemoteSettings};
use crate::source::{TokenSources, DEFAULT_COOKIE};
use crate::verify::{ClaimRules, Verifier};
use crate::{Algorithm, Key};

/// Configures a [`JwtAuthenticator`]. Start with [`JwtAuthenticator::builder`]; set the accepted algorithms and at
/// least one source of keys, then [`build`](Self::build).
///
/// Defaults: `exp` required, 30 s of leeway on `exp` and `nbf`, `iss` and `aud` not checked (and a token that names
/// an audience refused, since it was meant for someone else), tokens read from the `Authorization` header, the
/// `tidings_token` cookie and the `tidings.token.<jwt>` WebSocket subprotocol but not the query, the user from
/// `sub`, topic patterns from `topics`; a JWKS URL refetched every 5 minutes, early at most every 30 s, each fetch
/// given 10 s.
///
/// ```no_run
/// use std::time::Duration;
/// use tidings_jwt::{Algorithm, JwtAuthenticator};
///
/// # async fn run() -> Result<(), tidings_jwt::ConfigError> {
/// let auth = JwtAuthenticator::builder()
///     .algorithms([Algorithm::RS256, Algorithm::ES256])
///     .jwks_url("https://auth.example.com/.well-known/jwks.json")
///     .jwks_refresh_interval(Duration::from_secs(600))
///     .issuer("https://auth.example.com/")
///     .audience("https://chat.example.com")
///     .leeway(Duration::from_secs(10))
///     .build()?;
/// # drop(auth);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until built"]
pub struct JwtAuthenticatorBuilder {
    algorithms: Vec<Algorithm>,
    keys: Vec<Key>,
    jwks_documents: Vec<JwksDocument>,
    jwks_url: Option<String>,
    /// Used only with a JWKS URL; kept apart so that the order of the calls does not matter.
    remote: RemoteSettings,
    rules: ClaimRules,
    sources: TokenSources,
    claims: ClaimNames,
}

/// The shortest refresh interval of a JWKS URL.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
enum JwksDocument {
    File(PathBuf),
    Inline(String),
}

impl Default for JwtAuthenticatorBuilder {
    fn default() -> Self {
        JwtAuthenticatorBuilder {
            algorithms: Vec::new(),
            keys: Vec::new(),
            jwks_documents: Vec::new(),
            jwks_url: None,
            remote: RemoteSettings {
                url: String::new(),
                interval: Duration::from_secs(300),
                cooldown: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
                allow_http: false,
            },
            rules: ClaimRules {
                issuers: Vec::new(),
                audiences: Vec::new(),
                require_exp: true,
                leeway: Duration::from_secs(30),
            },
            sources: TokenSources { cookie: Some(DEFAULT_COOKIE.into()), query: false },
            claims: ClaimNames { user: "sub".into(), topics: "topics".into() },
        }
    }
}

impl JwtAuthenticatorBuilder {
    /// The algorithms accepted (added to any set before). Required: a token whose header names another algorithm
    /// is refused, whatever keys there are. That is what defeats `alg: none` and algorithm confusion.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// let builder = JwtAuthenticator::builder().algorithms([Algorithm::ES256, Algorithm::EdDSA]);
    /// # drop(builder);
    /// ```
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        for algorithm in algorithms {
            if !self.algorithms.contains(&algorithm) {
                self.algorithms.push(algorithm);
            }
        }
        self
    }

    /// Adds a key (see [`Key`]). Building fails if none of the accepted algorithms can use it, which is almost
    /// always a configuration mistake.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::EdDSA])
    ///     .key(Key::ed25519_pem(std::fs::read("tests/keys/ed25519-public.pem")?)?.with_kid("ed-1"))
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Adds the keys of a JWKS file (`{"keys": [...]}`), read when building. Keys it holds that cannot verify
    /// signatures (encryption keys, unsupported types) are skipped with a warning; a file with no usable key fails
    /// the build. A file may hold HMAC secrets (`oct` keys), since it is the server's own configuration.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA])
    ///     .jwks_file("tests/keys/jwks.json")
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.jwks_documents.push(JwksDocument::File(path.into()));
        self
    }

    /// Adds the keys of a JWKS document given as text (from a secret store or an environment variable, say), with
    /// the same rules as [`jwks_file`](Self::jwks_file).
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// let document = std::fs::read_to_string("tests/keys/jwks.json")?; // or from a secret store
    /// let auth = JwtAuthenticator::builder().algorithms([Algorithm::EdDSA]).jwks(document).build()?;
    /// # drop(auth);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn jwks(mut self, document: impl Into<String>) -> Self {
        self.jwks_documents.push(JwksDocument::Inline(document.into()));
        self
    }

    /// Fetches keys from a JWKS URL (an identity provider's `jwks_uri`), in a background task on the Tokio runtime
    /// that builds the authenticator, which therefore must run in one (actix-web's `main` does). The keys are
    /// refetched every [`jwks_refresh_interval`](Self::jwks_refresh_interval), and early when a token names an
    /// unknown `kid`. A failed fetch keeps the keys from before and logs a warning. `oct` keys (HMAC secrets) in a
    /// fetched document are ignored: a published secret is no secret. A second call replaces the URL.
    ///
    /// `https` needs the `tls` feature (on by default). Plain `http` is accepted for loopback addresses only, unless
    /// [`allow_http_jwks_url`](Self::allow_http_jwks_url).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// # async fn run() -> Result<(), tidings_jwt::ConfigError> {
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::RS256])
    ///     .jwks_url("https://login.example.com/.well-known/jwks.json")
    ///     .build()?;
    /// # drop(auth);
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// How often the JWKS URL is refetched (default 5 minutes; at least a second, or the build fails: a key server
    /// is not to be polled in a loop).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// # async fn run() -> Result<(), tidings_jwt::ConfigError> {
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::RS256])
    ///     .jwks_url("https://login.example.com/.well-known/jwks.json")
    ///     .jwks_refresh_interval(Duration::from_secs(600))
    ///     .build()?;
    /// # drop(auth);
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.remote.interval = interval;
        self
    }

    /// The least time between two early fetches of the JWKS URL, those asked for by tokens naming an unknown `kid`
    /// (default 30 s). Keeps tokens with made-up key ids from turning into a flood of requests to the key server.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// # async fn run() -> Result<(), tidings_jwt::ConfigError> {
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::RS256])
    ///     .jwks_url("https://login.example.com/.well-known/jwks.json")
    ///     .jwks_refresh_cooldown(Duration::from_secs(60))
    ///     .build()?;
    /// # drop(auth);
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.remote.cooldown = cooldown;
        self
    }

    /// How long one fetch of the JWKS URL may take, connecting included (default 10 s).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// # async fn run() -> Result<(), tidings_jwt::ConfigError> {
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::RS256])
    ///     .jwks_url("https://login.example.com/.well-known/jwks.json")
    ///     .jwks_fetch_timeout(Duration::from_secs(3))
    ///     .build()?;
    /// # drop(auth);
    /// # Ok(())
    /// # }
    /// ```
    pub fn jwks_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.remote.timeout = timeout;
        self
    }

    /// Allows a plain `http://` JWKS URL on any host, for a network where nobody can tamper with traffic (a
    /// sidecar, a private service mesh). Elsewhere, keys fetched in the clear could be swapped by anyone on the path.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use tidings_jwt::{Algorithm, JwtAuthenticator};
    /// # async fn run() -> Result<(), tidings_jwt::ConfigError> {
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::RS256])
    ///     .jwks_url("http://auth-sidecar:8080/jwks.json")
    ///     .allow_http_jwks_url()
    ///     .build()?;
    /// # drop(auth);
    /// # Ok(())
    /// # }
    /// ```
    pub fn allow_http_jwks_url(mut self) -> Self {
        self.remote.allow_http = true;
        self
    }

    /// Requires `iss` to be this issuer (or one of the issuers added by other calls). Without it, a token from any
    /// issuer whose key is configured would do, which matters when a JWKS serves several tenants or applications.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .issuer("https://login.example.com/")
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.rules.issuers.push(issuer.into());
        self
    }

    /// Requires `aud` to name this audience (or one added by other calls): a token issued for another service, by
    /// the same identity provider, then does not get in here.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .audience("chat")
    ///     .audience("https://chat.example.com")
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.rules.audiences.push(audience.into());
        self
    }

    /// Whether a token must carry `exp` (default `true`). A token without one would never expire, so that a stolen
    /// token would work for ever; turn this off only for tokens that are revoked some other way. A present `exp` is
    /// always checked.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .require_exp(false) // tokens revoked by a deny list, say
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn require_exp(mut self, required: bool) -> Self {
        self.rules.require_exp = required;
        self
    }

    /// How far the server's clock may be off the issuer's when `exp` and `nbf` are checked (default 30 s, counted
    /// in whole seconds). Longer leeway keeps expired tokens usable for longer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .leeway(Duration::from_secs(5))
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.rules.leeway = leeway;
        self
    }

    /// The cookie read for a token (default `tidings_token`).
    ///
    /// Browsers send cookies with cross-site WebSocket handshakes too: make the cookie `SameSite=Lax` or `Strict`
    /// and `HttpOnly`, and have the transport check `Origin`.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .token_cookie("chat_session")
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn token_cookie(mut self, name: impl Into<String>) -> Self {
        self.sources.cookie = Some(name.into());
        self
    }

    /// Reads no cookie: tokens come only from the header, the WebSocket subprotocol and (if enabled) the query.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .without_token_cookie()
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn without_token_cookie(mut self) -> Self {
        self.sources.cookie = None;
        self
    }

    /// Accepts a token in the `access_token` query parameter (default: no, and a request that has one is refused,
    /// even with a token elsewhere). Tokens in URLs end up in access logs, proxy logs and browser history; enable
    /// this only for clients that have no other way (an `EventSource` without cookies, say) and keep such tokens
    /// short-lived.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .query_tokens(true) // an EventSource client without cookies
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn query_tokens(mut self, enabled: bool) -> Self {
        self.sources.query = enabled;
        self
    }

    /// The claim that names the user (default `sub`). It must be a non-empty string (or a number); a token without
    /// it is refused.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .user_claim("email")
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn user_claim(mut self, claim: impl Into<String>) -> Self {
        self.claims.user = claim.into();
        self
    }

    /// The claim that lists the topic patterns the client may use (default `topics`), as an array of strings such
    /// as `["chat:*", "news:today"]`. Absent, the client is not restricted (the handlers decide); of another type,
    /// the token is refused.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
    /// # let secret = [7u8; 32]; // from a secret store
    /// let auth = JwtAuthenticator::builder()
    ///     .algorithms([Algorithm::HS256])
    ///     .key(Key::hmac(secret)?)
    ///     .topics_claim("https://chat.example.com/topics")
    ///     .build()?;
    /// # drop(auth);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn topics_claim(mut self, claim: impl Into<String>) -> Self {
        self.claims.topics = claim.into();
        self
    }

    /// Checks the configuration, reads JWKS files and starts fetching a JWKS URL.
    ///
    /// # Errors
    ///
    /// No algorithm; no key source; a configured key that no accepted algorithm can use; a JWKS file that cannot
    /// be read or holds no usable key; without a JWKS URL, no key at all for the accepted algorithms; a JWKS URL
    /// that is not usable (not http(s), plain http to a remote host, a refresh interval under a second, no Tokio
    /// runtime to refresh it on).
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, ConfigError, JwtAuthenticator, Key};
    /// let mismatch = JwtAuthenticator::builder().algorithms([Algorithm::RS256]).key(Key::hmac([1; 32])?).build();
    /// assert!(matches!(mismatch, Err(ConfigError::KeyUnusable { .. })));
    /// assert!(matches!(JwtAuthenticator::builder().key(Key::hmac([1; 32])?).build(), Err(ConfigError::NoAlgorithm)));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn build(self) -> Result<JwtAuthenticator, ConfigError> {
        if self.algorithms.is_empty() {
            return Err(ConfigError::NoAlgorithm);
        }
        if self.keys.is_empty() && self.jwks_documents.is_empty() && self.jwks_url.is_none() {
            return Err(ConfigError::NoKeys);
        }
        for key in &self.keys {
            if !self.algorithms.iter().any(|&alg| key.verifies(alg)) {
                return Err(ConfigError::KeyUnusable {
                    key: key.describe(),
                    allowed: names(&self.algorithms),
                    usable: names(key.algorithms()),
                });
            }
        }
        let mut keys = self.keys;
        for document in &self.jwks_documents {
            keys.extend(read_jwks(document)?);
        }
        // JWKS documents may list keys for other services; but with no URL to bring more, some key must fit.
        if self.jwks_url.is_none() && !keys.iter().any(|key| self.algorithms.iter().any(|&alg| key.verifies(alg))) {
            return Err(ConfigError::NoUsableKey { allowed: names(&self.algorithms) });
        }
        let remote = match self.jwks_url {
            Some(_) if self.remote.interval < MIN_INTERVAL => {
                return Err(ConfigError::JwksUrl {
                    url: self.jwks_url.unwrap_or_default(),
                    detail: format!("a refresh interval under {MIN_INTERVAL:?} would hammer the key server"),
                })
            }
            Some(url) => Some(RemoteJwks::start(&RemoteSettings { url, ..self.remote })?),
            None => None,
        };
        Ok(JwtAuthenticator::from_inner(Inner {
            verifier: Verifier::new(&self.algorithms, &self.rules),
            algorithms: self.algorithms,
            sources: self.sources,
            keys: KeyRing::new(keys, remote),
            claims: self.claims,
        }))
    }
}

fn read_jwks(document: &JwksDocument) -> Result<Vec<Key>, ConfigError> {
    match document {
        JwksDocument::File(path) => {
            let text = std::fs::read(path).map_err(|source| ConfigError::JwksFile { path: path.clone(), source })?;
            jwks::parse(&text, &path.display().to_string(), Trust::Local)
        }
        JwksDocument::Inline(text) => jwks::parse(text.as_bytes(), "inline", Trust::Local),
    }
}

fn names(algorithms: &[Algorithm]) -> String {
    algorithms.iter().map(|alg| alg.name()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jwks_url_needs_a_runtime_and_a_safe_scheme() {
        let outside =
            JwtAuthenticator::builder().algorithms([Algorithm::RS256]).jwks_url("http://127.0.0.1:1/").build();
        assert!(matches!(outside, Err(ConfigError::JwksUrl { detail, .. }) if detail.contains("Tokio runtime")));
        let plain = JwtAuthenticator::builder().algorithms([Algorithm::RS256]).jwks_url("http://example.com/").build();
        assert!(matches!(plain, Err(ConfigError::JwksUrl { detail, .. }) if detail.contains("plain http")));
        let hammering = JwtAuthenticator::builder()
            .algorithms([Algorithm::RS256])
            .jwks_url("http://127.0.0.1:1/")
            .jwks_refresh_interval(Duration::from_millis(10))
            .build();
        assert!(matches!(hammering, Err(ConfigError::JwksUrl { detail, .. }) if detail.contains("hammer")));
    }

    #[test]
    fn missing_sources_are_reported() {
        assert!(matches!(JwtAuthenticator::builder().algorithms([Algorithm::ES256]).build(), Err(ConfigError::NoKeys)));
        let missing = JwtAuthenticator::builder().algorithms([Algorithm::ES256]).jwks_file("no/such/file.json").build();
        assert!(matches!(missing, Err(ConfigError::JwksFile { .. })));
        let empty = JwtAuthenticator::builder().algorithms([Algorithm::ES256]).jwks(r#"{"keys": []}"#).build();
        assert!(matches!(empty, Err(ConfigError::Jwks { origin, .. }) if origin == "inline"));
        let elsewhere =
            JwtAuthenticator::builder().algorithms([Algorithm::ES384]).jwks_file("tests/keys/jwks.json").build();
        assert!(matches!(elsewhere, Err(ConfigError::NoUsableKey { allowed }) if allowed == "ES384"));
    }

    #[test]
    fn the_unusable_key_is_named() {
        let short = Key::hmac([1; 32]).unwrap().with_kid("k");
        let error = JwtAuthenticator::builder().algorithms([Algorithm::HS512]).key(short).build().unwrap_err();
        assert_eq!(
            error.to_string(),
            "key HMAC key \"k\" can be used with none of the configured algorithms (HS512); it verifies HS256"
        );
    }
}
