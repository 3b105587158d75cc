//! The checks that need more than one value, or a whole list: each failure names its key.

use super::{invalid, Config, ConfigError};
use crate::wecom::crypto::EncodingAesKey;
use chrono::NaiveTime;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::str::FromStr;

impl Config {
    /// Every check of DESIGN.md "Configuration"; the first failure names its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_wecom()?;
        self.validate_booking()?;
        self.validate_slots()?;
        if !super::SCHEDULE_REMINDERS.contains(&self.calendar.remind_before_seconds) {
            return Err(invalid("calendar.remind_before_seconds", "must be one of 0, 300, 900, 3600, 86400 (WeCom's)"));
        }
        // Shorter than a week would delete messages the per-member send limit still counts.
        if !(7..=3650).contains(&self.database.keep_days) {
            return Err(invalid("database.keep_days", "must be between 7 and 3650 days"));
        }
        for (name, id) in &self.departments {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!("departments.{name}"), "must be a WeCom department id (digits)"));
            }
        }
        self.validate_robots()?;
        self.validate_facilities()
    }

    fn validate_robots(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for (i, robot) in self.robots.iter().enumerate() {
            let key = |field: &str| format!("robots[{i}].{field}");
            if robot.name.trim().is_empty() || !names.insert(robot.name.as_str()) {
                return Err(invalid(key("name"), "must be given and unique"));
            }
            let url = robot.webhook_url.expose();
            if !(url.starts_with("https://") || url.starts_with("http://")) || !url.contains("key=") {
                return Err(invalid(
                    key("webhook_url"),
                    "must be the robot's full address (…/cgi-bin/webhook/send?key=…)",
                ));
            }
            if let Some(unknown) = robot.departments.iter().find(|d| !self.departments.contains_key(*d)) {
                return Err(invalid(key("departments"), format!("{unknown} is not in [departments]")));
            }
        }
        Ok(())
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        SocketAddr::from_str(&self.server.bind)
            .map_err(|_| invalid("server.bind", "must be an address like 127.0.0.1:8080"))?;
        if self.server.metrics_need_auth() && self.server.admin_token.is_empty() {
            return Err(invalid(
                "server.admin_token",
                "is required: /metrics needs it (server.metrics_need_auth is true, or unset with a bind \
                 address that is not loopback)",
            ));
        }
        Ok(())
    }

    fn validate_wecom(&self) -> Result<(), ConfigError> {
        let w = &self.wecom;
        if w.corp_id.trim().is_empty() {
            return Err(invalid("wecom.corp_id", "must not be empty"));
        }
        if w.agent_id <= 0 {
            return Err(invalid("wecom.agent_id", "must be a positive number"));
        }
        if w.secret.is_empty() {
            return Err(invalid("wecom.secret", "is missing (set it or STAFFHOME_WECOM_SECRET)"));
        }
        let token = w.token.expose();
        if token.is_empty() || token.len() > 32 || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("wecom.token", "must be 1 to 32 letters or digits (set it or STAFFHOME_WECOM_TOKEN)"));
        }
        EncodingAesKey::parse(w.encoding_aes_key.expose()).map_err(|_| {
            invalid(
                "wecom.encoding_aes_key",
                "must be exactly 43 letters or digits (set it or STAFFHOME_WECOM_AES_KEY)",
            )
        })?;
        if !(w.api_base.starts_with("http://") || w.api_base.starts_with("https://"))
            || w.api_base.trim_end_matches('/').contains("/cgi-bin")
        {
            return Err(invalid("wecom.api_base", "must be a scheme and host only, like https://qyapi.weixin.qq.com"));
        }
        if !(w.oauth_base.starts_with("http://") || w.oauth_base.starts_with("https://"))
            || w.oauth_base.trim_end_matches('/').contains("/connect")
        {
            return Err(invalid("wecom.oauth_base", "must be a scheme and host only, like https://open.weixin.qq.com"));
        }
        if !(100..=60_000).contains(&w.api_timeout_ms) {
            return Err(invalid("wecom.api_timeout_ms", "must be between 100 and 60000"));
        }
        // A callback's record (its reply, for retries) is kept a week (the scheduler's
        // CALLBACK_RECORDS_KEPT_SECONDS): a wider window would let a replay outlive its record.
        if w.max_timestamp_skew_seconds > 7 * 24 * 3600 {
            return Err(invalid("wecom.max_timestamp_skew_seconds", "must be at most 604800 (a week)"));
        }
        Ok(())
    }

    fn validate_booking(&self) -> Result<(), ConfigError> {
        let b = &self.booking;
        if b.max_active_per_user == 0 {
            return Err(invalid("booking.max_active_per_user", "must be at least 1"));
        }
        let minutes = [
            ("booking.checkin_open_minutes", b.checkin_open_minutes),
            ("booking.no_show_after_minutes", b.no_show_after_minutes),
            ("booking.confirm_before_minutes", b.confirm_before_minutes),
            ("booking.remind_before_minutes", b.remind_before_minutes),
            ("booking.offer_before_minutes", b.offer_before_minutes),
        ];
        for (key, value) in minutes {
            if !(0..=24 * 60).contains(&value) {
                return Err(invalid(key, "must be between 0 and 1440 minutes"));
            }
        }
        if !(1..=52).contains(&b.max_recurring_weeks) {
            return Err(invalid("booking.max_recurring_weeks", "must be between 1 and 52"));
        }
        if !(1..=120).contains(&b.offer_minutes) {
            return Err(invalid("booking.offer_minutes", "must be between 1 and 120 minutes"));
        }
        if b.strike_limit == 0 {
            return Err(invalid("booking.strike_limit", "must be at least 1"));
        }
        Ok(())
    }

    fn validate_slots(&self) -> Result<(), ConfigError> {
        if self.slots.is_empty() {
            return Err(invalid("slots", "needs at least one slot"));
        }
        let mut previous_end: Option<NaiveTime> = None;
        for (i, slot) in self.slots.iter().enumerate() {
            let key = |field: &str| format!("slots[{i}].{field}");
            let (start, end) = (slot.start, slot.end);
            if end <= start {
                return Err(invalid(key("end"), "must be after start"));
            }
            if previous_end.is_some_and(|prev| start < prev) {
                return Err(invalid(key("start"), "slots must be in order and must not overlap"));
            }
            previous_end = Some(end);
        }
        Ok(())
    }

    fn validate_facilities(&self) -> Result<(), ConfigError> {
        let mut codes = HashSet::new();
        let mut names = HashSet::new();
        for (i, f) in self.facilities.iter().enumerate() {
            let key = |field: &str| format!("facilities[{i}].{field}");
            let code_ok = !f.code.is_empty()
                && f.code.len() <= 32
                && f.code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
            if !code_ok {
                return Err(invalid(key("code"), "must be 1 to 32 of a-z, 0-9, _ and -"));
            }
            if !codes.insert(f.code.clone()) {
                return Err(invalid(key("code"), format!("{:?} is used twice", f.code)));
            }
            if f.name.trim().is_empty() {
                return Err(invalid(key("name"), "must not be empty"));
            }
            for word in std::iter::once(&f.name).chain(f.aliases.iter()) {
                let word = word.trim().to_lowercase();
                if word.is_empty() || word.chars().all(|c| c.is_ascii_digit()) {
                    return Err(invalid(key("aliases"), "names and aliases must not be empty or only digits"));
                }
                if !names.insert(word.clone()) {
                    return Err(invalid(key("aliases"), format!("{word:?} names two facilities")));
                }
            }
            if f.capacity == 0 || f.capacity > 1000 {
                return Err(invalid(key("capacity"), "must be between 1 and 1000"));
            }
            if !(0.0..=1.0).contains(&f.recurring_share) {
                return Err(invalid(key("recurring_share"), "must be between 0 and 1"));
            }
            for (level, approvers) in f.approval.iter().enumerate() {
                if approvers.is_empty() || approvers.iter().any(|a| a.trim().is_empty()) {
                    return Err(invalid(
                        format!("facilities[{i}].approval[{level}]"),
                        "each level needs at least one approver user id",
                    ));
                }
            }
        }
        Ok(())
    }
}
