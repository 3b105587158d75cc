//! `staffhome demo`: the whole service on the embedded demo configuration, the WeCom stand-in
//! in the same process (it signs and encrypts callbacks and serves the API), and a chat
//! prompt in the terminal. Everything goes through the real protocol.

use crate::app::AppContext;
use crate::clock::{Clock, RunningClock};
use crate::config::{Config, PublicUrl};
use crate::scheduler::{run_due_jobs, Schedules};
use crate::startup::Application;
use crate::wecom::sim::{SimApi, SimMember, SimReply};
use crate::wecom::{Inbound, WeComCrypto};
use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// The demo configuration, embedded so `staffhome demo` needs no file.
pub const DEMO_CONFIG: &str = include_str!("../data/demo.toml");

/// The keys of `config` that hold a secret published in the demo's configuration (anyone can
/// read them in this repository): a service must not run on them.
pub fn published_secrets(config: &Config) -> Vec<&'static str> {
    let Ok(demo) = Config::from_toml(DEMO_CONFIG, |_| None) else { return Vec::new() };
    let pairs = [
        ("wecom.secret", &config.wecom.secret, &demo.wecom.secret),
        ("wecom.token", &config.wecom.token, &demo.wecom.token),
        ("wecom.encoding_aes_key", &config.wecom.encoding_aes_key, &demo.wecom.encoding_aes_key),
        ("server.admin_token", &config.server.admin_token, &demo.server.admin_token),
    ];
    pairs
        .into_iter()
        .filter(|(_, ours, published)| !ours.is_empty() && ours == published)
        .map(|(key, _, _)| key)
        .collect()
}

/// The key of the demo's group robot (全员群) on the stand-in.
const DEMO_ROBOT_KEY: &str = "demo-robot";

pub struct DemoOptions {
    /// Port for the service (0 = any free one); the demo falls back to a free port when busy.
    pub port: u16,
    /// Database file; a fresh temporary one when None.
    pub database: Option<PathBuf>,
}

/// The demo company's colleagues besides zhangsan: known to the app from the start (in a real
/// company they would have written to it before), so a partner booking can name them.
const COLLEAGUES: &str = "lisi wangwu dept_head office_admin admin1";

/// Make the demo's colleagues members, as if each had written to the app once.
async fn meet_the_colleagues(ctx: &AppContext) -> Result<(), String> {
    let now = ctx.clock.now().timestamp();
    let met = ctx
        .store
        .write(move |tx| COLLEAGUES.split_whitespace().try_for_each(|user| crate::users::touch_quietly(tx, user, now)));
    met.await.map_err(|e: rusqlite::Error| e.to_string())
}

const HELP: &str = "命令：直接输入消息（如 预约 健身房 明天 18:30）以当前身份发送。
  /as USER      切换身份（如 /as dept_head 审批人，/as admin1 管理员）
  /click N      点击当前身份最近一张卡片的第 N 个按钮
  /scan CODE    扫设施门口二维码签到（如 /scan gym）
  /tick [TIME]  时间走到 TIME 并运行一次定时任务（TIME 如 18:30、2026-11-24T16:30；不回拨）
  /sync         立即投递待发消息
  /board        看板地址
  /page         成员页地址（浏览器以当前身份登录）
  /help         本帮助
  /quit         退出";

/// A card as the demo shows it: its task and buttons.
#[derive(Clone)]
struct Card {
    task_id: String,
    response_code: String,
    buttons: Vec<(String, String)>,
}

struct Demo {
    /// The demo's time: it runs on, and `/tick 16:30` moves it on to then.
    clock: Arc<RunningClock>,
    ctx: Arc<AppContext>,
    api: SimApi,
    member: SimMember,
    user: String,
    seen: usize,
    cards: HashMap<String, Card>,
    port: u16,
}

