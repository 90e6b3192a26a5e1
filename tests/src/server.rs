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
        TestServer::start_on(hub, None, scope)
    }

    /// Like [`TestServer::start_with`], with the kernel buffers of every accepted socket set to `buffer` bytes
    /// each way (they inherit the listener's), so that a few kilobytes fill a connection.
    pub fn start_small_buffers<F>(hub: Hub, buffer: u32, scope: F) -> TestServer
    where
        F: Fn(&Hub) -> actix_web::Scope + Send + Clone + 'static,
    {
        TestServer::start_on(hub, Some(buffer), scope)
    }

    fn start_on<F>(hub: Hub, buffer: Option<u32>, scope: F) -> TestServer
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
                    .shutdown_timeout(1);
                let server = match buffer {
                    None => server.bind(("127.0.0.1", 0)),
                    Some(buffer) => server.listen(small_buffer_listener(buffer)),
                }
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

/// A loopback listener whose accepted sockets get kernel buffers of `buffer` bytes each way.
fn small_buffer_listener(buffer: u32) -> std::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(buffer).expect("SO_SNDBUF");
    socket.set_recv_buffer_size(buffer).expect("SO_RCVBUF");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind a loopback port");
    socket.listen(1024).expect("listen").into_std().expect("a std listener")
}
