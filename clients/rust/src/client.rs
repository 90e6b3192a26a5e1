//! The client handle: connecting, and the requests an application makes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tidings_protocol::{ClientFrame, CloseCode, Missed, StreamPosition};
use tokio::sync::{oneshot, watch};

use crate::credentials::Credentials;
use crate::driver::Driver;
use crate::endpoint::Endpoint;
use crate::error::Error;
use crate::options::{ClientOptions, TransportKind};
use crate::race::race;
use crate::shared::{Command, Shared};
use crate::state::ConnectionState;
use crate::subscription::{Publication, Room, Subscription};
use crate::tls::Tls;
use crate::transport::{Link, Opener, Welcome};

/// A connection to a Tidings server that survives connection losses: it reconnects by itself, resumes its
/// session, and when the server could not resume it subscribes again and recovers what it missed.
///
/// Cheap to clone; all clones share the connection, which closes when the last clone and every [`Subscription`] are
/// dropped, or on [`Client::close`].
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl Client {
    /// Connects to a Tidings server and waits for its `welcome`. `url` is the base the transports hang from
    /// (`http://host/realtime`); the WebSocket endpoint (`ws://host/realtime/ws`) is accepted too.
    pub async fn connect(url: &str) -> Result<Client, Error> {
        Client::connect_with(url, ClientOptions::default()).await
    }

    /// Connects with non-default options: the first of `options.transports` that opens is used.
    ///
    /// Fails with [`Error::Unauthorized`] when no transport opens and one was refused with 401 or 403 (the server
    /// refusing the credentials, `options.token`, or a proxy refusing that transport).
    pub async fn connect_with(url: &str, options: ClientOptions) -> Result<Client, Error> {
        let endpoint = Endpoint::parse(url)?;
        if endpoint.is_secure() && !cfg!(feature = "tls") {
            return Err(Error::Connect(format!("{url:?} needs TLS: enable the `tls` feature of tidings-client")));
        }
        let tls = Tls::new()?;
        let http = tls.http_client()?;
        let credentials = Arc::new(Credentials::new(options.token.clone()));
        let opener = Opener {
            endpoint,
            http,
            open_timeout: options.open_timeout,
            idle_timeout: options.idle_timeout,
            credentials: credentials.clone(),
            tls,
        };
        let (current, link, welcome) = tokio::time::timeout(options.connect_timeout, first_link(&opener, &options))
            .await
            .map_err(|_| Error::Connect(format!("no transport opened within {:?}", options.connect_timeout)))??;
        let initial = ConnectionState::Connected { transport: link.kind, session: welcome.session.clone() };
        let (shared, ends) = Shared::new(options, credentials, initial);
        tokio::spawn(Driver::new(&shared, ends, opener, current).run(link, welcome));
        Ok(Client { shared })
    }

    /// The current session id. It changes when the server could not resume the session and started a new one (and
    /// is the last one once the client is closed).
    pub fn session_id(&self) -> String {
        self.shared.session_id()
    }

    /// The transport in use; `None` while reconnecting or once closed.
    pub fn transport(&self) -> Option<TransportKind> {
        match &*self.shared.status().borrow() {
            ConnectionState::Connected { transport, .. } => Some(*transport),
            _ => None,
        }
    }

    /// The connection's state now.
    pub fn state(&self) -> ConnectionState {
        self.shared.status().borrow().clone()
    }

    /// A receiver of every change of the connection's state (connected on a transport, reconnecting, closed).
    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.shared.status().subscribe()
    }

    /// Once the client is closed for good: `Some(code)`, the server's close code, or `None` when it gave up
    /// reconnecting to a connection lost without one, or because the server refused its credentials (see
    /// [`Client::state`]). `None` while connected or reconnecting.
    pub fn closed(&self) -> Option<Option<CloseCode>> {
        self.shared.closed()
    }

    /// Subscribes to a topic. Publications already on their way are not lost: the subscription receives everything
    /// published after the server registered it, including what arrives before this call returns.
    pub async fn subscribe(&self, topic: &str) -> Result<Subscription, Error> {
        let events = self.shared.listen(topic, None)?;
        let reply = self.shared.request::<()>("subscribe", topic, None, true).await;
        let position = self.shared.position(topic, reply)?;
        Ok(Subscription::new(self.clone(), topic.to_owned(), position, events))
    }

    /// Joins a room with `params` for its handler. The [`Room`] holds the handler's reply and the presence list,
    /// and yields publications and member join/leave events.
    pub async fn join<P: Serialize + ?Sized>(&self, room: &str, params: &P) -> Result<Room, Error> {
        let raw = serde_json::value::to_raw_value(params).map_err(|e| Error::Decode(e.to_string()))?;
        let events = self.shared.listen(room, Some(raw))?;
        let reply = self.shared.request("join", room, Some(params), true).await;
        let position = self.shared.position(room, reply.clone())?;
        let reply = reply.expect("position() fails on an error reply");
        let presence = match serde_json::from_value(reply["presence"].clone()) {
            Ok(presence) => presence,
            Err(e) => {
                self.shared.abandon(room);
                return Err(Error::Decode(e.to_string()));
            }
        };
        let subscription = Subscription::new(self.clone(), room.to_owned(), position, events);
        Ok(Room::new(subscription, presence, reply.get("reply").cloned().unwrap_or(Value::Null)))
    }

    /// Publishes `data` to a topic (if its handler lets clients publish). Returns the publication's position.
    pub async fn publish<T: Serialize + ?Sized>(&self, topic: &str, data: &T) -> Result<StreamPosition, Error> {
        let reply = self.shared.request("publish", topic, Some(data), false).await?;
        serde_json::from_value(reply["position"].clone()).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Sends a message to a topic's handler and waits for its reply, decoded as `R` (use `Value` for any, `()` to
    /// ignore it). The session must have subscribed to or joined the topic.
    pub async fn request<T: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        topic: &str,
        message: &T,
    ) -> Result<R, Error> {
        let reply = self.shared.request("message", topic, Some(message), false).await?;
        serde_json::from_value(reply).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Reads a topic's retained history after `since` (from the oldest retained when `None`), at most `limit`
    /// publications. Returns them with what was lost after `since`, when something was (no longer retained, or
    /// `since` is from another epoch): the server's [`Missed`] range, or, from a server that reports no range,
    /// everything up to the topic's current offset with an unknown start.
    pub async fn history(
        &self,
        topic: &str,
        since: Option<&StreamPosition>,
        limit: Option<u32>,
    ) -> Result<(Vec<Publication>, Option<Missed>), Error> {
        let frame = ClientFrame {
            kind: "history".into(),
            id: Some(self.shared.next_id()),
            topic: Some(topic.into()),
            since: since.cloned(),
            limit,
            ..Default::default()
        };
        let reply = self.shared.send_request(frame, None).await?;
        let missed = match reply["gap"].as_bool() {
            Some(true) => Some(
                serde_json::from_value::<Missed>(reply["missed"].clone())
                    .unwrap_or(Missed { from: None, to: reply["position"]["offset"].as_u64().unwrap_or(0) }),
            ),
            _ => None,
        };
        let publications = reply["publications"]
            .as_array()
            .ok_or_else(|| Error::Decode("history reply without publications".into()))?
            .iter()
            .map(|p| Publication {
                topic: topic.to_owned(),
                offset: p["offset"].as_u64().unwrap_or(0),
                epoch: p["epoch"].as_str().unwrap_or_default().to_owned(),
                data: p["data"].clone(),
            })
            .collect();
        Ok((publications, missed))
    }

    /// Sends fresh credentials in band (a `refresh` frame), so that the server keeps the session past the expiry
    /// of the token it connected with (it closes a session whose credentials expire with 4003). Returns the new
    /// expiry, `None` when the new credentials do not expire.
    ///
    /// Once the server accepted `token`, the client sends it on its later HTTP requests (polls, `POST /send`) and,
    /// with a [`TokenSource::Fixed`](crate::TokenSource::Fixed), on its reconnects. A token the server refuses
    /// (expired, badly signed, another user's) fails with [`Error::Refused`] and code `unauthorized`, and changes
    /// nothing.
    pub async fn refresh(&self, token: &str) -> Result<Option<SystemTime>, Error> {
        let frame = ClientFrame {
            kind: "refresh".into(),
            id: Some(self.shared.next_id()),
            token: Some(token.into()),
            ..Default::default()
        };
        let reply = self.shared.send_request(frame, None).await?;
        self.shared.credentials.set(token.to_owned());
        match &reply["expires_at"] {
            Value::Null => Ok(None),
            expires_at => expires_at
                .as_u64()
                .and_then(|ms| SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms)))
                .map(Some)
                .ok_or_else(|| Error::Decode(format!("refresh reply with expires_at {expires_at}"))),
        }
    }

    /// Ends the session and closes the client (1000): pending requests fail, subscriptions end, and the server is
    /// told at once (it need not wait out the resume window). Returns once the close has been sent.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.shared.command(Command::Close(done)) {
            let _ = closed.await;
        }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// Opens the first transport of `options.transports` that works.
async fn first_link(opener: &Opener, options: &ClientOptions) -> Result<(usize, Link, Welcome), Error> {
    let won = race(opener, &options.transports, None, options.race_delay, options.remember_transport, &[]).await?;
    Ok((won.index, won.link, won.welcome))
}
