//! Test support: start the real server on port 0 with a fresh database and the WeCom
//! stand-in, and drive it only through the protocol.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use staffhome::app::AppContext;
use staffhome::clock::FixedClock;
use staffhome::config::{Config, PublicUrl};
use staffhome::startup::Application;
use staffhome::wecom::sim::{SimApi, SimMember, SimReply};
use staffhome::wecom::{Inbound, WeComCrypto};
use std::sync::Arc;

pub const CORP_ID: &str = "wwtest1234567890ab";
pub const AGENT_ID: i64 = 1000002;
pub const TOKEN: &str = "TestToken2026";
pub const AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
pub const SECRET: &str = "test-secret";

/// Monday 2026-11-23 10:00 in Shanghai.
pub fn monday_10am() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00").expect("time").with_timezone(&Utc)
}

pub fn config_text(api_base: &str, db: &std::path::Path) -> String {
    format!(
        r#"
[server]
bind = "127.0.0.1:0"
public_url = "http://127.0.0.1:9"      # replaced by the server's own address at start
admin_token = "test-admin-token"

[wecom]
corp_id = "{CORP_ID}"
agent_id = {AGENT_ID}
secret = "{SECRET}"
token = "{TOKEN}"
encoding_aes_key = "{AES_KEY}"
api_base = "{api_base}"
oauth_base = "{api_base}"

[database]
path = "{db}"

[[facilities]]
code = "gym"
name = "健身房"
aliases = ["健身", "gym"]
capacity = 10

[[facilities]]
code = "room"
name = "会议室"
aliases = ["会议"]
capacity = 1
kind = "会议"
approval = [["dept_head"], ["office_admin"]]

[[facilities]]
code = "squash"
name = "壁球室"
aliases = ["壁球"]
capacity = 3

[[facilities]]
code = "pingpong"
name = "乒乓球"
aliases = ["乒乓"]
capacity = 2
kind = "球类"

[[facilities]]
code = "badminton"
name = "羽毛球"
aliases = ["羽毛"]
capacity = 2
kind = "球类"

[[facilities]]
code = "treadmill"
name = "跑步机"
capacity = 1

[roles]
admins = ["admin1"]
"#,
        db = db.display()
    )
}

pub struct TestApp {
    pub port: u16,
    pub ctx: Arc<AppContext>,
    pub member: SimMember,
    pub api: SimApi,
    pub clock: Arc<FixedClock>,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Start with the test config, changed by `adjust` before the start.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let api = SimApi::start(CORP_ID, SECRET).expect("stand-in API");
        let text = config_text(api.base_url(), &dir.path().join("staffhome.db"));
        let mut config = Config::from_toml(&text, |_| None).expect("test config");
        adjust(&mut config);
        TestApp::start(config, api, dir, monday_10am(), None).await
    }

    /// Start a second server on the same database and stand-in (a restart).
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// `restart`, with the config changed by `adjust` (an operator editing it meanwhile).
    pub async fn restart_with(self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.ctx.config.clone();
        adjust(&mut config);
        let now = self.clock.now_utc();
        // The same WeCom: its MsgIds go on (a new server must not see an old one again).
        TestApp::start(config, self.api, self.dir, now, Some(self.member)).await
    }

    async fn start(
        config: Config,
        api: SimApi,
        dir: tempfile::TempDir,
        now: DateTime<Utc>,
        member: Option<SimMember>,
    ) -> TestApp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = listener.local_addr().expect("address").port();
        let mut config = config;
        // Links (passes, OAuth's way back) lead to this server, so a browser can follow them.
        config.server.public_url = PublicUrl::parse(&format!("http://127.0.0.1:{port}")).expect("url");
        let clock = Arc::new(FixedClock::new(now));
        // The stand-in's robots count their limits by the service's clock.
        api.use_clock(clock.clone());
        let ctx = Arc::new(AppContext::new(config, clock.clone()).expect("context"));
        let app = Application::with_listener(Arc::clone(&ctx), listener).expect("build");
        tokio::spawn(app.run_until_stopped());
        let url = format!("http://127.0.0.1:{port}/wecom/callback");
        let member = match member {
            Some(member) => member.posting_to(&url),
            None => SimMember::new(WeComCrypto::new(TOKEN, AES_KEY, CORP_ID).expect("crypto"), CORP_ID, AGENT_ID, &url),
        };
        TestApp { port, ctx, member, api, clock, dir }
    }

    /// Open `page` in WeCom's browser as `user`: off to the stand-in's OAuth and back with a
    /// code and the state; the server's answer to the way back.
    pub async fn oauth_round(&self, page: &str, user: &str) -> reqwest::Response {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let out = client.get(self.url(page)).header("User-Agent", WECOM_BROWSER).send().await.expect("page");
        assert_eq!(out.status(), 302, "sent to sign in");
        let state = cookie_pair(&out, "staffhome_oauth").expect("a state cookie");
        self.api.sign_in_as(user);
        let back = client.get(location(&out)).send().await.expect("authorize");
        assert_eq!(back.status(), 302, "the stand-in sends the browser back");
        client
            .get(location(&back))
            .header("User-Agent", WECOM_BROWSER)
            .header("Cookie", state)
            .send()
            .await
            .expect("back")
    }

    /// `oauth_round`, signed in: the session cookie (`name=value`) the server set.
    pub async fn sign_in(&self, page: &str, user: &str) -> String {
        let signed_in = self.oauth_round(page, user).await;
        assert_eq!(signed_in.status(), 302, "signed in");
        cookie_pair(&signed_in, "staffhome_session").expect("a session cookie")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn now(&self) -> i64 {
        self.clock.now_utc().timestamp()
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// A member says `text`; the reply text (panics if there was no text reply).
    pub async fn say(&self, user: &str, text: &str) -> String {
        match self.member.say(user, self.now(), text).await {
            SimReply::Message(m) => m.content,
            other => panic!("{user} said {text:?} and got {other:?}"),
        }
    }

    pub async fn send(&self, user: &str, inbound: Inbound) -> SimReply {
        self.member.send(user, self.now(), inbound).await
    }

    /// Run a read query on the service's database, once every write queued so far is committed
    /// (the service answers a question before the member's first contact is written).
    pub fn db<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>) -> T {
        block_on(self.ctx.store.write(|_| Ok::<(), rusqlite::Error>(()))).expect("writes queued before");
        self.ctx.store.read(f).expect("db query")
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db(|c| c.query_row(sql, [], |r| r.get(0)))
    }

    /// The trigger-kept places-taken counters agree with the bookings themselves (and the
    /// places held for a waiter they were offered to).
    pub fn assert_slot_usage_agrees(&self) {
        let drift = self.count(
            "SELECT count(*) FROM (SELECT 1 FROM (
               SELECT facility, date, slot, count(*) AS used FROM bookings
                 WHERE state IN ('pending', 'confirmed', 'checked_in') GROUP BY 1, 2, 3
               UNION ALL SELECT facility, date, slot, count(*) FROM waitlist
                 WHERE state = 'waiting' AND offered_until IS NOT NULL GROUP BY 1, 2, 3
               UNION ALL SELECT facility, date, slot, -used FROM slot_usage)
             GROUP BY facility, date, slot HAVING sum(used) <> 0)",
        );
        assert_eq!(drift, 0, "slot_usage drifted from the bookings");
    }
}

