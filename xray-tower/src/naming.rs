//! How a request's segment is named: a fixed name, the `Host` header for recognised hosts
//! ([`DynamicNaming`]), or a closure.
//!
//! `AWS_XRAY_TRACING_NAME` (or [`RecorderBuilder::with_tracing_name`]) overrides whatever a
//! namer returns; the recorder applies it.
//!
//! [`RecorderBuilder::with_tracing_name`]: xray_core::RecorderBuilder::with_tracing_name

use std::borrow::Cow;

use http::Request;
use xray_core::sampling::Wildcard;

/// Names the segment of an incoming request.
///
/// Implemented by [`FixedName`], [`DynamicNaming`] and closures
/// `Fn(&Request<B>) -> impl Into<Cow<'static, str>>` (a closure's name is computed for every
/// request, sampled or not, because the sampler sees it).
///
/// ```
/// use http::Request;
/// use xray_tower::SegmentNamer;
/// let by_path = |req: &Request<()>| if req.uri().path().starts_with("/admin") { "admin" } else { "public" };
/// let req = Request::get("/admin/users").body(()).unwrap();
/// assert_eq!(by_path.name(&req), "admin");
/// ```
pub trait SegmentNamer<B> {
    /// The segment name for `request`.
    fn name<'a>(&'a self, request: &'a Request<B>) -> Cow<'a, str>;
}

/// Always the same name; what [`XrayLayer::new`](crate::XrayLayer::new) uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedName(Cow<'static, str>);

impl FixedName {
    /// A namer that always answers `name`.
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Self(name.into())
    }
}

impl<B> SegmentNamer<B> for FixedName {
    fn name<'a>(&'a self, _: &'a Request<B>) -> Cow<'a, str> {
        Cow::Borrowed(&self.0)
    }
}

impl<B, F, N> SegmentNamer<B> for F
where
    F: Fn(&Request<B>) -> N,
    N: Into<Cow<'static, str>>,
{
    fn name<'a>(&'a self, request: &'a Request<B>) -> Cow<'a, str> {
        self(request).into()
    }
}

/// Names the segment after the request's host when the host matches a wildcard pattern, and
/// uses a fallback name otherwise (so that a spoofed `Host` cannot invent services).
///
/// The pattern matches the whole host as sent, port included, without regard to case;
/// `*` stands for any run of characters (also none) and `?` for exactly one. The host is the
/// `Host` header, or the URI's authority for HTTP/2.
///
/// ```
/// use http::Request;
/// use xray_tower::{DynamicNaming, SegmentNamer};
/// let naming = DynamicNaming::new("*.example.com", "example");
/// let req = Request::get("/").header("host", "API.Example.com").body(()).unwrap();
/// assert_eq!(naming.name(&req), "API.Example.com");
/// let req = Request::get("/").header("host", "attacker.test").body(()).unwrap();
/// assert_eq!(naming.name(&req), "example");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicNaming {
    pattern: Wildcard,
    fallback: Cow<'static, str>,
}

impl DynamicNaming {
    /// Hosts matching `pattern` name their segment; others get `fallback`.
    pub fn new(pattern: impl Into<Cow<'static, str>>, fallback: impl Into<Cow<'static, str>>) -> Self {
        Self { pattern: Wildcard::new(&pattern.into()), fallback: fallback.into() }
    }
}

impl<B> SegmentNamer<B> for DynamicNaming {
    fn name<'a>(&'a self, request: &'a Request<B>) -> Cow<'a, str> {
        match crate::request::host_of(request) {
            Some(host) if !host.is_empty() && self.pattern.matches(host) => Cow::Borrowed(host),
            _ => Cow::Borrowed(&self.fallback),
        }
    }
}

