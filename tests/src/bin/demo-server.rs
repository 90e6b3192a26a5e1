//! The demo hub (`news:*`, `open:*`, `secret:*`, `calc`, `room:*`) over every transport, with control endpoints
//! for the JavaScript client's tests.
//!
//! `demo-server [--resume-window-ms N] [--heartbeat-ms N] [--addr ADDR] [--jwt-secret SECRET [--query-tokens]]
//! [--redis URL [--presence-ttl-ms N]]` (default 127.0.0.1:0, anonymous clients). Prints `listening on http://ADDR`. With `--jwt-secret`, clients need an HS256
//! token signed with it (`--query-tokens` also takes them from `?access_token=`).
//! With `--redis`, the hub runs on the Redis broker and presence (a node of a cluster; `--presence-ttl-ms` sets
//! how soon its members vanish when it is killed).
//! - `/realtime/{ws,sse,poll,send,tidings.js}`: the Tidings endpoints;
//! - `POST /control/publish?topic=T` with a JSON body: publishes it, answers the position;
//! - `POST /control/drop?session=ID`: drops that session's connection as a network failure would (204, or 404);
//! - `GET /control/sessions`: `{"count": N}`, the live sessions;
//! - `GET /control/token?user=U&ttl_ms=N[&topics=a,b]`: with `--jwt-secret`, a token for `U` that expires in `N` ms.

use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use tidings::{AllowAnonymous, Hub, HubConfig, ResumeFrom};
use tidings_jwt::{Algorithm, JwtAuthenticator, Key};
use tidings_redis::{RedisBroker, RedisConfig};
use tidings_tests::handlers::demo_builder;

async fn publish(hub: web::Data<Hub>, query: web::Query<Topic>, body: web::Json<serde_json::Value>) -> HttpResponse {
    match hub.publish(&query.topic, &body.into_inner()).await {
        Ok(position) => HttpResponse::Ok().json(position),
        Err(e) => HttpResponse::BadRequest().body(e.to_string()),
    }
}

async fn drop_connection(hub: web::Data<Hub>, req: actix_web::HttpRequest) -> HttpResponse {
    let session = ResumeFrom::from_query(req.query_string()).ok().flatten().and_then(|r| hub.session(&r.session));
    match session {
        Some(session) if hub.drop_connection(session.id()) => HttpResponse::NoContent().finish(),
        _ => HttpResponse::NotFound().body("no such session with a connection"),
    }
}

/// The HS256 secret, when the server runs with JWT authentication.
struct Secret(Option<String>);

#[derive(serde::Deserialize)]
struct TokenRequest {
    user: String,
    ttl_ms: u64,
    topics: Option<String>,
}

async fn mint(secret: web::Data<Secret>, query: web::Query<TokenRequest>) -> HttpResponse {
    let Some(secret) = &secret.0 else { return HttpResponse::NotFound().body("no --jwt-secret") };
    let exp = std::time::SystemTime::now() + Duration::from_millis(query.ttl_ms);
    let exp = exp.duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    let mut claims = serde_json::json!({ "sub": query.user, "exp": exp });
    if let Some(topics) = &query.topics {
        claims["topics"] = topics.split(',').collect::<Vec<_>>().into();
    }
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    match jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key) {
        Ok(token) => HttpResponse::Ok().body(token),
        Err(e) => HttpResponse::InternalServerError().body(e.to_string()),
    }
}

async fn sessions(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "count": hub.session_count() }))
}

#[derive(serde::Deserialize)]
struct Topic {
    topic: String,
}

#[expect(clippy::print_stdout, reason = "the address is this program's output, for the test that started it")]
fn main() -> std::io::Result<()> {
    // Logs go to stderr: stdout carries the listening address, which the tests read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let mut config = HubConfig::default();
    let mut addr = "127.0.0.1:0".to_owned();
    let (mut secret, mut query_tokens) = (None, false);
    let (mut redis, mut presence_ttl) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--query-tokens" {
            query_tokens = true;
            continue;
        }
        match (arg.as_str(), args.next()) {
            ("--resume-window-ms", Some(ms)) => {
                config.resume_window = Duration::from_millis(ms.parse().expect("--resume-window-ms takes a number"));
            }
            ("--addr", Some(a)) => addr = a,
            ("--heartbeat-ms", Some(ms)) => {
                config.heartbeat = Duration::from_millis(ms.parse().expect("--heartbeat-ms takes a number"));
            }
            ("--jwt-secret", Some(s)) => secret = Some(s),
            ("--redis", Some(url)) => redis = Some(url),
            ("--presence-ttl-ms", Some(ms)) => {
                presence_ttl = Some(Duration::from_millis(ms.parse().expect("--presence-ttl-ms takes a number")));
            }
            _ => panic!(
                "usage: demo-server [--resume-window-ms N] [--heartbeat-ms N] [--addr ADDR] [--jwt-secret S [--query-tokens]] \
                 [--redis URL [--presence-ttl-ms N]]"
            ),
        }
    }
    actix_rt::System::new().block_on(async move {
        let mut builder = demo_builder(config);
        if let Some(url) = redis {
            let mut redis_config = RedisConfig::new(url);
            if let Some(ttl) = presence_ttl {
                redis_config.presence_ttl = ttl;
            }
            let broker = RedisBroker::connect(redis_config).await.map_err(std::io::Error::other)?;
            builder = builder.presence(broker.presence()).broker(broker);
        }
        let hub = match &secret {
            None => builder.authenticator(AllowAnonymous).build().expect("valid patterns"),
            Some(secret) => {
                let key = Key::hmac(secret.as_bytes()).expect("--jwt-secret of at least 32 bytes");
                let jwt = JwtAuthenticator::builder()
                    .algorithms([Algorithm::HS256])
                    .key(key)
                    .query_tokens(query_tokens)
                    .build()
                    .expect("a valid JWT configuration");
                builder.authenticator(jwt).build().expect("valid patterns")
            }
        };
        let served = hub.clone();
        let secret = web::Data::new(Secret(secret));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(served.clone()))
                .app_data(secret.clone())
                .route("/control/token", web::get().to(mint))
                .service(tidings::scope("/realtime", &served))
                .route("/control/publish", web::post().to(publish))
                .route("/control/drop", web::post().to(drop_connection))
                .route("/control/sessions", web::get().to(sessions))
        })
        .workers(2)
        .tcp_nodelay(true)
        .bind(addr)?;
        println!("listening on http://{}", server.addrs()[0]);
        server.run().await
    })
}
