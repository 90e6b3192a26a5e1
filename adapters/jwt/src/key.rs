//! A verification key, bound to the algorithms it may verify.

use std::fmt;

use jsonwebtoken::DecodingKey;

use crate::algorithm::{Algorithm, Family};
use crate::error::ConfigError;

/// A key that verifies token signatures: an HMAC secret or a public key, optionally with a key id (`kid`).
///
/// Each key is bound to its algorithm family when it is made: an HMAC secret only ever verifies HS256/384/512, an
/// RSA key RS*/PS*, a P-256 key ES256, a P-384 key ES384, an Ed25519 key EdDSA. So a token cannot get an RSA public
/// key (which is public) used as an HMAC secret, whatever its header says.
///
/// ```
/// use tidings_jwt::{Algorithm, Key};
/// let key = Key::hmac("a shared secret of thirty-two bytes or more")?.with_kid("2024-05");
/// assert_eq!(key.kid(), Some("2024-05"));
/// assert_eq!(key.algorithms(), [Algorithm::HS256]);
/// # Ok::<(), tidings_jwt::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    family: Family,
    algorithms: Vec<Algorithm>,
    decoding: DecodingKey,
}

impl Key {
    /// An HMAC secret (HS256, HS384, HS512).
    ///
    /// RFC 7518 wants a secret at least as long as the hash: 32 bytes for HS256, 48 for HS384, 64 for HS512. The
    /// key verifies the algorithms its length allows, and a secret shorter than 32 bytes is refused: a short
    /// secret can be brute-forced offline from any token signed with it.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, Key};
    /// let secret = [7u8; 64]; // in practice, 64 random bytes from a secret store
    /// assert_eq!(Key::hmac(secret)?.algorithms(), [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]);
    /// assert!(Key::hmac("secret").is_err());
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn hmac(secret: impl AsRef<[u8]>) -> Result<Key, ConfigError> {
        let secret = secret.as_ref();
        let algorithms: Vec<_> =
            Algorithm::of_family(Family::Hmac).filter(|alg| secret.len() >= alg.min_secret_len()).collect();
        if algorithms.is_empty() {
            return Err(ConfigError::SecretTooShort { len: secret.len(), min: Algorithm::HS256.min_secret_len() });
        }
        Ok(Key::new(Family::Hmac, algorithms, DecodingKey::from_secret(secret)))
    }

