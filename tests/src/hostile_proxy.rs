//! An HTTP proxy that behaves like the corporate proxies real-time clients meet: it refuses WebSocket upgrades, or
//! accepts them and never answers, buffers streamed responses (so Server-Sent Events never flow), holds a stream
//! after its first bytes, and cuts idle connections. Each behaviour is chosen per test, and can change while the
//! proxy runs (new connections see the new [`Profile`]), so that a test can let WebSockets through later.
//!
//! It speaks just enough HTTP/1.1 for that: it reads each request's head, forwards it with `Connection: close` (one
//! request per connection both ways, so that the end of a response is the end of its connection, which is how the
//! buffering knows a response is complete), and copies bodies as they come. Loopback only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does with a WebSocket upgrade request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upgrades {
    /// Forwards it, and then the connection's bytes both ways.
    Allow,
    /// Answers `403 Forbidden` at once.
    Refuse,
    /// Accepts the connection, reads the request, and never answers (nor forwards it).
    Hang,
}

/// How the proxy treats the connections it accepts from now on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// WebSocket upgrade requests.
    pub upgrades: Upgrades,
    /// Holds each plain HTTP response until this many bytes of it arrived, or it ended (`None`: passes bytes on
    /// as they come). 256 KiB is what the buffering proxies seen in the wild hold.
    pub buffer_responses: Option<usize>,
    /// On streams (upgraded connections, event streams): passes this many bytes from the server after the
    /// response head (or the upgrade's 101), and then holds everything else: a stream that opens and stops flowing.
    pub stall_after: Option<usize>,
    /// Cuts a connection that carried nothing either way for this long.
    pub idle_cut: Option<Duration>,
}

impl Profile {
    /// Passes everything through: a well-behaved proxy.
    pub fn transparent() -> Profile {
        Profile { upgrades: Upgrades::Allow, buffer_responses: None, stall_after: None, idle_cut: None }
    }

    /// Refuses WebSocket upgrades with 403 and buffers responses up to 256 KiB: WebSocket fails at once, SSE never
    /// flows, long polling works.
    pub fn corporate() -> Profile {
        Profile { upgrades: Upgrades::Refuse, buffer_responses: Some(256 * 1024), ..Profile::transparent() }
    }

    /// Parses a profile from `key=value` words: `upgrades=allow|refuse|hang`, `buffer=BYTES|off`,
    /// `stall-after=BYTES|off`, `idle-cut=SECONDS|off`; or one of the names `transparent`, `corporate`. Words
    /// apply in order over [`Profile::transparent`].
    ///
    /// ```
    /// use tidings_tests::hostile_proxy::{Profile, Upgrades};
    /// let profile = Profile::parse("upgrades=hang buffer=262144").unwrap();
    /// assert_eq!(profile.upgrades, Upgrades::Hang);
    /// assert_eq!(profile.buffer_responses, Some(262144));
    /// assert!(Profile::parse("upgrades=maybe").is_err());
    /// ```
    pub fn parse(words: &str) -> Result<Profile, String> {
        let mut profile = Profile::transparent();
        for word in words.split_whitespace() {
            profile.apply(word)?;
        }
        Ok(profile)
    }

    /// Changes one setting (see [`Profile::parse`]).
    pub fn apply(&mut self, word: &str) -> Result<(), String> {
        let bytes = |value: &str| -> Result<Option<usize>, String> {
            if value == "off" {
                return Ok(None);
            }
            value.parse().map(Some).map_err(|_| format!("{word}: expected a byte count or off"))
        };
        match word.split_once('=') {
            None if word == "transparent" => *self = Profile::transparent(),
            None if word == "corporate" => *self = Profile::corporate(),
            Some(("upgrades", "allow")) => self.upgrades = Upgrades::Allow,
            Some(("upgrades", "refuse")) => self.upgrades = Upgrades::Refuse,
            Some(("upgrades", "hang")) => self.upgrades = Upgrades::Hang,
            Some(("buffer", value)) => self.buffer_responses = bytes(value)?,
            Some(("stall-after", value)) => self.stall_after = bytes(value)?,
            Some(("idle-cut", "off")) => self.idle_cut = None,
            Some(("idle-cut", value)) => {
                let seconds: f64 = value.parse().map_err(|_| format!("{word}: expected seconds or off"))?;
                self.idle_cut = Some(Duration::from_secs_f64(seconds));
            }
            _ => return Err(format!("unknown proxy setting {word:?}")),
        }
        Ok(())
    }
}

