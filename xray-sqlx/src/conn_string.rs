//! Connection strings that are not URLs: libpq and ODBC key-value strings, and Go / MySQL
//! DSNs. Each sanitizer answers `None` for text of another form, and otherwise removes the
//! secrets and keeps every other byte as written.

use crate::url::{is_secret_param, without_secret_params};

/// A Go / MySQL DSN, `[user[:password]@][protocol[(address)]]/database[?params]`, without the
/// password and secret parameters. Split as the Go driver splits it: the database after the
/// last `/`, the user before the last `@` ahead of it, so the password may hold anything.
pub(crate) fn sanitize_go_dsn(raw: &str) -> Option<String> {
    let slash = raw.rfind('/')?;
    let head = &raw[..slash];
    let (user, net) = match head.rfind('@') {
        Some(at) => (Some(head[..at].split(':').next().unwrap_or_default()), &head[at + 1..]),
        None => (None, head),
    };
    // `tcp(host:port)`, `unix(/path)` or a bare protocol; without `@`, only the first two.
    let (protocol, address) = match net.split_once('(') {
        Some((protocol, address)) => (protocol, Some(address.strip_suffix(')')?)),
        None => (net, None),
    };
    if !protocol.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') || (user.is_none() && address.is_none()) {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        out.push_str(user);
        out.push('@');
    }
    out.push_str(net);
    out.push('/');
    out.push_str(&without_secret_params(&raw[slash + 1..]));
    Some(out)
}

/// A libpq (`key=value key='quoted value'`) or ODBC (`Key=value;Key={braced}`) string without
/// its secret-looking keys and their values.
///
/// A string that reads as space-separated libpq pairs is libpq (a libpq value may hold `;`);
/// one with `;` that does not is ODBC.
pub(crate) fn sanitize_key_values(raw: &str) -> Option<String> {
    let first_key = raw.trim_start().split('=').next()?;
    if first_key.len() == raw.trim_start().len() {
        return None;
    }
    match libpq_pairs(raw) {
        Some(pairs) if pairs.len() > 1 || !raw.contains(';') => Some(keep_pairs(raw, &pairs, true)),
        _ if raw.contains(';') && is_odbc_key(first_key) => Some(keep_pairs(raw, &odbc_pairs(raw), false)),
        _ => None,
    }
}

/// One `key=value` of a connection string: its key and its byte range, separators included.
struct Pair<'a> {
    key: &'a str,
    start: usize,
    end: usize,
}

/// The string without the pairs whose key looks secret. `libpq`: trailing space the dropped
/// last pair leaves goes too. ODBC: parts without `=` right after a dropped pair are taken for
/// the rest of its value (an unbraced value holding `;`) and go too.
fn keep_pairs(raw: &str, pairs: &[Pair<'_>], libpq: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut dropping = false;
    for (i, pair) in pairs.iter().enumerate() {
        let mut text = &raw[pair.start..pair.end];
        if libpq && out.is_empty() && i > 0 {
            // The first pairs went: no space before the first one kept.
            text = text.trim_start();
        }
        if is_secret_param(pair.key) {
            dropping = true;
        } else if !(dropping && !libpq && pair.key.is_empty()) {
            dropping = false;
            out.push_str(text);
        }
    }
    if libpq && !raw.ends_with(char::is_whitespace) {
        out.truncate(out.trim_end().len());
    }
    out
}

/// Splits a libpq string into pairs (each with the whitespace before it), or `None` if it is
/// not one: every part must be `key = value`, the key a word, the value bare (backslash
/// escapes, up to whitespace) or single-quoted (backslash escapes).
fn libpq_pairs(raw: &str) -> Option<Vec<Pair<'_>>> {
    let bytes = raw.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            if let Some(last) = pairs.last_mut() {
                let last: &mut Pair<'_> = last;
                last.end = i;
            }
            return Some(pairs);
        }
        let key_start = i;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        let key = &raw[key_start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if key.is_empty() || bytes.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            while i < bytes.len() && bytes[i] != b'\'' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
        } else {
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = i.min(bytes.len());
        }
        pairs.push(Pair { key, start, end: i });
    }
}

