//! Handlers the scenarios run against.

use serde::Deserialize;
use serde_json::{json, Value};
use tidings::{
    async_trait, AllowAnonymous, Authenticator, Context, Handler, Hub, HubBuilder, HubConfig, Joined, Refusal,
};

/// `news:*`: anyone may subscribe; only the server publishes.
pub struct News;

#[async_trait]
impl Handler for News {
    type Join = ();
    type Message = ();
    type Reply = ();
}

/// `open:*`: anyone may subscribe and publish.
pub use tidings::OpenTopic as Open;

/// `secret:*`: nobody may subscribe.
pub struct Secret;

#[async_trait]
impl Handler for Secret {
    type Join = ();
    type Message = ();
    type Reply = ();
    async fn subscribe(&self, _ctx: &Context) -> Result<(), Refusal> {
        Err(Refusal::forbidden("secret topics are not for clients"))
    }
}

/// `calc`: answers `{"add": [a, b]}` with the sum.
pub struct Calc;

/// A calculation request.
#[derive(Deserialize)]
pub struct Add {
    add: [i64; 2],
}

#[async_trait]
impl Handler for Calc {
    type Join = ();
    type Message = Add;
    type Reply = i64;
    async fn message(&self, _ctx: &Context, msg: Add) -> Result<Option<i64>, Refusal> {
        Ok(Some(msg.add[0] + msg.add[1]))
    }
}

/// `room:*`: members need a nick; "banned" is refused; the reply greets the member.
pub struct Room;

/// Join parameters.
#[derive(Deserialize)]
pub struct Nick {
    nick: String,
}

#[async_trait]
impl Handler for Room {
    type Join = Nick;
    type Message = Value;
    type Reply = Value;
    async fn join(&self, _ctx: &Context, p: Nick) -> Result<Joined<Value>, Refusal> {
        if p.nick == "banned" {
            return Err(Refusal::forbidden("banned from this room"));
        }
        Ok(Joined::new().meta(&json!({ "nick": p.nick })).reply(json!({ "hello": p.nick })))
    }
}

/// A hub with all of the above, for anonymous clients.
pub fn demo_hub(config: HubConfig) -> Hub {
    demo_hub_with(config, AllowAnonymous)
}

/// A hub with all of the above, behind `authenticator`.
pub fn demo_hub_with(config: HubConfig, authenticator: impl Authenticator) -> Hub {
    demo_builder(config).authenticator(authenticator).build().expect("valid patterns")
}

/// The handlers above, for a hub still to be given its authenticator, broker and presence.
pub fn demo_builder(config: HubConfig) -> HubBuilder {
    Hub::builder()
        .handler("news:*", News)
        .handler("open:*", Open)
        .handler("secret:*", Secret)
        .handler("calc", Calc)
        .handler("room:*", Room)
        .config(config)
}
