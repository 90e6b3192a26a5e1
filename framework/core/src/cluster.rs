//! Serving a session from any node: where a session lives, and requests forwarded to the node that holds it.
//!
//! A streaming connection (WebSocket, SSE) stays on one node for its life. A long-polling client makes a new request
//! for every poll and every send, and a load balancer without sticky sessions spreads them over the nodes. The node
//! a request lands on finds the session's node ([`Hub::locate_session`]) and forwards the request there over the
//! broker's control channel ([`Hub::forward`]), where a [`ForwardService`] registered by the transport answers it
//! as if the request had arrived locally.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::broker::{BrokerError, ForwardFuture};
use crate::hub::Hub;

/// Answers requests that other nodes forward to this one (see the module docs). Registered with
/// [`Hub::serve_forwarded`]; implemented for closures.
///
/// ```
/// use tidings_core::{ForwardFuture, Hub};
/// let hub = Hub::builder().build().unwrap();
/// hub.serve_forwarded("echo", |_hub: Hub, body: bytes::Bytes| -> ForwardFuture { Box::pin(async move { Ok(body) }) });
/// ```
pub trait ForwardService: Send + Sync + 'static {
    /// Answers one forwarded request.
    fn call(&self, hub: Hub, body: Bytes) -> ForwardFuture;
}

impl<F> ForwardService for F
where
    F: Fn(Hub, Bytes) -> ForwardFuture + Send + Sync + 'static,
{
    fn call(&self, hub: Hub, body: Bytes) -> ForwardFuture {
        self(hub, body)
    }
}

impl Hub {
    /// Registers the handler of requests forwarded to this node for `service` (replacing an earlier one).
    pub fn serve_forwarded(&self, service: &'static str, handler: impl ForwardService) {
        self.inner.forward_services.insert(service, Arc::new(handler));
    }

    /// The other node that holds session `id`, when the broker spans several nodes and knows it.
    pub async fn locate_session(&self, id: &str) -> Result<Option<String>, BrokerError> {
        self.broker().locate_session(id).await
    }

    /// Forwards a request to `service` on `node`, waiting up to `timeout` for the answer.
    pub async fn forward(
        &self,
        node: &str,
        service: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, BrokerError> {
        self.broker().forward(node, service, body, timeout).await
    }
}
