//! The daemon's UDP wire format: a header line, a newline, one segment document.

use serde_json::Value;

/// The largest datagram an X-Ray daemon reads, in bytes.
pub const MAX_DATAGRAM_BYTES: usize = 64 * 1024;

/// The largest segment document X-Ray accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64_000;

/// The header line SDKs put before every document (without its newline).
pub const HEADER: &str = r#"{"format":"json","version":1}"#;

/// Why a datagram could not be split into header and document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The datagram holds no bytes at all.
    #[error("empty datagram: an X-Ray SDK sends a header line and a document in every datagram")]
    Empty,
    /// The datagram is longer than a daemon reads.
    #[error(
        "datagram of {size} bytes is larger than the 64 KiB a daemon reads: \
         send big subsegments as separate documents"
    )]
    TooLarge {
        /// Size of the datagram in bytes.
        size: usize,
    },
    /// The datagram does not start with a header line.
    #[error(
        "no header line: is this an X-Ray SDK? Every datagram must start with \
         {HEADER} and a newline, then one segment document"
    )]
    NoHeader,
    /// The first line is a JSON header, but not the X-Ray one.
    #[error(
        "header line {found} is not the X-Ray header: send {HEADER} \
         (format \"json\", version 1) and a newline before the document"
    )]
    BadHeader {
        /// The header line as received, shortened if long.
        found: String,
    },
    /// Nothing follows the header line.
    #[error("nothing after the header line: send exactly one segment document after it")]
    EmptyBody,
}

/// Splits a datagram into its header line and document; returns the document bytes.
///
/// The header may use any spacing and key order, and may end in `\r\n`. A datagram that
/// starts with a segment document instead of a header is reported as
/// [`ProtocolError::NoHeader`].
///
/// ```
/// use xray_local::protocol::{split_datagram, ProtocolError};
///
/// let body = split_datagram(b"{\"format\": \"json\", \"version\": 1}\n{\"name\":\"a\"}").unwrap();
/// assert_eq!(body, b"{\"name\":\"a\"}");
/// assert_eq!(split_datagram(b"{\"name\":\"a\"}"), Err(ProtocolError::NoHeader));
/// ```
pub fn split_datagram(datagram: &[u8]) -> Result<&[u8], ProtocolError> {
    if datagram.iter().all(u8::is_ascii_whitespace) {
        return Err(ProtocolError::Empty);
    }
    if datagram.len() > MAX_DATAGRAM_BYTES {
        return Err(ProtocolError::TooLarge { size: datagram.len() });
    }
    let (line, body) = match datagram.iter().position(|&b| b == b'\n') {
        Some(at) => (&datagram[..at], &datagram[at + 1..]),
        None => (datagram, &datagram[datagram.len()..]),
    };
    check_header(line)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ProtocolError::EmptyBody);
    }
    Ok(body)
}

/// Accepts the header line, or says why it is not one.
fn check_header(line: &[u8]) -> Result<(), ProtocolError> {
    // A first line that is not JSON is most often a pretty-printed document ("{")
    // or plain text: either way, no header was sent.
    let Ok(Value::Object(header)) = serde_json::from_slice::<Value>(line) else {
        return Err(ProtocolError::NoHeader);
    };
    let format = header.get("format");
    let version = header.get("version");
    if format.is_none() && version.is_none() {
        // A JSON object without header keys is a document sent without its header.
        return Err(ProtocolError::NoHeader);
    }
    let format_ok = format.and_then(Value::as_str) == Some("json");
    let version_ok = version.and_then(Value::as_f64) == Some(1.0);
    if format_ok && version_ok {
        Ok(())
    } else {
        Err(ProtocolError::BadHeader { found: shorten(&String::from_utf8_lossy(line), 80) })
    }
}

/// Cuts `text` to at most `max` characters, the last one marking the cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"name":"a","id":"70de5b6f19ff9a0a"}"#;

    #[test]
    fn accepts_header_variants() {
        let headers = [
            r#"{"format":"json","version":1}"#,
            r#"{"format": "json", "version": 1}"#,
            r#"{ "version" : 1 , "format" : "json" }"#,
            r#"{"format":"json","version":1.0}"#,
            "{\"format\":\"json\",\"version\":1}\r",
        ];
        for header in headers {
            let datagram = format!("{header}\n{DOC}");
            assert_eq!(split_datagram(datagram.as_bytes()), Ok(DOC.as_bytes()), "header {header:?}");
        }
    }

    #[test]
    fn rejects_bad_datagrams() {
        let big = format!("{HEADER}\n{}", "x".repeat(MAX_DATAGRAM_BYTES));
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"", ProtocolError::Empty),
            (b" \n ", ProtocolError::Empty),
            (DOC.as_bytes(), ProtocolError::NoHeader),
            (b"{\n  \"name\": \"a\"\n}", ProtocolError::NoHeader),
            (b"hello world\n{}", ProtocolError::NoHeader),
            (b"\xff\xfe\n{}", ProtocolError::NoHeader),
            (b"{\"name\":\"a\"}\n{\"name\":\"b\"}", ProtocolError::NoHeader),
            (HEADER.as_bytes(), ProtocolError::EmptyBody),
            (b"{\"format\":\"json\",\"version\":1}\n  \n", ProtocolError::EmptyBody),
            (big.as_bytes(), ProtocolError::TooLarge { size: big.len() }),
        ];
        for (datagram, want) in cases {
            assert_eq!(
                split_datagram(datagram).as_ref(),
                Err(want),
                "datagram {:?}",
                String::from_utf8_lossy(&datagram[..datagram.len().min(40)])
            );
        }
    }

    #[test]
    fn reports_wrong_header_values() {
        for header in [
            r#"{"format":"xml","version":1}"#,
            r#"{"format":"json","version":2}"#,
            r#"{"format":"json"}"#,
            r#"{"version":"1","format":"json"}"#,
        ] {
            let datagram = format!("{header}\n{DOC}");
            match split_datagram(datagram.as_bytes()) {
                Err(ProtocolError::BadHeader { found }) => assert_eq!(found, header),
                other => panic!("header {header}: got {other:?}"),
            }
        }
    }

    #[test]
    fn messages_explain_the_fix() {
        assert!(ProtocolError::NoHeader.to_string().contains("is this an X-Ray SDK?"));
        assert!(ProtocolError::NoHeader.to_string().contains(HEADER));
    }

    #[test]
    fn shorten_counts_characters() {
        assert_eq!(shorten("héllo", 10), "héllo");
        assert_eq!(shorten("héllo", 5), "héllo");
        assert_eq!(shorten("héllo", 3), "hé…");
    }
}