    /// An RSA public key in PEM (`-----BEGIN PUBLIC KEY-----` or `-----BEGIN RSA PUBLIC KEY-----`), for RS256,
    /// RS384, RS512, PS256, PS384 and PS512.
    ///
    /// A private key is refused: a server that only verifies needs only the public half.
    ///
    /// ```
    /// use tidings_jwt::Key;
    /// let pem = std::fs::read("tests/keys/rsa-public.pem")?;
    /// let key = Key::rsa_pem(&pem)?.with_kid("rsa-1");
    /// assert!(Key::rsa_pem(std::fs::read("tests/keys/rsa-private.pem")?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rsa_pem(pem: impl AsRef<[u8]>) -> Result<Key, ConfigError> {
        let pem = public_pem(pem.as_ref(), Family::Rsa)?;
        let decoding = DecodingKey::from_rsa_pem(pem).map_err(|e| invalid_pem(Family::Rsa, &e))?;
        Key::checked(Family::Rsa, Algorithm::of_family(Family::Rsa).collect(), decoding)
    }

    /// An elliptic-curve public key in PEM (`-----BEGIN PUBLIC KEY-----`): P-256 for ES256, P-384 for ES384 (the
    /// curve decides, so a P-256 key never verifies ES384).
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, Key};
    /// let key = Key::ec_pem(std::fs::read("tests/keys/ec384-public.pem")?)?;
    /// assert_eq!(key.algorithms(), [Algorithm::ES384]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ec_pem(pem: impl AsRef<[u8]>) -> Result<Key, ConfigError> {
        let pem = public_pem(pem.as_ref(), Family::Ec)?;
        let decoding = DecodingKey::from_ec_pem(pem).map_err(|e| invalid_pem(Family::Ec, &e))?;
        let algorithm = ec_algorithm(&decoding).ok_or_else(|| ConfigError::InvalidPem {
            expected: Family::Ec.name(),
            detail: "only the P-256 and P-384 curves are supported".into(),
        })?;
        Key::checked(Family::Ec, vec![algorithm], decoding)
    }

    /// An Ed25519 public key in PEM (`-----BEGIN PUBLIC KEY-----`), for EdDSA.
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, Key};
    /// let key = Key::ed25519_pem(std::fs::read("tests/keys/ed25519-public.pem")?)?;
    /// assert_eq!(key.algorithms(), [Algorithm::EdDSA]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ed25519_pem(pem: impl AsRef<[u8]>) -> Result<Key, ConfigError> {
        let pem = public_pem(pem.as_ref(), Family::Ed)?;
        let decoding = DecodingKey::from_ed_pem(pem).map_err(|e| invalid_pem(Family::Ed, &e))?;
        Key::checked(Family::Ed, vec![Algorithm::EdDSA], decoding)
    }

    /// The same key with a key id: tokens whose header names this `kid` are verified with this key alone.
    ///
    /// ```
    /// let key = tidings_jwt::Key::hmac([7u8; 32])?.with_kid("2024-05");
    /// assert_eq!(key.kid(), Some("2024-05"));
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn with_kid(mut self, kid: impl Into<String>) -> Key {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if it has one.
    ///
    /// ```
    /// assert_eq!(tidings_jwt::Key::hmac([7u8; 32])?.kid(), None);
    /// # Ok::<(), tidings_jwt::ConfigError>(())
    /// ```
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify (whether they are accepted at all is the authenticator's setting).
    ///
    /// ```
    /// use tidings_jwt::{Algorithm, Key};
    /// let key = Key::rsa_pem(std::fs::read("tests/keys/rsa-public.pem")?)?;
    /// assert!(key.algorithms().contains(&Algorithm::PS256) && !key.algorithms().contains(&Algorithm::HS256));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    pub(crate) fn new(family: Family, algorithms: Vec<Algorithm>, decoding: DecodingKey) -> Key {
        Key { kid: None, family, algorithms, decoding }
    }

    /// A key after a trial verification: a key that parses but cannot be used (a bad modulus, a point off the
    /// curve) is reported now, at start-up, rather than as a refusal of every token later.
    pub(crate) fn checked(
        family: Family,
        algorithms: Vec<Algorithm>,
        decoding: DecodingKey,
    ) -> Result<Key, ConfigError> {
        let probe = algorithms[0].to_jsonwebtoken();
        // An empty signature never verifies; only a key the crypto backend cannot load makes this an error.
        jsonwebtoken::crypto::verify("", b"", &decoding, probe)
            .map_err(|e| ConfigError::InvalidPem { expected: family.name(), detail: e.to_string() })?;
        Ok(Key::new(family, algorithms, decoding))
    }

    pub(crate) fn verifies(&self, algorithm: Algorithm) -> bool {
        self.algorithms.contains(&algorithm)
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// `RSA key "rsa-1"`, for messages: kind and id, never key material.
    pub(crate) fn describe(&self) -> String {
        match &self.kid {
            Some(kid) => format!("{} key {kid:?}", self.family.name()),
            None => format!("{} key without kid", self.family.name()),
        }
    }
}

impl fmt::Debug for Key {
    // Never the secret: a Debug print of a configuration can end up in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("family", &self.family.name())
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// The ECDSA algorithm of a public key, from its curve (an uncompressed SEC1 point: 65 bytes on P-256, 97 on P-384).
pub(crate) fn ec_algorithm(key: &DecodingKey) -> Option<Algorithm> {
    match key.try_get_as_bytes().ok()?.len() {
        65 => Some(Algorithm::ES256),
        97 => Some(Algorithm::ES384),
        _ => None,
    }
}

/// The PEM, unless its label says it holds a private key.
fn public_pem(pem: &[u8], family: Family) -> Result<&[u8], ConfigError> {
    let text = String::from_utf8_lossy(pem);
    let private = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("-----BEGIN "))
        .any(|label| label.contains("PRIVATE KEY"));
    if private {
        return Err(ConfigError::PrivateKey { expected: family.name() });
    }
    Ok(pem)
}

fn invalid_pem(family: Family, error: &jsonwebtoken::errors::Error) -> ConfigError {
    ConfigError::InvalidPem { expected: family.name(), detail: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../tests/keys/rsa-public.pem");
    const EC256: &str = include_str!("../tests/keys/ec256-public.pem");
    const ED: &str = include_str!("../tests/keys/ed25519-public.pem");

    #[test]
    fn keys_are_bound_to_their_family() {
        assert_eq!(Key::rsa_pem(RSA).unwrap().algorithms().len(), 6);
        assert_eq!(Key::ec_pem(EC256).unwrap().algorithms(), [Algorithm::ES256]);
        assert_eq!(Key::ed25519_pem(ED).unwrap().algorithms(), [Algorithm::EdDSA]);
        assert_eq!(Key::hmac([1; 48]).unwrap().algorithms(), [Algorithm::HS256, Algorithm::HS384]);
    }

    #[test]
    fn a_pem_of_the_wrong_kind_is_refused() {
        assert!(matches!(Key::ec_pem(RSA), Err(ConfigError::InvalidPem { expected: "EC", .. })));
        assert!(matches!(Key::rsa_pem(ED), Err(ConfigError::InvalidPem { expected: "RSA", .. })));
        assert!(matches!(Key::ed25519_pem(EC256), Err(ConfigError::InvalidPem { .. })));
        assert!(matches!(Key::rsa_pem("not a pem"), Err(ConfigError::InvalidPem { .. })));
    }

    #[test]
    fn private_keys_and_short_secrets_are_refused() {
        let private = include_str!("../tests/keys/ec256-private.pem");
        assert!(matches!(Key::ec_pem(private), Err(ConfigError::PrivateKey { expected: "EC" })));
        assert!(matches!(Key::hmac([0; 31]), Err(ConfigError::SecretTooShort { len: 31, min: 32 })));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = Key::hmac("super secret value, thirty-two bytes long").unwrap().with_kid("k1");
        let printed = format!("{key:?}");
        assert!(printed.contains("k1") && !printed.contains("super secret"), "{printed}");
        assert_eq!(key.describe(), "HMAC key \"k1\"");
    }
}
