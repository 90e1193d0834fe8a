//! Connection URLs as X-Ray records them: never with a password or a secret.
//!
//! The URL of a pool is built once, from the pool's connect options, and never contains the
//! password: it is simply not read. A URL that a user hands in (see
//! [`Options::with_url`](crate::Options::with_url)) goes through [`sanitize_url`], which drops the
//! password and every query parameter whose name looks like it holds a secret.

use sqlx_core::Url;
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

/// Query parameter names (lowercase, without `-` and `_`) that are secrets however short.
const SECRET_NAMES: [&str; 4] = ["pwd", "pass", "sig", "pw"];

/// Fragments that mark a query parameter name as holding a secret (`sslpassword`, `api_key`,
/// `access-token`, `client_secret`, `X-Amz-Credential`, …).
const SECRET_PARTS: [&str; 8] = ["password", "passwd", "token", "secret", "key", "credential", "auth", "signature"];

/// Whether a query parameter with this name may carry a secret.
pub(crate) fn is_secret_param(name: &str) -> bool {
    let folded: String = name.chars().filter(|c| !matches!(c, '-' | '_' | '.')).flat_map(char::to_lowercase).collect();
    SECRET_NAMES.contains(&folded.as_str()) || SECRET_PARTS.iter().any(|part| folded.contains(part))
}

/// Removes the password, secret-looking query parameters and any fragment from a connection URL;
/// the user name stays.
///
/// Text that does not parse as a URL loses everything after `?` or `#` and the password part of
/// anything that looks like `user:password@`.
///
/// ```
/// use xray_sqlx::sanitize_url;
/// assert_eq!(
///     sanitize_url("postgres://app:hunter2@db.internal:5432/users?sslmode=require&sslpassword=x"),
///     "postgres://app@db.internal:5432/users?sslmode=require",
/// );
/// ```
pub fn sanitize_url(raw: &str) -> String {
    let mut url = match Url::parse(raw) {
        // `user:secret@host` parses as scheme `user` with an opaque path: no authority to
        // clean, so treat it as text.
        Ok(url) if url.has_host() || !raw.contains('@') => url,
        _ => return sanitize_unparsed(raw),
    };
    // Fails only for URLs that cannot have credentials, which then have none to remove.
    let _ = url.set_password(None);
    url.set_fragment(None);
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(name, _)| !is_secret_param(name))
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    url.into()
}

/// The careful fallback for text that is not a URL: keep only what cannot hold a secret.
fn sanitize_unparsed(raw: &str) -> String {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let head = &raw[..end];
    let (scheme, rest) = match head.find("://") {
        Some(i) => head.split_at(i + 3),
        None => ("", head),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => {
            let user = authority[..at].split(':').next().unwrap_or("");
            format!("{scheme}{user}{}{path}", &authority[at..])
        }
        None => head.to_owned(),
    }
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
        let cases: [(&str, &str); 16] = [
            ("postgres://u:p@h:5432/db", "postgres://u@h:5432/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("postgres://h/db", "postgres://h/db"),
            ("mysql://root:@127.0.0.1:3306/test", "mysql://root@127.0.0.1:3306/test"),
            ("postgres://:onlypass@h/db", "postgres://h/db"),
            ("postgres://u:p%40ss@h/db?sslmode=require", "postgres://u@h/db?sslmode=require"),
            ("postgres://u@h/db?password=x", "postgres://u@h/db"),
            (
                "postgres://u@h/db?sslmode=verify-full&sslpassword=x&application_name=api",
                "postgres://u@h/db?sslmode=verify-full&application_name=api",
            ),
            ("mysql://u@h/db?ssl-key=/k.pem&ssl-ca=/ca.pem", "mysql://u@h/db?ssl-ca=%2Fca.pem"),
            ("postgres://u@h/db?auth_token=abc&X-Amz-Signature=s&X-Amz-Credential=c", "postgres://u@h/db"),
            ("postgres://u@h/db?api_key=1&client-secret=2&PWD=3&pass=4", "postgres://u@h/db"),
            ("postgres://u@h/db?access_token=t#frag", "postgres://u@h/db"),
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
    fn unparsed_text_never_keeps_a_password() {
        let cases: [(&str, &str); 5] = [
            ("u:secret@host:1/db", "u@host:1/db"),
            ("scheme://u:secret@[bad host/db", "scheme://u@[bad host/db"),
            ("scheme://[bad host/db?password=secret", "scheme://[bad host/db"),
            ("plain text", "plain text"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize_unparsed(input), want, "{input}");
            assert!(!sanitize_url(input).contains("secret"), "{input}");
        }
    }

    #[test]
    fn secret_param_names() {
        let secret = ["password", "sslpassword", "PassWord", "token", "auth_token", "api-key", "sslkey", "pwd", "sig"];
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
            assert!(Url::parse(&built).is_ok(), "{built} parses");
        }
    }
}