/// `FixedClock::now` through the trait, without importing it at every call site.
pub trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}

impl NowUtc for FixedClock {
    fn now_utc(&self) -> DateTime<Utc> {
        staffhome::clock::Clock::now(self)
    }
}

/// The first `#N` in a text.
/// Headless Chromium, if this machine has it. CI must (`.ci/run` installs it); elsewhere a
/// browser test says it was skipped.
pub fn chromium() -> Option<String> {
    let which = |name: &str| {
        let out = std::process::Command::new("which").arg(name).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let found = ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| which(name));
    if found.is_none() {
        assert!(std::env::var("CI").is_err(), "CI must have chromium: .ci/run installs it");
        eprintln!("SKIPPED: no chromium on this machine (apt-get install chromium)");
    }
    found
}

/// A tap on button `key` of the interactive `card` (as sent), as WeCom reports it.
pub fn tap_event(card: &serde_json::Value, key: &str) -> Inbound {
    Inbound::TemplateCardEvent {
        event_key: key.into(),
        task_id: card["template_card"]["task_id"].as_str().unwrap_or_default().into(),
        card_type: "button_interaction".into(),
        response_code: "rc-tap".into(),
        selected_items: vec![],
    }
}

/// The button cards queued for `user`, oldest first.
pub fn cards(app: &TestApp, user: &str) -> Vec<serde_json::Value> {
    app.db(|c| staffhome::outbox::queued_for(c, user))
        .into_iter()
        .filter(|m| m.body["template_card"]["card_type"] == "button_interaction")
        .map(|m| m.body)
        .collect()
}

/// `user` taps `key` on `card`: the tapped button's new label (passive update_button).
pub async fn tap(app: &TestApp, user: &str, card: &serde_json::Value, key: &str) -> String {
    match app.send(user, tap_event(card, key)).await {
        SimReply::Message(m) if m.msg_type == "update_button" => m.content,
        other => panic!("expected update_button, got {other:?}"),
    }
}

/// Deliver what the outbox holds now (a few passes, until one finds nothing due).
pub async fn deliver(app: &TestApp) {
    for _ in 0..5 {
        if staffhome::outbox::worker::deliver_due(&app.ctx).await.expect("deliver").is_idle() {
            break;
        }
    }
}

/// WeCom's own browser, as its User-Agent says.
pub const WECOM_BROWSER: &str = "Mozilla/5.0 wxwork/4.1.0";

/// A redirect's target.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().expect("location").to_string()
}

/// `name=value` of the cookie `name` a response sets (not a removal).
pub fn cookie_pair(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
        .map(str::to_string)
}

pub fn booking_no(text: &str) -> i64 {
    let at = text.find('#').unwrap_or_else(|| panic!("no booking number in {text:?}"));
    text[at + 1..].chars().take_while(|c| c.is_ascii_digit()).collect::<String>().parse().expect("number")
}

/// Poll `future` on this thread until it is ready (for a write's answer in a synchronous helper:
/// the writer runs on a thread of its own, so nothing on this thread needs to run meanwhile).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}
