//! Connection URLs as X-Ray records them: never with a password or a secret.
//!
//! The URL of a pool is built once, from the pool's connect options, and never contains the
//! password: it is simply not read. A URL that a user hands in (see
//! [`Options::with_url`](crate::Options::with_url)) goes through [`sanitize_url`], which drops the
//! password and every parameter whose name looks like it holds a secret, from URLs and from the
//! other connection strings (libpq and ODBC key-value strings, Go / MySQL DSNs, see
//! [`conn_string`](crate::conn_string)), and keeps the rest as written.

use sqlx_core::percent_encoding::percent_decode_str;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx_core::percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Characters escaped in the user and host parts of a built URL: everything that would end the
/// part or change its meaning.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const PART: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Query parameter names (lowercase, without `-`, `_` and `.`) that are secrets however short.
const SECRET_NAMES: [&str; 4] = ["pwd", "pass", "sig", "pw"];

/// Fragments that mark a query parameter name as holding a secret (`sslpassword`, `api_key`,
/// `access-token`, `client_secret`, `X-Amz-Credential`, `passphrase`, …).
const SECRET_PARTS: [&str; 9] =
    ["password", "passwd", "passphrase", "token", "secret", "key", "credential", "auth", "signature"];

/// Whether a parameter (query parameter, or key of a key-value connection string) with this
/// name may carry a secret.
pub(crate) fn is_secret_param(name: &str) -> bool {
    let folded: String =
        name.chars().filter(|c| !matches!(c, '-' | '_' | '.' | ' ')).flat_map(char::to_lowercase).collect();
    SECRET_NAMES.contains(&folded.as_str()) || SECRET_PARTS.iter().any(|part| folded.contains(part))
}

/// Removes every password and secret from a connection string, keeping everything else as
/// written. It knows the forms a user may pass:
///
/// - URLs, `scheme://user:password@host:port/database?params`: the password goes (also one
///   holding a raw `/`, `?`, `#` or `@`), the user stays; query parameters whose name looks
///   secret (`password`, `sslpassword`, `passphrase`, `auth_token`, `api-key`, …) go, the others
///   stay as written; a fragment goes.
/// - libpq key-value strings, `host=db user=app password='s3 cret' dbname=shop`: secret-looking
///   keys (`password`, `pwd`, `sslpassword`, …) go with their (quoted or escaped) values.
/// - ODBC / ADO strings, `Server=db;Uid=app;Pwd={a;b}}c};Database=shop`: the same, braced
///   values with `}}` escapes included.
/// - Go / MySQL DSNs, `user:password@tcp(host:port)/database?params`: the password and secret
///   parameters go, the user, address, database and other parameters stay.
///
/// Other text loses the password of anything that looks like `user:password@`, secret-looking
/// `?` parameters and any `#` fragment.
///
/// ```
/// use xray_sqlx::sanitize_url;
/// assert_eq!(
///     sanitize_url("postgres://app:hunter2@db.internal:5432/users?sslmode=require&sslpassword=x"),
///     "postgres://app@db.internal:5432/users?sslmode=require",
/// );
/// assert_eq!(sanitize_url("host=db user=app password='s3 cret' dbname=shop"), "host=db user=app dbname=shop");
/// assert_eq!(sanitize_url("Server=db;Pwd={a;b}}c};Database=shop"), "Server=db;Database=shop");
/// assert_eq!(sanitize_url("app:pw@tcp(db:3306)/shop?parseTime=true"), "app@tcp(db:3306)/shop?parseTime=true");
/// ```
pub fn sanitize_url(raw: &str) -> String {
    if let Some(i) = raw.find("://").filter(|&i| is_scheme(&raw[..i])) {
        let (scheme, rest) = raw.split_at(i + 3);
        return format!("{scheme}{}", without_password(rest));
    }
    if let Some(clean) = crate::conn_string::sanitize_go_dsn(raw) {
        return clean;
    }
    if let Some(clean) = crate::conn_string::sanitize_key_values(raw) {
        return clean;
    }
    without_password(raw)
}

/// A URL scheme, also a compound one such as `jdbc:postgresql`.
fn is_scheme(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.' | ':'))
}

/// `authority/path?query#fragment` without the password, the secret parameters and the
/// fragment; the user stays.
fn without_password(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    let after = match userinfo_end(rest) {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or_default();
            if !user.is_empty() {
                out.push_str(user);
                out.push('@');
            }
            &rest[at + 1..]
        }
        None => rest,
    };
    out.push_str(&without_secret_params(after));
    out
}

