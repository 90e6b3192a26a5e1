//! The hub every Tidings benchmark runs: topic `open:*`, which anyone may subscribe and publish to, anonymous
//! clients, limits off (the load comes from a few addresses, flat out).

use tidings::{async_trait, AllowAnonymous, Context, Handler, Hub, HubConfig, Limits, Payload, Refusal};

/// `open:*`: anyone may subscribe and publish.
pub struct OpenTopic;

#[async_trait]
impl Handler for OpenTopic {
    type Join = ();
    type Message = ();
    type Reply = ();
    async fn publish(&self, _ctx: &Context, _data: Payload<'_>) -> Result<(), Refusal> {
        Ok(())
    }
}

/// The benchmark hub.
pub fn bench_hub() -> Hub {
    let config = HubConfig { limits: Limits::none(), ..Default::default() };
    Hub::builder().handler("open:*", OpenTopic).authenticator(AllowAnonymous).config(config).build().expect("valid")
}
