//! The cross-origin headers of the HTTP transports, following the hub's `allowed_origins`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

/// Which other origins may use the SSE, long-polling and send endpoints from a browser: the hub's
/// `HubConfig::allowed_origins`, the same list that the origin check of every transport uses.
///
/// Empty (the default) adds no CORS headers at all, so browsers allow these endpoints from the page's own origin
/// only. Listed origins (`https://app.example.com`, scheme and host and port exactly as browsers send `Origin`) get
/// `Access-Control-Allow-Origin` with credentials, and their preflights are answered.
///
/// ```
/// let cors = tidings_http::Cors::allow(["https://app.example.com"]);
/// assert!(cors.allows("https://app.example.com"));
/// assert!(!cors.allows("https://evil.example"));
/// assert!(!tidings_http::Cors::default().allows("https://app.example.com"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Cors {
    allowed_origins: Vec<String>,
}

impl Cors {
    /// Allows these origins (`"*"`: any).
    pub fn allow<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cors { allowed_origins: origins.into_iter().map(Into::into).collect() }
    }

    /// The policy of `hub`.
    pub fn of(hub: &tidings_core::Hub) -> Self {
        Cors::allow(hub.config().allowed_origins.iter().cloned())
    }

    /// Whether `origin` is on the list.
    pub fn allows(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(origin))
    }

    /// Adds the CORS headers `req` earns to a response being built.
    pub fn apply(&self, req: &HttpRequest, response: &mut HttpResponseBuilder) {
        if let Some(origin) = self.allowed_origin(req) {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
                .insert_header((header::VARY, "Origin"));
        }
    }

    /// The answer to an `OPTIONS` preflight.
    pub fn preflight(&self, req: &HttpRequest) -> HttpResponse {
        let mut response = HttpResponse::NoContent();
        if self.allowed_origin(req).is_some() {
            self.apply(req, &mut response);
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type, Authorization, Last-Event-ID"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        }
        response.finish()
    }

    fn allowed_origin(&self, req: &HttpRequest) -> Option<HeaderValue> {
        let origin = req.headers().get(header::ORIGIN)?;
        self.allows(origin.to_str().ok()?).then(|| origin.clone())
    }
}