/// A running proxy on 127.0.0.1 in front of one backend; stops when dropped.
pub struct HostileProxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    profile: Arc<Mutex<Profile>>,
    accept: JoinHandle<()>,
}

impl HostileProxy {
    /// Starts proxying to `backend` with `profile`.
    pub async fn start(backend: SocketAddr, profile: Profile) -> std::io::Result<HostileProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let profile = Arc::new(Mutex::new(profile));
        let current = profile.clone();
        let accept = tokio::spawn(async move {
            let connections = Arc::new(Mutex::new(Vec::<JoinHandle<()>>::new()));
            while let Ok((client, _)) = listener.accept().await {
                let profile = current.lock().clone();
                let handle = tokio::spawn(async move {
                    if let Err(error) = serve(client, backend, profile).await {
                        tracing::debug!(%error, "proxied connection ended");
                    }
                });
                let mut open = connections.lock();
                open.retain(|task| !task.is_finished());
                open.push(handle);
            }
        });
        Ok(HostileProxy { addr, profile, accept })
    }

    /// The base URL of the proxy: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how connections accepted from now on are treated.
    pub fn set_profile(&self, profile: Profile) {
        *self.profile.lock() = profile;
    }
}

impl Drop for HostileProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The most a request or response head may take.
const MAX_HEAD: usize = 64 * 1024;

async fn serve(mut client: TcpStream, backend: SocketAddr, profile: Profile) -> std::io::Result<()> {
    let activity = Arc::new(Activity::new());
    let (head, rest) = read_head(&mut client).await?;
    activity.touch();
    let upgrade = header(&head, "upgrade").is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if upgrade {
        match profile.upgrades {
            Upgrades::Refuse => {
                let body = "WebSocket upgrades are not allowed by this proxy\n";
                let response = format!(
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                client.write_all(response.as_bytes()).await?;
                return client.shutdown().await;
            }
            Upgrades::Hang => {
                // Read and drop whatever comes, until the client gives up (or the idle cut does).
                let drain = async {
                    let mut sink = [0u8; 4096];
                    while client.read(&mut sink).await.unwrap_or(0) > 0 {}
                };
                return idle_bounded(drain, &activity, profile.idle_cut).await;
            }
            Upgrades::Allow => {}
        }
    }
    let mut server = TcpStream::connect(backend).await?;
    let head = if upgrade { head } else { with_connection_close(&head) };
    server.write_all(&head).await?;
    server.write_all(&rest).await?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // The response's end is the exchange's end: a client that has sent its request may still be reading.
    let up = tokio::spawn(copy(client_read, server_write, activity.clone(), None));
    let down = async {
        let _ = downstream(server_read, client_write, activity.clone(), &profile, !upgrade).await;
    };
    let result = idle_bounded(down, &activity, profile.idle_cut).await;
    up.abort();
    result
}

/// Server to client: the response head (rewritten to `Connection: close` for plain HTTP), then the body, buffered
/// or held as the profile says.
async fn downstream(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    activity: Arc<Activity>,
    profile: &Profile,
    plain_http: bool,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut from).await?;
    activity.touch();
    let streamed =
        !plain_http || header(&head, "content-type").is_some_and(|value| value.starts_with("text/event-stream"));
    let mut pending = if plain_http { with_connection_close(&head) } else { head };
    let head_len = pending.len();
    pending.extend_from_slice(&rest);
    if let (true, Some(limit)) = (plain_http, profile.buffer_responses) {
        // Hold everything until `limit` bytes of body or the end of the response.
        let mut chunk = vec![0u8; 16 * 1024];
        while pending.len() - head_len < limit {
            let n = from.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            activity.touch();
            pending.extend_from_slice(&chunk[..n]);
        }
    }
    // A stream (an upgraded connection, an event stream) may stop flowing after its first bytes.
    let mut limit = profile.stall_after.filter(|_| streamed);
    let pass = limit.map_or(pending.len(), |left| head_len + left.min(pending.len() - head_len));
    to.write_all(&pending[..pass]).await?;
    if let Some(left) = limit.as_mut() {
        *left -= pass - head_len;
    }
    copy(from, to, activity, limit).await
}

