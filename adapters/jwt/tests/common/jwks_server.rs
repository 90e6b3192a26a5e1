//! A tiny JWKS server on 127.0.0.1 for the URL tests: answers every request with the document of the moment, and
//! counts the requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm as J, EncodingKey};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The public JWK of a private key, with a `kid`.
pub(crate) fn jwk(private: &EncodingKey, alg: J, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(private, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).unwrap()
}

/// `{"keys": [...]}`.
pub(crate) fn jwks(keys: impl IntoIterator<Item = Value>) -> String {
    json!({"keys": keys.into_iter().collect::<Vec<_>>()}).to_string()
}

/// The server; stops when dropped.
pub(crate) struct JwksServer {
    url: String,
    response: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl JwksServer {
    pub(crate) async fn start(document: String) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let response = Arc::new(Mutex::new((200, document)));
        let hits = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(serve(listener, response.clone(), hits.clone()));
        JwksServer { url, response, hits, task }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Serves `document` from now on.
    pub(crate) fn serve(&self, document: String) {
        *self.response.lock().unwrap() = (200, document);
    }

    /// Answers 500 from now on.
    pub(crate) fn fail(&self) {
        *self.response.lock().unwrap() = (500, "{\"error\": \"down for maintenance\"}".into());
    }

    /// How many requests were answered so far.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits until more than `count` requests were answered (within a bound, so a test cannot hang here).
    pub(crate) async fn wait_for_hits_above(&self, count: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while self.hits() <= count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the JWKS server was not asked again");
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, response: Arc<Mutex<(u16, String)>>, hits: Arc<AtomicUsize>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let (status, body) = response.lock().unwrap().clone();
        let hits = hits.clone();
        tokio::spawn(async move {
            if answer(stream, status, &body).await.is_ok() {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
}

/// Reads one request head and answers it, closing the connection.
async fn answer(mut stream: TcpStream, status: u16, body: &str) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await??;
        if read == 0 || head.len() > 16 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}
