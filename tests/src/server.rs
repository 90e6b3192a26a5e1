//! A Tidings server on its own thread and actix system, on 127.0.0.1 and a port the OS picks.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::{App, HttpServer};
use tidings::Hub;

/// A running server; stopped when dropped.
pub struct TestServer {
    /// The hub it serves (publish to it, inspect it, shut it down).
    pub hub: Hub,
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Serves `hub` at `/realtime`, with two workers.
    pub fn start(hub: Hub) -> TestServer {
        TestServer::start_with(hub, |hub| tidings::scope("/realtime", hub))
    }

    /// Serves whatever `scope` builds for `hub` (called once per worker).
    pub fn start_with<F>(hub: Hub, scope: F) -> TestServer
    where
        F: Fn(&Hub) -> actix_web::Scope + Send + Clone + 'static,
    {
        let (ready_tx, ready) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = hub.clone();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || App::new().service(scope.clone()(&served)))
                    .workers(2)
                    .tcp_nodelay(true)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .bind(("127.0.0.1", 0))
                    .expect("bind a loopback port");
                ready_tx.send(server.addrs()[0]).expect("test is waiting");
                let server = server.run();
                let handle = server.handle();
                let running = actix_rt::spawn(server);
                let _ = stopped.await;
                handle.stop(false).await;
                let _ = running.await;
            });
        });
        let addr = ready.recv().expect("server started");
        TestServer { hub, addr, stop: Some(stop), thread: Some(thread) }
    }

    /// The HTTP base of the endpoint (`http://ADDR/realtime`): the SSE, long-polling and send endpoints are below it.
    pub fn base_url(&self) -> String {
        format!("http://{}/realtime", self.addr)
    }

    /// The WebSocket URL of the endpoint.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/realtime/ws", self.addr)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
