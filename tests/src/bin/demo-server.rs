//! The demo hub (`news:*`, `open:*`, `secret:*`, `calc`, `room:*`) over every transport, with control endpoints
//! for the JavaScript client's tests.
//!
//! `demo-server [--resume-window-ms N] [--addr ADDR]` (default 127.0.0.1:0). Prints `listening on http://ADDR`.
//! - `/realtime/{ws,sse,poll,send,tidings.js}`: the Tidings endpoints;
//! - `POST /control/publish?topic=T` with a JSON body: publishes it, answers the position;
//! - `POST /control/drop?session=ID`: drops that session's connection as a network failure would (204, or 404);
//! - `GET /control/sessions`: `{"count": N}`, the live sessions.

use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use tidings::{Hub, HubConfig, ResumeFrom};
use tidings_tests::handlers::demo_hub;

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

async fn sessions(hub: web::Data<Hub>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "count": hub.session_count() }))
}

#[derive(serde::Deserialize)]
struct Topic {
    topic: String,
}

#[expect(clippy::print_stdout, reason = "the address is this program's output, for the test that started it")]
fn main() -> std::io::Result<()> {
    let mut config = HubConfig::default();
    let mut addr = "127.0.0.1:0".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--resume-window-ms", Some(ms)) => {
                config.resume_window = Duration::from_millis(ms.parse().expect("--resume-window-ms takes a number"));
            }
            ("--addr", Some(a)) => addr = a,
            _ => panic!("usage: demo-server [--resume-window-ms N] [--addr ADDR]"),
        }
    }
    actix_rt::System::new().block_on(async move {
        let hub = demo_hub(config);
        let served = hub.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(served.clone()))
                .service(tidings::scope("/realtime", &served))
                .route("/control/publish", web::post().to(publish))
                .route("/control/drop", web::post().to(drop_connection))
                .route("/control/sessions", web::get().to(sessions))
        })
        .workers(2)
        .bind(addr)?;
        println!("listening on http://{}", server.addrs()[0]);
        server.run().await
    })
}
