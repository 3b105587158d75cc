//! Just enough of the Chrome DevTools Protocol to use a page as a member does: open a URL,
//! tap an element, read what is shown, take a screenshot. Headless Chromium over its debugging
//! websocket on loopback; every wait is for an event, with a deadline, never a sleep.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const DEADLINE: Duration = Duration::from_secs(30);

pub struct Browser {
    _process: tokio::process::Child,
    _profile: tempfile::TempDir,
    page: Socket,
    next_id: u64,
}

impl Browser {
    /// Start `chromium` headless at `width` × `height` (a phone: mobile emulation), as WeCom's
    /// browser (its User-Agent).
    pub async fn start(chromium: &str, width: u32, height: u32, user_agent: &str) -> Browser {
        let profile = tempfile::tempdir().expect("profile");
        let mut process = tokio::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                &format!("--window-size={width},{height}"),
                &format!("--user-agent={user_agent}"),
                &format!("--user-data-dir={}", profile.path().display()),
                "about:blank",
            ])
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("chromium starts");
        // Chromium says where its debugging port is on stderr.
        let stderr = process.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let port = tokio::time::timeout(DEADLINE, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                    return rest.split('/').next().and_then(|p| p.parse::<u16>().ok());
                }
            }
            None
        })
        .await
        .expect("chromium listening in time")
        .expect("a debugging port");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let targets: Vec<Value> = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
            .await
            .expect("targets")
            .json()
            .await
            .expect("json");
        let url = targets
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page")
            .to_string();
        let (page, _) = tokio_tungstenite::connect_async(url).await.expect("page socket");
        let mut browser = Browser { _process: process, _profile: profile, page, next_id: 0 };
        browser.call("Page.enable", json!({})).await;
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 2, "mobile": true});
        browser.call("Emulation.setDeviceMetricsOverride", metrics).await;
        browser
    }

    /// Send a command; its result (events meanwhile are dropped).
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.page.send(Message::text(request)).await.expect("send");
        self.until(|m| m["id"] == id).await["result"].clone()
    }

    /// The next message that `wanted` accepts.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        tokio::time::timeout(DEADLINE, async {
            while let Some(Ok(message)) = self.page.next().await {
                if let Ok(value) = serde_json::from_str::<Value>(message.to_text().unwrap_or_default()) {
                    if wanted(&value) {
                        return value;
                    }
                }
            }
            panic!("the browser went away")
        })
        .await
        .expect("the browser answered in time")
    }

    /// Open `url` and wait until it (and the redirects it leads through) has loaded.
    pub async fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.until(|m| m["method"] == "Page.loadEventFired").await;
    }

    /// Tap the first element matching `selector` and wait for the page it leads to.
    pub async fn tap(&mut self, selector: &str) {
        let script = format!("document.querySelector({}).click(); true", json!(selector));
        let done = self.call("Runtime.evaluate", json!({"expression": script})).await;
        assert!(done["exceptionDetails"].is_null(), "tapping {selector}: {done}");
        self.until(|m| m["method"] == "Page.loadEventFired").await;
    }

    /// The value of a JavaScript expression on the page.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true})).await;
        result["result"]["value"].clone()
    }

    pub async fn html(&mut self) -> String {
        self.eval("document.documentElement.outerHTML").await.as_str().unwrap_or_default().to_string()
    }

    pub async fn screenshot(&mut self, path: &std::path::Path) {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"})).await;
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap_or_default());
        std::fs::write(path, png.expect("a png")).expect("screenshot written");
    }
}
