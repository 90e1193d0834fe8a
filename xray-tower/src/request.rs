//! What the segment learns from the incoming request: host, URL, caller address, user agent.
//!
//! Everything here borrows from the request; only [`http_request`] allocates, and it runs for
//! sampled requests only.

use std::net::SocketAddr;

use http::header::{HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use xray_core::integration::HttpRequest;

use crate::propagation::TRACE_HEADER;

// `const` names: a `&str` key would be parsed and validated on every comparison.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// The request headers the layer reads, found in one walk over the map ([`first_values`]).
#[derive(Default, Clone, Copy)]
pub(crate) struct Headers<'a> {
    pub(crate) trace: Option<&'a HeaderValue>,
    host: Option<&'a HeaderValue>,
    user_agent: Option<&'a HeaderValue>,
    forwarded_for: Option<&'a HeaderValue>,
    forwarded_proto: Option<&'a HeaderValue>,
}

impl<'a> Headers<'a> {
    pub(crate) fn scan(map: &'a HeaderMap) -> Self {
        let [host, user_agent, trace, forwarded_for, forwarded_proto] =
            first_values(map, [&HOST, &USER_AGENT, &TRACE_HEADER, &X_FORWARDED_FOR, &X_FORWARDED_PROTO]);
        Self { trace, host, user_agent, forwarded_for, forwarded_proto }
    }
}

/// The first value of each of `names` in `map`, as `HeaderMap::get` would return it, found in
/// one walk over the map: for the few headers a request or response carries, comparing names
/// costs less than one hashed lookup per name, most of them for names that are not there.
pub(crate) fn first_values<'a, const N: usize>(
    map: &'a HeaderMap,
    names: [&HeaderName; N],
) -> [Option<&'a HeaderValue>; N] {
    let mut found = [None; N];
    for (name, value) in map {
        if let Some(i) = names.iter().position(|wanted| *wanted == name) {
            found[i].get_or_insert(value);
        }
    }
    found
}

/// A header as text. `to_str` admits only visible ASCII and tabs, so `str::trim_ascii` (which
/// skips the Unicode tables that `str::trim` consults) trims all the whitespace there can be.
fn text(value: Option<&HeaderValue>) -> Option<&str> {
    value.and_then(|v| v.to_str().ok())
}

/// A header holding a number, such as `Content-Length` or `grpc-status`.
pub(crate) fn number<T: std::str::FromStr>(value: Option<&HeaderValue>) -> Option<T> {
    text(value).and_then(|v| v.trim_ascii().parse().ok())
}

/// [`text`] of one header looked up in `headers`, for code that has not scanned them.
fn header(headers: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    text(headers.get(name))
}

/// The host as the caller sent it (`Host` header, else the URI's authority), port included,
/// never the user-info a client may have put in either.
pub(crate) fn host<'a, B>(request: &'a Request<B>, headers: &Headers<'a>) -> Option<&'a str> {
    text(headers.host)
        .map(str::trim_ascii)
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .map(without_user_info)
}

/// `user:password@host:port` → `host:port`.
fn without_user_info(authority: &str) -> &str {
    authority.rsplit('@').next().unwrap_or(authority)
}

/// [`host`] for code that has not scanned the headers: one lookup.
pub(crate) fn host_of<B>(request: &Request<B>) -> Option<&str> {
    let headers = Headers { host: request.headers().get(HOST), ..Headers::default() };
    host(request, &headers)
}

/// `http` unless the URI or a proxy's `X-Forwarded-Proto` says otherwise.
fn scheme<'a>(uri: &'a Uri, headers: &Headers<'a>) -> &'a str {
    uri.scheme_str()
        .or_else(|| text(headers.forwarded_proto).and_then(|v| v.split(',').next()).map(str::trim_ascii))
        .filter(|s| !s.is_empty())
        .unwrap_or("http")
}

