//! Every reason a token is refused, worded in one place.
//!
//! The wording reaches the client (in the 401 body) and the log, so it says what is wrong without echoing anything
//! the client sent: never the token, and a header value only once it is known to be a short plain name.

use std::fmt;

use tidings_core::AuthRefusal;

/// Why a token was refused. Every refusal is a 401: the client did not prove who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    NoToken,
    QueryTokensDisabled,
    Malformed,
    /// The header's `alg`, as a printable name (see [`printable`]).
    AlgorithmNotAllowed(String),
    /// The token names a key (`kid`) meant for another algorithm than its `alg`.
    AlgorithmNotForKey(&'static str),
    UnsupportedCritical,
    UnknownKey,
    NoKeyForAlgorithm(&'static str),
    NoKeysLoaded,
    SignatureMismatch,
    Expired,
    NotYetValid,
    WrongAudience,
    UnexpectedAudience,
    WrongIssuer,
    MissingClaim(String),
    /// A claim of the wrong type: its name, and what it must be.
    BadClaim(String, &'static str),
    /// A failure on the server's side (a key that cannot be used): the client is told only that it failed.
    Unverifiable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoToken => f.write_str("no token"),
            Refusal::QueryTokensDisabled => {
                f.write_str("query tokens are disabled (tokens in URLs leak into logs): send it in a header, a cookie or the WebSocket subprotocol")
            }
            Refusal::Malformed => f.write_str("malformed token"),
            Refusal::AlgorithmNotAllowed(alg) => write!(f, "algorithm {alg} not allowed"),
            Refusal::AlgorithmNotForKey(alg) => write!(f, "algorithm {alg} not allowed for the key the token names"),
            Refusal::UnsupportedCritical => f.write_str("unsupported critical header parameter"),
            Refusal::UnknownKey => f.write_str("unknown key id"),
            Refusal::NoKeyForAlgorithm(alg) => write!(f, "no key for algorithm {alg}"),
            Refusal::NoKeysLoaded => f.write_str("no verification keys loaded yet"),
            Refusal::SignatureMismatch => f.write_str("signature does not match"),
            Refusal::Expired => f.write_str("token expired"),
            Refusal::NotYetValid => f.write_str("token not yet valid"),
            Refusal::WrongAudience => f.write_str("wrong audience"),
            Refusal::UnexpectedAudience => f.write_str("wrong audience (this server expects none)"),
            Refusal::WrongIssuer => f.write_str("wrong issuer"),
            Refusal::MissingClaim(claim) => write!(f, "missing claim {claim}"),
            Refusal::BadClaim(claim, must_be) => write!(f, "claim {claim} must be {must_be}"),
            Refusal::Unverifiable => f.write_str("token could not be verified"),
        }
    }
}

impl From<Refusal> for AuthRefusal {
    fn from(refusal: Refusal) -> Self {
        AuthRefusal::unauthorized(refusal.to_string())
    }
}

/// A name from a token header, fit to appear in a reason: short and plain, or replaced. Keeps a hostile header from
/// writing arbitrary text into logs and responses.
pub(crate) fn printable(name: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.');
    if !name.is_empty() && name.len() <= 32 && name.chars().all(plain) {
        name.to_owned()
    } else {
        "(unprintable)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_401s_with_the_expected_wording() {
        let refusal: AuthRefusal = Refusal::AlgorithmNotAllowed("none".into()).into();
        assert_eq!((refusal.status, refusal.reason.as_ref()), (401, "algorithm none not allowed"));
        assert_eq!(Refusal::Expired.to_string(), "token expired");
        assert_eq!(
            Refusal::BadClaim("topics".into(), "an array of strings").to_string(),
            "claim topics must be an array of strings"
        );
    }

    #[test]
    fn only_plain_names_are_echoed() {
        assert_eq!(printable("HS256"), "HS256");
        assert_eq!(printable("none"), "none");
        assert_eq!(printable("x\nFAKE LOG LINE"), "(unprintable)");
        assert_eq!(printable(""), "(unprintable)");
        assert_eq!(printable(&"A".repeat(33)), "(unprintable)");
    }
}
