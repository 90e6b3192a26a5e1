//! A WebSocket echo endpoint on the Tidings codec (`tidings::websocket::upgrade`): the server of the Autobahn
//! TestSuite run (`ws-echo`) and of the tests that push the codec's flow control.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};
use tidings::websocket::{upgrade, Incoming, OpCode, WebSocketConfig};

/// The largest message the echo accepts: the Autobahn cases send up to 16 MiB.
pub const MAX_MESSAGE: usize = 64 << 20;

/// Upgrades to a connection that sends every text and binary message back as it came, one at a time.
///
/// Mount it with the `WebSocketConfig` as app data: `.app_data(web::Data::new(config)).route("/", web::get().to(echo))`.
pub async fn echo(req: HttpRequest, payload: web::Payload, config: web::Data<WebSocketConfig>) -> HttpResponse {
    let (response, mut ws) = match upgrade(&req, payload, &config, MAX_MESSAGE) {
        Ok(upgraded) => upgraded,
        Err(refusal) => return refusal.response(),
    };
    let progress = Progress::register();
    actix_web::rt::spawn(async move {
        loop {
            progress.now(false);
            let received = ws.recv().await;
            progress.now(true);
            let sent = match received {
                Ok(Some(Incoming::Text(text))) => ws.send(OpCode::Text, &text).await,
                Ok(Some(Incoming::Binary(data))) => ws.send(OpCode::Binary, &data).await,
                Ok(None) => break,
                Err(tidings::TransportError::Close(close)) => {
                    ws.close(close).await;
                    break;
                }
                Err(tidings::TransportError::Lost(_)) => break,
            };
            if sent.is_err() {
                break;
            }
            progress.messages.fetch_add(1, Ordering::Relaxed);
        }
    });
    response
}

/// What one echo connection is doing, for [`watch_for_stalls`].
struct Progress {
    id: u64,
    /// Messages echoed.
    messages: AtomicU64,
    /// Whether it waits to send an echo (else to receive a message).
    sending: AtomicBool,
    /// When it started waiting.
    since: Mutex<Instant>,
}

/// Every echo connection of the process (dropped ones are pruned by the watchdog).
static CONNECTIONS: Mutex<Vec<Weak<Progress>>> = Mutex::new(Vec::new());

impl Progress {
    fn register() -> Arc<Progress> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let progress = Arc::new(Progress {
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            messages: AtomicU64::new(0),
            sending: AtomicBool::new(false),
            since: Mutex::new(Instant::now()),
        });
        CONNECTIONS.lock().expect("not poisoned").push(Arc::downgrade(&progress));
        progress
    }

    fn now(&self, sending: bool) {
        self.sending.store(sending, Ordering::Relaxed);
        *self.since.lock().expect("not poisoned") = Instant::now();
    }
}

/// Reports, every `every`, each echo connection that has waited longer than `stalled_after` to receive or to send,
/// on stderr: whether a stalled Autobahn case waits for our read or our write, and after how many messages.
/// Call it once, on the server's runtime.
pub fn watch_for_stalls(every: Duration, stalled_after: Duration) {
    actix_web::rt::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let mut connections = CONNECTIONS.lock().expect("not poisoned");
            connections.retain(|c| c.strong_count() > 0);
            for progress in connections.iter().filter_map(Weak::upgrade) {
                let waited = progress.since.lock().expect("not poisoned").elapsed();
                if waited > stalled_after {
                    let what = if progress.sending.load(Ordering::Relaxed) { "send an echo" } else { "receive" };
                    let messages = progress.messages.load(Ordering::Relaxed);
                    eprintln!(
                        "stalled: echo connection {} has waited {:.0} s to {what}, after {messages} messages",
                        progress.id,
                        waited.as_secs_f64()
                    );
                }
            }
        }
    });
}
