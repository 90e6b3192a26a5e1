//! A WebSocket echo endpoint on the Tidings codec (`tidings::websocket::upgrade`): the server of the Autobahn
//! TestSuite run (`ws-echo`) and of the tests that push the codec's flow control.

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
    actix_web::rt::spawn(async move {
        loop {
            let sent = match ws.recv().await {
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
        }
    });
    response
}
