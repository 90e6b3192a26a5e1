//! Routes a server frame (other than `welcome` and `close`, which concern the connection) to whoever waits for it.

use tidings_protocol::ServerFrame;

use crate::error::Error;
use crate::shared::Shared;
use crate::subscription::{Event, Publication};

pub(crate) fn dispatch(shared: &Shared, frame: ServerFrame) {
    match frame {
        ServerFrame::Reply { id, data, .. } => shared.answer(id, Ok(data)),
        ServerFrame::Error { id: Some(id), code, message, .. } => {
            shared.answer(id, Err(Error::Refused { code, message }))
        }
        ServerFrame::Error { id: None, code, message, .. } => {
            tracing::warn!(code, message, "the server reported an error");
        }
        ServerFrame::Pub { topic, offset, epoch, data, .. } => {
            shared.publication(Publication { topic, offset, epoch, data })
        }
        ServerFrame::Push { topic, data, .. } => shared.deliver(&topic, Event::Push(data)),
        ServerFrame::Gap { topic, missed, .. } => shared.deliver(&topic, Event::Gap { missed: Some(missed) }),
        ServerFrame::MemberJoined { topic, member, .. } => shared.deliver(&topic, Event::MemberJoined(member)),
        ServerFrame::MemberLeft { topic, member, .. } => shared.deliver(&topic, Event::MemberLeft(member)),
        ServerFrame::Welcome { .. } | ServerFrame::Ping | ServerFrame::Close { .. } => {}
    }
}
