//! A `text/event-stream` parser (the WHATWG HTML "Server-sent events" interpretation rules), fed bytes as they
//! arrive in arbitrary chunks.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, `message` when there was none.
    pub(crate) event: String,
    /// The `data:` lines, joined with `\n`.
    pub(crate) data: String,
    /// The last event id seen so far (it persists across events, as the format says).
    pub(crate) id: String,
}

/// The stream had a line longer than the parser accepts: a broken or hostile server, not one to buffer forever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineTooLong;

/// Incremental parser state.
#[derive(Debug)]
pub(crate) struct EventStreamParser {
    max_line: usize,
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting this one belongs to that line end.
    after_cr: bool,
    /// Whether the stream's first bytes were checked for a byte order mark (which is to be skipped).
    started: bool,
    data: String,
    event: String,
    last_id: String,
    retry: Option<u64>,
}

impl EventStreamParser {
    /// A parser refusing lines over `max_line` bytes.
    pub(crate) fn new(max_line: usize) -> Self {
        EventStreamParser {
            max_line,
            line: Vec::new(),
            after_cr: false,
            started: false,
            data: String::new(),
            event: String::new(),
            last_id: String::new(),
            retry: None,
        }
    }

    /// The reconnection time the server asked for (`retry:`), in milliseconds. This client uses its own backoff;
    /// this is here for completeness and tests.
    #[cfg(test)]
    pub(crate) fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// Feeds a chunk; appends the events it completes to `out`.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), LineTooLong> {
        if !self.started {
            // The BOM may arrive split across chunks: wait until three bytes (or a line end) decide.
            self.line.extend_from_slice(chunk);
            if self.line.len() < 3 && "\u{feff}".as_bytes().starts_with(&self.line) {
                return Ok(());
            }
            self.started = true;
            let buffered = std::mem::take(&mut self.line);
            let skip = if buffered.starts_with("\u{feff}".as_bytes()) { 3 } else { 0 };
            return self.feed(&buffered[skip..], out);
        }
        while !chunk.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if chunk[0] == b'\n' {
                    chunk = &chunk[1..];
                    continue;
                }
            }
            match chunk.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.push(&chunk[..end])?;
                    self.after_cr = chunk[end] == b'\r';
                    let line = std::mem::take(&mut self.line);
                    self.line_complete(&line, out);
                    self.line = line;
                    self.line.clear();
                    chunk = &chunk[end + 1..];
                }
                None => {
                    self.push(chunk)?;
                    chunk = &[];
                }
            }
        }
        Ok(())
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), LineTooLong> {
        if self.line.len() + bytes.len() > self.max_line {
            return Err(LineTooLong);
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line_complete(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        // Lines split at ASCII bytes, which never occur inside a multi-byte UTF-8 sequence: decoding per line is
        // exact for valid input, and replaces invalid bytes as the format says.
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            return self.dispatch(out);
        }
        if line.starts_with(':') {
            return; // A comment: keep-alive pings.
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_id),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // The `\n` after the last data line.
        let event = if event.is_empty() { "message".to_owned() } else { event };
        out.push(SseEvent { event, data, id: self.last_id.clone() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = EventStreamParser::new(1 << 20);
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out).unwrap();
        }
        out
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    /// Every split of `input` into two chunks, and byte by byte, parses like the whole.
    fn parse_all_ways(input: &[u8]) -> Vec<SseEvent> {
        let whole = parse_chunks(&[input]);
        for split in 0..=input.len() {
            assert_eq!(parse_chunks(&[&input[..split], &input[split..]]), whole, "split at {split}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), whole, "byte by byte");
        whole
    }

    #[test]
    fn the_protocol_example() {
        let stream = "retry: 2000\n\nid: s:0\ndata: {\"type\":\"welcome\"}\n\nid: s:1\ndata: {\"seq\":1}\n\n: ping\n\n";
        let events = parse_all_ways(stream.as_bytes());
        assert_eq!(data(&events), [r#"{"type":"welcome"}"#, r#"{"seq":1}"#]);
        assert_eq!((events[0].id.as_str(), events[1].id.as_str()), ("s:0", "s:1"));
        assert_eq!(events[0].event, "message");
        let mut parser = EventStreamParser::new(100);
        parser.feed(stream.as_bytes(), &mut Vec::new()).unwrap();
        assert_eq!(parser.retry(), Some(2000));
    }

    #[test]
    fn every_line_ending() {
        for ending in ["\n", "\r\n", "\r"] {
            let stream = ["data: a", "data: b", "", "data: c", "", ""].join(ending);
            assert_eq!(data(&parse_all_ways(stream.as_bytes())), ["a\nb", "c"], "{ending:?}");
        }
        // Mixed, and a `\r` that ends one chunk while the `\n` starts the next (tested by every split above).
        assert_eq!(data(&parse_all_ways(b"data: x\r\ndata: y\rdata: z\n\r\n")), ["x\ny\nz"]);
        // `\r\r` is two line ends: an empty line, so it dispatches.
        assert_eq!(data(&parse_all_ways(b"data: 1\r\rdata: 2\n\n")), ["1", "2"]);
    }

    #[test]
    fn field_parsing_rules() {
        // One leading space is stripped, not more; no colon means an empty value; unknown fields are ignored.
        let events = parse_all_ways(b"data:no space\ndata:  two spaces\ndata\nfoo: bar\n\n");
        assert_eq!(data(&events), ["no space\n two spaces\n"]);
        // `event:` names one event only; `id:` persists; an id with NUL is ignored.
        let events = parse_all_ways(b"event: close\nid: 7\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\n");
        let summary: Vec<(&str, &str, &str)> =
            events.iter().map(|e| (e.event.as_str(), e.data.as_str(), e.id.as_str())).collect();
        assert_eq!(summary, [("close", "a", "7"), ("message", "b", "7"), ("message", "c", "7"), ("message", "d", "")]);
        // A colon in the value stays.
        assert_eq!(data(&parse_all_ways(b"data: {\"a\":1}\n\n")), [r#"{"a":1}"#]);
    }

    #[test]
    fn events_without_data_and_unfinished_events_are_not_dispatched() {
        assert!(parse_all_ways(b"event: x\nid: 1\n\n: comment\n\nretry: x\n\n").is_empty());
        // `data:` with an empty value is an event with empty data.
        assert_eq!(data(&parse_all_ways(b"data:\n\n")), [""]);
        // No blank line yet: nothing (the stream may go on; if it ends, the event is dropped).
        assert!(parse_all_ways(b"data: pending\n").is_empty());
    }

    #[test]
    fn byte_order_mark_and_utf8() {
        let stream = "\u{feff}data: héllo ✓\n\n";
        assert_eq!(data(&parse_all_ways(stream.as_bytes())), ["héllo ✓"]);
        // Only a leading BOM is skipped; a stream of one or two bytes that merely look like its start is kept.
        assert_eq!(data(&parse_all_ways("data: \u{feff}x\n\n".as_bytes())), ["\u{feff}x"]);
        assert!(parse_all_ways(b"\xef").is_empty());
        assert_eq!(data(&parse_chunks(&[b"\xef", b"\xbb", b"\xbfdata: y\n\n"])), ["y"]);
        // Invalid UTF-8 is replaced, not fatal.
        assert_eq!(data(&parse_all_ways(b"data: \xff\n\n")), ["\u{fffd}"]);
    }

    #[test]
    fn a_line_over_the_limit_fails() {
        let mut parser = EventStreamParser::new(8);
        let mut out = Vec::new();
        assert!(parser.feed(b"data: 12\n\n", &mut out).is_ok());
        assert_eq!(parser.feed(b"data: 123456789", &mut out), Err(LineTooLong));
    }
}
