//! Which pages may connect: the `Origin` check against cross-site WebSocket hijacking and its HTTP cousins.

/// Whether a request with this `Origin` may connect, given the allow-list and the request's `Host`.
///
/// No `Origin` (a client that is not a browser) passes: the check protects browsers' users from other sites' pages,
/// and non-browser clients can send any header anyway. With an empty list, the origin must be the request's own
/// host (same origin); `"*"` on the list allows every origin.
pub(crate) fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    if allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    if !allowed.is_empty() {
        return false;
    }
    // Same origin: `scheme://host[:port]` naming the host the request was sent to. (The scheme cannot be checked
    // here: behind a TLS-terminating proxy the server sees plain HTTP.)
    let Some((_, authority)) = origin.split_once("://") else { return false };
    host.is_some_and(|host| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn same_origin_by_default_and_the_list_when_given() {
        let none: &[String] = &[];
        assert!(origin_allowed(None, Some("a.example"), none));
        assert!(origin_allowed(Some("https://a.example"), Some("a.example"), none));
        assert!(origin_allowed(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080"), none));
        assert!(!origin_allowed(Some("https://evil.example"), Some("a.example"), none));
        assert!(!origin_allowed(Some("https://a.example:444"), Some("a.example"), none));
        assert!(!origin_allowed(Some("null"), Some("a.example"), none));
        assert!(!origin_allowed(Some("https://a.example"), None, none));
        let list = ["https://app.example".to_owned()];
        assert!(origin_allowed(Some("https://app.example"), Some("api.example"), &list));
        assert!(
            !origin_allowed(Some("https://api.example"), Some("api.example"), &list),
            "the list replaces same-origin"
        );
        assert!(origin_allowed(Some("https://any.example"), Some("x"), &["*".to_owned()]));
    }
}
