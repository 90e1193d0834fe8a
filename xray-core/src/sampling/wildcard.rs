//! Wildcard patterns of sampling rules: `*` matches any run of characters (also none), `?`
//! exactly one character, everything else itself, ignoring case.
//!
//! Patterns are compiled once, when rules are loaded, into the cheapest matcher that fits, so
//! the request path mostly compares a literal, a prefix or a suffix byte by byte and
//! allocates nothing. ASCII letters compare case-insensitively; in patterns with other
//! characters, every character compares by its simple lowercase mapping.

/// A compiled wildcard pattern, public for other matchers (for example `xray-tower`'s
/// segment naming by host).
///
/// ```
/// use xray_core::sampling::Wildcard;
/// let w = Wildcard::new("*.example.com");
/// assert!(w.matches("API.Example.com"));
/// assert!(!w.matches("example.org"));
/// assert!(Wildcard::new("v?").matches("V2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard(Pattern);

impl Wildcard {
    /// Compiles `pattern`: `*` matches any run of characters (also none), `?` exactly one,
    /// anything else itself, ignoring case.
    pub fn new(pattern: &str) -> Self {
        Self(Pattern::new(pattern))
    }

    /// Whether `text` matches.
    #[inline]
    pub fn matches(&self, text: &str) -> bool {
        self.0.matches(text)
    }
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Only `*`s: matches anything, also an absent value.
    Any,
    /// ASCII without wildcards.
    Exact(Box<[u8]>),
    /// ASCII literal then one `*` (`/api/*`), the most common shape of a path rule.
    Prefix(Box<[u8]>),
    /// One `*` then an ASCII literal (`*.png`, `*.example.com`).
    Suffix(Box<[u8]>),
    /// Any other ASCII pattern, lowercased, runs of `*` collapsed.
    Glob(Box<[u8]>),
    /// A pattern with non-ASCII characters, as folded characters.
    Unicode(Box<[Token]>),
}

/// One element of a non-ASCII pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    Star,
    One,
    /// Stored folded (see [`fold`]).
    Char(char),
}

/// Simple case folding: ASCII fast, otherwise the first char of the Unicode lowercase.
#[inline]
fn fold(c: char) -> char {
    if c.is_ascii() { c.to_ascii_lowercase() } else { c.to_lowercase().next().unwrap_or(c) }
}

