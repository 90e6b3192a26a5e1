//! The signature algorithms a server may accept, and the key family each belongs to.

use std::fmt;
use std::str::FromStr;

/// A JWS signature algorithm (RFC 7518).
///
/// The accepted ones are pinned by [`JwtAuthenticatorBuilder::algorithms`](crate::JwtAuthenticatorBuilder::algorithms):
/// a token's own `alg` header only picks among them, so `none` and algorithm-confusion tricks are refused.
///
/// ```
/// use tidings_jwt::Algorithm;
/// let rs256: Algorithm = "RS256".parse().unwrap();
/// assert_eq!(rs256, Algorithm::RS256);
/// assert_eq!(rs256.to_string(), "RS256");
/// assert!("none".parse::<Algorithm>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256 (a shared secret of at least 32 bytes).
    HS256,
    /// HMAC with SHA-384 (a shared secret of at least 48 bytes).
    HS384,
    /// HMAC with SHA-512 (a shared secret of at least 64 bytes).
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519.
    EdDSA,
}

/// The kind of key an algorithm verifies with. A key belongs to exactly one family and is never tried with an
/// algorithm of another: that is what stops an RSA public key from being used as an HMAC secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Hmac,
    Rsa,
    Ec,
    Ed,
}

impl Family {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Family::Hmac => "HMAC",
            Family::Rsa => "RSA",
            Family::Ec => "EC",
            Family::Ed => "Ed25519",
        }
    }
}

impl Algorithm {
    /// Every algorithm this crate verifies.
    ///
    /// ```
    /// use tidings_jwt::Algorithm;
    /// let names: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    /// assert!(names.contains(&"ES384") && !names.contains(&"none"));
    /// ```
    pub const ALL: [Algorithm; 12] = [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The name used in JWT headers and JWKs (`RS256`, `EdDSA`...).
    ///
    /// ```
    /// assert_eq!(tidings_jwt::Algorithm::EdDSA.name(), "EdDSA");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    pub(crate) fn family(self) -> Family {
        match self {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 | Algorithm::ES384 => Family::Ec,
            Algorithm::EdDSA => Family::Ed,
        }
    }

    /// The smallest HMAC secret RFC 7518 (3.2) allows: as long as the hash output.
    pub(crate) fn min_secret_len(self) -> usize {
        match self {
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => 32,
        }
    }

    pub(crate) fn to_jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as J;
        match self {
            Algorithm::HS256 => J::HS256,
            Algorithm::HS384 => J::HS384,
            Algorithm::HS512 => J::HS512,
            Algorithm::RS256 => J::RS256,
            Algorithm::RS384 => J::RS384,
            Algorithm::RS512 => J::RS512,
            Algorithm::PS256 => J::PS256,
            Algorithm::PS384 => J::PS384,
            Algorithm::PS512 => J::PS512,
            Algorithm::ES256 => J::ES256,
            Algorithm::ES384 => J::ES384,
            Algorithm::EdDSA => J::EdDSA,
        }
    }

    pub(crate) fn of_family(family: Family) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL.into_iter().filter(move |a| a.family() == family)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name this crate does not verify (including `none`).
///
/// ```
/// assert_eq!("none".parse::<tidings_jwt::Algorithm>(), Err(tidings_jwt::UnsupportedAlgorithm));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported JWT algorithm")]
pub struct UnsupportedAlgorithm;

impl FromStr for Algorithm {
    type Err = UnsupportedAlgorithm;

    /// Parses the exact, case-sensitive name (RFC 7518 names are case-sensitive: `hs256` is not `HS256`).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name).ok_or(UnsupportedAlgorithm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>(), Ok(alg));
            assert!(alg.to_jsonwebtoken().family().algorithms().contains(&alg.to_jsonwebtoken()));
        }
        assert!("hs256".parse::<Algorithm>().is_err());
        assert!("none".parse::<Algorithm>().is_err());
        assert!("".parse::<Algorithm>().is_err());
    }

    #[test]
    fn families_partition_the_algorithms() {
        assert_eq!(Algorithm::of_family(Family::Hmac).count(), 3);
        assert_eq!(Algorithm::of_family(Family::Rsa).count(), 6);
        assert_eq!(Algorithm::of_family(Family::Ec).count(), 2);
        assert_eq!(Algorithm::of_family(Family::Ed).collect::<Vec<_>>(), [Algorithm::EdDSA]);
        assert_eq!(Algorithm::HS512.min_secret_len(), 64);
    }
}