/// `scheme://host/path`, plus `?query` when `keep_query`.
fn url(uri: &Uri, host: Option<&str>, headers: &Headers<'_>, keep_query: bool) -> String {
    let scheme = scheme(uri, headers);
    let host = host.unwrap_or("");
    let path = uri.path();
    let query = uri.query().filter(|_| keep_query);
    let mut url = String::with_capacity(scheme.len() + 3 + host.len() + path.len() + query.map_or(0, |q| q.len() + 1));
    url.push_str(scheme);
    url.push_str("://");
    url.push_str(host);
    url.push_str(path);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// The caller: the first `X-Forwarded-For` entry (flagged as such, since a client can forge
/// it), else the peer address the server put in the extensions.
fn client_ip<B>(request: &Request<B>, headers: &Headers<'_>) -> Option<(String, bool)> {
    let forwarded =
        text(headers.forwarded_for).and_then(|v| v.split(',').next()).map(str::trim_ascii).filter(|v| !v.is_empty());
    if let Some(ip) = forwarded {
        return Some((ip.to_owned(), true));
    }
    peer_addr(request).map(|addr| (addr.ip().to_string(), false))
}

fn peer_addr<B>(request: &Request<B>) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    // Servers built directly on hyper commonly insert the accepted connection's address.
    request.extensions().get::<SocketAddr>().copied()
}

/// The `http.request` block of a sampled request's segment; `host` is [`host`]'s answer,
/// which the caller has already looked up for the sampler.
pub(crate) fn http_request<B>(
    request: &Request<B>,
    headers: &Headers<'_>,
    host: Option<&str>,
    keep_query: bool,
) -> HttpRequest {
    let (client_ip, x_forwarded_for) = client_ip(request, headers).map_or((None, false), |(ip, xff)| (Some(ip), xff));
    HttpRequest {
        method: Some(xray_core::model::method_name(request.method().as_str())),
        url: Some(url(request.uri(), host, headers, keep_query)),
        user_agent: text(headers.user_agent).map(str::to_owned),
        client_ip,
        x_forwarded_for,
        traced: false,
    }
}

/// The URL of an outgoing call: scheme, host and port, and path; never the user info or the
/// query, which may carry credentials.
pub(crate) fn outgoing_url<B>(request: &Request<B>) -> String {
    let uri = request.uri();
    let (host, port) = outgoing_authority(request).map_or(("", ""), split_port);
    let colon = if port.is_empty() { "" } else { ":" };
    format!("{}://{host}{colon}{port}{}", uri.scheme_str().unwrap_or("http"), uri.path())
}

/// The host of an outgoing call, without port or user-info, for naming its subsegment.
pub(crate) fn outgoing_host<B>(request: &Request<B>) -> Option<&str> {
    outgoing_authority(request).map(|a| split_port(a).0)
}

/// `host[:port]` of an outgoing call: the URI's authority, else the `Host` header.
fn outgoing_authority<B>(request: &Request<B>) -> Option<&str> {
    request.uri().authority().map(|a| a.as_str()).or_else(|| header(request.headers(), HOST)).map(without_user_info)
}