/// The length of the UTF-8 character starting with byte `b`.
#[inline]
fn char_len(b: u8) -> usize {
    match b {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

impl Pattern {
    /// Compiles `pattern`.
    pub(crate) fn new(pattern: &str) -> Self {
        if !pattern.is_empty() && pattern.bytes().all(|b| b == b'*') {
            return Self::Any;
        }
        if !pattern.is_ascii() {
            let mut tokens: Vec<Token> = Vec::with_capacity(pattern.len());
            for c in pattern.chars() {
                let token = match c {
                    '*' => Token::Star,
                    '?' => Token::One,
                    c => Token::Char(fold(c)),
                };
                // Consecutive stars mean the same as one and only cost backtracking.
                if !(token == Token::Star && tokens.last() == Some(&Token::Star)) {
                    tokens.push(token);
                }
            }
            return Self::Unicode(tokens.into_boxed_slice());
        }
        let bytes = pattern.as_bytes();
        let stars = bytes.iter().filter(|&&b| b == b'*').count();
        if !pattern.contains('?') {
            match (stars, bytes.first(), bytes.last()) {
                (0, ..) => return Self::Exact(bytes.into()),
                (1, _, Some(b'*')) => return Self::Prefix(bytes[..bytes.len() - 1].into()),
                (1, Some(b'*'), _) => return Self::Suffix(bytes[1..].into()),
                _ => {}
            }
        }
        let mut glob: Vec<u8> = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if !(b == b'*' && glob.last() == Some(&b'*')) {
                glob.push(b.to_ascii_lowercase());
            }
        }
        Self::Glob(glob.into_boxed_slice())
    }

    /// Matches a request field. A field the request lacks (absent or empty: no `Host`, no
    /// method for non-HTTP work, no service type without plugins) matches every pattern, as in
    /// the Go, Python and Node SDKs; the rule then decides by the fields the request has.
    #[inline]
    pub(crate) fn matches_opt(&self, text: Option<&str>) -> bool {
        match text {
            Some(text) if !text.is_empty() => self.matches(text),
            _ => true,
        }
    }

    /// Matches `text`, ignoring case.
    #[inline]
    pub(crate) fn matches(&self, text: &str) -> bool {
        // An ASCII pattern byte never equals a byte of a multi-byte character, so comparing
        // bytes is exact even when `text` holds other characters.
        let t = text.as_bytes();
        match self {
            Self::Any => true,
            Self::Exact(literal) => t.eq_ignore_ascii_case(literal),
            Self::Prefix(prefix) => t.len() >= prefix.len() && t[..prefix.len()].eq_ignore_ascii_case(prefix),
            Self::Suffix(suffix) => t.len() >= suffix.len() && t[t.len() - suffix.len()..].eq_ignore_ascii_case(suffix),
            Self::Glob(pattern) => glob_ascii(pattern, t),
            Self::Unicode(tokens) => glob_unicode(tokens, text),
        }
    }
}

/// Iterative matching with one backtrack point: linear for patterns with a single `*`,
/// O(pattern × text) at worst, never recursive. `?` and a backtracking `*` step over whole
/// UTF-8 characters.
fn glob_ascii(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    // After a `*`: the pattern position after it and the text offset it has swallowed up to.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        match (pattern.get(p), text.get(t)) {
            (Some(b'*'), _) => {
                p += 1;
                backtrack = Some((p, t));
                continue;
            }
            (Some(b'?'), Some(&c)) => {
                p += 1;
                t += char_len(c);
                continue;
            }
            (Some(&want), Some(&c)) if c.to_ascii_lowercase() == want => {
                p += 1;
                t += 1;
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        // Mismatch: let the last `*` swallow one more character, or fail.
        match backtrack {
            Some((bp, bt)) if bt < text.len() => {
                let bt = bt + char_len(text[bt]);
                backtrack = Some((bp, bt));
                (p, t) = (bp, bt);
            }
            _ => return false,
        }
    }
}

/// [`glob_ascii`] over characters, for patterns with non-ASCII characters.
fn glob_unicode(tokens: &[Token], text: &str) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        let next = text[t..].chars().next();
        match (tokens.get(p), next) {
            (Some(Token::Star), _) => {
                p += 1;
                backtrack = Some((p, t));
                continue;
            }
            (Some(Token::One), Some(c)) => {
                p += 1;
                t += c.len_utf8();
                continue;
            }
            (Some(Token::Char(want)), Some(c)) if fold(c) == *want => {
                p += 1;
                t += c.len_utf8();
                continue;
            }
            (None, None) => return true,
            _ => {}
        }
        match backtrack {
            Some((bp, bt)) => match text[bt..].chars().next() {
                Some(c) => {
                    let bt = bt + c.len_utf8();
                    backtrack = Some((bp, bt));
                    (p, t) = (bp, bt);
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, bool)] = &[
            // literal
            ("/health", "/health", true),
            ("/health", "/healthz", false),
            ("/health", "/healt", false),
            ("GET", "get", true),
            ("GeT", "gEt", true),
            ("example.com", "EXAMPLE.COM", true),
            ("straße", "STRASSE", false),
            ("ÉCOLE", "école", true),
            // `*`
            ("*", "", true),
            ("*", "anything at all", true),
            ("**", "x", true),
            ("/api/*", "/api/", true),
            ("/api/*", "/api/users/7", true),
            ("/api/*", "/API/Users", true),
            ("/api/*", "/ap", false),
            ("*.example.com", "www.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "a.b.EXAMPLE.com", true),
            ("/a*b*c", "/abc", true),
            ("/a*b*c", "/aXXbYYc", true),
            ("/a*b*c", "/aXXbYY", false),
            ("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("*x", "xxxxx", true),
            ("*abc", "ababc", true),
            // `?`
            ("?", "a", true),
            ("?", "", false),
            ("?", "ab", false),
            ("/v?/users", "/v1/users", true),
            ("/v?/users", "/v10/users", false),
            ("???", "äöü", true),
            ("??", "é", false),
            // mixed
            ("/v?/*", "/v2/orders/1", true),
            ("/v?/*", "/v/orders", false),
            ("*/?", "/a/b/c", true),
            ("*/?", "/a/b/cd", false),
            ("?*?", "ab", true),
            ("?*?", "a", false),
            ("*?*?*", "xy", true),
            // empty
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("?*", "", false),
        ];
        for &(pattern, text, want) in cases {
            assert_eq!(Pattern::new(pattern).matches(text), want, "{pattern:?} against {text:?}");
        }
    }

    #[test]
    fn picks_the_cheapest_form() {
        assert_eq!(Pattern::new("*"), Pattern::Any);
        assert_eq!(Pattern::new("***"), Pattern::Any);
        assert_eq!(Pattern::new("GET"), Pattern::Exact((*b"GET").into()));
        assert_eq!(Pattern::new(""), Pattern::Exact((*b"").into()));
        assert_eq!(Pattern::new("/api/*"), Pattern::Prefix((*b"/api/").into()));
        assert_eq!(Pattern::new("*.com"), Pattern::Suffix((*b".com").into()));
        assert_eq!(Pattern::new("/A/?"), Pattern::Glob((*b"/a/?").into()));
        assert_eq!(Pattern::new("A**b*"), Pattern::Glob((*b"a*b*").into()));
        assert_eq!(Pattern::new("é**"), Pattern::Unicode([Token::Char('é'), Token::Star].into()));
    }

    #[test]
    fn absent_fields_match_every_pattern() {
        for pattern in ["*", "**", "", "?", "/*", "GET", "*.example.com"] {
            assert!(Pattern::new(pattern).matches_opt(None), "{pattern:?} against an absent field");
            assert!(Pattern::new(pattern).matches_opt(Some("")), "{pattern:?} against an empty field");
        }
        assert!(Pattern::new("/*").matches_opt(Some("/x")));
        assert!(!Pattern::new("/*").matches_opt(Some("x")), "a present field still has to match");
    }

    #[test]
    fn multibyte_text_against_ascii_patterns() {
        let cases = [
            ("/?/x", "/é/x", true),
            ("/?/x", "/日本/x", false),
            ("/??/x", "/日本/x", true),
            ("*?", "日", true),
            ("*/?", "/a/😀", true),
            ("/a*", "/aé", true),
            ("*.png", "/é.PNG", true),
            ("e*", "é", false),
            ("\u{212A}*", "kelvin", true),
        ];
        for (pattern, text, want) in cases {
            assert_eq!(Pattern::new(pattern).matches(text), want, "{pattern:?} against {text:?}");
        }
    }
}
