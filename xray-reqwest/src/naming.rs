//! How an outgoing call's subsegment is named.
//!
//! X-Ray draws one service-map node per distinct subsegment name under the `remote`
//! namespace, so the name decides how downstream services appear. The host is the usual
//! choice; a fixed name suits a client that talks to one logical service behind several hosts.

use std::borrow::Cow;

use reqwest::Request;

use crate::url::host_name;

/// Names the subsegment of an outgoing request.
///
/// Implemented by [`DefaultNamer`] (the host), by `&'static str` and `String` (a fixed name),
/// and by closures `Fn(&reqwest::Request) -> impl Into<Cow<'static, str>>`. Names are
/// sanitized for X-Ray afterwards, so an implementation need not check characters. The namer
/// runs only for sampled calls.
///
/// ```
/// use xray_reqwest::XrayMiddleware;
///
/// let by_path = XrayMiddleware::new().with_naming(|req: &reqwest::Request| {
///     if req.url().path().starts_with("/v2/") { "inventory-v2" } else { "inventory" }
/// });
/// let fixed = XrayMiddleware::new().with_naming("payments");
/// # let _ = (by_path, fixed);
/// ```
pub trait SubsegmentNamer: Send + Sync + 'static {
    /// The subsegment name for `request`.
    fn name<'r>(&'r self, request: &'r Request) -> Cow<'r, str>;
}

/// Names the subsegment after the request's host (`api.example.com`; an IPv6 literal without
/// its brackets), as the other X-Ray SDKs do.
///
/// ```
/// use xray_reqwest::{DefaultNamer, SubsegmentNamer};
///
/// let req = reqwest::Request::new(reqwest::Method::GET, "http://u:p@api.example.com:8443/x".parse().unwrap());
/// assert_eq!(DefaultNamer.name(&req), "api.example.com");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultNamer;

impl SubsegmentNamer for DefaultNamer {
    fn name<'r>(&'r self, request: &'r Request) -> Cow<'r, str> {
        Cow::Borrowed(host_name(request.url()))
    }
}

impl SubsegmentNamer for &'static str {
    fn name<'r>(&'r self, _: &'r Request) -> Cow<'r, str> {
        Cow::Borrowed(self)
    }
}

impl SubsegmentNamer for String {
    fn name<'r>(&'r self, _: &'r Request) -> Cow<'r, str> {
        Cow::Borrowed(self.as_str())
    }
}

impl<F, N> SubsegmentNamer for F
where
    F: Fn(&Request) -> N + Send + Sync + 'static,
    N: Into<Cow<'static, str>>,
{
    fn name<'r>(&'r self, request: &'r Request) -> Cow<'r, str> {
        self(request).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> Request {
        Request::new(reqwest::Method::POST, url.parse().unwrap())
    }

    #[test]
    fn every_kind_of_namer() {
        let req = request("http://orders.internal:9000/v1/orders?id=7");
        assert_eq!(DefaultNamer.name(&req), "orders.internal");
        assert_eq!("orders".name(&req), "orders");
        assert_eq!(String::from("orders-svc").name(&req), "orders-svc");
        let closure = |r: &Request| format!("{} {}", r.method(), r.url().path());
        assert_eq!(closure.name(&req), "POST /v1/orders");
        let fixed_closure = |_: &Request| "orders";
        assert!(matches!(fixed_closure.name(&req), Cow::Borrowed("orders")));
    }

    #[test]
    fn default_name_borrows() {
        let req = request("http://[::1]:8080/");
        assert!(matches!(DefaultNamer.name(&req), Cow::Borrowed("::1")));
    }
}