/// Run the demo, reading commands from `input` and writing to `out`.
pub async fn run<R, W>(options: DemoOptions, clock: Arc<dyn Clock>, input: R, mut out: W) -> Result<(), String>
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut config = Config::from_toml(DEMO_CONFIG, |_| None).map_err(|e| e.to_string())?;
    let api = SimApi::start(&config.wecom.corp_id, config.wecom.secret.expose()).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(("127.0.0.1", options.port))
        .or_else(|_| TcpListener::bind(("127.0.0.1", 0)))
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    config.server.public_url = PublicUrl::parse(&format!("http://127.0.0.1:{port}")).map_err(|e| e.to_string())?;
    config.wecom.api_base = api.base_url().to_string();
    config.wecom.oauth_base = api.base_url().to_string();
    // Show bookings arriving in the members' WeCom calendars too (off by default in a service).
    config.calendar.wecom = true;
    // And a group robot for the light notices to everyone.
    config.robots = vec![crate::config::RobotConfig {
        name: "全员群".into(),
        webhook_url: crate::config::Secret::new(api.robot_url(DEMO_ROBOT_KEY)),
        departments: vec![],
    }];
    let _temp;
    config.database.path = match options.database {
        Some(path) => path,
        None => {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            let path = dir.path().join("demo.db");
            _temp = dir;
            path
        }
    };
    let crypto =
        WeComCrypto::new(config.wecom.token.expose(), config.wecom.encoding_aes_key.expose(), &config.wecom.corp_id)
            .map_err(|e| e.to_string())?;
    let member = SimMember::new(
        crypto,
        &config.wecom.corp_id,
        config.wecom.agent_id,
        &format!("http://127.0.0.1:{port}/wecom/callback"),
    );
    let admin_token = config.server.admin_token.expose().to_string();
    // The demo's own clock, from where the given one stands: `/tick` moves it on.
    let clock = Arc::new(RunningClock::starting_at(clock.now(), std::time::Instant::now()));
    let ctx = Arc::new(AppContext::new(config, Arc::clone(&clock) as Arc<dyn Clock>).map_err(|e| e.to_string())?);
    meet_the_colleagues(&ctx).await?;
    let app = Application::with_listener(Arc::clone(&ctx), listener).map_err(|e| e.to_string())?;
    tokio::spawn(app.run_until_stopped());
    tokio::spawn(crate::outbox::worker::run(Arc::clone(&ctx)));
    tokio::spawn(crate::scheduler::run(Arc::clone(&ctx)));

    // The browser that opens the member's page belongs to whoever the prompt speaks as.
    api.sign_in_as("zhangsan");
    let mut demo = Demo { clock, ctx, api, member, user: "zhangsan".into(), seen: 0, cards: HashMap::new(), port };
    let banner = format!(
        "staffhome demo：职工之家预约（WeCom 由进程内替身扮演，走真实的签名加密协议）\n  成员页 member page: http://127.0.0.1:{port}/m?signin=1  （以当前身份登录，点选即可预约）\n  看板 board: http://127.0.0.1:{port}/board\n  管理 admin: http://127.0.0.1:{port}/admin  (Authorization: Bearer {admin_token})\n  设施：健身房 会议室（两级审批：dept_head → office_admin）阅览室 乒乓球 羽毛球 跑步机\n  同事：{COLLEAGUES}（可 /as 切换，也可约作同伴：预约 羽毛球 周三 18:30 和 lisi）\n{HELP}\n"
    );
    write(&mut out, &banner).await?;
    let mut lines = BufReader::new(input).lines();
    loop {
        write(&mut out, &format!("{}> ", demo.user)).await?;
        let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? else { break };
        let line = line.trim().to_string();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" || line == "/exit" {
            break;
        }
        let output = demo.handle(&line).await;
        write(&mut out, &output).await?;
        // Pushed messages (cards to tap among them), delivered now so they show at once.
        demo.settle().await;
        let pushed = demo.pushed();
        write(&mut out, &pushed).await?;
    }
    write(&mut out, "再见。\n").await
}

async fn write<W: AsyncWrite + Unpin>(out: &mut W, text: &str) -> Result<(), String> {
    out.write_all(text.as_bytes()).await.map_err(|e| e.to_string())?;
    out.flush().await.map_err(|e| e.to_string())
}

impl Demo {
    fn now(&self) -> i64 {
        self.ctx.clock.now().timestamp()
    }

    async fn handle(&mut self, line: &str) -> String {
        let (command, arg) = line.split_once(' ').map_or((line, ""), |(c, a)| (c, a.trim()));
        match command {
            "/help" => format!("{HELP}\n"),
            "/as" if !arg.is_empty() => {
                self.user = arg.to_string();
                self.api.sign_in_as(arg);
                format!("现在你是 {arg}。\n")
            }
            "/board" => format!("http://127.0.0.1:{}/board\n", self.port),
            "/page" => format!("http://127.0.0.1:{}/m?signin=1  （在浏览器中以 {} 登录）\n", self.port, self.user),
            "/click" => self.click(arg).await,
            "/scan" if !arg.is_empty() => {
                let inbound = Inbound::ScanCodeWaitMsg {
                    key: "scan".into(),
                    scan_type: "qrcode".into(),
                    scan_result: arg.into(),
                };
                show_reply(&self.member.send(&self.user, self.now(), inbound).await)
            }
            "/tick" => self.tick(arg).await,
            "/sync" => self.sync().await,
            c if c.starts_with('/') => format!("不认识的命令 {c}。/help 查看。\n"),
            _ => show_reply(&self.member.say(&self.user, self.now(), line).await),
        }
    }

