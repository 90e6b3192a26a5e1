//! What is logged about tokens: every refusal with its reason, transport and peer; never a token.
//!
//! In a test binary of its own: tracing caches, per log statement, whether any subscriber wants it, and tests
//! running in parallel without a subscriber would make that cache say no.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use tidings_core::ConnectRequest;

fn request(transport: &'static str, query: &str) -> ConnectRequest {
    ConnectRequest::new(transport, Some([192, 0, 2, 7].into()), query)
}

/// Collects what the log says.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refusals_are_logged_with_reason_transport_and_peer_but_never_the_token() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let auth = hs256_authenticator(|b| b);
    let expired = hs256(&serde_json::json!({"sub": "ann", "exp": now() - 3600}));
    let good = hs256(&claims("ann"));
    refused(&auth, &request("sse", "").with_header("Authorization", &format!("Bearer {expired}"))).await;
    refused(&auth, &request("longpoll", &format!("access_token={good}"))).await;
    accepted(&auth, &request("websocket", "").with_header("Sec-WebSocket-Protocol", &format!("tidings.token.{good}")))
        .await;

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(lines[0].contains("INFO") && lines[0].contains("refused a connection"), "{log}");
    assert!(lines[0].contains("reason=token expired") && lines[0].contains("transport=\"sse\""), "{log}");
    assert!(lines[0].contains("peer=\"192.0.2.7\"") && lines[0].contains("source=authorization header"), "{log}");
    assert!(
        lines[1].contains("reason=query tokens are disabled") && lines[1].contains("transport=\"longpoll\""),
        "{log}"
    );
    assert!(lines[2].contains("token accepted") && lines[2].contains("user=\"ann\""), "{log}");
    for token in [&expired, &good] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!log.contains(signature), "the log shows a token: {log}");
    }
}
