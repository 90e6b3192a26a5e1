//! A multi-room chat on Tidings: the room handler and the web app, as a library so that tests can use them.
//!
//! Rooms are topics `chat:<name>`. People sign in with a nickname (a JSON Web Token in a cookie, signed by the
//! example itself: see `auth`), then join rooms under that nickname (unique within a room); members' nicknames are
//! their presence metadata; messages are broadcast to the room with the sender's nickname. Only pages of the chat's
//! own origin may connect (the default).

pub mod auth;

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use tidings::{async_trait, Context, ErrorCode, Handler, Hub, HubBuilder, Joined, Refusal};

/// Longest nickname, in characters.
pub const MAX_NICK: usize = 24;
/// Longest message, in characters.
pub const MAX_TEXT: usize = 500;

/// The chat room handler, for `chat:*`.
pub struct ChatRoom;

/// What a client sends to join: its nickname.
#[derive(Debug, Deserialize)]
pub struct JoinRequest {
    /// The nickname.
    pub nick: String,
}

/// What a client sends to say something.
#[derive(Debug, Deserialize)]
pub struct Say {
    /// The text.
    pub text: String,
}

/// A chat line as members receive it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Line {
    /// Who said it.
    pub nick: String,
    /// What they said.
    pub text: String,
    /// When the server received it, in milliseconds since the Unix epoch.
    pub at: u64,
}

/// Presence metadata of a member.
#[derive(Debug, Serialize, Deserialize)]
pub struct Meta {
    /// The member's nickname.
    pub nick: String,
}

#[async_trait]
impl Handler for ChatRoom {
    type Join = JoinRequest;
    type Message = Say;
    type Reply = ();

    async fn join(&self, ctx: &Context, request: JoinRequest) -> Result<Joined<()>, Refusal> {
        let nick = request.nick.trim();
        check_nick(nick).map_err(Refusal::bad_payload)?;
        // Signed in as someone: that is the only nickname to use.
        if let Some(user) = ctx.identity().user.as_deref() {
            if user != nick {
                return Err(Refusal::forbidden(format!("you are signed in as {user:?}")));
            }
        }
        let members = ctx
            .hub()
            .presence_of(ctx.topic())
            .await
            .map_err(|e| Refusal::new(ErrorCode::UNAVAILABLE, e.to_string()))?;
        if members.iter().any(|m| m.meta["nick"].as_str() == Some(nick)) {
            return Err(Refusal::new(ErrorCode::new("nick_taken"), format!("{nick:?} is already in this room")));
        }
        Ok(Joined::new().meta(&Meta { nick: nick.to_owned() }))
    }

    async fn message(&self, ctx: &Context, say: Say) -> Result<Option<()>, Refusal> {
        let text = say.text.trim();
        if text.is_empty() || text.chars().count() > MAX_TEXT {
            return Err(Refusal::bad_payload(format!("a message is 1 to {MAX_TEXT} characters")));
        }
        // Only members may speak, and they speak under their own nickname.
        let nick = ctx
            .member_meta()
            .and_then(|meta| meta["nick"].as_str())
            .ok_or_else(|| Refusal::forbidden("join the room to speak in it"))?
            .to_owned();
        let at = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        ctx.broadcast(&Line { nick, text: text.to_owned(), at }).await?;
        Ok(None)
    }
}

/// Whether `nick` is a valid nickname.
pub fn check_nick(nick: &str) -> Result<(), String> {
    if nick.is_empty() || nick.chars().count() > MAX_NICK || nick.chars().any(char::is_control) {
        return Err(format!("a nickname is 1 to {MAX_NICK} printable characters"));
    }
    Ok(())
}

/// The chat's hub: signed-in clients only (tokens signed with `secret`), on this node alone.
pub fn hub(secret: &auth::Secret) -> Hub {
    hub_builder(secret).build().expect("the chat's topic pattern is valid")
}

/// The chat's hub, to be built: add a cluster broker and presence (Redis) to run several nodes.
pub fn hub_builder(secret: &auth::Secret) -> HubBuilder {
    Hub::builder().authenticator(secret.authenticator()).handler("chat:*", ChatRoom)
}

/// The page, the sign-in endpoint, and the realtime endpoints (and the JavaScript client) under `/realtime`.
pub fn configure<'a>(hub: &'a Hub, secret: &'a auth::Secret) -> impl FnOnce(&mut web::ServiceConfig) + 'a {
    move |cfg| {
        cfg.app_data(web::Data::new(secret.clone()))
            .service(tidings::scope("/realtime", hub))
            .route("/dev/token", web::post().to(auth::sign_in))
            .route("/", web::get().to(index));
    }
}

async fn index() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(include_str!("../static/index.html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tidings::testkit::TestClient;

    /// The test shown in docs/guide/handlers.md.
    #[actix_rt::test]
    async fn members_speak_under_their_nickname() {
        let hub = hub(&auth::Secret::random());
        let mut ann = TestClient::connect(&hub).await;
        let mut bob = TestClient::connect(&hub).await;
        ann.join("chat:lobby", json!({ "nick": "ann" })).await.unwrap();
        bob.join("chat:lobby", json!({ "nick": "bob" })).await.unwrap();
        assert_eq!(ann.expect_member_joined("chat:lobby").await.meta["nick"], "bob");

        bob.message("chat:lobby", json!({ "text": "hi ann" })).await.unwrap();
        assert_eq!(ann.expect_broadcast("chat:lobby").await["text"], "hi ann");
        assert_eq!(bob.join("chat:lobby", json!({ "nick": "ann" })).await.unwrap_err().code, "already_joined");
    }

    #[actix_rt::test]
    async fn nicknames_are_trimmed() {
        let hub = hub(&auth::Secret::random());
        let mut ann = TestClient::connect(&hub).await;
        ann.join("chat:lobby", json!({ "nick": "  ann " })).await.unwrap();
        ann.message("chat:lobby", json!({ "text": "hi" })).await.unwrap();
        let line: Line = serde_json::from_value(ann.expect_broadcast("chat:lobby").await).unwrap();
        assert_eq!((line.nick.as_str(), line.text.as_str()), ("ann", "hi"));
    }

    #[actix_rt::test]
    async fn bad_nicknames_and_messages_are_refused() {
        let hub = hub(&auth::Secret::random());
        let mut ann = TestClient::connect(&hub).await;
        let mut eve = TestClient::connect(&hub).await;
        ann.join("chat:lobby", json!({ "nick": "ann" })).await.unwrap();
        assert_eq!(eve.join("chat:lobby", json!({ "nick": "ann" })).await.unwrap_err().code, "nick_taken");
        assert_eq!(eve.join("chat:lobby", json!({ "nick": "" })).await.unwrap_err().code, "bad_payload");
        assert_eq!(eve.join("chat:lobby", json!({ "nick": "x".repeat(25) })).await.unwrap_err().code, "bad_payload");
        assert_eq!(ann.message("chat:lobby", json!({ "text": "  " })).await.unwrap_err().code, "bad_payload");
        // A plain subscriber may listen but not speak.
        eve.subscribe("chat:lobby").await.unwrap();
        assert_eq!(eve.message("chat:lobby", json!({ "text": "hi" })).await.unwrap_err().code, "forbidden");
    }
}
