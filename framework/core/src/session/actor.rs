//! The session actor: request ordering and lifecycle.

use std::rc::Rc;

use actix::{Actor, ActorFutureExt, AtomicResponse, Handler, Message, WrapFuture};
use bytes::Bytes;
use tracing::Instrument;

use super::requests::SessionState;

/// A frame from the client, as the transport received it.
pub(crate) struct Inbound(pub(crate) Bytes);

impl Message for Inbound {
    type Result = ();
}

/// The transport connection ended: end the session.
pub(crate) struct End;

impl Message for End {
    type Result = ();
}

/// One logical client.
///
/// Requests are handled as atomic actor futures: the next client frame is not looked at until the previous one is
/// answered, which gives handlers the per-session ordering they expect. Deliveries do not pass through the
/// mailbox at all (see `Outbox`), so a slow handler delays only its own session's requests.
pub(crate) struct Session {
    state: Rc<SessionState>,
    span: tracing::Span,
}

impl Session {
    pub(crate) fn new(state: SessionState, span: tracing::Span) -> Self {
        Session { state: Rc::new(state), span }
    }
}

impl Actor for Session {
    type Context = actix::Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(self.state.hub.config().inbound_queue);
        tracing::debug!(parent: &self.span, "session started");
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        let state = self.state.clone();
        let span = self.span.clone();
        actix::spawn(async move { state.end().await }.instrument(span));
    }
}

impl Handler<Inbound> for Session {
    type Result = AtomicResponse<Self, ()>;

    fn handle(&mut self, Inbound(frame): Inbound, _ctx: &mut Self::Context) -> Self::Result {
        let state = self.state.clone();
        let work = async move { state.handle_frame(frame).await }.instrument(self.span.clone());
        AtomicResponse::new(Box::pin(work.into_actor(self).map(|(), _, _| ())))
    }
}

impl Handler<End> for Session {
    type Result = ();

    fn handle(&mut self, _: End, ctx: &mut Self::Context) {
        actix::ActorContext::stop(ctx);
    }
}
