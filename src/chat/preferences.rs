//! A member's own settings by chat: 提醒 关 / 开 / 提前30分钟, 免打扰 22:00-07:00 / 关, 设置.

use super::Turn;
use crate::settings::{self, Settings, LEAD_MINUTES};

impl Turn<'_> {
    pub(super) fn remind(&self, args: &str) -> super::Result<String> {
        let mut settings = settings::load(self.tx, self.user)?;
        let text = super::parse::normalize(args);
        if text.contains('关') || text.contains("off") {
            settings.reminders_off = true;
        } else if text.contains('开') || text.contains("on") {
            settings.reminders_off = false;
        } else if let Some(minutes) = minutes_in(&text) {
            if !LEAD_MINUTES.contains(&minutes) {
                let (low, high) = (LEAD_MINUTES.start(), LEAD_MINUTES.end());
                return Ok(format!("提前时间可设 {low} 到 {high} 分钟，如：提醒 提前30分钟"));
            }
            settings.remind_before_minutes = Some(minutes);
        } else {
            return Ok(format!(
                "{}\n可以这样说：提醒 关 · 提醒 开 · 提醒 提前30分钟",
                self.describe_settings(&settings)
            ));
        }
        self.save_settings(&settings)
    }

    pub(super) fn quiet(&self, args: &str) -> super::Result<String> {
        let mut settings = settings::load(self.tx, self.user)?;
        let text = args.trim();
        if text.contains('关') || text.eq_ignore_ascii_case("off") {
            settings.quiet = None;
        } else if let Some(quiet) = settings::parse_quiet(text) {
            settings.quiet = Some(quiet);
        } else {
            return Ok("请这样写：免打扰 22:00-07:00（取消：免打扰 关）".into());
        }
        self.save_settings(&settings)
    }

    pub(super) fn settings(&self) -> super::Result<String> {
        Ok(self.describe_settings(&settings::load(self.tx, self.user)?))
    }

    fn save_settings(&self, settings: &Settings) -> super::Result<String> {
        settings::save(self.tx, self.user, settings, self.now.timestamp())?;
        Ok(format!("已保存。{}", self.describe_settings(settings)))
    }

    fn describe_settings(&self, s: &Settings) -> String {
        let lead = s.remind_before_minutes.unwrap_or(self.ctx.config.booking.remind_before_minutes);
        let reminders = if s.reminders_off {
            "提醒：关（高峰时段的提醒照常发送）".to_string()
        } else {
            format!("提醒：开，开始前 {lead} 分钟")
        };
        let quiet = match s.quiet {
            Some(quiet) => format!("免打扰：{}（其间的非正式消息稍后再发）", settings::show_quiet(quiet)),
            None => "免打扰：未设置".to_string(),
        };
        format!("你的设置 —— {reminders}；{quiet}。停用通知、审批结果、候补递补等正式通知总会发送。")
    }
}

/// `提前30分钟`, `30分钟`, `30`: the number of minutes.
fn minutes_in(text: &str) -> Option<i64> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let minutes: i64 = digits.parse().ok()?;
    Some(if text.contains("小时") { minutes * 60 } else { minutes })
}