/// An ODBC key: words, with spaces (`User ID`), `_`, `-` and `.`.
fn is_odbc_key(key: &str) -> bool {
    let key = key.trim();
    !key.is_empty() && key.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.'))
}

/// Splits an ODBC string into `key=value;` parts, each with its `;`. A value may be braced,
/// `{...}` with `}}` for `}`, or double-quoted, `"..."` with `""` for `"`; a part without `=`
/// has an empty key.
fn odbc_pairs(raw: &str) -> Vec<Pair<'_>> {
    let bytes = raw.as_bytes();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let Some(eq) = raw[i..].find(['=', ';']).map(|j| i + j).filter(|&j| bytes[j] == b'=') else {
            let end = raw[i..].find(';').map_or(bytes.len(), |j| i + j + 1);
            pairs.push(Pair { key: "", start, end });
            i = end;
            continue;
        };
        let key = raw[start..eq].trim();
        i = eq + 1;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
        if let Some(&open @ (b'{' | b'"')) = bytes.get(i) {
            let close = if open == b'{' { b'}' } else { b'"' };
            i += 1;
            while i < bytes.len() {
                if bytes[i] == close {
                    if bytes.get(i + 1) == Some(&close) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        }
        let end = raw[i..].find(';').map_or(bytes.len(), |j| i + j + 1);
        pairs.push(Pair { key, start, end });
        i = end;
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_dsn() {
        let cases: [(&str, Option<&str>); 9] = [
            (
                "app:pw@tcp(db:3306)/shop?parseTime=true&loc=Local",
                Some("app@tcp(db:3306)/shop?parseTime=true&loc=Local"),
            ),
            ("app:p@ss/w?rd@tcp(db:3306)/shop", Some("app@tcp(db:3306)/shop")),
            ("app:pw@/shop", Some("app@/shop")),
            ("app@unix(/run/mysqld/mysqld.sock)/shop", Some("app@unix(/run/mysqld/mysqld.sock)/shop")),
            ("tcp(db)/shop?password=x&tls=true", Some("tcp(db)/shop?tls=true")),
            (":pw@tcp(db)/shop", Some("tcp(db)/shop")),
            ("app:pw@tcp(db)/shop?auth-token=t&charset=utf8mb4", Some("app@tcp(db)/shop?charset=utf8mb4")),
            ("some/path", None),
            ("u:secret@host:1/db", None),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_go_dsn(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn libpq_and_odbc() {
        #[rustfmt::skip]
        let cases: [(&str, Option<&str>); 12] = [
            ("host=db port=5432 user=app password=s3cret dbname=shop sslmode=require", Some("host=db port=5432 user=app dbname=shop sslmode=require")),
            ("password='a b\\' c' host=db", Some("host=db")),
            ("host = db  password = 'x'  dbname=shop", Some("host = db  dbname=shop")),
            ("host=db password=a\\ b;c", Some("host=db")),
            ("host=db sslpassword=k sslkey=/k.pem pwd=p", Some("host=db")),
            ("password=only", Some("")),
            ("Server=tcp:db,1433;Database=shop;Uid=app;Pwd={a;b}}c};Encrypt=yes", Some("Server=tcp:db,1433;Database=shop;Uid=app;Encrypt=yes")),
            ("Driver={ODBC Driver 18 for SQL Server};Server=db;PWD=p;", Some("Driver={ODBC Driver 18 for SQL Server};Server=db;")),
            ("Data Source=db;User ID=app;Password=\"x;\"\"y\";Initial Catalog=shop", Some("Data Source=db;User ID=app;Initial Catalog=shop")),
            ("Server=db;Password=a;b;c;Database=shop", Some("Server=db;Database=shop")),
            ("plain text", None),
            ("not a url u:p@host?password=x", None),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_key_values(input).as_deref(), want, "{input}");
        }
    }
}
