//! TLS for `https://` and `wss://` servers (the `tls` feature).
//!
//! The client brings its own rustls configuration (ring backend, the operating system's trust store) to both
//! reqwest and the WebSocket connector, rather than relying on a process-wide rustls provider. That matters even
//! for plain `http://`: when another crate of the application enables reqwest's `rustls-no-provider` (the JWT
//! adapter does), reqwest sets up rustls for every client it builds, and panics if none is given nor installed.

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::Error;

/// The TLS settings every connection of one client uses.
#[derive(Clone)]
pub(crate) struct Tls {
    #[cfg(feature = "tls")]
    config: std::sync::Arc<rustls::ClientConfig>,
}

impl Tls {
    #[cfg(feature = "tls")]
    pub(crate) fn new() -> Result<Tls, Error> {
        use rustls_platform_verifier::BuilderVerifierExt;

        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|config| config.with_platform_verifier())
            .map_err(|e| Error::Connect(format!("TLS setup failed: {e}")))?
            .with_no_client_auth();
        Ok(Tls { config: std::sync::Arc::new(config) })
    }

    #[cfg(not(feature = "tls"))]
    pub(crate) fn new() -> Result<Tls, Error> {
        Ok(Tls {})
    }

    /// The HTTP client of the SSE and long-polling transports.
    pub(crate) fn http_client(&self) -> Result<reqwest::Client, Error> {
        let builder = reqwest::Client::builder();
        #[cfg(feature = "tls")]
        let builder = builder.tls_backend_preconfigured((*self.config).clone());
        builder.build().map_err(|e| Error::Connect(format!("HTTP client setup failed: {e}")))
    }

    /// Opens a WebSocket (TLS for `wss://`).
    pub(crate) async fn connect_websocket(
        &self,
        request: Request,
    ) -> Result<(WebSocketStream<MaybeTlsStream<TcpStream>>, Response), tokio_tungstenite::tungstenite::Error> {
        #[cfg(feature = "tls")]
        {
            let connector = Some(tokio_tungstenite::Connector::Rustls(self.config.clone()));
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector).await
        }
        #[cfg(not(feature = "tls"))]
        tokio_tungstenite::connect_async(request).await
    }
}
