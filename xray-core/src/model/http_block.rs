//! The `http` block: the request a segment served or a subsegment made, and its response.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::annotation::truncate_chars;

/// The longest string X-Ray keeps in an `http.request` field.
pub const MAX_FIELD_CHARS: usize = 250;

fn is_false(b: &bool) -> bool {
    !*b
}

/// Information about an HTTP request and its response.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Http {
    /// The request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// The response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

/// `http.request`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HttpRequest {
    /// `GET`, `POST`, …; [`method_name`] borrows the standard ones instead of allocating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Cow<'static, str>>,
    /// The full URL (scheme, host, path; the query only when configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The caller's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The caller's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// `true` when `client_ip` came from an `X-Forwarded-For` header and may be spoofed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub x_forwarded_for: bool,
    /// On an outgoing call: the downstream service is traced too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub traced: bool,
}

impl HttpRequest {
    /// Cuts every string field to X-Ray's 250-character limit.
    pub fn truncate_fields(&mut self) {
        if let Some(method) = self.method.as_mut().filter(|m| m.len() > MAX_FIELD_CHARS) {
            truncate_chars(method.to_mut(), MAX_FIELD_CHARS);
        }
        for field in [&mut self.url, &mut self.user_agent, &mut self.client_ip].into_iter().flatten() {
            truncate_chars(field, MAX_FIELD_CHARS);
        }
    }

    pub(crate) fn estimated_size(&self) -> usize {
        [self.method.as_deref(), self.url.as_deref(), self.user_agent.as_deref(), self.client_ip.as_deref()]
            .into_iter()
            .flatten()
            .map(|s| s.len() + 16)
            .sum::<usize>()
            + 40
    }
}

/// An HTTP method's name for [`HttpRequest::method`]: the standard methods are borrowed,
/// any other is copied.
///
/// ```
/// use std::borrow::Cow;
/// assert!(matches!(xray_core::model::method_name("GET"), Cow::Borrowed("GET")));
/// assert_eq!(xray_core::model::method_name("PURGE"), "PURGE");
/// ```
pub fn method_name(method: &str) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];
    match STANDARD.iter().find(|m| **m == method) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(method.to_owned()),
    }
}

/// `http.response`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The length of the response body in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
}

/// The error flags X-Ray derives from a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusFlags {
    /// A client error (4xx).
    pub error: bool,
    /// A server error (5xx).
    pub fault: bool,
    /// Throttled (429).
    pub throttle: bool,
}

impl StatusFlags {
    /// 4xx is an error, 429 an error and a throttle, 5xx a fault.
    ///
    /// ```
    /// use xray_core::integration::StatusFlags;
    /// let f = StatusFlags::from_status(429);
    /// assert!(f.error && f.throttle && !f.fault);
    /// assert!(StatusFlags::from_status(503).fault);
    /// ```
    pub const fn from_status(status: u16) -> Self {
        Self { error: status >= 400 && status < 500, fault: status >= 500 && status < 600, throttle: status == 429 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        let cases = [
            (200, false, false, false),
            (302, false, false, false),
            (400, true, false, false),
            (404, true, false, false),
            (429, true, false, true),
            (500, false, true, false),
            (503, false, true, false),
            (600, false, false, false),
        ];
        for (status, error, fault, throttle) in cases {
            assert_eq!(StatusFlags::from_status(status), StatusFlags { error, fault, throttle }, "{status}");
        }
    }

    #[test]
    fn truncates_long_fields() {
        let mut r = HttpRequest { url: Some(format!("http://h/{}", "a".repeat(400))), ..Default::default() };
        r.truncate_fields();
        assert_eq!(r.url.unwrap().chars().count(), MAX_FIELD_CHARS);
    }
}