/// Copies bytes until the end, passing at most `limit` bytes and holding the rest when there is one.
async fn copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    activity: Arc<Activity>,
    mut limit: Option<usize>,
) -> std::io::Result<()> {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = from.read(&mut chunk).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        activity.touch();
        let pass = limit.map_or(n, |left| left.min(n));
        if pass > 0 {
            to.write_all(&chunk[..pass]).await?;
        }
        if let Some(left) = limit.as_mut() {
            *left -= pass;
        }
    }
}

/// Runs `work` until it ends, or until the connection carried nothing for `idle_cut`.
async fn idle_bounded(
    work: impl std::future::Future<Output = ()>,
    activity: &Activity,
    idle_cut: Option<Duration>,
) -> std::io::Result<()> {
    let Some(limit) = idle_cut else {
        work.await;
        return Ok(());
    };
    let watch = async {
        loop {
            let idle = activity.idle();
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    };
    tokio::select! {
        _ = work => {}
        _ = watch => tracing::debug!("proxy cut an idle connection"),
    }
    Ok(())
}

/// When a connection last carried a byte.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Activity {
        Activity { start: Instant::now(), last_ms: AtomicU64::new(0) }
    }

    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Reads up to the end of an HTTP head (`\r\n\r\n`): the head, and whatever followed it in the same reads.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "HTTP head too long"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before a full head"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

/// The value of header `name` in `head`, if present.
fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(head).ok()?;
    text.split("\r\n").skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// `head` with its `Connection` and `Keep-Alive` headers replaced by `Connection: close`.
fn with_connection_close(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len() + 20);
    for line in text.trim_end_matches("\r\n").split("\r\n") {
        let name = line.split_once(':').map(|(key, _)| key.trim().to_ascii_lowercase());
        if matches!(name.as_deref(), Some("connection") | Some("keep-alive")) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_rewritten_to_close_their_connection() {
        let head = b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n";
        let out = String::from_utf8(with_connection_close(head)).unwrap();
        assert_eq!(out, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        assert_eq!(header(head, "host"), Some("a"));
        assert_eq!(header(head, "upgrade"), None);
    }

    #[tokio::test]
    async fn an_idle_connection_is_cut_and_a_refused_upgrade_answered_403() {
        // A backend that accepts and never answers.
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend_addr = backend.local_addr().unwrap();
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = backend.accept().await {
                open.push(socket);
            }
        });
        let proxy = HostileProxy::start(backend_addr, Profile::parse("idle-cut=0.3").unwrap()).await.unwrap();
        let mut client = TcpStream::connect(proxy.addr).await.unwrap();
        client.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n").await.unwrap();
        let mut buffer = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(3), client.read(&mut buffer)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the idle connection was cut: {read:?}");

        proxy.set_profile(Profile::corporate());
        let mut client = TcpStream::connect(proxy.addr).await.unwrap();
        client
            .write_all(b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(3), client.read_to_string(&mut answer)).await.unwrap().unwrap();
        assert!(answer.starts_with("HTTP/1.1 403 Forbidden"), "{answer}");
    }

    #[test]
    fn profiles_parse_and_apply_in_order() {
        let profile = Profile::parse("corporate upgrades=hang idle-cut=1.5").unwrap();
        assert_eq!(profile.upgrades, Upgrades::Hang);
        assert_eq!(profile.buffer_responses, Some(256 * 1024));
        assert_eq!(profile.idle_cut, Some(Duration::from_millis(1500)));
        assert!(Profile::parse("buffer=lots").is_err());
    }
}
