//! Every algorithm family round trip with real keys, and key selection by `kid`.

mod common;

use common::*;
use jsonwebtoken::{Algorithm as J, EncodingKey};
use tidings_jwt::{Algorithm, JwtAuthenticator, Key};

/// Signs with `private` under `alg` and checks that an authenticator allowing only `alg` with `public` accepts it.
async fn round_trip(alg: Algorithm, public: Key, private: &EncodingKey) {
    let auth = JwtAuthenticator::builder().algorithms([alg]).key(public).build().unwrap();
    let signing_alg: J = alg.name().parse().unwrap();
    let token = sign(signing_alg, None, private, &claims("ann"));
    let identity = accepted(&auth, &bearer(&token)).await;
    assert_eq!(identity.user.as_deref(), Some("ann"), "{alg}");
}

#[tokio::test]
async fn hmac() {
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        round_trip(alg, Key::hmac(HMAC_SECRET).unwrap(), &hmac_private()).await;
    }
}

#[tokio::test]
async fn rsa_pkcs1_and_pss() {
    let algorithms =
        [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384, Algorithm::PS512];
    for alg in algorithms {
        round_trip(alg, rsa_public(), &rsa_private()).await;
    }
}

#[tokio::test]
async fn ecdsa_p256_and_p384() {
    let p256 = EncodingKey::from_ec_pem(&key_file("ec256-private.pem")).unwrap();
    round_trip(Algorithm::ES256, Key::ec_pem(key_file("ec256-public.pem")).unwrap(), &p256).await;
    let p384 = EncodingKey::from_ec_pem(&key_file("ec384-private.pem")).unwrap();
    round_trip(Algorithm::ES384, Key::ec_pem(key_file("ec384-public.pem")).unwrap(), &p384).await;
}

#[tokio::test]
async fn eddsa_ed25519() {
    let private = EncodingKey::from_ed_pem(&key_file("ed25519-private.pem")).unwrap();
    round_trip(Algorithm::EdDSA, Key::ed25519_pem(key_file("ed25519-public.pem")).unwrap(), &private).await;
}

#[tokio::test]
async fn several_families_at_once() {
    let auth = JwtAuthenticator::builder()
        .algorithms([Algorithm::HS256, Algorithm::RS256, Algorithm::EdDSA])
        .key(Key::hmac(HMAC_SECRET).unwrap())
        .key(rsa_public())
        .key(Key::ed25519_pem(key_file("ed25519-public.pem")).unwrap())
        .build()
        .unwrap();
    let ed = EncodingKey::from_ed_pem(&key_file("ed25519-private.pem")).unwrap();
    for token in [hs256(&claims("a")), rs256(&claims("b")), sign(J::EdDSA, None, &ed, &claims("c"))] {
        accepted(&auth, &bearer(&token)).await;
    }
}

fn two_rsa_keys() -> JwtAuthenticator {
    JwtAuthenticator::builder()
        .algorithms([Algorithm::RS256])
        .key(rsa_public().with_kid("one"))
        .key(Key::rsa_pem(key_file("rsa2-public.pem")).unwrap().with_kid("two"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_kid_selects_its_key() {
    let auth = two_rsa_keys();
    accepted(&auth, &bearer(&sign(J::RS256, Some("one"), &rsa_private(), &claims("ann")))).await;
    accepted(&auth, &bearer(&sign(J::RS256, Some("two"), &rsa2_private(), &claims("ann")))).await;
    // Only the named key is tried: a genuine signature by the other key does not pass under the wrong kid.
    let misnamed = sign(J::RS256, Some("one"), &rsa2_private(), &claims("ann"));
    assert_eq!(refusal_of(&auth, &misnamed).await, "signature does not match");
    let unknown = sign(J::RS256, Some("three"), &rsa_private(), &claims("ann"));
    assert_eq!(refusal_of(&auth, &unknown).await, "unknown key id");
}

#[tokio::test]
async fn without_a_kid_every_key_of_the_family_is_tried() {
    let auth = two_rsa_keys();
    accepted(&auth, &bearer(&sign(J::RS256, None, &rsa_private(), &claims("ann")))).await;
    accepted(&auth, &bearer(&sign(J::RS256, None, &rsa2_private(), &claims("ann")))).await;
}

#[tokio::test]
async fn a_kid_unknown_to_keys_configured_without_one_still_verifies() {
    // An issuer that stamps a kid on tokens, and a server configured with the bare key.
    let auth = JwtAuthenticator::builder().algorithms([Algorithm::RS256]).key(rsa_public()).build().unwrap();
    accepted(&auth, &bearer(&sign(J::RS256, Some("2024-05"), &rsa_private(), &claims("ann")))).await;
}
