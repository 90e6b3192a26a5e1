//! Fetching a JWKS document over HTTP(S).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::{redirect, Client, Url};

use crate::error::ConfigError;
use crate::jwks::{self, Trust};
use crate::key::Key;

/// A JWKS document larger than this is refused: real ones are a few kilobytes, and the limit keeps a broken or
/// hostile endpoint from filling memory.
const MAX_DOCUMENT: usize = 1 << 20;

/// Fetches and parses one JWKS URL.
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: Client,
    url: Url,
}

impl Fetcher {
    /// A fetcher for `url`. Plain `http://` is allowed only to loopback addresses unless `allow_http`: keys fetched
    /// in the clear can be swapped by anyone on the path, who could then sign any token.
    pub(crate) fn new(url: &str, timeout: Duration, allow_http: bool) -> Result<Fetcher, ConfigError> {
        let error = |detail: &str| ConfigError::JwksUrl { url: url.to_owned(), detail: detail.to_owned() };
        let parsed = Url::parse(url).map_err(|e| error(&e.to_string()))?;
        let builder = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("tidings-jwt/", env!("CARGO_PKG_VERSION")))
            .redirect(no_downgrade());
        match parsed.scheme() {
            "https" if !cfg!(feature = "tls") => return Err(error("https needs the `tls` feature of tidings-jwt")),
            "https" => {}
            "http" if allow_http || is_loopback(&parsed) => {}
            "http" => {
                return Err(error(
                    "plain http would let anyone on the path swap the keys: use https, or allow http explicitly \
                     (JwtAuthenticatorBuilder::allow_http_jwks_url) for a trusted network",
                ))
            }
            _ => return Err(error("only http and https URLs can be fetched")),
        }
        let builder = with_tls(builder).map_err(|detail| error(&detail))?;
        let client = builder.build().map_err(|e| error(&e.to_string()))?;
        Ok(Fetcher { client, url: parsed })
    }

    pub(crate) fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The keys the URL serves now, or why they could not be had.
    pub(crate) async fn fetch(&self) -> Result<Vec<Key>, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .header("accept", "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        if response.content_length().is_some_and(|length| length > MAX_DOCUMENT as u64) {
            return Err(format!("document larger than {MAX_DOCUMENT} bytes"));
        }
        let mut document = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the body failed: {e}"))? {
            if document.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("document larger than {MAX_DOCUMENT} bytes"));
            }
            document.extend_from_slice(&chunk);
        }
        jwks::parse(&document, self.url.as_str(), Trust::Published).map_err(|e| e.to_string())
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => {
            host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// Follows a few redirects, but never from https to http: that would undo the point of https.
fn no_downgrade() -> redirect::Policy {
    redirect::Policy::custom(|attempt| {
        let downgrade =
            attempt.url().scheme() == "http" && attempt.previous().iter().any(|url| url.scheme() == "https");
        if downgrade {
            attempt.error("refused a redirect from https to http")
        } else if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

/// rustls on the ring backend, with the operating system's trust store. Given to this client alone, so the
/// application's own choice of process-wide rustls provider (if any) is left alone; and given even for `http` URLs,
/// since reqwest sets up its TLS backend for every client.
#[cfg(feature = "tls")]
fn with_tls(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, String> {
    use std::sync::Arc;

    use rustls_platform_verifier::BuilderVerifierExt;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|config| config.with_platform_verifier())
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth();
    Ok(builder.tls_backend_preconfigured(config))
}

#[cfg(not(feature = "tls"))]
fn with_tls(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, String> {
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        let timeout = Duration::from_secs(1);
        for url in ["http://127.0.0.1:8080/jwks", "http://localhost/jwks", "http://[::1]/jwks"] {
            assert!(Fetcher::new(url, timeout, false).is_ok(), "{url}");
        }
        let remote = Fetcher::new("http://auth.example.com/jwks", timeout, false);
        assert!(matches!(remote, Err(ConfigError::JwksUrl { detail, .. }) if detail.contains("plain http")));
        assert!(Fetcher::new("http://auth.example.com/jwks", timeout, true).is_ok());
        assert!(Fetcher::new("ftp://example.com/jwks", timeout, true).is_err());
        assert!(Fetcher::new("not a url", timeout, true).is_err());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn https_is_set_up_without_a_process_wide_provider() {
        let fetcher = Fetcher::new("https://auth.example.com/.well-known/jwks.json", Duration::from_secs(1), false);
        assert_eq!(fetcher.unwrap().url(), "https://auth.example.com/.well-known/jwks.json");
    }
}
