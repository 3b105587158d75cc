//! Security checks: only the intended endpoints, auth on /admin and (when configured)
//! /metrics, huge bodies refused unread, idle clients cut off. (The signature, session and
//! token compares are constant-time by construction, `subtle` and `Mac::verify_slice`; a test
//! cannot time them on a shared machine, and a search of the source proved nothing: the
//! compares' behaviour is tested in `protocol.rs` and `web.rs`.)

use crate::common::TestApp;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[tokio::test]
async fn only_the_intended_endpoints_answer() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    for (method, path, want) in [
        ("GET", "/", 404),
        ("GET", "/index.html", 404),
        ("GET", "/.git/config", 404),
        ("GET", "/static/../../etc/passwd", 404),
        ("GET", "/api", 404),
        ("GET", "/wecom", 404),
        ("PUT", "/wecom/callback", 405),
        ("DELETE", "/wecom/callback", 405),
        ("POST", "/healthz", 404),
        ("POST", "/board", 404),
        ("GET", "/admin/other", 404),
        ("GET", "/pass", 404),
    ] {
        let status = client
            .request(method.parse().expect("method"), app.url(path))
            .send()
            .await
            .expect("request")
            .status()
            .as_u16();
        assert_eq!(status, want, "{method} {path}");
    }
    for path in ["/healthz", "/metrics", "/board"] {
        assert_eq!(client.get(app.url(path)).send().await.expect("get").status(), 200, "{path}");
    }
    assert_eq!(client.get(app.url("/admin")).send().await.expect("get").status(), 403);
}

#[tokio::test]
async fn metrics_can_require_the_admin_token() {
    let app = TestApp::spawn_with(|c| c.server.metrics_auth = Some(true)).await;
    let client = reqwest::Client::new();
    assert_eq!(client.get(app.url("/metrics")).send().await.expect("get").status(), 401);
    let ok = client.get(app.url("/metrics")).bearer_auth("test-admin-token").send().await.expect("get");
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn a_ten_megabyte_body_is_refused_without_reading_it() {
    let app = TestApp::spawn().await;
    let (port, now) = (app.port, app.now());
    let started = Instant::now();
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        // Announce 10 MB, send 1 KiB, and wait: the answer must not need the rest.
        let head = format!("POST /wecom/callback?msg_signature=a&timestamp={now}&nonce=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n");
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(&[b'a'; 1024]).expect("write");
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).expect("an answer before the body");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .expect("client");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn slow_idle_clients_are_cut_off() {
    let app = TestApp::spawn().await;
    let port = app.port;
    let closed_after = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
        let started = Instant::now();
        // Half a request line, then nothing (slowloris).
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").expect("write");
        let mut buf = [0u8; 512];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break started.elapsed(),
                Ok(_) => continue, // a 408 answer, then the close
                Err(e) => panic!("the server kept the connection open: {e}"),
            }
        }
    })
    .await
    .expect("client");
    assert!(closed_after < Duration::from_secs(10), "closed after {closed_after:?}");
}
