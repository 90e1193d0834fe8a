//! Format rules for single fields: ids, trace ids, names, annotation keys.
//!
//! Written out by hand from the segment-document schema and the developer guide, so that
//! the daemon needs no schema file or regex engine at run time.

/// The longest segment name X-Ray accepts, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 200;

/// The longest annotation key X-Ray accepts, in characters.
pub(crate) const MAX_ANNOTATION_KEY_CHARS: usize = 500;

/// The longest annotation string value X-Ray accepts, in characters.
pub(crate) const MAX_ANNOTATION_VALUE_CHARS: usize = 1000;

/// The longest string field in an `http.request` block, in characters.
pub(crate) const MAX_HTTP_FIELD_CHARS: usize = 250;

/// Symbols allowed in names besides letters, numbers and whitespace.
const NAME_SYMBOLS: &str = "_.:/%&#=+\\-@";

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An entity id: 16 hexadecimal digits, either case.
pub(crate) fn is_entity_id(s: &str) -> bool {
    is_hex(s, 16)
}

/// A trace id: `1-`, 8 hex digits of epoch seconds, `-`, 24 hex digits.
pub(crate) fn is_trace_id(s: &str) -> bool {
    let mut parts = s.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("1"), Some(time), Some(random), None) if is_hex(time, 8) && is_hex(random, 24)
    )
}

/// Why `name` is not a valid segment name, or `None` when it is.
pub(crate) fn name_error(name: &str) -> Option<String> {
    let chars = name.chars().count();
    if chars == 0 {
        return Some("is empty".to_owned());
    }
    if chars > MAX_NAME_CHARS {
        return Some(format!("is {chars} characters long, more than the {MAX_NAME_CHARS} X-Ray accepts"));
    }
    let mut bad: Vec<char> = name.chars().filter(|&c| !is_name_char(c)).collect();
    bad.dedup();
    if bad.is_empty() {
        return None;
    }
    let shown: String = bad.iter().take(5).map(|c| format!("{c:?} ")).collect();
    Some(format!("contains {}which X-Ray refuses: use letters, numbers, spaces and {NAME_SYMBOLS}", shown))
}

/// Unicode letters, numbers, whitespace, and a few symbols (`java_pattern` in the schema).
fn is_name_char(c: char) -> bool {
    c.is_alphabetic() || c.is_numeric() || c.is_whitespace() || NAME_SYMBOLS.contains(c)
}

/// An annotation key: 1 to 500 ASCII letters, digits or underscores.
pub(crate) fn is_annotation_key(key: &str) -> bool {
    (1..=MAX_ANNOTATION_KEY_CHARS).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_ids() {
        let cases = [
            ("70de5b6f19ff9a0a", true),
            ("70DE5B6F19FF9A0A", true),
            ("70de5b6f19ff9a0", false),
            ("70de5b6f19ff9a0a0", false),
            ("70de5b6f19ff9a0g", false),
            ("", false),
            ("70de5b6f19ff9a0é", false),
        ];
        for (id, ok) in cases {
            assert_eq!(is_entity_id(id), ok, "{id:?}");
        }
    }

    #[test]
    fn trace_ids() {
        let cases = [
            ("1-581cf771-a006649127e371903a2de979", true),
            ("1-581CF771-A006649127E371903A2DE979", true),
            ("2-581cf771-a006649127e371903a2de979", false),
            ("1-581cf77-a006649127e371903a2de979", false),
            ("1-581cf771-a006649127e371903a2de97", false),
            ("1-581cf771-a006649127e371903a2de979-", false),
            ("1-abc-a006649127e371903a2de979a006649127e", false),
            ("581cf771a006649127e371903a2de979", false),
            ("1-581cf771-a006649127e371903a2de97z", false),
            ("", false),
        ];
        for (id, ok) in cases {
            assert_eq!(is_trace_id(id), ok, "{id:?}");
        }
    }

    #[test]
    fn names() {
        let long = "a".repeat(MAX_NAME_CHARS);
        let too_long = "a".repeat(MAX_NAME_CHARS + 1);
        let good = [
            "example.com",
            "user-management",
            "db@host:5432",
            "## UserModel.saveUser",
            "GET /a/b&y=2%20+z#top",
            "back\\slash",
            "ünïcödé 名前 ١٢٣",
            long.as_str(),
        ];
        for name in good {
            assert_eq!(name_error(name), None, "{name:?}");
        }
        let bad = [
            ("", "empty"),
            (too_long.as_str(), "201 characters"),
            ("my service!", "'!'"),
            ("a(b)", "'('"),
            ("x*y", "'*'"),
            ("/a?b=1", "'?'"),
            ("quote\"", "'\"'"),
        ];
        for (name, why) in bad {
            let err = name_error(name).unwrap_or_default();
            assert!(err.contains(why), "{name:?}: {err}");
        }
    }

    #[test]
    fn annotation_keys() {
        let cases = [
            ("user_id", true),
            ("A1", true),
            ("_", true),
            ("", false),
            ("user-id", false),
            ("user id", false),
            ("ключ", false),
        ];
        for (key, ok) in cases {
            assert_eq!(is_annotation_key(key), ok, "{key:?}");
        }
        assert!(is_annotation_key(&"k".repeat(500)));
        assert!(!is_annotation_key(&"k".repeat(501)));
    }
}
