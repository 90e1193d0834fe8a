//! The URL recorded in `http.request.url`: credentials and fragment never, the query string
//! only when asked for.
//!
//! Both are cut from the URL's own serialization in one pass, so recording a call costs one
//! string allocation. The cuts are safe on that serialization because the `url` crate
//! percent-encodes `@`, `?` and `#` inside user-info, and `?` and `#` inside the path: the first
//! `@` after `scheme://` ends the user-info (when there is one) and the first `?` or `#` ends the
//! path.

use reqwest::Url;

/// The URL as it is recorded: without user-info or fragment, and without the query string
/// unless `keep_query` is set.
pub(crate) fn recorded_url(url: &Url, keep_query: bool) -> String {
    let text = url.as_str();
    // Bytes, not a `char` pattern: both marks are ASCII, and a byte scan skips UTF-8 decoding.
    let end = text.bytes().position(|b| b == b'#' || (b == b'?' && !keep_query)).unwrap_or(text.len());
    let has_credentials = !url.username().is_empty() || url.password().is_some();
    let authority = url.scheme().len() + "://".len();
    let at = if has_credentials {
        text.get(authority..end).and_then(|rest| rest.find('@')).map(|i| authority + i)
    } else {
        None
    };
    match (at, text.get(..authority), text.get(..end)) {
        (Some(at), Some(prefix), _) => {
            let host_and_path = text.get(at + 1..end).unwrap_or("");
            let mut out = String::with_capacity(prefix.len() + host_and_path.len());
            out.push_str(prefix);
            out.push_str(host_and_path);
            out
        }
        (_, _, Some(kept)) => kept.to_owned(),
        _ => text.to_owned(),
    }
}

/// The subsegment name for a URL: its host, without the brackets of an IPv6 literal (X-Ray
/// names cannot hold brackets).
pub(crate) fn host_name(url: &Url) -> &str {
    match url.host_str() {
        Some(host) => host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host),
        None => "unknown",
    }
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