    async fn click(&mut self, arg: &str) -> String {
        let Some(card) = self.cards.get(&self.user).cloned() else {
            return format!("{} 还没有收到卡片。\n", self.user);
        };
        let Some((label, key)) = arg.parse::<usize>().ok().and_then(|n| card.buttons.get(n.wrapping_sub(1))).cloned()
        else {
            return format!("没有第 {arg} 个按钮（共 {} 个）。\n", card.buttons.len());
        };
        if let Some(url) = key.strip_prefix(LINK) {
            return format!("（点击「{label}」）打开页面：{url}\n（浏览器里先用 /page 的地址登录）\n");
        }
        let inbound = Inbound::TemplateCardEvent {
            event_key: key,
            task_id: card.task_id.clone(),
            card_type: "button_interaction".into(),
            response_code: card.response_code.clone(),
            selected_items: vec![],
        };
        let reply = self.member.send(&self.user, self.now(), inbound).await;
        format!("（点击「{label}」）{}", show_reply(&reply))
    }

    async fn tick(&mut self, arg: &str) -> String {
        let at = match parse_time(arg, &self.ctx) {
            Ok(at) => at,
            Err(message) => return format!("{message}\n"),
        };
        // Time moves on to then (a check-in or a tap after `/tick 18:25` happens at 18:25).
        self.clock.jump_to(at);
        let r = run_due_jobs(&self.ctx, &Schedules::from_config(&self.ctx.config), at).await;
        let summary = format!(
            "定时任务 @ {}：确认卡 {}，签到提醒 {}，未到场 {}，过期申请 {}，发布下周 {}\n",
            at.with_timezone(&self.ctx.catalog.tz()).format("%m-%d %H:%M"),
            r.confirmations,
            r.reminders,
            r.no_shows.marked,
            r.expired,
            r.published
        );
        format!("{summary}{}", self.sync().await)
    }

    /// Wait for the writes a reply did not wait for (a question's cards), then deliver.
    async fn settle(&mut self) {
        let _ = self.ctx.store.write(|_| Ok::<(), rusqlite::Error>(())).await;
        self.sync().await;
    }

    /// Deliver everything due now, so pushed messages show at once.
    async fn sync(&mut self) -> String {
        for _ in 0..20 {
            match crate::outbox::worker::deliver_due(&self.ctx).await {
                Ok(done) if done.sent + done.failed + done.retried > 0 => continue,
                _ => break,
            }
        }
        String::new()
    }