/// Where the `user:password` part of `rest` (a URL after `scheme://`) ends: its `@`.
///
/// Normally the last `@` before the first `/`, `?` or `#`, or the last `@` of the path after it
/// (`user:p@s/s@host/db`). A password holding a raw `/`, `?` or `#` ends that part early
/// (`user:pa/ss@host`): then the text after the first `:` is not a port, and the password runs
/// to the first `@` after it (and on to the last `@` before the host's end, for a password
/// holding an `@` too).
pub(crate) fn userinfo_end(rest: &str) -> Option<usize> {
    let first_delimiter = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..first_delimiter];
    if let Some(at) = authority.rfind('@') {
        let path = &rest[first_delimiter..];
        // An `@` right after a `?` or `#`, before any `=` or `&`: the password held `@` and then
        // `?` or `#` (`user:p@s?s@host/db`), since a parameter's name never holds a raw `@`.
        if let Some(tail) = path.strip_prefix(['?', '#']) {
            let name = &tail[..tail.find(['=', '&']).unwrap_or(tail.len())];
            if let Some(i) = name.rfind('@') {
                return Some(first_delimiter + 1 + i);
            }
        }
        // An `@` in the path too: the password held `@` and `/` (`user:p@s/s@host/db`).
        let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
        return Some(path.rfind('@').map_or(at, |i| first_delimiter + i));
    }
    if authority.starts_with('[') {
        return None;
    }
    let colon = authority.find(':')?;
    let port = &authority[colon + 1..];
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first_at = first_delimiter + rest[first_delimiter..].find('@')?;
    let host = &rest[first_at + 1..];
    let host_end = host.find(['/', '?', '#']).unwrap_or(host.len());
    Some(host[..host_end].rfind('@').map_or(first_at, |i| first_at + 1 + i))
}

/// `text` without its `#` fragment and without the `?` parameters whose name looks secret;
/// the other parameters stay as written.
pub(crate) fn without_secret_params(text: &str) -> String {
    let text = &text[..text.find('#').unwrap_or(text.len())];
    let Some(q) = text.find('?') else { return text.to_owned() };
    let kept: Vec<&str> = text[q + 1..]
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !pair.is_empty() && !is_secret_param(&percent_decode_str(name).decode_utf8_lossy())
        })
        .collect();
    if kept.is_empty() { text[..q].to_owned() } else { format!("{}?{}", &text[..q], kept.join("&")) }
}

