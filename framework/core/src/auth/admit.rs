//! Admitting a connect request: every check a transport runs before it upgrades or starts a stream.

use crate::attach::{ResumeFrom, SessionHandle};
use crate::auth::origin::origin_allowed;
use crate::auth::{AuthRefusal, ConnectRequest};
use crate::hub::Hub;
use crate::identity::Identity;

impl Hub {
    /// Runs the checks every transport makes before it upgrades or starts a stream, in order: the page's origin
    /// (403), the address's connect rate (429; not for a request that continues a live session created from the
    /// same address, as every long poll does), the authenticator (401/403), and, unless `resume` names a live
    /// session of the same user, the per-address and per-user session limits (429). Returns the identity to connect
    /// with. Each refusal is logged.
    pub async fn admit(&self, request: &ConnectRequest, resume: Option<&ResumeFrom>) -> Result<Identity, AuthRefusal> {
        let peer = request.peer();
        let transport = request.transport();
        let refused = |refusal: AuthRefusal| {
            tracing::info!(transport, ?peer, status = refusal.status, reason = %refusal.reason, "connection refused");
            refusal
        };
        let origin = request.header("origin");
        if !origin_allowed(origin, request.header("host"), &self.config().allowed_origins) {
            return Err(refused(AuthRefusal {
                status: 403,
                reason: format!("origin {:?} may not connect", origin.unwrap_or_default()).into(),
            }));
        }
        let limits = &self.config().limits;
        // Continuing a live session (every long poll does) is not a new connection for the connect rate; whether
        // the requester may continue it is decided below and by the resume itself.
        let live = resume.and_then(|r| self.session_ref(&r.session));
        // Only a session created from the same address is exempt: naming someone else's live session id must not
        // lift the rate (the request would start a new session of its own).
        let continuing = live.as_ref().is_some_and(|session| session.peer == peer);
        if let (Some(ip), false) = (peer, continuing) {
            if !self.counters().may_connect(ip, &limits.connects_per_ip) {
                return Err(refused(AuthRefusal { status: 429, reason: "too many connection attempts".into() }));
            }
        }
        let identity = self.authenticator().authenticate(request).await.map_err(refused)?;
        if identity.expires_at.is_some_and(|at| at <= std::time::SystemTime::now()) {
            return Err(refused(AuthRefusal::unauthorized("credentials expired")));
        }
        let resuming = live.is_some_and(|session| session.identity.user == identity.user);
        if !resuming && !self.counters().has_room(peer, identity.user.as_deref(), limits) {
            return Err(refused(AuthRefusal { status: 429, reason: "too many sessions for this client".into() }));
        }
        Ok(identity)
    }

    /// Checks a request that carries frames for an existing session (the HTTP transports' `POST /send`): the
    /// page's origin (403), and that the authenticator finds the session's own user in it (401, or 403 for
    /// another user): a session id alone grants nothing.
    pub async fn check_sender(&self, request: &ConnectRequest, session: &SessionHandle) -> Result<(), AuthRefusal> {
        let identity = self.sender_identity(request).await?;
        if identity.user != session.identity().user {
            tracing::info!(session = %session.id(), peer = ?request.peer(), "send refused: another identity's session");
            return Err(AuthRefusal::forbidden("this session belongs to another identity"));
        }
        Ok(())
    }

    /// The first half of [`Hub::check_sender`], for a session on another node (whose node then compares the
    /// users): the page's origin (403) and the sender's identity (401).
    pub async fn sender_identity(&self, request: &ConnectRequest) -> Result<Identity, AuthRefusal> {
        let refused = |refusal: AuthRefusal| {
            tracing::info!(peer = ?request.peer(), status = refusal.status, reason = %refusal.reason, "send refused");
            refusal
        };
        let origin = request.header("origin");
        if !origin_allowed(origin, request.header("host"), &self.config().allowed_origins) {
            return Err(refused(AuthRefusal::forbidden(format!(
                "origin {:?} may not send",
                origin.unwrap_or_default()
            ))));
        }
        let identity = self.authenticator().authenticate(request).await.map_err(refused)?;
        if identity.expires_at.is_some_and(|at| at <= std::time::SystemTime::now()) {
            return Err(refused(AuthRefusal::unauthorized("credentials expired")));
        }
        Ok(identity)
    }
}
