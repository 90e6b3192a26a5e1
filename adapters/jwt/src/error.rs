//! What can be wrong with a configuration: reported when the server starts, never per request.

use std::path::PathBuf;

/// A key or an authenticator that cannot be set up as configured.
///
/// ```
/// use tidings_jwt::{ConfigError, Key};
/// // Secrets shorter than the hash output can be brute-forced from a single token.
/// assert!(matches!(Key::hmac(b"too short"), Err(ConfigError::SecretTooShort { .. })));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No accepted algorithm was configured: the server must say which algorithms it accepts, it never takes them
    /// from tokens.
    #[error("no algorithm configured: call JwtAuthenticatorBuilder::algorithms (the accepted algorithms are never taken from the token)")]
    NoAlgorithm,
    /// Neither a key, a JWKS file nor a JWKS URL was configured.
    #[error("no verification key configured: add a key, a JWKS file or a JWKS URL")]
    NoKeys,
    /// Keys were configured (through JWKS files), but none can verify any of the configured algorithms.
    #[error("none of the configured keys can verify the configured algorithms ({allowed})")]
    NoUsableKey {
        /// The configured algorithms.
        allowed: String,
    },
    /// An HMAC secret shorter than RFC 7518 allows.
    #[error("an HMAC secret must be at least {min} bytes (it has {len}): shorter secrets can be brute-forced from a single token")]
    SecretTooShort {
        /// The secret's length, in bytes.
        len: usize,
        /// The shortest allowed, in bytes.
        min: usize,
    },
    /// A PEM that does not hold a public key of the expected kind.
    #[error("not a {expected} public key in PEM: {detail}")]
    InvalidPem {
        /// `RSA`, `EC`, `Ed25519`.
        expected: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A private key where a public key was expected: a verifying server needs only the public half, and the
    /// private one does not belong on it.
    #[error("a private key was given where the {expected} public key was expected: configure the public key (openssl pkey -pubout)")]
    PrivateKey {
        /// `RSA`, `EC`, `Ed25519`.
        expected: &'static str,
    },
    /// A key that none of the configured algorithms can use (an RSA key with only HS256 allowed, say).
    #[error("key {key} can be used with none of the configured algorithms ({allowed}); it verifies {usable}")]
    KeyUnusable {
        /// The key, described (its kind and `kid`).
        key: String,
        /// The configured algorithms.
        allowed: String,
        /// What the key can verify.
        usable: String,
    },
    /// A JWKS document that cannot be read as one, or that holds no usable key.
    #[error("JWKS {origin}: {detail}")]
    Jwks {
        /// Where it came from (a path, a URL, `inline`).
        origin: String,
        /// What was wrong.
        detail: String,
    },
    /// A JWKS file that cannot be read.
    #[error("cannot read JWKS file {path}: {source}")]
    JwksFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A JWKS URL that cannot be used as configured.
    #[error("JWKS URL {url}: {detail}")]
    JwksUrl {
        /// The URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
}