/// Names the subsegment of an outgoing call made through
/// [`XrayClientLayer`](crate::XrayClientLayer), as `xray_reqwest::SubsegmentNamer` does for
/// reqwest. X-Ray draws one service-map node per distinct name in the `remote` namespace.
///
/// Implemented by [`DefaultClientNamer`] (the host), [`FixedName`], `&'static str`, and
/// closures `Fn(&Request<B>) -> impl Into<Cow<'static, str>>`; it runs for sampled calls only.
///
/// ```
/// use http::Request;
/// use xray_tower::{ClientNamer, DefaultClientNamer};
/// let req = Request::get("http://10.0.0.7:8080/v2/items").body(()).unwrap();
/// assert_eq!(DefaultClientNamer.name(&req), "10.0.0.7");
/// let by_version = |req: &Request<()>| if req.uri().path().starts_with("/v2/") { "inventory-v2" } else { "inventory" };
/// assert_eq!(by_version.name(&req), "inventory-v2");
/// ```
pub trait ClientNamer<B> {
    /// The subsegment name for `request`.
    fn name<'a>(&'a self, request: &'a Request<B>) -> Cow<'a, str>;
}

/// Names a call after its host (the URI's, else the `Host` header's), without port or the
/// brackets of an IPv6 literal; `unknown` when there is none, as in `xray-reqwest`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultClientNamer;

impl<B> ClientNamer<B> for DefaultClientNamer {
    fn name<'a>(&'a self, request: &'a Request<B>) -> Cow<'a, str> {
        Cow::Borrowed(xray_core::outbound::host_name(crate::request::outgoing_host(request)))
    }
}

impl<B> ClientNamer<B> for FixedName {
    fn name<'a>(&'a self, _: &'a Request<B>) -> Cow<'a, str> {
        Cow::Borrowed(&self.0)
    }
}

impl<B> ClientNamer<B> for &'static str {
    fn name<'a>(&'a self, _: &'a Request<B>) -> Cow<'a, str> {
        Cow::Borrowed(self)
    }
}

impl<B, F, N> ClientNamer<B> for F
where
    F: Fn(&Request<B>) -> N,
    N: Into<Cow<'static, str>>,
{
    fn name<'a>(&'a self, request: &'a Request<B>) -> Cow<'a, str> {
        self(request).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_namers() {
        let req = Request::get("http://[::1]:9/x").body(()).unwrap();
        assert_eq!(DefaultClientNamer.name(&req), "::1");
        assert_eq!(DefaultClientNamer.name(&Request::get("/x").body(()).unwrap()), "unknown");
        assert_eq!(ClientNamer::<()>::name(&FixedName::new("stock"), &req), "stock");
        assert_eq!(ClientNamer::<()>::name(&"stock", &req), "stock");
    }

    #[test]
    fn wildcard_table() {
        let cases = [
            ("*", "", true),
            ("*", "anything.example.com", true),
            ("", "", true),
            ("", "a", false),
            ("a", "", false),
            ("*.example.com", "api.example.com", true),
            ("*.example.com", "API.EXAMPLE.COM", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "api.example.com.evil.test", false),
            ("api.*.com", "api.x.y.com", true),
            ("?.example.com", "a.example.com", true),
            ("?.example.com", "ab.example.com", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("**a", "bbba", true),
            ("*:8080", "localhost:8080", true),
            ("*:8080", "localhost:8081", false),
            ("héllo*", "HÉLLO", true), // letters fold by their Unicode lowercase
            ("héllo*", "héllo-world", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(Wildcard::new(pattern).matches(text), expected, "{pattern:?} vs {text:?}");
        }
    }

    #[test]
    fn long_inputs_stay_fast_enough_to_not_matter() {
        // A pathological pattern for naive backtracking: many stars and a miss at the end.
        let pattern = "*a".repeat(50) + "b";
        let text = "a".repeat(250);
        assert!(!Wildcard::new(&pattern).matches(&text));
    }

    #[test]
    fn dynamic_naming_uses_authority_without_host_header() {
        let naming = DynamicNaming::new("*.internal", "fallback");
        let req = Request::get("http://orders.internal/x").body(()).unwrap();
        assert_eq!(naming.name(&req), "orders.internal");
        let req = Request::get("/x").body(()).unwrap();
        assert_eq!(naming.name(&req), "fallback");
    }

    #[test]
    fn fixed_and_closure_namers() {
        let req = Request::get("/").body(()).unwrap();
        // Both namer traits are in scope here, so the calls name theirs.
        assert_eq!(SegmentNamer::name(&FixedName::new("svc"), &req), "svc");
        let owned = |_: &Request<()>| String::from("owned");
        assert_eq!(SegmentNamer::name(&owned, &req), "owned");
    }
}