    /// New messages the stand-in received, shown as the member would see them.
    fn pushed(&mut self) -> String {
        let calls = self.api.calls();
        let mut out = String::new();
        for call in calls.iter().skip(self.seen) {
            match call.path.as_str() {
                "message/send" => out.push_str(&self.show_message(&call.body, call.response_code.as_deref())),
                "oa/schedule/add" => out.push_str(&self.show_schedule(&call.body["schedule"])),
                "oa/schedule/update" => {
                    out.push_str(&self.show_schedule(&call.body["schedule"]).replacen("[日程", "[日程改期", 1))
                }
                "webhook/send" => {
                    let message = &call.body["message"];
                    let content = message["markdown"]["content"].as_str().or(message["text"]["content"].as_str());
                    out.push_str(&format!("[群机器人 → 全员群] {}\n", content.unwrap_or_default()));
                }
                "oa/schedule/del" => {
                    out.push_str(&format!("[日程删除] {}\n", call.body["schedule_id"].as_str().unwrap_or_default()))
                }
                "message/update_template_card" => out.push_str(&format!(
                    "[卡片更新 → {}] 按钮变为「{}」\n",
                    call.body["userids"]
                        .as_array()
                        .map(|u| u.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                        .unwrap_or_default(),
                    call.body["button"]["replace_name"].as_str().unwrap_or_default()
                )),
                _ => {}
            }
        }
        self.seen = calls.len();
        out
    }

    /// `[日程 → zhangsan] 乒乓球 11-24 18:30-19:30`.
    fn show_schedule(&self, schedule: &Value) -> String {
        let tz = self.ctx.catalog.tz();
        let at = |key: &str, format: &str| {
            DateTime::<Utc>::from_timestamp(schedule[key].as_i64().unwrap_or_default(), 0)
                .map(|t| t.with_timezone(&tz).format(format).to_string())
                .unwrap_or_default()
        };
        format!(
            "[日程 → {}] {} {}-{}\n",
            schedule["attendees"][0]["userid"].as_str().unwrap_or("?"),
            schedule["location"].as_str().unwrap_or_default(),
            at("start_time", "%m-%d %H:%M"),
            at("end_time", "%H:%M")
        )
    }

    fn show_message(&mut self, body: &Value, response_code: Option<&str>) -> String {
        let to = body["touser"].as_str().or(body["toparty"].as_str()).unwrap_or("?");
        match body["msgtype"].as_str() {
            Some("text") => format!("[推送 → {to}] {}\n", body["text"]["content"].as_str().unwrap_or_default()),
            Some("markdown") => {
                format!("[推送 → {to}]\n{}\n", body["markdown"]["content"].as_str().unwrap_or_default())
            }
            Some("textcard") => {
                let card = &body["textcard"];
                format!(
                    "[凭证 → {to}] {} {}\n",
                    card["title"].as_str().unwrap_or_default(),
                    card["url"].as_str().unwrap_or_default()
                )
            }
            Some("template_card") => {
                let card = &body["template_card"];
                let mut text = format!(
                    "[卡片 → {to}] {} — {}\n",
                    card["main_title"]["title"].as_str().unwrap_or_default(),
                    card["main_title"]["desc"].as_str().unwrap_or_default()
                );
                if let Some(sub) = card["sub_title_text"].as_str() {
                    text.push_str(&format!("   {sub}\n"));
                }
                for field in card["horizontal_content_list"].as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "   {}：{}\n",
                        field["keyname"].as_str().unwrap_or_default(),
                        field["value"].as_str().unwrap_or_default()
                    ));
                }
                let buttons: Vec<(String, String)> = card["button_list"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|b| {
                        // A link button opens its page; the demo prints where.
                        let key = match b["url"].as_str() {
                            Some(url) if b["type"] == 1 => format!("{LINK}{url}"),
                            _ => b["key"].as_str().unwrap_or_default().to_string(),
                        };
                        (b["text"].as_str().unwrap_or_default().to_string(), key)
                    })
                    .collect();
                if !buttons.is_empty() {
                    let listing: Vec<String> =
                        buttons.iter().enumerate().map(|(i, (t, _))| format!("/click {} {t}", i + 1)).collect();
                    text.push_str(&format!("   {}\n", listing.join("   ")));
                    let card = Card {
                        task_id: card["task_id"].as_str().unwrap_or_default().to_string(),
                        response_code: response_code.unwrap_or_default().to_string(),
                        buttons,
                    };
                    self.cards.insert(to.to_string(), card);
                }
                text
            }
            other => format!("[推送 → {to}] ({})\n", other.unwrap_or("?")),
        }
    }
}

/// How the demo marks a card's link button among its callback keys.
const LINK: &str = "link:";

fn show_reply(reply: &SimReply) -> String {
    match reply {
        SimReply::Message(m) if m.msg_type == "update_button" => format!("[按钮] {}\n", m.content),
        SimReply::Message(m) => format!("{}\n", m.content),
        SimReply::Empty => "（无回复，结果以推送消息发出）\n".into(),
        SimReply::Refused { status, body } => format!("（服务拒绝：{status} {body}）\n"),
    }
}

/// `18:30` (today), `2026-11-24T16:30` (local) or RFC 3339; empty = now.
fn parse_time(arg: &str, ctx: &AppContext) -> Result<DateTime<Utc>, String> {
    let tz = ctx.catalog.tz();
    if arg.is_empty() {
        return Ok(ctx.clock.now());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(arg) {
        return Ok(t.with_timezone(&Utc));
    }
    let local = |naive: NaiveDateTime| tz.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc));
    if let Ok(naive) = NaiveDateTime::parse_from_str(arg, "%Y-%m-%dT%H:%M") {
        return local(naive).ok_or_else(|| format!("{arg} 不存在"));
    }
    if let Ok(time) = NaiveTime::parse_from_str(arg, "%H:%M") {
        return local(ctx.catalog.today(ctx.clock.now()).and_time(time)).ok_or_else(|| format!("{arg} 不存在"));
    }
    Err(format!("看不懂时间 {arg}：用 18:30 或 2026-11-24T16:30"))
}
