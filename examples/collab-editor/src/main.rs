//! `cargo run -p collab-editor`, then open http://127.0.0.1:8082 in two windows (set `EDITOR_ADDR` to listen
//! elsewhere). Documents are saved in `collab-data/` (or `--data DIR`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer};
use collab_editor::documents::Documents;

#[actix_web::main]
#[expect(clippy::print_stdout, reason = "the listening address is the program's output, read by people and tests")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("EDITOR_ADDR").unwrap_or_else(|_| "127.0.0.1:8082".into());
    let data = data_dir()?;
    let documents = Arc::new(Documents::in_dir(&data)?);
    let hub = collab_editor::hub(&documents);
    let app_hub = hub.clone();
    let server = HttpServer::new(move || App::new().configure(collab_editor::configure(&app_hub)))
        .disable_signals()
        .tcp_nodelay(true)
        .bind(&addr)?;
    println!("collab-editor listening on http://{} (documents in {})", server.addrs()[0], data);
    let server = server.run();
    let saver = collab_editor::run_saver(hub.clone(), documents.clone(), Duration::from_millis(200));
    let saver = actix_web::rt::spawn(saver);

    // On Ctrl-C or SIGTERM: close the sessions (clients reconnect to the next server) and stop; then save what
    // the last messages changed, once nothing can change any more.
    actix_web::rt::spawn(tidings::shutdown_on_signal(hub, server.handle(), Duration::from_secs(3)));
    server.await?;
    saver.abort();
    let saved = documents.save_changed()?;
    tracing::info!(saved, "documents saved; stopped");
    Ok(())
}

/// `--data DIR`, or `collab-data` in the current directory.
fn data_dir() -> std::io::Result<String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok("collab-data".into()),
        (Some("--data"), Some(dir)) => Ok(dir),
        _ => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "usage: collab-editor [--data DIR]")),
    }
}
