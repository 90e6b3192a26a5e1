//! A test authenticator with readable tokens, so that the security tests exercise the framework's checks without
//! depending on a token format. (The JWT adapter has its own tests of signatures and claims.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tidings::{async_trait, AuthRefusal, Authenticator, ConnectRequest, Identity};

/// Tokens are `<user>:<expiry in ms since the Unix epoch>`, in `Authorization: Bearer`. An `x-topics` header
/// (comma-separated patterns) restricts the topics.
pub struct TestTokens;

/// A token for `user` that expires `ttl` from now.
pub fn token(user: &str, ttl: Duration) -> String {
    let at = SystemTime::now() + ttl;
    format!("{user}:{}", at.duration_since(UNIX_EPOCH).expect("after 1970").as_millis())
}

fn parse(token: &str) -> Result<Identity, AuthRefusal> {
    let (user, expiry) = token.split_once(':').ok_or_else(|| AuthRefusal::unauthorized("malformed token"))?;
    let ms: u64 = expiry.parse().map_err(|_| AuthRefusal::unauthorized("malformed token"))?;
    let expires_at = UNIX_EPOCH + Duration::from_millis(ms);
    if expires_at <= SystemTime::now() {
        return Err(AuthRefusal::unauthorized("token expired"));
    }
    Ok(Identity { expires_at: Some(expires_at), ..Identity::user(user) })
}

#[async_trait]
impl Authenticator for TestTokens {
    async fn authenticate(&self, request: &ConnectRequest) -> Result<Identity, AuthRefusal> {
        let token = request.bearer_token().ok_or_else(|| AuthRefusal::unauthorized("no token"))?;
        let mut identity = parse(token)?;
        identity.topics = request.header("x-topics").map(|t| t.split(',').map(str::to_owned).collect());
        Ok(identity)
    }

    async fn refresh(&self, token: &str) -> Result<Identity, AuthRefusal> {
        parse(token)
    }
}
