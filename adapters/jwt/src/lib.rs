//! JWT authentication for Tidings.
//!
//! [`JwtAuthenticator`] is an [`Authenticator`](tidings_core::Authenticator): a client connects with a signed JSON
//! Web Token, and its session gets the [`Identity`](tidings_core::Identity) the token proves (the user from `sub`,
//! every claim, the expiry, the topic patterns it may use). A connected client sends a fresh token in band before
//! the old one expires, and [`refresh`](tidings_core::Authenticator::refresh) checks it the same way.
//!
//! - **Algorithms are pinned by configuration**: the token's `alg` header only selects among them, so `alg: none`
//!   and algorithm confusion (an RSA public key used as an HMAC secret) are refused. Each [`Key`] is bound to its
//!   algorithm family.
//! - **Keys** come from configuration ([`Key`]: HMAC secrets, PEM public keys, each maybe with a `kid`), JWKS files,
//!   or a JWKS URL refetched in the background.
//! - **Claims**: `exp` (required by default), `nbf`, `iss`, `aud`, with 30 s of leeway.
//! - **Token sources**, in order: `Authorization: Bearer`, the `tidings_token` cookie, the `tidings.token.<jwt>`
//!   WebSocket subprotocol, and the `access_token` query parameter only when enabled.
//! - **Refusals** are 401s with a specific reason (`token expired`, `wrong audience`...), logged at info level
//!   without the token.
//!
//! ```no_run
//! use tidings_jwt::{Algorithm, JwtAuthenticator};
//!
//! #[tokio::main] // or #[actix_web::main]: the JWKS refresh task runs on the runtime that builds the authenticator
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let auth = JwtAuthenticator::builder()
//!         .algorithms([Algorithm::RS256])
//!         .jwks_url("https://auth.example.com/.well-known/jwks.json")
//!         .issuer("https://auth.example.com/")
//!         .audience("chat")
//!         .build()?;
//!     let hub = tidings_core::Hub::builder().authenticator(auth).build()?;
//!     // ... serve the hub's transports with actix-web
//!     # drop(hub);
//!     Ok(())
//! }
//! ```
//!
//! The crate's README covers each setting and what it defends against.

mod algorithm;
mod authenticator;
mod builder;
mod error;
mod fetch;
mod header;
mod identity;
mod jwks;
mod key;
mod keyring;
mod refusal;
mod remote;
mod source;
mod verify;

pub use algorithm::{Algorithm, UnsupportedAlgorithm};
pub use authenticator::JwtAuthenticator;
pub use builder::JwtAuthenticatorBuilder;
pub use error::ConfigError;
pub use key::Key;
pub use source::{DEFAULT_COOKIE, QUERY_PARAMETER, SUBPROTOCOL_PREFIX};
