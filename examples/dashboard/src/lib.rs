//! A live operations dashboard of a Tidings hub, fed by nothing but the hub's own metrics: every second a sampler
//! reads [`Hub::metrics`] and [`Hub::topics`] and publishes a snapshot on `metrics:hub`; the page charts them.
//! `/client` is a small page that subscribes to `demo:feed` (ten messages a second) over a chosen transport, so
//! that opening a few tabs makes the dashboard move.
//!
//! A library so that the tests can use the handlers and the web app.

pub mod sampler;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};
use tidings::{async_trait, AllowAnonymous, Context, Handler, Hub, Joined, Refusal};

use sampler::Sampler;

/// The topic the snapshots are published on.
pub const METRICS_TOPIC: &str = "metrics:hub";
/// The demo feed's topic.
pub const DEMO_TOPIC: &str = "demo:feed";

/// The sampler, shared by its task and the handler that answers history requests.
pub type SharedSampler = Arc<Mutex<Sampler>>;

/// The handler of `metrics:hub`: clients may subscribe, and ask for the recent snapshots.
pub struct MetricsTopic {
    sampler: SharedSampler,
}

/// What a client may ask `metrics:hub`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetricsRequest {
    /// The snapshots of the last five minutes.
    History,
}

#[async_trait]
impl Handler for MetricsTopic {
    type Join = ();
    type Message = MetricsRequest;
    type Reply = Value;

    async fn join(&self, _ctx: &Context, _params: ()) -> Result<Joined<Value>, Refusal> {
        Err(no_room())
    }

    async fn message(&self, _ctx: &Context, request: MetricsRequest) -> Result<Option<Value>, Refusal> {
        match request {
            MetricsRequest::History => Ok(Some(json!({ "snapshots": lock(&self.sampler).recent() }))),
        }
    }
}

/// The handler of `demo:*`: clients may subscribe, nothing else (publishing is refused by default).
pub struct DemoFeed;

#[async_trait]
impl Handler for DemoFeed {
    type Join = ();
    type Message = ();
    type Reply = ();

    async fn join(&self, _ctx: &Context, _params: ()) -> Result<Joined<()>, Refusal> {
        Err(no_room())
    }
}

/// Feeds, not rooms: members joining and leaving would send every viewer presence events.
fn no_room() -> Refusal {
    Refusal::forbidden("subscribe to this feed; it has no room to join")
}

/// The dashboard's hub: anonymous clients of the page's own origin; `metrics:hub` and `demo:*`.
pub fn hub(sampler: &SharedSampler) -> Hub {
    Hub::builder()
        .authenticator(AllowAnonymous)
        .handler(METRICS_TOPIC, MetricsTopic { sampler: sampler.clone() })
        .handler("demo:*", DemoFeed)
        .build()
        .expect("the dashboard's topic patterns are valid")
}

/// Samples the hub's metrics every `every` and publishes each snapshot, until the hub shuts down.
pub async fn run_sampler(hub: Hub, sampler: SharedSampler, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    while !hub.is_shutting_down() {
        ticks.tick().await;
        // Read before taking the lock: the readings walk every session and topic.
        let (metrics, topics) = (hub.metrics(), hub.topics());
        let snapshot = lock(&sampler).sample(metrics, topics, now_ms());
        if let Err(e) = hub.publish(METRICS_TOPIC, &snapshot).await {
            tracing::warn!(error = %e, "could not publish a metrics snapshot");
        }
    }
}

/// Publishes a small message on `demo:feed` ten times a second, until the hub shuts down.
pub async fn run_demo_feed(hub: Hub) {
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    let mut n: u64 = 0;
    while !hub.is_shutting_down() {
        ticks.tick().await;
        n += 1;
        if let Err(e) = hub.publish(DEMO_TOPIC, &json!({ "n": n, "time": now_ms() })).await {
            tracing::warn!(error = %e, "could not publish to the demo feed");
        }
    }
}

/// The dashboard page, the demo client page, and the realtime endpoints under `/realtime`.
pub fn configure(hub: &Hub) -> impl FnOnce(&mut web::ServiceConfig) + '_ {
    move |cfg| {
        cfg.service(tidings::scope("/realtime", hub))
            .route("/", web::get().to(|| page("text/html; charset=utf-8", include_str!("../static/index.html"))))
            .route("/client", web::get().to(|| page("text/html; charset=utf-8", include_str!("../static/client.html"))))
            .route(
                "/app.js",
                web::get().to(|| page("text/javascript; charset=utf-8", include_str!("../static/app.js"))),
            )
            .route(
                "/uPlot.min.css",
                web::get().to(|| page("text/css; charset=utf-8", include_str!("../static/uPlot.min.css"))),
            );
    }
}

async fn page(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}

fn lock(sampler: &SharedSampler) -> MutexGuard<'_, Sampler> {
    sampler.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tidings::testkit::TestClient;

    #[actix_rt::test]
    async fn snapshots_count_the_hubs_own_sessions_and_topics() {
        let sampler = SharedSampler::default();
        let hub = hub(&sampler);
        let mut watcher = TestClient::connect(&hub).await;
        watcher.subscribe(METRICS_TOPIC).await.unwrap();
        let mut reader = TestClient::connect(&hub).await;
        reader.subscribe(DEMO_TOPIC).await.unwrap();

        let task = actix_rt::spawn(run_sampler(hub.clone(), sampler.clone(), Duration::from_millis(50)));
        let snapshot = watcher.expect_broadcast(METRICS_TOPIC).await;
        assert_eq!(snapshot["sessions"], 2);
        assert_eq!(snapshot["connections"]["in-process"], 2);
        assert_eq!(snapshot["connections"]["websocket"], 0);
        let topics = snapshot["topics"].as_array().unwrap();
        assert!(topics.iter().any(|t| t["topic"] == DEMO_TOPIC && t["subscribers"] == 1), "{topics:?}");

        assert_eq!(reader.join(DEMO_TOPIC, ()).await.unwrap_err().code, "forbidden");
        assert_eq!(reader.publish(DEMO_TOPIC, "spam").await.unwrap_err().code, "forbidden");
        let history = watcher.message(METRICS_TOPIC, json!({ "type": "history" })).await.unwrap();
        assert!(!history["snapshots"].as_array().unwrap().is_empty());
        task.abort();
    }
}
