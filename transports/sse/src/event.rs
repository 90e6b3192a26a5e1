//! The event-stream encoding of a frame.

use bytes::{BufMut, BytesMut};
use tidings_core::EncodedFrame;

/// Appends `frame` to `out` as one event, with `id` when given. Line breaks inside the frame (a client's
/// pretty-printed JSON, forwarded as it was) start a new `data:` line, which the event-stream format joins back
/// with `\n`: whitespace to JSON.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use tidings_core::EncodedFrame;
/// let frame = EncodedFrame { seq: Some(7), body: Bytes::from_static(b"\"type\":\"push\",\"data\":[1,\n2]}"), cache: None };
/// let mut out = BytesMut::new();
/// tidings_sse::write_event(&mut out, Some(("abc", 7)), &frame);
/// assert_eq!(&out[..], b"id: abc:7\ndata: {\"seq\":7,\"type\":\"push\",\"data\":[1,\ndata: 2]}\n\n");
/// ```
pub fn write_event(out: &mut BytesMut, id: Option<(&str, u64)>, frame: &EncodedFrame) {
    out.reserve(frame.len() + 64);
    if let Some((session, seq)) = id {
        out.put_slice(b"id: ");
        out.put_slice(session.as_bytes());
        out.put_u8(b':');
        out.put_slice(seq.to_string().as_bytes());
        out.put_u8(b'\n');
    }
    out.put_slice(b"data: ");
    out.put_slice(frame.prefix().as_bytes());
    let body = &frame.body[..];
    if !body.iter().any(|&b| b == b'\n' || b == b'\r') {
        out.put_slice(body);
    } else {
        let mut rest = body;
        while let Some(at) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            out.put_slice(&rest[..at]);
            out.put_slice(b"\ndata: ");
            // A CR LF pair is one line break.
            let skip = if rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n') { 2 } else { 1 };
            rest = &rest[at + skip..];
        }
        out.put_slice(rest);
    }
    out.put_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(body: &'static [u8]) -> String {
        let mut out = BytesMut::new();
        write_event(&mut out, None, &EncodedFrame { seq: None, body: Bytes::from_static(body), cache: None });
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn every_kind_of_line_break_starts_a_data_line() {
        assert_eq!(event(b"\"a\":1}"), "data: {\"a\":1}\n\n");
        assert_eq!(event(b"\"a\":\r\n1,\r\"b\":\n2}"), "data: {\"a\":\ndata: 1,\ndata: \"b\":\ndata: 2}\n\n");
    }
}