/// Builds `scheme://user@host:port/database[?host=socket]` from the parts of a pool's connect
/// options, escaping what needs escaping. Never fails and never includes a password.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn build_url(
    scheme: &str,
    user: Option<&str>,
    host: &str,
    port: Option<u16>,
    database: Option<&str>,
    socket: Option<&str>,
) -> String {
    let mut url = format!("{scheme}://");
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        url.extend(utf8_percent_encode(user, PART));
        url.push('@');
    }
    if host.contains(':') && !host.starts_with('[') {
        // An IPv6 address.
        url.push('[');
        url.push_str(host);
        url.push(']');
    } else {
        url.extend(utf8_percent_encode(host, PART));
    }
    if let Some(port) = port {
        url.push(':');
        url.push_str(&port.to_string());
    }
    if let Some(database) = database.filter(|d| !d.is_empty()) {
        url.push('/');
        url.extend(utf8_percent_encode(database, PART));
    }
    if let Some(socket) = socket {
        url.push_str("?host=");
        url.extend(utf8_percent_encode(socket, PART));
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_table() {
        #[rustfmt::skip]
        let cases: [(&str, &str); 33] = [
            ("postgres://u:p@h:5432/db", "postgres://u@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            ("mysql://root:@127.0.0.1:3306/test", "mysql://root@127.0.0.1:3306/test"),
            ("postgres://:onlypass@h/db", "postgres://h/db"),
            ("postgres://u:p%40ss@h/db?sslmode=require", "postgres://u@h/db?sslmode=require"),
            ("postgres://u@h/db?password=x", "postgres://u@h/db"),
            ("postgres://u@h/db?sslmode=verify-full&sslpassword=x&application_name=api", "postgres://u@h/db?sslmode=verify-full&application_name=api"),
            // Other parameters stay as written, not re-encoded.
            ("mysql://u@h/db?ssl-key=/k.pem&ssl-ca=/ca.pem", "mysql://u@h/db?ssl-ca=/ca.pem"),
            ("postgres://u@h/db?auth_token=abc&X-Amz-Signature=s&X-Amz-Credential=c", "postgres://u@h/db"),
            ("postgres://u@h/db?api_key=1&client-secret=2&PWD=3&pass=4", "postgres://u@h/db"),
            ("postgres://u@h/db?access_token=t#frag", "postgres://u@h/db"),
            ("postgres://u@h/db?sslkey=k.pem&passphrase=open%20sesame&sslmode=require", "postgres://u@h/db?sslmode=require"),
            ("postgres://u@h/db?pass%77ord=x&a=1", "postgres://u@h/db?a=1"),
            // Passwords with a raw or percent-encoded `/`, `#`, `?` or `@`.
            ("postgres://u:pa/ss@h:5432/db?sslmode=require", "postgres://u@h:5432/db?sslmode=require"),
            ("postgres://u:pa#ss@h/db", "postgres://u@h/db"),
            ("postgres://u:pa?ss@h/db?sslmode=require", "postgres://u@h/db?sslmode=require"),
            ("postgres://u:/ss@h/db", "postgres://u@h/db"),
            ("postgres://u:p%2Fss@h/db", "postgres://u@h/db"),
            ("postgres://u:p@s/s@h/db", "postgres://u@h/db"),
            ("postgres://u:p/s@s@h/db", "postgres://u@h/db"),
            ("postgres://u:p@s?s@h/db", "postgres://u@h/db"),
            ("postgres://u:p@s?s@h/db?sslmode=require", "postgres://u@h/db?sslmode=require"),
            ("postgres://u:p@s#s@h/db", "postgres://u@h/db"),
            ("postgres://u@h?application_name=me@example", "postgres://u@h?application_name=me@example"),
            ("postgres://u@[::1]:5432/db", "postgres://u@[::1]:5432/db"),
            ("postgres://h1:5432,h2:5433/db?target_session_attrs=any", "postgres://h1:5432,h2:5433/db?target_session_attrs=any"),
            ("postgres://h/db?application_name=me@example", "postgres://h/db?application_name=me@example"),
            ("jdbc:postgresql://db/shop?user=app&password=x", "jdbc:postgresql://db/shop?user=app"),
            ("sqlite:///var/data/app.db?mode=rwc", "sqlite:///var/data/app.db?mode=rwc"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("not a url u:p@host?password=x", "not a url u@host"),
            ("weird://us er:pa ss@ho st/db?token=1", "weird://us er@ho st/db"),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_url(input), want, "{input}");
        }
    }

    #[test]
    fn every_form_loses_its_secret_and_keeps_the_rest() {
        #[rustfmt::skip]
        let cases: [(&str, &str); 8] = [
            ("host=db user=app password=SECRET dbname=shop", "host=db user=app dbname=shop"),
            ("host=db pwd='SE CRET' sslmode=require", "host=db sslmode=require"),
            ("Server=db;Uid=app;Pwd={SE;CR}}ET};Database=shop", "Server=db;Uid=app;Database=shop"),
            ("app:SECRET@tcp(db:3306)/shop?parseTime=true&charset=utf8mb4", "app@tcp(db:3306)/shop?parseTime=true&charset=utf8mb4"),
            ("app:SE/CR@ET@tcp(db:3306)/shop", "app@tcp(db:3306)/shop"),
            ("u:SECRET@host:1/db", "u@host:1/db"),
            ("scheme://u:SECRET@[bad host/db", "scheme://u@[bad host/db"),
            ("scheme://[bad host/db?password=SECRET", "scheme://[bad host/db"),
        ];
        for (input, want) in cases {
            let clean = sanitize_url(input);
            assert_eq!(clean, want, "{input}");
            assert!(!clean.contains("SE") && !clean.contains("ET"), "{input} → {clean}");
        }
        assert_eq!(sanitize_url("plain text"), "plain text");
        assert_eq!(sanitize_url(""), "");
    }

    #[test]
    fn secret_param_names() {
        let secret = [
            "password",
            "sslpassword",
            "PassWord",
            "token",
            "auth_token",
            "api-key",
            "sslkey",
            "pwd",
            "sig",
            "passphrase",
            "Pwd",
        ];
        let public = ["sslmode", "application_name", "host", "port", "charset", "mode", "cache", "signal", "passive"];
        for name in secret {
            assert!(is_secret_param(name), "{name} is a secret");
        }
        for name in public {
            assert!(!is_secret_param(name), "{name} is not a secret");
        }
    }

    #[cfg(any(feature = "postgres", feature = "mysql"))]
    #[test]
    fn build_table() {
        let cases: [(_, &str); 7] = [
            (
                ("postgres", Some("postgres"), "127.0.0.1", Some(5432), Some("test"), None),
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            (("mysql", Some("root"), "localhost", Some(3306), None, None), "mysql://root@localhost:3306"),
            (("postgres", Some(""), "db", None, Some(""), None), "postgres://db"),
            (("postgres", Some("u"), "::1", Some(5432), Some("d"), None), "postgres://u@[::1]:5432/d"),
            (("postgres", Some("a@b:c"), "h", Some(1), Some("x/y"), None), "postgres://a%40b%3Ac@h:1/x%2Fy"),
            (
                ("postgres", Some("u"), "localhost", Some(5432), Some("d"), Some("/run/postgresql")),
                "postgres://u@localhost:5432/d?host=%2Frun%2Fpostgresql",
            ),
            (("mysql", Some("u"), "bad host", Some(3306), Some("d"), None), "mysql://u@bad%20host:3306/d"),
        ];
        for ((scheme, user, host, port, database, socket), want) in cases {
            let built = build_url(scheme, user, host, port, database, socket);
            assert_eq!(built, want);
            assert!(sqlx_core::Url::parse(&built).is_ok(), "{built} parses");
        }
    }
}
