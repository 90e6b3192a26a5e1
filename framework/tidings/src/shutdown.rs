//! Graceful shutdown of an actix-web server that serves a hub.

use std::time::Duration;

use actix_web::dev::ServerHandle;
use tidings_core::Hub;

/// Waits for Ctrl-C (SIGINT) or, on Unix, SIGTERM, then shuts down gracefully: every session is closed with
/// 1001 "going away" (clients reconnect, to this server when it comes back or to another node) and given up to
/// `timeout` to finish its close handshake, then the server stops. A second signal meanwhile stops the server at
/// once. (Sessions whose client is away, waiting for it to resume, hold out to the end of `timeout`: their close
/// is delivered if the client comes back in time.) Start the server with `.disable_signals()` so that actix-web
/// does not stop it first, and spawn this next to it:
///
/// ```no_run
/// use std::time::Duration;
/// use actix_web::{App, HttpServer};
/// # #[actix_web::main]
/// # async fn main() -> std::io::Result<()> {
/// let hub = tidings::Hub::builder().build().unwrap();
/// let app_hub = hub.clone();
/// let server = HttpServer::new(move || App::new().service(tidings::scope("/realtime", &app_hub)))
///     .disable_signals()
///     .bind("127.0.0.1:8080")?
///     .run();
/// actix_web::rt::spawn(tidings::shutdown_on_signal(hub, server.handle(), Duration::from_secs(5)));
/// server.await
/// # }
/// ```
pub async fn shutdown_on_signal(hub: Hub, server: ServerHandle, timeout: Duration) {
    stop_signal().await;
    tracing::info!("stop signal received: closing sessions, then stopping the server");
    let graceful = async {
        let left = hub.shutdown(timeout).await;
        if left > 0 {
            tracing::info!(sessions = left, "sessions still open when the shutdown timeout ran out");
        }
        server.stop(true).await;
    };
    tokio::select! {
        () = graceful => {}
        () = stop_signal() => {
            tracing::warn!("second stop signal: stopping now");
            server.stop(false).await;
        }
    }
}

#[cfg(unix)]
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "no SIGTERM handler; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn stop_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
