//! All the keys a token may be checked against (configured ones and a JWKS URL's), and the choice among them.

use std::sync::Arc;

use crate::algorithm::Algorithm;
use crate::key::Key;
use crate::refusal::Refusal;
use crate::remote::RemoteJwks;

/// The configured keys (from code and JWKS files) and the keys of a JWKS URL, if any.
#[derive(Debug)]
pub(crate) struct KeyRing {
    fixed: Vec<Arc<Key>>,
    remote: Option<RemoteJwks>,
}

impl KeyRing {
    pub(crate) fn new(fixed: Vec<Key>, remote: Option<RemoteJwks>) -> KeyRing {
        KeyRing { fixed: fixed.into_iter().map(Arc::new).collect(), remote }
    }

    pub(crate) fn fixed_len(&self) -> usize {
        self.fixed.len()
    }

    pub(crate) fn has_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The keys to try for a token with this `alg` and `kid`.
    ///
    /// A `kid` selects the keys with that id, and nothing else, unless none has it: then a fetch of the JWKS URL is
    /// asked for (a rotation the interval has not picked up yet), and failing that the keys configured without an
    /// id are tried. Without a `kid`, every key of the algorithm's family is tried.
    pub(crate) async fn candidates(&self, alg: Algorithm, kid: Option<&str>) -> Result<Vec<Arc<Key>>, Refusal> {
        let mut keys = self.snapshot();
        if let Some(remote) = &self.remote {
            let known = match kid {
                Some(kid) => keys.iter().any(|key| key.kid() == Some(kid)),
                None => keys.iter().any(|key| key.verifies(alg)),
            };
            if (!known || remote.pending()) && remote.refresh_early().await {
                keys = self.snapshot();
            }
        }
        if keys.is_empty() {
            return Err(Refusal::NoKeysLoaded);
        }
        choose(&keys, alg, kid)
    }

    fn snapshot(&self) -> Vec<Arc<Key>> {
        let mut keys = self.fixed.clone();
        if let Some(remote) = &self.remote {
            keys.extend(remote.keys().iter().cloned());
        }
        keys
    }
}

fn choose(keys: &[Arc<Key>], alg: Algorithm, kid: Option<&str>) -> Result<Vec<Arc<Key>>, Refusal> {
    let usable = |key: &&Arc<Key>| key.verifies(alg);
    if let Some(kid) = kid {
        let named: Vec<_> = keys.iter().filter(|key| key.kid() == Some(kid)).collect();
        if !named.is_empty() {
            // The named key decides: a token cannot name an RSA key and have it tried as something else.
            let chosen: Vec<_> = named.into_iter().filter(usable).cloned().collect();
            return if chosen.is_empty() { Err(Refusal::AlgorithmNotForKey(alg.name())) } else { Ok(chosen) };
        }
        let anonymous: Vec<_> = keys.iter().filter(|key| key.kid().is_none()).filter(usable).cloned().collect();
        return if anonymous.is_empty() { Err(Refusal::UnknownKey) } else { Ok(anonymous) };
    }
    let chosen: Vec<_> = keys.iter().filter(usable).cloned().collect();
    if chosen.is_empty() {
        Err(Refusal::NoKeyForAlgorithm(alg.name()))
    } else {
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Vec<Arc<Key>> {
        let hmac = |byte| Key::hmac([byte; 32]).unwrap();
        let rsa = Key::rsa_pem(include_str!("../tests/keys/rsa-public.pem")).unwrap();
        vec![Arc::new(hmac(1).with_kid("a")), Arc::new(hmac(2)), Arc::new(rsa.with_kid("r"))]
    }

    fn kids(chosen: Result<Vec<Arc<Key>>, Refusal>) -> Result<Vec<Option<String>>, Refusal> {
        chosen.map(|keys| keys.iter().map(|key| key.kid().map(str::to_owned)).collect())
    }

    #[test]
    fn a_kid_selects_its_key_only() {
        assert_eq!(kids(choose(&ring(), Algorithm::HS256, Some("a"))), Ok(vec![Some("a".into())]));
        assert_eq!(kids(choose(&ring(), Algorithm::RS256, Some("r"))), Ok(vec![Some("r".into())]));
        assert_eq!(kids(choose(&ring(), Algorithm::HS256, Some("r"))), Err(Refusal::AlgorithmNotForKey("HS256")));
    }

    #[test]
    fn an_unknown_kid_falls_back_to_keys_without_one() {
        assert_eq!(kids(choose(&ring(), Algorithm::HS256, Some("zzz"))), Ok(vec![None]));
        assert_eq!(kids(choose(&ring(), Algorithm::RS256, Some("zzz"))), Err(Refusal::UnknownKey));
    }

    #[test]
    fn no_kid_tries_the_family() {
        assert_eq!(kids(choose(&ring(), Algorithm::HS256, None)), Ok(vec![Some("a".into()), None]));
        assert_eq!(kids(choose(&ring(), Algorithm::ES256, None)), Err(Refusal::NoKeyForAlgorithm("ES256")));
    }
}
