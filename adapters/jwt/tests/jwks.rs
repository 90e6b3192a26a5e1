//! Keys from a JWKS file and from a JWKS URL: refresh, rotation, early refresh on an unknown `kid`, failures, stop.

mod common;

use std::time::Duration;

use common::jwks_server::{jwk, jwks, JwksServer};
use common::*;
use jsonwebtoken::{Algorithm as J, EncodingKey};
use tidings_jwt::{Algorithm, JwtAuthenticator};

const LIMIT: Duration = Duration::from_secs(30);

/// Polls until the authenticator accepts `token`: a fetch's answer takes a moment to be parsed and published.
async fn eventually_accepted(auth: &JwtAuthenticator, token: &str) {
    let poll = async {
        while auth.verify(token).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), poll).await.expect("the new keys were never picked up");
}

#[tokio::test]
async fn keys_from_a_jwks_file() {
    let auth = JwtAuthenticator::builder()
        .algorithms([Algorithm::RS256, Algorithm::RS384, Algorithm::ES256, Algorithm::EdDSA])
        .jwks_file(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/jwks.json"))
        .build()
        .unwrap();
    let ec = EncodingKey::from_ec_pem(&key_file("ec256-private.pem")).unwrap();
    let ed = EncodingKey::from_ed_pem(&key_file("ed25519-private.pem")).unwrap();
    accepted(&auth, &bearer(&sign(J::RS256, Some("rsa-1"), &rsa_private(), &claims("ann")))).await;
    accepted(&auth, &bearer(&sign(J::ES256, Some("ec-1"), &ec, &claims("ann")))).await;
    accepted(&auth, &bearer(&sign(J::EdDSA, Some("ed-1"), &ed, &claims("ann")))).await;
    accepted(&auth, &bearer(&sign(J::EdDSA, None, &ed, &claims("ann")))).await;
    // The JWK says "alg": "RS256": the key verifies nothing else, though RS384 is allowed.
    let rs384 = sign(J::RS384, Some("rsa-1"), &rsa_private(), &claims("ann"));
    assert_eq!(refusal_of(&auth, &rs384).await, "algorithm RS384 not allowed for the key the token names");
    // A key's kid does not lend it to another: the EC token under the Ed25519 key's id.
    let misnamed = sign(J::ES256, Some("ed-1"), &ec, &claims("ann"));
    assert_eq!(refusal_of(&auth, &misnamed).await, "algorithm ES256 not allowed for the key the token names");
}

#[tokio::test]
async fn keys_from_a_jwks_url() {
    within(LIMIT, async {
        let server = JwksServer::start(jwks([jwk(&rsa_private(), J::RS256, "a")])).await;
        let auth = JwtAuthenticator::builder().algorithms([Algorithm::RS256]).jwks_url(server.url()).build().unwrap();
        // The first request waits for the first fetch rather than finding no keys.
        accepted(&auth, &bearer(&sign(J::RS256, Some("a"), &rsa_private(), &claims("ann")))).await;
        accepted(&auth, &bearer(&rs256(&claims("ann")))).await;
        let forged = sign(J::RS256, Some("a"), &rsa2_private(), &claims("ann"));
        assert_eq!(refusal_of(&auth, &forged).await, "signature does not match");
        assert_eq!(server.hits(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_rotation_is_picked_up_by_the_interval_refresh() {
    within(LIMIT, async {
        let server = JwksServer::start(jwks([jwk(&rsa_private(), J::RS256, "a")])).await;
        let auth = JwtAuthenticator::builder()
            .algorithms([Algorithm::RS256])
            .jwks_url(server.url())
            .jwks_refresh_interval(Duration::from_secs(1))
            .build()
            .unwrap();
        // No kid, so nothing asks for an early fetch: only the interval can bring the new key.
        let new_key_token = sign(J::RS256, None, &rsa2_private(), &claims("ann"));
        assert_eq!(refusal_of(&auth, &new_key_token).await, "signature does not match");

        server.serve(jwks([jwk(&rsa2_private(), J::RS256, "b")]));
        eventually_accepted(&auth, &new_key_token).await;
        // The old key is gone with its rotation.
        assert_eq!(refusal_of(&auth, &rs256(&claims("ann"))).await, "signature does not match");
    })
    .await;
}

#[tokio::test]
async fn an_unknown_kid_triggers_one_early_refresh_per_cooldown() {
    within(LIMIT, async {
        let server = JwksServer::start(jwks([jwk(&rsa_private(), J::RS256, "a")])).await;
        let auth = JwtAuthenticator::builder()
            .algorithms([Algorithm::RS256])
            .jwks_url(server.url())
            .jwks_refresh_interval(Duration::from_secs(3600))
            .jwks_refresh_cooldown(Duration::from_secs(3600))
            .build()
            .unwrap();
        accepted(&auth, &bearer(&sign(J::RS256, Some("a"), &rsa_private(), &claims("ann")))).await;
        assert_eq!(server.hits(), 1);

        // The provider rotates to "b"; a token with kid "b" makes the authenticator look again, at once.
        server.serve(jwks([jwk(&rsa2_private(), J::RS256, "b")]));
        accepted(&auth, &bearer(&sign(J::RS256, Some("b"), &rsa2_private(), &claims("ann")))).await;
        assert_eq!(server.hits(), 2);

        // Another unknown kid within the cooldown does not reach the server: made-up kids cannot flood it.
        server.serve(jwks([jwk(&rsa_private(), J::RS256, "c")]));
        for _ in 0..5 {
            let token = sign(J::RS256, Some("c"), &rsa_private(), &claims("ann"));
            assert_eq!(refusal_of(&auth, &token).await, "unknown key id");
        }
        assert_eq!(server.hits(), 2);
    })
    .await;
}

#[tokio::test]
async fn a_failed_refresh_keeps_the_previous_keys() {
    within(LIMIT, async {
        let server = JwksServer::start(jwks([jwk(&rsa_private(), J::RS256, "a")])).await;
        let auth = JwtAuthenticator::builder()
            .algorithms([Algorithm::RS256])
            .jwks_url(server.url())
            .jwks_refresh_interval(Duration::from_secs(1))
            .build()
            .unwrap();
        let token = sign(J::RS256, Some("a"), &rsa_private(), &claims("ann"));
        accepted(&auth, &bearer(&token)).await;

        server.fail();
        let hits = server.hits();
        server.wait_for_hits_above(hits).await;
        accepted(&auth, &bearer(&token)).await;

        // A document with no usable key is a failure too, not a rotation to nothing.
        server.serve(r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}"#.into());
        let hits = server.hits();
        server.wait_for_hits_above(hits).await;
        accepted(&auth, &bearer(&token)).await;
        server.serve("not json".into());
        let hits = server.hits();
        server.wait_for_hits_above(hits).await;
        accepted(&auth, &bearer(&token)).await;
    })
    .await;
}

#[tokio::test]
async fn no_keys_before_the_first_successful_fetch() {
    within(LIMIT, async {
        let server = JwksServer::start(String::new()).await;
        server.fail();
        let auth = JwtAuthenticator::builder()
            .algorithms([Algorithm::RS256])
            .jwks_url(server.url())
            .jwks_refresh_interval(Duration::from_secs(3600))
            .build()
            .unwrap();
        assert_eq!(refusal_of(&auth, &rs256(&claims("ann"))).await, "no verification keys loaded yet");
        // A failed fetch is retried soon (after seconds), not after the hour.
        server.serve(jwks([jwk(&rsa_private(), J::RS256, "a")]));
        eventually_accepted(&auth, &rs256(&claims("ann"))).await;
    })
    .await;
}

#[tokio::test]
async fn dropping_the_authenticator_stops_the_refresh() {
    within(LIMIT, async {
        let server = JwksServer::start(jwks([jwk(&rsa_private(), J::RS256, "a")])).await;
        let auth = JwtAuthenticator::builder()
            .algorithms([Algorithm::RS256])
            .jwks_url(server.url())
            .jwks_refresh_interval(Duration::from_secs(1))
            .build()
            .unwrap();
        let clone = auth.clone();
        server.wait_for_hits_above(1).await;
        drop(auth);
        // A clone keeps it going.
        let hits = server.hits();
        server.wait_for_hits_above(hits).await;
        drop(clone);
        tokio::time::sleep(Duration::from_millis(100)).await; // a fetch under way may still land
        let hits = server.hits();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(server.hits(), hits, "the refresh task outlived the authenticator");
    })
    .await;
}

#[tokio::test]
async fn hmac_secrets_in_a_published_jwks_are_ignored() {
    within(LIMIT, async {
        // Anyone who can read this URL could sign tokens with that secret.
        let secret = jsonwebtoken::jwk::Jwk::from_encoding_key(&hmac_private(), J::HS256).unwrap();
        let mut secret = serde_json::to_value(secret).unwrap();
        secret["kid"] = "shared".into();
        let server = JwksServer::start(jwks([secret, jwk(&rsa_private(), J::RS256, "a")])).await;
        let auth = JwtAuthenticator::builder()
            .algorithms([Algorithm::HS256, Algorithm::RS256])
            .jwks_url(server.url())
            .build()
            .unwrap();
        accepted(&auth, &bearer(&rs256(&claims("ann")))).await;
        let hs = sign(J::HS256, Some("shared"), &hmac_private(), &claims("ann"));
        assert_eq!(refusal_of(&auth, &hs).await, "unknown key id");
    })
    .await;
}
