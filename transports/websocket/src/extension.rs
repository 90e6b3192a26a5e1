//! RFC 7692: negotiating permessage-deflate from the client's `Sec-WebSocket-Extensions` offers.

use crate::deflate::{DeflateConfig, DeflateMode};

/// What both ends agreed for permessage-deflate on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server compresses each message on its own (no LZ77 window carried between messages).
    pub server_no_context_takeover: bool,
    /// The client compresses each message on its own, so the server keeps no inflate state between messages.
    pub client_no_context_takeover: bool,
    /// LZ77 window of the server's compressor, 9 to 15 bits.
    pub server_max_window_bits: u8,
}

impl DeflateParams {
    /// The `Sec-WebSocket-Extensions` response value accepting the offer.
    pub fn response(&self) -> String {
        let mut out = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            out.push_str(&format!("; server_max_window_bits={}", self.server_max_window_bits));
        }
        out
    }
}

/// Picks the first permessage-deflate offer this server can honour, in the client's order of preference.
///
/// An offer is declined (and the next one tried) when it is malformed (unknown or repeated parameter, bad value)
/// or asks for something the server cannot do: `server_max_window_bits=8`, which zlib cannot produce (it silently
/// uses 9). Declining is always safe: the connection then runs uncompressed.
pub fn negotiate<'a>(
    header_values: impl IntoIterator<Item = &'a str>,
    config: &DeflateConfig,
) -> Option<DeflateParams> {
    header_values
        .into_iter()
        .flat_map(split_list)
        .filter_map(|ext| parse_offer(&ext))
        .find_map(|offer| accept(offer?, config))
}

/// A permessage-deflate offer as the client made it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn accept(offer: Offer, config: &DeflateConfig) -> Option<DeflateParams> {
    let requested = offer.server_max_window_bits.unwrap_or(15);
    if requested < 9 {
        return None;
    }
    // `client_max_window_bits` (with or without a value) only limits the client's window; our inflater always
    // uses a 15-bit window, which reads any smaller one, so there is nothing to answer.
    let _ = offer.client_max_window_bits;
    Some(DeflateParams {
        server_no_context_takeover: offer.server_no_context_takeover || config.mode == DeflateMode::Shared,
        // Always asked for: the server then holds no inflate window between client messages (RFC 7692 section
        // 7.1.1.2 lets a server ask this even when the client did not offer it).
        client_no_context_takeover: true,
        server_max_window_bits: requested.min(config.max_window_bits.clamp(9, 15)),
    })
}

/// Parses one extension of the list: `None` when it is another extension, `Some(None)` when it is a malformed
/// permessage-deflate offer.
fn parse_offer(extension: &str) -> Option<Option<Offer>> {
    let mut parts = split_params(extension).into_iter();
    if !parts.next()?.trim().eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let mut offer = Offer::default();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(unquote(value.trim())?)),
            None => (param.trim(), None),
        };
        let ok = match (name.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) => !std::mem::replace(&mut offer.server_no_context_takeover, true),
            ("client_no_context_takeover", None) => !std::mem::replace(&mut offer.client_no_context_takeover, true),
            ("server_max_window_bits", Some(v)) => {
                offer.server_max_window_bits.is_none()
                    && window_bits(v).map(|b| offer.server_max_window_bits = Some(b)).is_some()
            }
            ("client_max_window_bits", None) => offer.client_max_window_bits.replace(None).is_none(),
            ("client_max_window_bits", Some(v)) => {
                offer.client_max_window_bits.is_none()
                    && window_bits(v).map(|b| offer.client_max_window_bits = Some(Some(b))).is_some()
            }
            _ => false,
        };
        if !ok {
            return Some(None);
        }
    }
    Some(Some(offer))
}

/// 8 to 15, in decimal without leading zeros (RFC 7692 section 7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    if value.is_empty() || value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

fn unquote(value: &str) -> Option<&str> {
    match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"'),
        None => Some(value),
    }
}

/// Splits on `sep` outside double quotes.
fn split_outside_quotes(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn split_list(value: &str) -> Vec<String> {
    split_outside_quotes(value, ',').into_iter().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn split_params(extension: &str) -> Vec<&str> {
    split_outside_quotes(extension, ';')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> DeflateConfig {
        DeflateConfig { mode: DeflateMode::Shared, ..DeflateConfig::default() }
    }

    fn dedicated() -> DeflateConfig {
        DeflateConfig { mode: DeflateMode::Dedicated, ..DeflateConfig::default() }
    }

    fn answer(header: &str, config: &DeflateConfig) -> Option<String> {
        negotiate([header], config).map(|p| p.response())
    }

    #[test]
    fn plain_offer_in_each_mode() {
        assert_eq!(
            answer("permessage-deflate", &dedicated()).unwrap(),
            "permessage-deflate; client_no_context_takeover"
        );
        assert_eq!(
            answer("permessage-deflate; client_max_window_bits", &shared()).unwrap(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
    }

    #[test]
    fn window_bits_are_honoured_or_declined() {
        let p = negotiate(["permessage-deflate; server_max_window_bits=10"], &dedicated()).unwrap();
        assert_eq!(p.server_max_window_bits, 10);
        assert!(p.response().ends_with("server_max_window_bits=10"));
        // A server configured for a smaller window says so even when not asked.
        let small = DeflateConfig { max_window_bits: 11, ..dedicated() };
        assert!(answer("permessage-deflate", &small).unwrap().ends_with("server_max_window_bits=11"));
        // 8 cannot be honoured: declined, and the next offer is taken.
        assert_eq!(answer("permessage-deflate; server_max_window_bits=8", &dedicated()), None);
        let p = negotiate(["permessage-deflate; server_max_window_bits=8, permessage-deflate"], &dedicated()).unwrap();
        assert_eq!(p.server_max_window_bits, 15);
        assert_eq!(
            negotiate(["permessage-deflate; server_max_window_bits=\"12\""], &dedicated())
                .unwrap()
                .server_max_window_bits,
            12
        );
    }

    proptest::proptest! {
        /// Any header value: no panic, and whatever is accepted is within what the server can do.
        #[test]
        fn arbitrary_headers(header in "[ -~]{0,120}", shared_mode in proptest::bool::ANY) {
            let config = if shared_mode { shared() } else { dedicated() };
            if let Some(p) = negotiate([header.as_str()], &config) {
                proptest::prop_assert!((9..=15).contains(&p.server_max_window_bits));
                proptest::prop_assert!(p.client_no_context_takeover);
            }
        }

        /// Headers built from the grammar's own pieces, in any order and number.
        #[test]
        fn shuffled_parameters(params in proptest::collection::vec(proptest::sample::select(vec![
            "server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits=9",
            "server_max_window_bits=15", "client_max_window_bits", "client_max_window_bits=10", "x=\"a;b,c\"",
        ]), 0..6)) {
            let header = std::iter::once("permessage-deflate").chain(params.iter().copied()).collect::<Vec<_>>().join("; ");
            let _ = negotiate([header.as_str()], &dedicated());
        }
    }

    #[test]
    fn malformed_offers_are_declined() {
        for bad in [
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=7",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; mystery",
        ] {
            assert_eq!(answer(bad, &dedicated()), None, "{bad}");
        }
        assert_eq!(answer("x-webkit-deflate-frame", &dedicated()), None);
        assert!(answer("foo, permessage-deflate; client_no_context_takeover", &dedicated()).is_some());
    }
}
