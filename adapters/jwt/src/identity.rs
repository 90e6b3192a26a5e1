//! From verified claims to the session's [`Identity`].

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use tidings_core::Identity;

use crate::refusal::Refusal;

/// Which claims name the user and list the topics.
#[derive(Debug, Clone)]
pub(crate) struct ClaimNames {
    pub(crate) user: String,
    pub(crate) topics: String,
}

/// The identity the claims describe. The user claim is required: a token that names nobody cannot be told apart
/// from another one on refresh, nor authorised per user.
pub(crate) fn identity(claims: Map<String, Value>, names: &ClaimNames) -> Result<Identity, Refusal> {
    let user = match claims.get(&names.user) {
        Some(Value::String(user)) if !user.is_empty() => user.clone(),
        // Some providers number their users.
        Some(Value::Number(id)) => id.to_string(),
        Some(_) => return Err(Refusal::BadClaim(names.user.clone(), "a non-empty string")),
        None => return Err(Refusal::MissingClaim(names.user.clone())),
    };
    let topics = match claims.get(&names.topics) {
        None => None,
        Some(Value::Array(patterns)) => Some(
            patterns
                .iter()
                .map(|p| p.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Refusal::BadClaim(names.topics.clone(), "an array of strings"))?,
        ),
        // A `null` or a single string is refused rather than guessed at: reading it as "no restriction" would
        // widen what the issuer meant to grant.
        Some(_) => return Err(Refusal::BadClaim(names.topics.clone(), "an array of strings")),
    };
    // The signature check has accepted `exp` as a non-negative number already, when present.
    let expires_at = claims.get("exp").and_then(|exp| match exp.as_u64() {
        Some(seconds) => Some(Duration::from_secs(seconds)),
        None => exp.as_f64().and_then(|s| Duration::try_from_secs_f64(s).ok()),
    });
    Ok(Identity {
        user: Some(user),
        expires_at: expires_at.and_then(|after_epoch| SystemTime::UNIX_EPOCH.checked_add(after_epoch)),
        topics,
        claims: Value::Object(claims),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn names() -> ClaimNames {
        ClaimNames { user: "sub".into(), topics: "topics".into() }
    }

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn builds_the_identity() {
        let id = identity(claims(json!({"sub": "ann", "exp": 2000000000, "topics": ["chat:*"]})), &names()).unwrap();
        assert_eq!(id.user.as_deref(), Some("ann"));
        assert_eq!(id.expires_at, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000)));
        assert_eq!(id.topics, Some(vec!["chat:*".to_owned()]));
        assert_eq!(id.claims["sub"], "ann");
        let numbered = identity(claims(json!({"sub": 42, "exp": 1.5e9})), &names()).unwrap();
        assert_eq!((numbered.user.as_deref(), numbered.topics), (Some("42"), None));
        assert_eq!(numbered.expires_at, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000)));
    }

    #[test]
    fn refuses_claims_of_the_wrong_shape() {
        let missing = identity(claims(json!({"name": "ann"})), &names());
        assert_eq!(missing, Err(Refusal::MissingClaim("sub".into())));
        for topics in [json!("chat:*"), json!(null), json!(["ok", 1]), json!({"a": 1})] {
            let result = identity(claims(json!({"sub": "ann", "topics": topics})), &names());
            assert_eq!(result, Err(Refusal::BadClaim("topics".into(), "an array of strings")));
        }
        let empty = identity(claims(json!({"sub": ""})), &names());
        assert_eq!(empty, Err(Refusal::BadClaim("sub".into(), "a non-empty string")));
    }
}
