//! A real `redis-server` (the Debian package) on a free loopback port, for the multi-node tests; and nodes (hubs
//! with the Redis broker and presence) served on their own ports.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tidings::HubConfig;
use tidings_redis::{RedisBroker, RedisConfig};

use crate::handlers::demo_builder;
use crate::TestServer;

/// A `redis-server` process this test started; killed (by its PID, through its handle) when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    /// Starts one on a free port, without persistence, and waits until it answers.
    pub fn start() -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let dir = std::env::temp_dir().join(format!("tidings-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let mut server = RedisServer { child: None, port, dir };
        server.spawn();
        server
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the server (its data is lost: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("redis-server is installed (scripts/test installs the Debian package)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Quick to notice failures and to come back, so that the tests spend their time on behaviour, not backoff.
pub fn quick_config(redis: &RedisServer) -> RedisConfig {
    RedisConfig {
        presence_ttl: Duration::from_millis(1500),
        command_timeout: Duration::from_millis(500),
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(300),
        ..RedisConfig::new(redis.url())
    }
}

/// A node: the demo hub on the Redis broker and presence, served on its own port. Call it inside a tokio runtime
/// that outlives the node (the broker's tasks run there).
pub async fn node(config: RedisConfig, hub_config: HubConfig) -> (TestServer, String) {
    let broker = RedisBroker::connect(config).await.expect("redis reachable");
    let node_id = broker.node_id().to_owned();
    let hub = demo_builder(hub_config)
        .presence(broker.presence())
        .broker(broker)
        .authenticator(tidings::AllowAnonymous)
        .build()
        .expect("valid patterns");
    (TestServer::start(hub), node_id)
}
