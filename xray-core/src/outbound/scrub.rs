//! [`scrub_urls`]: the URLs in a recorded message, without what may be secret in them.

use std::borrow::Cow;

/// `text` with every URL in it (`scheme://…`) cut as calls record URLs: without user-info or
/// fragment, and without the query unless `keep_query`. Error messages name URLs in many
/// forms (`… for url (http://u:p@host/?token=…)`), so a URL runs to the next whitespace or
/// quote, less closing punctuation at its end. Borrows when nothing is cut.
///
/// ```
/// # use xray_core::outbound::scrub_urls;
/// let message = "error sending request for url (http://bob:pw@api.example/items?token=t)";
/// assert_eq!(scrub_urls(message, false), "error sending request for url (http://api.example/items)");
/// ```
pub fn scrub_urls(text: &str, keep_query: bool) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let (mut copied, mut search) = (0, 0);
    while let Some(found) = text.get(search..).and_then(|rest| rest.find("://")) {
        let start = search + found + 3;
        let rest = text.get(start..).unwrap_or("");
        let token = rest.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'));
        let token = &rest[..token.unwrap_or(rest.len())];
        let url = token.trim_end_matches([')', ']', '}', '.', ',', ';', ':']);
        let end = start + url.len();
        search = end.max(start);
        // Every cut is next to an ASCII byte, so each slice falls on character boundaries.
        let authority = url.find(['/', '?', '#']).unwrap_or(url.len());
        let user_info = url[..authority].rfind('@').map_or(0, |at| at + 1);
        let tail = &url[authority..];
        let kept = if keep_query { tail.find('#') } else { tail.find(['?', '#']) }.unwrap_or(tail.len());
        if user_info == 0 && kept == tail.len() {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(&text[copied..start]);
        out.push_str(&url[user_info..authority]);
        out.push_str(&tail[..kept]);
        copied = end;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_table() {
        // (text, without query, with query)
        let cases = [
            ("no url here", "no url here", "no url here"),
            ("http://h/p", "http://h/p", "http://h/p"),
            ("for url (http://u:p@h:1/p?token=s#f)", "for url (http://h:1/p)", "for url (http://h:1/p?token=s)"),
            (
                "a https://h/x?q=1, then http://u@g/y.",
                "a https://h/x, then http://g/y.",
                "a https://h/x?q=1, then http://g/y.",
            ),
            (
                "\"http://a:b@h/\" and 'ftp://c:d@e/f?g'",
                "\"http://h/\" and 'ftp://e/f'",
                "\"http://h/\" and 'ftp://e/f?g'",
            ),
            ("http://h/mail@box?a=@", "http://h/mail@box", "http://h/mail@box?a=@"),
            ("http://u:p@[::1]:9/v?q", "http://[::1]:9/v", "http://[::1]:9/v?q"),
            ("http://user:pa55@h", "http://h", "http://h"),
            ("trailing ://", "trailing ://", "trailing ://"),
            ("é http://ü:p@hé/ü?ß", "é http://hé/ü", "é http://hé/ü?ß"),
        ];
        for (text, without, with) in cases {
            assert_eq!(scrub_urls(text, false), without, "{text}");
            assert_eq!(scrub_urls(text, true), with, "{text} keeping the query");
        }
        assert!(matches!(scrub_urls("http://h/p", false), Cow::Borrowed(_)));
    }
}
