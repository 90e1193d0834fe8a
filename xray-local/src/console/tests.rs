use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// The names after each `marker` in `text`, up to the closing quote.
fn references<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest.find(['"', '\'']).map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn the_page_and_its_modules_refer_only_to_embedded_assets_and_use_them_all() {
    let mut used = references(INDEX.body, ASSET_PREFIX);
    for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
        used.extend(references(asset.body, "from './"));
    }
    for name in &used {
        assert!(ASSETS.iter().any(|a| a.name == *name), "{name} is referred to but not embedded");
    }
    for asset in ASSETS {
        assert!(used.contains(&asset.name), "{} is embedded but nothing loads it", asset.name);
    }
}

#[test]
fn no_script_parses_data_as_markup_or_code() {
    // Document content reaches the page only as text nodes; these are the ways it could
    // become markup or code instead.
    let forbidden =
        ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser"];
    for asset in ASSETS.iter().chain([&INDEX]) {
        for word in forbidden {
            assert!(!asset.body.contains(word), "{} uses {word}", asset.name);
        }
    }
    // No inline script or style in the page, which the policy would block anyway.
    assert!(!INDEX.body.contains("<script>") && !INDEX.body.contains("<style") && !INDEX.body.contains(" style="));
}

#[test]
fn the_policy_allows_nothing_inline_and_no_other_origin() {
    for part in
        ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]
    {
        assert!(CONTENT_SECURITY_POLICY.contains(part), "{part}");
    }
    assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
}

/// One HTTP/1.1 GET against `addr`: the status line and headers (lower-cased), and the body.
async fn get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answer in time")
        .expect("read");
    let answer = String::from_utf8(answer).expect("utf-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    (head.to_ascii_lowercase(), body.to_string())
}

#[tokio::test]
async fn the_router_serves_the_page_and_assets_with_their_types_and_the_policy() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, router::<()>()).await });

    let (head, body) = get(addr, "/").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/html; charset=utf-8"), "{head}");
    assert!(
        head.contains(&format!("content-security-policy: {}", CONTENT_SECURITY_POLICY.to_ascii_lowercase())),
        "{head}"
    );
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    assert!(body.contains("/console/app.js"));

    for asset in ASSETS {
        let (head, body) = get(addr, &format!("/console/{}", asset.name)).await;
        assert!(head.starts_with("http/1.1 200"), "{}: {head}", asset.name);
        assert!(head.contains(&format!("content-type: {}", asset.content_type)), "{}: {head}", asset.name);
        assert!(head.contains("content-security-policy"), "{}", asset.name);
        assert_eq!(body.len(), asset.body.len(), "{}", asset.name);
    }
    let (head, _) = get(addr, "/console/missing.js").await;
    assert!(head.starts_with("http/1.1 404"), "{head}");
    server.abort();
}
