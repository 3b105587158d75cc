//! The TOML configuration: keys of DESIGN.md "Configuration", environment overrides for
//! secrets, defaults, and validation at start with messages that name the bad key.

mod validate;
mod values;

pub use crate::secret::Secret;
pub use values::{Cron, PublicUrl};

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A configuration problem, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Parse(String),
    #[error("config key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    pub wecom: WeComConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub booking: BookingConfig,
    #[serde(default)]
    pub calendar: CalendarConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default = "default_slots")]
    pub slots: Vec<SlotConfig>,
    #[serde(default)]
    pub facilities: Vec<FacilityConfig>,
    #[serde(default)]
    pub roles: RolesConfig,
    /// Group robots (群机器人) that take the light notices to everyone.
    #[serde(default)]
    pub robots: Vec<RobotConfig>,
    /// Department names admins may address (通知 办公室 …) → WeCom department (party) ids.
    #[serde(default)]
    pub departments: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    pub public_url: PublicUrl,
    pub admin_token: Secret,
    /// Whether /metrics needs the admin token; unset: it does unless `bind` is a loopback
    /// address (reachable only from this machine). Read it through `metrics_need_auth()`.
    #[serde(rename = "metrics_need_auth")]
    pub metrics_auth: Option<bool>,
}

impl ServerConfig {
    /// /metrics needs `Authorization: Bearer <admin_token>`.
    pub fn metrics_need_auth(&self) -> bool {
        self.metrics_auth.unwrap_or_else(|| !self.binds_loopback_only())
    }

