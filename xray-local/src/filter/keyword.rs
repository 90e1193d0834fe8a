//! The keywords of filter expressions: their names, their types, and what is not supported.

use super::FilterError;
use super::lexer::error;

/// A keyword an expression can test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Key {
    Ok,
    Error,
    Throttle,
    Fault,
    Partial,
    Inferred,
    Root,
    ResponseTime,
    Duration,
    HttpStatus,
    HttpUrl,
    HttpMethod,
    HttpUserAgent,
    HttpClientIp,
    User,
    Name,
    Type,
    Message,
    AvailabilityZone,
    InstanceId,
    ResourceArn,
    /// `annotation.KEY`, with the key as written (keys are case-sensitive).
    Annotation(String),
}

/// What kind of value a keyword has, which decides its operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyType {
    Bool,
    Number,
    String,
    /// An annotation: boolean, number or string, whichever the document holds.
    Any,
}

/// Keyword names (lower case) and what they stand for.
const KEYWORDS: &[(&str, Key)] = &[
    ("ok", Key::Ok),
    ("error", Key::Error),
    ("throttle", Key::Throttle),
    ("fault", Key::Fault),
    ("partial", Key::Partial),
    ("inferred", Key::Inferred),
    ("root", Key::Root),
    ("responsetime", Key::ResponseTime),
    ("duration", Key::Duration),
    ("http.status", Key::HttpStatus),
    ("http.url", Key::HttpUrl),
    ("http.method", Key::HttpMethod),
    ("http.useragent", Key::HttpUserAgent),
    ("http.clientip", Key::HttpClientIp),
    ("user", Key::User),
    ("name", Key::Name),
    ("type", Key::Type),
    ("message", Key::Message),
    ("availabilityzone", Key::AvailabilityZone),
    ("instance.id", Key::InstanceId),
    ("resource.arn", Key::ResourceArn),
];

/// Keywords of the guide that need X-Ray's root-cause analysis or groups, which xray-local lacks.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("first", "it applies to root-cause lists (rootcause.*), which xray-local does not compute"),
    ("last", "it applies to root-cause lists (rootcause.*), which xray-local does not compute"),
    ("index", "it applies to root-cause lists (rootcause.*), which xray-local does not compute"),
    ("remote", "it applies to root-cause entities (rootcause.*), which xray-local does not compute"),
    ("coverage", "it applies to response-time root causes (rootcause.*), which xray-local does not compute"),
    ("rootcause", "xray-local does not compute root causes"),
    ("json", "xray-local does not compute root causes, so it has no root-cause JSON"),
    ("group", "xray-local has no groups"),
];

impl Key {
    pub(super) fn key_type(&self) -> KeyType {
        match self {
            Key::Ok | Key::Error | Key::Throttle | Key::Fault | Key::Partial | Key::Inferred | Key::Root => {
                KeyType::Bool
            }
            Key::ResponseTime | Key::Duration | Key::HttpStatus => KeyType::Number,
            Key::Annotation(_) => KeyType::Any,
            _ => KeyType::String,
        }
    }
}

/// The keyword a word names (case-insensitive), or a message saying why it is not one.
pub(super) fn lookup(word: &str, pos: usize) -> Result<Key, FilterError> {
    let lower = word.to_ascii_lowercase();
    if let Some((_, key)) = KEYWORDS.iter().find(|(name, _)| *name == lower) {
        return Ok(key.clone());
    }
    if lower.starts_with("annotation.") {
        // The prefix is ASCII, so the key starts at the same byte offset in the original.
        let key = &word["annotation.".len()..];
        if key.is_empty() || key.contains('.') {
            let message = "annotation keys are letters, digits and _ after \"annotation.\", as in annotation.userId";
            return Err(error(pos, message));
        }
        return Ok(Key::Annotation(key.to_owned()));
    }
    let head = lower.split('.').next().unwrap_or_default();
    if let Some((_, why)) = UNSUPPORTED.iter().find(|(name, _)| *name == head) {
        return Err(error(pos, format!("{word} is not supported: {why}")));
    }
    if lower == "id" {
        return Err(error(pos, "id(...) names a service: use it inside service(...) or edge(...)"));
    }
    if matches!(lower.as_str(), "not") {
        return Err(error(pos, "use ! to negate a filter, as in !ok"));
    }
    if matches!(lower.as_str(), "contains" | "beginswith" | "endswith") {
        return Err(error(
            pos,
            format!(
                "{} needs a string keyword before it, as in http.url {} \"...\"",
                word.to_uppercase(),
                word.to_uppercase()
            ),
        ));
    }
    if matches!(lower.as_str(), "true" | "false") {
        return Err(error(pos, format!("{word} needs a keyword before it, as in ok = {lower}")));
    }
    let message = match suggestion(&lower) {
        Some(near) => format!("unknown keyword {word:?}: did you mean {near}?"),
        None => format!("unknown keyword {word:?}"),
    };
    Err(error(pos, message))
}

/// The known keyword within two edits of the word (one for words of up to four letters), if any;
/// words longer than 32 are not tried.
fn suggestion(word: &str) -> Option<&'static str> {
    if word.len() > 32 {
        return None;
    }
    let max = if word.len() <= 4 { 1 } else { 2 };
    let names = KEYWORDS.iter().map(|(name, _)| *name).chain(["service", "edge", "annotation.KEY"]);
    names.map(|name| (distance(word, name), name)).filter(|(d, _)| *d <= max).min_by_key(|(d, _)| *d).map(|(_, n)| n)
}

/// Levenshtein distance between two short ASCII words.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_ignore_case_but_annotation_keys_do_not() {
        assert_eq!(lookup("responseTime", 0), Ok(Key::ResponseTime));
        assert_eq!(lookup("HTTP.Status", 0), Ok(Key::HttpStatus));
        assert_eq!(lookup("Annotation.userId", 0), Ok(Key::Annotation("userId".into())));
    }

    #[test]
    fn messages_for_words_that_are_not_keywords() {
        let cases = [
            ("responsetme", "did you mean responsetime?"),
            ("htp.url", "did you mean http.url?"),
            ("banana", "unknown keyword \"banana\""),
            ("rootcause.fault.service", "not supported"),
            ("first", "root-cause"),
            ("group.name", "no groups"),
            ("annotation.", "annotation keys"),
            ("NOT", "use !"),
            ("contains", "CONTAINS needs a string keyword"),
            ("true", "ok = true"),
            ("id", "inside service(...) or edge(...)"),
            ("od", "unknown keyword \"od\": did you mean ok?"),
            ("ab", "unknown keyword \"ab\""),
        ];
        for (word, want) in cases {
            let err = lookup(word, 3).expect_err(word);
            assert_eq!(err.position, 3);
            assert!(err.message.contains(want), "{word}: {}", err.message);
        }
        assert_eq!(suggestion(&"x".repeat(40)), None);
    }

    #[test]
    fn edit_distance() {
        assert_eq!(distance("", "ok"), 2);
        assert_eq!(distance("fualt", "fault"), 2);
        assert_eq!(distance("user", "user"), 0);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
