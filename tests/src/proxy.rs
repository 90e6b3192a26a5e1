//! A TCP proxy standing in for a load balancer: new connections go to the current backend, and switching backends
//! cuts the connections open at that moment (as a node failing over would).

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A running proxy on 127.0.0.1; stops when dropped.
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept: JoinHandle<()>,
}

struct State {
    backend: SocketAddr,
    connections: Vec<JoinHandle<()>>,
}

impl Proxy {
    /// Starts forwarding to `backend`.
    pub async fn start(backend: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound");
        let state = Arc::new(Mutex::new(State { backend, connections: Vec::new() }));
        let accepting = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let backend = accepting.lock().backend;
                let connection = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(backend).await {
                        let mut client = client;
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut state = accepting.lock();
                state.connections.retain(|c| !c.is_finished());
                state.connections.push(connection);
            }
        });
        Proxy { addr, state, accept }
    }

    /// Sends new connections to `backend`, and cuts every open one.
    pub fn switch(&self, backend: SocketAddr) {
        let mut state = self.state.lock();
        state.backend = backend;
        for connection in state.connections.drain(..) {
            connection.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for connection in self.state.lock().connections.drain(..) {
            connection.abort();
        }
    }
}
