//! Sign-in for the example: the server signs its own short JSON Web Tokens with a secret it makes at start-up.
//!
//! A real application gets tokens from its identity provider and configures `JwtAuthenticator` with the provider's
//! keys (a JWKS URL); only the authenticator below would stay. The dev endpoint exists in this example only.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpResponse};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde::Deserialize;
use tidings_jwt::{Algorithm, JwtAuthenticator, Key};

/// How long a sign-in lasts. The session is closed with 4003 when it passes (the page then signs in again).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The HS256 secret the example signs and checks its tokens with.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A new random secret (tokens do not survive a restart, which is right for a demo).
    pub fn random() -> Self {
        Secret((0..4).flat_map(|_| rand::random::<u64>().to_le_bytes()).collect())
    }

    /// A secret several nodes share, so that a token signed by one is accepted by all: at least 32 bytes.
    pub fn shared(secret: &[u8]) -> Result<Self, String> {
        if secret.len() < 32 {
            return Err(format!("a shared secret is at least 32 bytes, not {}", secret.len()));
        }
        Ok(Secret(secret.to_vec()))
    }

    /// The authenticator for tokens signed with this secret: HS256 only, from the `tidings_token` cookie (or an
    /// `Authorization` header, for non-browser clients).
    pub fn authenticator(&self) -> JwtAuthenticator {
        JwtAuthenticator::builder()
            .algorithms([Algorithm::HS256])
            .key(Key::hmac(&self.0).expect("a 32-byte secret"))
            .build()
            .expect("a valid JWT configuration")
    }

    /// A token for `nick`.
    pub fn token_for(&self, nick: &str) -> String {
        let exp = (SystemTime::now() + TOKEN_LIFETIME).duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
        let claims = serde_json::json!({ "sub": nick, "exp": exp, "topics": ["chat:*"] });
        encode(&Header::new(jsonwebtoken::Algorithm::HS256), &claims, &EncodingKey::from_secret(&self.0))
            .expect("HS256 signing cannot fail")
    }
}

/// What the sign-in form sends.
#[derive(Deserialize)]
pub struct SignIn {
    /// The nickname to sign in as.
    pub nick: String,
}

/// `POST /dev/token` with `{"nick": "..."}`: signs the nickname in, as an HttpOnly, same-site cookie that every
/// transport sends on its own (scripts never see the token), and also in the body for non-browser clients.
pub async fn sign_in(secret: web::Data<Secret>, body: web::Json<SignIn>) -> HttpResponse {
    let nick = body.nick.trim();
    if let Err(reason) = crate::check_nick(nick) {
        return HttpResponse::BadRequest().body(reason);
    }
    let token = secret.token_for(nick);
    let cookie = Cookie::build("tidings_token", token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(TOKEN_LIFETIME.as_secs() as i64))
        .finish();
    HttpResponse::Ok().cookie(cookie).json(serde_json::json!({ "token": token }))
}
