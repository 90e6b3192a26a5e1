//! The server's URLs: one base (`http://host/realtime`) and an endpoint per transport below it.

use url::Url;

use crate::error::Error;
use crate::options::TransportKind;

/// Where a session resumes: its id, and the highest `seq` the client processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    pub(crate) session: String,
    pub(crate) ack: u64,
}

/// The base URL every endpoint hangs from, without a trailing slash.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    base: Url,
}

impl Endpoint {
    /// The base, as text: the key the transport that worked is remembered under.
    pub(crate) fn base(&self) -> &str {
        self.base.as_str()
    }

    /// Reads `http(s)://host/realtime`, or the WebSocket endpoint `ws(s)://host/realtime/ws` that older versions
    /// of this client took (its base is derived, so that every transport can be used).
    pub(crate) fn parse(url: &str) -> Result<Endpoint, Error> {
        let mut base = Url::parse(url).map_err(|e| Error::Connect(format!("bad URL {url:?}: {e}")))?;
        let scheme = match base.scheme() {
            "http" | "ws" => "http",
            "https" | "wss" => "https",
            other => return Err(Error::Connect(format!("unsupported URL scheme {other:?}"))),
        };
        let websocket = base.scheme().starts_with("ws");
        base.set_scheme(scheme).map_err(|()| Error::Connect(format!("cannot use {url:?} over HTTP")))?;
        let mut path = base.path().trim_end_matches('/').to_owned();
        if websocket && path.ends_with("/ws") {
            path.truncate(path.len() - "/ws".len());
        }
        base.set_path(&path);
        base.set_query(None);
        base.set_fragment(None);
        Ok(Endpoint { base })
    }

    /// The URL that opens `kind`, resuming `resume` when given.
    pub(crate) fn open_url(&self, kind: TransportKind, resume: Option<&Resume>) -> Url {
        let (name, scheme) = match kind {
            TransportKind::WebSocket => ("ws", if self.base.scheme() == "https" { "wss" } else { "ws" }),
            TransportKind::Sse => ("sse", self.base.scheme()),
            TransportKind::LongPoll => ("poll", self.base.scheme()),
        };
        let mut url = self.below(name);
        url.set_scheme(scheme).expect("http, https, ws and wss are interchangeable");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("v", "1");
            if kind != TransportKind::LongPoll {
                // `ping` frames when nothing else is sent: silence beyond them means a proxy holds the stream.
                query.append_pair("heartbeat", "1");
            }
            if let Some(resume) = resume {
                query.append_pair("session", &resume.session).append_pair("ack", &resume.ack.to_string());
            }
        }
        url
    }

    /// Whether the server is reached over TLS (`https`, `wss`).
    pub(crate) fn is_secure(&self) -> bool {
        self.base.scheme() == "https"
    }

    /// `POST` here sends frames to `session`.
    pub(crate) fn send_url(&self, session: &str) -> Url {
        let mut url = self.below("send");
        url.query_pairs_mut().append_pair("session", session);
        url
    }

    fn below(&self, name: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}/{name}", self.base.path().trim_end_matches('/')));
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(base: &str, kind: TransportKind) -> String {
        Endpoint::parse(base).unwrap().open_url(kind, None).to_string()
    }

    #[test]
    fn endpoints_hang_from_the_base() {
        let e = Endpoint::parse("http://127.0.0.1:8080/realtime").unwrap();
        assert_eq!(
            e.open_url(TransportKind::WebSocket, None).as_str(),
            "ws://127.0.0.1:8080/realtime/ws?v=1&heartbeat=1"
        );
        assert_eq!(e.open_url(TransportKind::Sse, None).as_str(), "http://127.0.0.1:8080/realtime/sse?v=1&heartbeat=1");
        let resume = Resume { session: "ab12".into(), ack: 41 };
        assert_eq!(
            e.open_url(TransportKind::LongPoll, Some(&resume)).as_str(),
            "http://127.0.0.1:8080/realtime/poll?v=1&session=ab12&ack=41"
        );
        assert_eq!(e.send_url("ab12").as_str(), "http://127.0.0.1:8080/realtime/send?session=ab12");
    }

    #[test]
    fn the_old_websocket_url_gives_the_same_base() {
        for url in ["ws://h:1/realtime/ws", "ws://h:1/realtime/ws/", "http://h:1/realtime/", "ws://h:1/realtime"] {
            assert_eq!(open(url, TransportKind::Sse), "http://h:1/realtime/sse?v=1&heartbeat=1", "{url}");
        }
        assert_eq!(open("wss://h/rt/ws?x=1", TransportKind::WebSocket), "wss://h/rt/ws?v=1&heartbeat=1");
        assert_eq!(open("https://h", TransportKind::LongPoll), "https://h/poll?v=1");
        // Only a WebSocket URL's `/ws` is the endpoint; an HTTP base may well end in `/ws`.
        assert_eq!(open("http://h/ws", TransportKind::Sse), "http://h/ws/sse?v=1&heartbeat=1");
    }

    #[test]
    fn bad_urls_are_refused() {
        assert!(Endpoint::parse("not a url").is_err());
        assert!(Endpoint::parse("ftp://h/realtime").is_err());
    }

    #[test]
    fn secure_urls_are_told_apart() {
        for (url, secure) in
            [("https://h/rt", true), ("wss://h/rt/ws", true), ("http://h/rt", false), ("ws://h", false)]
        {
            assert_eq!(Endpoint::parse(url).unwrap().is_secure(), secure, "{url}");
        }
    }
}