/// `host:port` → (`host`, `port`); an IPv6 literal keeps its brackets.
fn split_port(authority: &str) -> (&str, &str) {
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port),
        _ => (authority, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::post(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    /// URI, headers, keep the query, expected URL.
    type UrlCase = (&'static str, &'static [(&'static str, &'static str)], bool, &'static str);

    #[test]
    fn url_table() {
        let cases: [UrlCase; 7] = [
            ("/a/b?x=1", &[("host", "svc.local:8080")], false, "http://svc.local:8080/a/b"),
            ("/a/b?x=1", &[("host", "svc.local")], true, "http://svc.local/a/b?x=1"),
            ("https://h2.example/p?q", &[], false, "https://h2.example/p"),
            ("/p", &[("host", "h"), ("x-forwarded-proto", "https, http")], false, "https://h/p"),
            ("/p", &[("host", "h"), ("x-forwarded-proto", "")], false, "http://h/p"),
            ("/", &[], false, "http:///"),
            ("http://user:pw@h.example/p", &[], false, "http://h.example/p"),
        ];
        for (uri, headers, keep, expected) in cases {
            let r = req(uri, headers);
            let seen = Headers::scan(r.headers());
            let h = http_request(&r, &seen, host(&r, &seen), keep);
            assert_eq!(h.url.as_deref(), Some(expected), "{uri} {headers:?}");
        }
    }

    #[test]
    fn client_ip_prefers_first_forwarded_entry() {
        let mut r = req("/", &[("x-forwarded-for", " 203.0.113.7 , 10.0.0.1")]);
        r.extensions_mut().insert(SocketAddr::from(([127, 0, 0, 1], 9)));
        let seen = Headers::scan(r.headers());
        let h = http_request(&r, &seen, host(&r, &seen), false);
        assert_eq!(h.client_ip.as_deref(), Some("203.0.113.7"));
        assert!(h.x_forwarded_for);

        let mut r = req("/", &[("x-forwarded-for", " ")]);
        r.extensions_mut().insert(SocketAddr::from(([192, 0, 2, 1], 9)));
        let seen = Headers::scan(r.headers());
        let h = http_request(&r, &seen, host(&r, &seen), false);
        assert_eq!(h.client_ip.as_deref(), Some("192.0.2.1"));
        assert!(!h.x_forwarded_for);

        let r = req("/", &[]);
        let seen = Headers::scan(r.headers());
        let h = http_request(&r, &seen, host(&r, &seen), false);
        assert_eq!(h.client_ip, None);
    }

    #[test]
    fn scan_keeps_the_first_value_of_each_name() {
        let mut map = HeaderMap::new();
        map.append(HOST, HeaderValue::from_static("first.example"));
        map.append(HOST, HeaderValue::from_static("second.example"));
        map.append("x-other", HeaderValue::from_static("x"));
        map.append(X_FORWARDED_FOR, HeaderValue::from_static("203.0.113.7"));
        map.append(X_FORWARDED_FOR, HeaderValue::from_static("198.51.100.1"));
        map.append(TRACE_HEADER, HeaderValue::from_static("Root=a"));
        map.append(TRACE_HEADER, HeaderValue::from_static("Root=b"));
        let seen = Headers::scan(&map);
        assert_eq!(seen.host.unwrap(), "first.example");
        assert_eq!(seen.forwarded_for.unwrap(), "203.0.113.7");
        assert_eq!(seen.trace.unwrap(), "Root=a");
        assert!(seen.user_agent.is_none() && seen.forwarded_proto.is_none());
    }

    #[test]
    fn method_and_user_agent() {
        let r = req("/", &[("user-agent", "curl/8")]);
        let seen = Headers::scan(r.headers());
        let h = http_request(&r, &seen, host(&r, &seen), false);
        assert_eq!(h.method.as_deref(), Some("POST"));
        assert_eq!(h.user_agent.as_deref(), Some("curl/8"));
    }

    #[test]
    fn outgoing_url_strips_credentials_and_query() {
        let r = req("https://user:secret@api.example.com:8443/v1/items?token=abc", &[]);
        assert_eq!(outgoing_url(&r), "https://api.example.com:8443/v1/items");
        assert_eq!(outgoing_host(&r), Some("api.example.com"));
        let r = req("/relative", &[("host", "backend:9000")]);
        assert_eq!(outgoing_url(&r), "http://backend:9000/relative");
        assert_eq!(outgoing_host(&r), Some("backend"));
        let r = req("/relative", &[("host", "user:secret@backend:9000")]);
        assert_eq!(outgoing_url(&r), "http://backend:9000/relative");
        assert_eq!(outgoing_host(&r), Some("backend"));
        let r = req("/v6", &[("host", "[::1]:9000")]);
        assert_eq!((outgoing_url(&r).as_str(), outgoing_host(&r)), ("http://[::1]:9000/v6", Some("[::1]")));
        assert_eq!(outgoing_host(&req("/nowhere", &[])), None);
    }

    #[test]
    fn incoming_host_header_loses_user_info() {
        let r = req("/orders?id=1", &[("host", "alice:pa55word@shop.example:8080")]);
        let seen = Headers::scan(r.headers());
        assert_eq!(host(&r, &seen), Some("shop.example:8080"));
        let h = http_request(&r, &seen, host(&r, &seen), true);
        assert_eq!(h.url.as_deref(), Some("http://shop.example:8080/orders?id=1"));
    }
}
