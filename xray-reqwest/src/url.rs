//! The URL recorded in `http.request.url`: credentials and fragment never, the query string
//! only when asked for.
//!
//! Both are cut from the URL's own serialization, which ends `[?query][#fragment]`: the
//! `url` crate keeps where each part starts, so its accessors give their lengths without a scan,
//! and recording a call costs one string allocation. User-info is rare; only then is the text
//! searched, for the first `@` after `scheme://`, which ends it (the `url` crate percent-encodes
//! an `@` inside user-info).

use reqwest::Url;

/// The URL as it is recorded: without user-info or fragment, and without the query string
/// unless `keep_query` is set.
pub(crate) fn recorded_url(url: &Url, keep_query: bool) -> String {
    let text = url.as_str();
    let mut end = text.len() - url.fragment().map_or(0, |f| f.len() + 1);
    if !keep_query {
        end -= url.query().map_or(0, |q| q.len() + 1);
    }
    // Every cut is next to an ASCII byte, so each slice falls on character boundaries.
    let kept = text.get(..end).unwrap_or(text);
    if url.username().is_empty() && url.password().is_none() {
        return kept.to_owned();
    }
    // Only URLs with an authority (`scheme://`) have user-info.
    let authority = url.scheme().len() + 3;
    match (kept.get(..authority), kept.get(authority..).and_then(|rest| rest.split_once('@'))) {
        (Some(prefix), Some((_, host_and_path))) => {
            let mut out = String::with_capacity(prefix.len() + host_and_path.len());
            out.push_str(prefix);
            out.push_str(host_and_path);
            out
        }
        _ => kept.to_owned(),
    }
}

/// The subsegment name for a URL: its host, as [`xray_core::outbound::host_name`] gives it.
pub(crate) fn host_name(url: &Url) -> &str {
    xray_core::outbound::host_name(url.host_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_url_table() {
        // (input, recorded without query, recorded with query)
        let cases = [
            ("http://example.com/", "http://example.com/", "http://example.com/"),
            ("http://example.com", "http://example.com/", "http://example.com/"),
            (
                "http://example.com:8080/a/b?x=1&y=2",
                "http://example.com:8080/a/b",
                "http://example.com:8080/a/b?x=1&y=2",
            ),
            (
                "https://user:secret@example.com/p?token=t#frag",
                "https://example.com/p",
                "https://example.com/p?token=t",
            ),
            ("http://user@example.com/p", "http://example.com/p", "http://example.com/p"),
            ("http://:only-password@example.com/", "http://example.com/", "http://example.com/"),
            ("http://us%40er:p%3Fa%23ss@example.com/x", "http://example.com/x", "http://example.com/x"),
            ("http://u:p@[::1]:9000/v1?q", "http://[::1]:9000/v1", "http://[::1]:9000/v1?q"),
            (
                "http://example.com/mail@box/path?a=@",
                "http://example.com/mail@box/path",
                "http://example.com/mail@box/path?a=@",
            ),
            ("http://example.com/p#only-fragment", "http://example.com/p", "http://example.com/p"),
            ("http://example.com/p?", "http://example.com/p", "http://example.com/p?"),
        ];
        for (input, without, with) in cases {
            let url = Url::parse(input).unwrap();
            assert_eq!(recorded_url(&url, false), without, "{input} without query");
            assert_eq!(recorded_url(&url, true), with, "{input} with query");
        }
    }

    #[test]
    fn recorded_url_never_holds_credentials() {
        for input in ["http://a:b@h/", "http://a%3Ab:c%40d@h:1/x?y", "http://a:@h/", "http://@h/"] {
            let url = Url::parse(input).unwrap();
            for keep in [false, true] {
                let recorded = recorded_url(&url, keep);
                assert!(!recorded.contains('@'), "{input} -> {recorded}");
                assert!(recorded.starts_with("http://h"), "{input} -> {recorded}");
            }
        }
    }

    #[test]
    fn host_names() {
        let cases = [
            ("http://example.com/x", "example.com"),
            ("http://user:pw@api.example.com:8443/", "api.example.com"),
            ("http://127.0.0.1:3000/", "127.0.0.1"),
            ("http://[::1]:3000/", "::1"),
            ("http://[2001:db8::7]/", "2001:db8::7"),
        ];
        for (input, want) in cases {
            assert_eq!(host_name(&Url::parse(input).unwrap()), want, "{input}");
        }
    }
}
