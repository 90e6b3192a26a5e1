//! A WebSocket echo server on the Tidings codec, for the Autobahn TestSuite and interop tests, plus a Tidings hub.
//!
//! `ws-echo [off|shared|dedicated] [addr]` (default: shared on 127.0.0.1:0). Prints `listening on http://ADDR`.
//! - `GET /` upgrades to an echo connection (text and binary, up to 64 MiB a message);
//! - `GET /stats` returns the compression counters (of both endpoints) as JSON;
//! - `/realtime/ws` is a Tidings endpoint with an `echo:*` topic whose handler replies with what it is sent.

use actix_web::{web, App, HttpResponse, HttpServer};
use tidings::websocket::{DeflateConfig, DeflateMode, WebSocketConfig};
use tidings::{async_trait, Context, Handler, Hub, Refusal};
use tidings_tests::echo::{echo, watch_for_stalls};

struct Echo;

#[async_trait]
impl Handler for Echo {
    type Join = ();
    type Message = serde_json::Value;
    type Reply = serde_json::Value;
    async fn message(&self, _ctx: &Context, message: serde_json::Value) -> Result<Option<serde_json::Value>, Refusal> {
        Ok(Some(message))
    }
}

async fn stats(config: web::Data<WebSocketConfig>) -> HttpResponse {
    let s = &config.stats;
    HttpResponse::Ok().json(serde_json::json!({
        "shared_compressions": s.shared_compressions(),
        "message_compressions": s.message_compressions(),
        "compressed_messages_sent": s.compressed_messages_sent(),
        "compressed_messages_received": s.compressed_messages_received(),
    }))
}

#[actix_web::main]
#[expect(clippy::print_stdout, reason = "the listening address is the program's output, read by the test scripts")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "shared".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let deflate = match mode.as_str() {
        "off" => None,
        "shared" => Some(DeflateConfig { mode: DeflateMode::Shared, ..Default::default() }),
        "dedicated" => Some(DeflateConfig { mode: DeflateMode::Dedicated, ..Default::default() }),
        other => return Err(std::io::Error::other(format!("unknown mode {other:?}: off, shared or dedicated"))),
    };
    // The Tidings endpoint keeps the default threshold, as an application would; the echo route compresses every
    // message, so that the suite's compression cases compress even their shortest messages.
    let counters = tidings::websocket::WebSocketStats::default();
    let tidings_config = WebSocketConfig { deflate: deflate.clone(), stats: counters.clone(), ..Default::default() };
    let deflate = deflate.map(|d| DeflateConfig { threshold: 0, ..d });
    // No pings on the echo route: a 12.x case of the runner takes any frame it receives beyond its echoes for the
    // end of the case and closes (kosoku's finishWhenDone with no expected events), so a case that runs past one
    // ping interval on a loaded machine failed as "did not finish". Pings are tested elsewhere (the transport's
    // own tests); the idle check rides on the ping timer, so it is off here too.
    let no_pings = std::time::Duration::from_secs(24 * 60 * 60);
    let config = WebSocketConfig {
        deflate,
        stats: counters,
        ping_interval: no_pings,
        idle_timeout: no_pings,
        ..Default::default()
    };
    // Measurements open thousands of connections from one address: no per-client limits here.
    let hub = Hub::builder()
        .authenticator(tidings::AllowAnonymous)
        // Interop pages run from about:blank (Origin "null") and other ports: any origin may connect.
        .config(tidings::HubConfig {
            limits: tidings::Limits::none(),
            allowed_origins: vec!["*".into()],
            ..Default::default()
        })
        .handler("echo:*", Echo)
        .build()
        .expect("valid pattern");
    // A case waiting this long is stuck (they take seconds): say which side waits, in the server log.
    watch_for_stalls(std::time::Duration::from_secs(10), std::time::Duration::from_secs(30));
    let endpoint = tidings::Endpoint::new().websocket(tidings_config);
    let config = web::Data::new(config);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .route("/", web::get().to(echo))
            .route("/stats", web::get().to(stats))
            .service(endpoint.scope("/realtime", &hub))
    })
    .workers(2)
    .tcp_nodelay(true)
    .bind(&addr)?;
    println!("listening on http://{}", server.addrs()[0]);
    server.run().await
}
