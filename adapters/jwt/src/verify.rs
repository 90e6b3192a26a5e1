//! Signature and claim checks on a token, once its algorithm is known to be allowed and its keys are chosen.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::Validation;
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::key::Key;
use crate::refusal::Refusal;

/// The claim checks, as configured.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRules {
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) require_exp: bool,
    pub(crate) leeway: Duration,
}

/// Verifies tokens with one prepared [`Validation`] per accepted algorithm.
#[derive(Debug)]
pub(crate) struct Verifier {
    validations: Vec<(Algorithm, Validation)>,
    expects_audience: bool,
}

impl Verifier {
    pub(crate) fn new(algorithms: &[Algorithm], rules: &ClaimRules) -> Verifier {
        let validations = algorithms.iter().map(|&alg| (alg, validation(alg, rules))).collect();
        Verifier { validations, expects_audience: !rules.audiences.is_empty() }
    }

    /// The token's claims, if one of `keys` signed it and its claims pass. Keys are tried in order; only a
    /// signature mismatch moves on to the next (every other failure comes after a good signature, so is final).
    pub(crate) fn verify(&self, token: &str, alg: Algorithm, keys: &[Arc<Key>]) -> Result<Map<String, Value>, Refusal> {
        let Some((_, validation)) = self.validations.iter().find(|(a, _)| *a == alg) else {
            return Err(Refusal::AlgorithmNotAllowed(alg.name().into()));
        };
        let mut refusal = Refusal::SignatureMismatch;
        for key in keys.iter().filter(|key| key.verifies(alg)) {
            match jsonwebtoken::decode::<Value>(token, key.decoding(), validation) {
                Ok(data) => {
                    return match data.claims {
                        Value::Object(claims) => Ok(claims),
                        _ => Err(Refusal::Malformed),
                    };
                }
                Err(error) => {
                    refusal = self.refusal(error.kind(), key);
                    if refusal != Refusal::SignatureMismatch {
                        break;
                    }
                }
            }
        }
        Err(refusal)
    }

    fn refusal(&self, error: &ErrorKind, key: &Key) -> Refusal {
        match error {
            ErrorKind::InvalidSignature => Refusal::SignatureMismatch,
            ErrorKind::ExpiredSignature => Refusal::Expired,
            ErrorKind::ImmatureSignature => Refusal::NotYetValid,
            ErrorKind::InvalidAudience if self.expects_audience => Refusal::WrongAudience,
            ErrorKind::InvalidAudience => Refusal::UnexpectedAudience,
            ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
            ErrorKind::MissingRequiredClaim(claim) => Refusal::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => Refusal::BadClaim(claim.clone(), "a number of seconds since 1970"),
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => {
                Refusal::Malformed
            }
            other => {
                // Keys are checked when they are loaded, so this is a fault on the server's side: say which key.
                tracing::warn!(key = key.describe(), error = ?other, "a verification key failed");
                Refusal::Unverifiable
            }
        }
    }
}

fn validation(alg: Algorithm, rules: &ClaimRules) -> Validation {
    let mut validation = Validation::new(alg.to_jsonwebtoken());
    validation.leeway = rules.leeway.as_secs();
    // `exp` and `nbf` are checked whenever present; `exp` is also required unless configured otherwise.
    validation.validate_exp = true;
    validation.validate_nbf = true;
    let mut required = Vec::new();
    if rules.require_exp {
        required.push("exp");
    }
    if !rules.issuers.is_empty() {
        validation.set_issuer(&rules.issuers);
        required.push("iss");
    }
    // With no audience configured, a token that names one is refused (RFC 7519 4.1.3): it was issued for someone
    // else, and accepting it would let a token for another service in.
    validation.validate_aud = true;
    if !rules.audiences.is_empty() {
        validation.set_audience(&rules.audiences);
        required.push("aud");
    }
    validation.required_spec_claims = required.into_iter().map(String::from).collect();
    validation
}
