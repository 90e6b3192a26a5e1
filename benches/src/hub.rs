//! The hub every Tidings benchmark runs: topic `open:*`, which anyone may subscribe and publish to, anonymous
//! clients, limits off (the load comes from a few addresses, flat out).

use tidings::{AllowAnonymous, Hub, HubConfig, Limits, OpenTopic};

/// The benchmark hub.
pub fn bench_hub() -> Hub {
    let config = HubConfig { limits: Limits::none(), ..Default::default() };
    Hub::builder().handler("open:*", OpenTopic).authenticator(AllowAnonymous).config(config).build().expect("valid")
}
