//! A trading ticker on Tidings: a simulated market publishes a quote per symbol on `ticker:<SYMBOL>` (about two
//! thousand a second in all), and the page shows a watchlist and a live chart. The topics are conflated, so a slow
//! client (a phone on a bad network, a page forced to long polling) gets the latest price of each symbol rather
//! than a growing backlog; WebSocket clients get permessage-deflate (on by default).
//!
//! A library so that the tests can use the handler and the web app.

pub mod market;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tidings::websocket::{WebSocketConfig, WebSocketStats};
use tidings::{async_trait, AllowAnonymous, Context, ErrorCode, Handler, Hub, Joined, Refusal};

use market::{Market, SYMBOLS};

/// How often the market moves.
pub const TICK: Duration = Duration::from_millis(20);
/// The share of symbols that move at each tick: 50 symbols x 0.8 x 50 ticks a second = 2,000 quotes a second.
pub const ACTIVITY: f64 = 0.8;

/// The market, shared by the feed and the handler.
pub type SharedMarket = Arc<Mutex<Market>>;

/// The handler of `ticker:*`: only listed symbols exist; a `{"type":"history"}` message is answered with the
/// symbol's one-second price series.
pub struct Ticker {
    market: SharedMarket,
}

/// What a client may ask a symbol's topic.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TickerRequest {
    /// The symbol's price series for the chart.
    History,
}

fn symbol_of(topic: &str) -> Result<&'static str, Refusal> {
    let symbol = topic.strip_prefix("ticker:").unwrap_or_default();
    SYMBOLS
        .iter()
        .find(|(s, _)| *s == symbol)
        .map(|(s, _)| *s)
        .ok_or_else(|| Refusal::new(ErrorCode::UNKNOWN_TOPIC, format!("no symbol {symbol:?} in this market")))
}

#[async_trait]
impl Handler for Ticker {
    type Join = ();
    type Message = TickerRequest;
    type Reply = Value;

    async fn subscribe(&self, ctx: &Context) -> Result<(), Refusal> {
        symbol_of(ctx.topic()).map(drop)
    }

    /// Symbols are feeds, not rooms: members joining and leaving would send every viewer presence events, which
    /// are not conflated.
    async fn join(&self, _ctx: &Context, _params: ()) -> Result<Joined<Value>, Refusal> {
        Err(Refusal::forbidden("subscribe to a symbol; it has no room to join"))
    }

    async fn message(&self, ctx: &Context, request: TickerRequest) -> Result<Option<Value>, Refusal> {
        let symbol = symbol_of(ctx.topic())?;
        match request {
            TickerRequest::History => {
                let points = lock(&self.market).series(symbol).unwrap_or_default();
                Ok(Some(json!({ "symbol": symbol, "points": points })))
            }
        }
    }
}

/// The ticker's hub: anonymous clients of the page's own origin, `ticker:*` conflated.
pub fn hub(market: &SharedMarket) -> Hub {
    Hub::builder()
        .authenticator(AllowAnonymous)
        .handler("ticker:*", Ticker { market: market.clone() })
        .conflate("ticker:*")
        .build()
        .expect("the ticker's topic pattern is valid")
}

/// A new market, seeded from the clock.
pub fn market() -> SharedMarket {
    Arc::new(Mutex::new(Market::new(now_ms())))
}

/// Moves the market every [`TICK`] and publishes each quote on its symbol's topic, until the hub shuts down.
pub async fn run_feed(hub: Hub, market: SharedMarket) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while !hub.is_shutting_down() {
        ticks.tick().await;
        let quotes = lock(&market).step(now_ms(), ACTIVITY);
        for quote in quotes {
            let topic = format!("ticker:{}", quote.symbol);
            if let Err(e) = hub.publish(&topic, &quote).await {
                tracing::warn!(%topic, error = %e, "could not publish a quote");
            }
        }
    }
}

/// The page, its script, the symbol list, counters, and the realtime endpoints under `/realtime`.
pub fn configure(hub: &Hub, stats: &WebSocketStats) -> impl FnOnce(&mut web::ServiceConfig) {
    let websocket = WebSocketConfig { stats: stats.clone(), ..Default::default() };
    let endpoint = tidings::Endpoint::new().websocket(websocket).scope("/realtime", hub);
    let state = web::Data::new((hub.clone(), stats.clone()));
    move |cfg| {
        cfg.app_data(state)
            .service(endpoint)
            .route("/", web::get().to(index))
            .route("/app.js", web::get().to(script))
            .route("/api/symbols", web::get().to(symbols))
            .route("/api/stats", web::get().to(stats_of));
    }
}

async fn index() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(include_str!("../static/index.html"))
}

async fn script() -> HttpResponse {
    HttpResponse::Ok().content_type("text/javascript; charset=utf-8").body(include_str!("../static/app.js"))
}

async fn symbols() -> HttpResponse {
    let list: Vec<_> = SYMBOLS.iter().map(|(symbol, name)| json!({ "symbol": symbol, "name": name })).collect();
    HttpResponse::Ok().json(list)
}

/// What the server did: the hub's metrics and the WebSocket compression counters (the browser test reads them).
async fn stats_of(state: web::Data<(Hub, WebSocketStats)>) -> HttpResponse {
    let (hub, stats) = state.get_ref();
    HttpResponse::Ok().json(json!({
        "hub": hub.metrics(),
        "websocket": { "compressed_messages_sent": stats.compressed_messages_sent() },
    }))
}

/// The market, even if a panic elsewhere poisoned its lock (its state is valid after any step).
fn lock(market: &SharedMarket) -> MutexGuard<'_, Market> {
    market.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings::testkit::TestClient;

    #[actix_rt::test]
    async fn quotes_flow_and_the_history_is_answered() {
        let market = Arc::new(Mutex::new(Market::new(1)));
        let hub = hub(&market);
        let mut client = TestClient::connect(&hub).await;
        client.subscribe("ticker:AAPL").await.unwrap();
        assert_eq!(client.subscribe("ticker:NOPE").await.unwrap_err().code, "unknown_topic");
        assert_eq!(client.join("ticker:MSFT", ()).await.unwrap_err().code, "forbidden");

        let feed = actix_rt::spawn(run_feed(hub.clone(), market.clone()));
        let quote = client.expect_broadcast("ticker:AAPL").await;
        assert_eq!(quote["symbol"], "AAPL");
        assert!(quote["bid"].as_f64() < quote["ask"].as_f64());
        assert_eq!(quote["book"]["bids"].as_array().unwrap().len(), 5);

        let history = client.message("ticker:AAPL", json!({ "type": "history" })).await.unwrap();
        assert_eq!(history["symbol"], "AAPL");
        assert!(!history["points"].as_array().unwrap().is_empty());
        assert_eq!(client.message("ticker:AAPL", json!({ "type": "sell" })).await.unwrap_err().code, "bad_payload");
        feed.abort();
    }
}