    fn binds_loopback_only(&self) -> bool {
        self.bind.parse::<std::net::SocketAddr>().is_ok_and(|addr| addr.ip().is_loopback())
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            public_url: PublicUrl::parse("http://127.0.0.1:8080").expect("a valid default"),
            admin_token: Secret::default(),
            metrics_auth: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeComConfig {
    pub corp_id: String,
    pub agent_id: i64,
    #[serde(default)]
    pub secret: Secret,
    #[serde(default)]
    pub token: Secret,
    #[serde(default)]
    pub encoding_aes_key: Secret,
    #[serde(default = "default_api_base")]
    pub api_base: String,
    /// Where browsers are sent to sign in (WeCom OAuth): scheme and host only.
    #[serde(default = "default_oauth_base")]
    pub oauth_base: String,
    /// How long one API call may take before it counts as failed (and is retried).
    #[serde(default = "default_api_timeout_ms")]
    pub api_timeout_ms: u64,
    /// A callback whose signed `timestamp` is further than this from the service's clock is
    /// refused (a replay, or a clock badly off); 0 turns the check off.
    #[serde(default = "default_max_timestamp_skew_seconds")]
    pub max_timestamp_skew_seconds: u64,
    /// App messages WeCom lets this app send a day (it grows with the seats; 0: no limit
    /// watched). At 80 % the admins are told and light messages wait for the next day.
    #[serde(default)]
    pub daily_message_budget: u64,
}

fn default_max_timestamp_skew_seconds() -> u64 {
    300
}

fn default_api_timeout_ms() -> u64 {
    5000
}

fn default_api_base() -> String {
    "https://qyapi.weixin.qq.com".into()
}

fn default_oauth_base() -> String {
    "https://open.weixin.qq.com".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub path: PathBuf,
    /// Delivered and failed messages are deleted this many days after their last attempt.
    pub keep_days: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { path: PathBuf::from("data/staffhome.db"), keep_days: 90 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BookingConfig {
    #[serde(deserialize_with = "values::zone")]
    pub timezone: Tz,
    pub max_active_per_user: u32,
    pub max_per_week_per_user: u32,
    pub checkin_open_minutes: i64,
    pub no_show_after_minutes: i64,
    pub confirm_before_minutes: i64,
    pub remind_before_minutes: i64,
    pub strike_limit: u32,
    pub strike_window_days: i64,
    pub suspend_days: i64,
    /// A place freed less than this before its start is offered to the first waiter (0: never,
    /// always given at once).
    pub offer_before_minutes: i64,
    /// How long an offered place is held for its waiter.
    pub offer_minutes: i64,
    /// The most weeks a recurring booking (预约 … 每周三 … 4周) may span.
    pub max_recurring_weeks: u32,
}

impl Default for BookingConfig {
    fn default() -> Self {
        BookingConfig {
            timezone: chrono_tz::Asia::Shanghai,
            max_active_per_user: 4,
            max_per_week_per_user: 10,
            checkin_open_minutes: 15,
            no_show_after_minutes: 15,
            confirm_before_minutes: 120,
            remind_before_minutes: 60,
            strike_limit: 3,
            strike_window_days: 30,
            suspend_days: 7,
            offer_before_minutes: 180,
            offer_minutes: 15,
            max_recurring_weeks: 8,
        }
    }
}

/// Bookings in the members' calendars (WeCom 日程; the ICS feed needs no setting).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarConfig {
    /// Each confirmed booking becomes a schedule in the member's WeCom calendar.
    pub wecom: bool,
    /// When WeCom's calendar reminds before the start: one of 0, 300, 900, 3600, 86400.
    pub remind_before_seconds: i64,
    /// With `wecom`, whether the service still sends its own check-in reminder in chat.
    pub remind_in_chat: bool,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        CalendarConfig { wecom: false, remind_before_seconds: 900, remind_in_chat: true }
    }
}

/// The reminder times WeCom's schedule API accepts.
pub const SCHEDULE_REMINDERS: [i64; 5] = [0, 300, 900, 3600, 86400];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Reminders, no-shows, expiries.
    #[serde(deserialize_with = "values::tick")]
    pub tick: Cron,
    /// Opens next week for booking.
    #[serde(deserialize_with = "values::publish_week")]
    pub publish_week: Cron,
    /// The weekly digest to the admins.
    #[serde(deserialize_with = "values::weekly_digest")]
    pub weekly_digest: Cron,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        let cron = |key, expr| Cron::parse(key, expr).expect("a valid default");
        ScheduleConfig {
            tick: cron("schedule.tick", "0 * * * * *"),
            publish_week: cron("schedule.publish_week", "0 0 20 * * Sun"),
            weekly_digest: cron("schedule.weekly_digest", "0 0 8 * * Mon"),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SlotConfig {
    #[serde(deserialize_with = "values::time_of_day")]
    pub start: NaiveTime,
    #[serde(deserialize_with = "values::time_of_day")]
    pub end: NaiveTime,
    #[serde(default)]
    pub peak: bool,
}

/// The pilot study's 11 daily periods, the last three peak.
pub fn default_slots() -> Vec<SlotConfig> {
    [
        ("08:30", "09:30", false),
        ("09:30", "10:30", false),
        ("10:30", "11:30", false),
        ("12:00", "13:00", false),
        ("13:00", "14:00", false),
        ("14:30", "15:30", false),
        ("15:30", "16:30", false),
        ("16:30", "17:30", false),
        ("17:30", "18:30", true),
        ("18:30", "19:30", true),
        ("19:30", "20:30", true),
    ]
    .into_iter()
    .map(|(start, end, peak)| {
        let time = |t| NaiveTime::parse_from_str(t, "%H:%M").expect("a valid default");
        SlotConfig { start: time(start), end: time(end), peak }
    })
    .collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacilityConfig {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub capacity: u32,
    /// Approval levels, each a list of approver user ids.
    #[serde(default)]
    pub approval: Vec<Vec<String>>,
    /// Optional grouping word ("球类", "会议") used to suggest similar facilities.
    #[serde(default)]
    pub kind: Option<String>,
    /// At most this share of a slot's places go to recurring bookings held for a week not yet
    /// open (booked as it opens, before everyone else): the rest stay for walk-ins.
    #[serde(default = "default_recurring_share")]
    pub recurring_share: f64,
}

fn default_recurring_share() -> f64 {
    0.5
}

/// A WeCom group robot: light notices to everyone go to its group as markdown.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotConfig {
    /// How it is named in logs and the demo (e.g. 全员群).
    pub name: String,
    /// Its full address, as the group's settings show it (…/cgi-bin/webhook/send?key=…).
    pub webhook_url: Secret,
    /// The departments (names of `[departments]`) whose group it is; empty: everyone's.
    #[serde(default)]
    pub departments: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RolesConfig {
    pub admins: Vec<String>,
}

impl Config {
    /// Read, apply environment overrides, and validate.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::from_toml(&text, |name| std::env::var(name).ok())
    }

    /// Parse `text`, take secrets from `env` where set, and validate.
    pub fn from_toml(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.apply_env(env);
        config.validate()?;
        Ok(config)
    }

    fn apply_env(&mut self, env: impl Fn(&str) -> Option<String>) {
        let overrides: [(&str, &mut Secret); 4] = [
            ("STAFFHOME_WECOM_SECRET", &mut self.wecom.secret),
            ("STAFFHOME_WECOM_TOKEN", &mut self.wecom.token),
            ("STAFFHOME_WECOM_AES_KEY", &mut self.wecom.encoding_aes_key),
            ("STAFFHOME_ADMIN_TOKEN", &mut self.server.admin_token),
        ];
        for (name, slot) in overrides {
            if let Some(value) = env(name).filter(|v| !v.is_empty()) {
                *slot = Secret::new(value);
            }
        }
    }

    pub fn tz(&self) -> Tz {
        self.booking.timezone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[wecom]
corp_id = "ww1436e0e65a779aee"
agent_id = 1000002
secret = "s3cret-value"
token = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
encoding_aes_key = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"

[[facilities]]
code = "gym"
name = "健身房"
capacity = 10
"#;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn error_of(text: &str) -> String {
        Config::from_toml(text, no_env).unwrap_err().to_string()
    }

    #[test]
    fn minimal_config_gets_the_defaults() {
        let config = Config::from_toml(MINIMAL, no_env).unwrap();
        assert_eq!(config.slots.len(), 11);
        assert!(config.slots[8].peak && !config.slots[7].peak);
        assert_eq!(config.booking.max_active_per_user, 4);
        assert_eq!(config.tz(), chrono_tz::Asia::Shanghai);
    }

    #[test]
    fn secrets_come_from_the_environment_and_never_show() {
        let text = MINIMAL.replace("secret = \"s3cret-value\"\n", "");
        assert!(error_of(&text).contains("wecom.secret"));
        let config =
            Config::from_toml(&text, |name| (name == "STAFFHOME_WECOM_SECRET").then(|| "from-env-secret".to_string()))
                .unwrap();
        assert_eq!(config.wecom.secret.expose(), "from-env-secret");
        let shown = format!("{config:?}");
        for secret in
            ["from-env-secret", "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"]
        {
            assert!(!shown.contains(secret), "{secret} leaked into Debug");
        }
    }

    #[test]
    fn each_bad_value_names_its_key() {
        let cases = [
            (MINIMAL.replace("6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "short"), "wecom.encoding_aes_key"),
            (MINIMAL.replace("agent_id = 1000002", "agent_id = 0"), "wecom.agent_id"),
            (MINIMAL.replace("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "has space"), "wecom.token"),
            (MINIMAL.replace("capacity = 10", "capacity = 0"), "facilities[0].capacity"),
            (MINIMAL.replace("code = \"gym\"", "code = \"Gym!\""), "facilities[0].code"),
            (format!("{MINIMAL}\n[schedule]\ntick = \"every minute\"\n"), "schedule.tick"),
            (format!("{MINIMAL}\n[booking]\ntimezone = \"Mars/Base\"\n"), "booking.timezone"),
            (format!("{MINIMAL}\n[[slots]]\nstart = \"10:00\"\nend = \"09:00\"\n"), "slots[0].end"),
            (format!("{MINIMAL}\n[[facilities]]\ncode = \"gym\"\nname = \"x\"\ncapacity = 1\n"), "facilities[1].code"),
            (
                format!(
                    "{MINIMAL}\n[[facilities]]\ncode = \"room\"\nname = \"会议室\"\ncapacity = 1\napproval = [[]]\n"
                ),
                "facilities[1].approval[0]",
            ),
            (format!("{MINIMAL}\n[server]\nbind = \"nowhere\"\n"), "server.bind"),
            (format!("{MINIMAL}\n[server]\npublic_url = \"ftp://host\"\n"), "server.public_url"),
            (format!("{MINIMAL}\n[schedule]\npublish_week = \"sunday night\"\n"), "schedule.publish_week"),
            (format!("{MINIMAL}\n[database]\nkeep_days = 3\n"), "database.keep_days"),
            (format!("{MINIMAL}\n[[robots]]\nname = \"全员群\"\nwebhook_url = \"ftp://x\"\n"), "robots[0].webhook_url"),
            (format!("{MINIMAL}\n[calendar]\nremind_before_seconds = 600\n"), "calendar.remind_before_seconds"),
            // Listening beyond this machine: /metrics needs the admin token, so there must be one.
            (format!("{MINIMAL}\n[server]\nbind = \"0.0.0.0:8080\"\n"), "server.admin_token"),
        ];
        for (text, key) in cases {
            let message = error_of(&text);
            assert!(message.contains(key), "expected {key} in {message:?}");
        }
    }

    #[test]
    fn the_documented_example_and_the_demo_configs_are_valid() {
        let secrets = |name: &str| match name {
            "STAFFHOME_WECOM_SECRET" => Some("secret".to_string()),
            "STAFFHOME_WECOM_TOKEN" => Some("token".to_string()),
            "STAFFHOME_WECOM_AES_KEY" => Some("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C".to_string()),
            _ => None,
        };
        Config::from_toml(include_str!("../../data/staffhome.example.toml"), secrets).unwrap();
        Config::from_toml(include_str!("../../data/demo.toml"), no_env).unwrap();
    }

    #[test]
    fn values_are_typed_once_at_load() {
        let text = format!("{MINIMAL}\n[server]\npublic_url = \"https://home.example.com/\"\n");
        let config = Config::from_toml(&text, no_env).unwrap();
        assert_eq!(config.server.public_url.join("/board"), "https://home.example.com/board");
        assert!(config.server.public_url.is_https());
        assert_eq!(config.slots[8].start, NaiveTime::from_hms_opt(17, 30, 0).unwrap());
        let next = config.schedule.publish_week.0.upcoming(chrono_tz::Asia::Shanghai).next().unwrap();
        assert_eq!((next.format("%a %H:%M").to_string()), "Sun 20:00");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let message = error_of(&format!("{MINIMAL}\n[booking]\nmax_active = 3\n"));
        assert!(message.contains("max_active"), "{message}");
    }

    #[test]
    fn metrics_need_the_admin_token_unless_the_server_listens_on_loopback_only() {
        let with = |server: &str| {
            let text = format!("{MINIMAL}\n[server]\nadmin_token = \"an-admin-token\"\n{server}");
            Config::from_toml(&text, no_env).unwrap().server.metrics_need_auth()
        };
        assert!(!with("bind = \"127.0.0.1:8080\""));
        assert!(!with("bind = \"[::1]:8080\""));
        assert!(with("bind = \"0.0.0.0:8080\""));
        assert!(with("bind = \"10.1.2.3:8080\""));
        assert!(!with("bind = \"0.0.0.0:8080\"\nmetrics_need_auth = false"), "said outright");
        assert!(with("bind = \"127.0.0.1:8080\"\nmetrics_need_auth = true"));
    }
}
