//! Admin commands: 停用 / 启用, 通知, 报表, 授权 / 撤销. Everyone else is refused (and logged).

use super::dates::{self, SlotSpec};
use super::parse::normalize;
use super::Turn;
use crate::booking::{self, checkin, closure, service, week_start};
use crate::notify::{self, Audience};
use crate::users::Role;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use rusqlite::params;
use serde_json::json;

impl Turn<'_> {
    pub(super) fn publish(&self) -> super::Result<String> {
        if let Some(refusal) = self.refuse_non_admin("发布") {
            return Ok(refusal);
        }
        let week = booking::week_start(self.today()) + Duration::days(7);
        let newly =
            service::publish_week(self.tx, &self.rules(), week, self.user, self.now, &mut self.events.borrow_mut())?;
        let label = format!("{}—{}", booking::date_label(week), booking::date_label(week + Duration::days(6)));
        Ok(self.render("published", json!({"week": label, "newly": newly})))
    }

    pub(super) fn forgive(&self, target: Option<String>) -> super::Result<String> {
        if let Some(refusal) = self.refuse_non_admin("免责") {
            return Ok(refusal);
        }
        let Some(target) = target else {
            return Ok("请说明免责对象：免责 用户ID 或 免责 预约号".to_string());
        };
        match checkin::forgive(self.tx, &self.rules(), self.user, &target, self.now)? {
            Some((user, left)) => Ok(format!("已免除 {user} 的一次未到场记录，现有 {left} 次。")),
            None => Ok(format!("{target} 没有可免除的未到场记录。")),
        }
    }

    /// None when the sender is an admin; else the refusal to send (the attempt is logged).
    pub(super) fn refuse_non_admin(&self, command: &str) -> Option<String> {
        if self.role == Role::Admin {
            return None;
        }
        tracing::warn!(user = self.user, command, "admin command refused");
        Some(self.ctx.replies.render("refused", json!({"kind": "admin_only", "command": command})))
    }

    fn at(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        self.ctx.catalog.instant(date, time)
    }

    /// 停用 健身房 11-25 11-26 设备检修 · 停用 会议室 明天 14:30-16:30 上级检查 · 停用 乒乓球 今天起 维修
    pub(super) fn close(&self, args: &str) -> super::Result<String> {
        if let Some(refusal) = self.refuse_non_admin("停用") {
            return Ok(refusal);
        }
        let usage = "请这样写：停用 健身房 11-25 11-26 设备检修 · 停用 会议室 明天 14:30-16:30 上级检查 · 停用 乒乓球 今天起 维修";
        let mut text = normalize(args);
        let Some((facility, s, e)) = self.ctx.catalog.find_facility_in(&text) else {
            return Ok(format!("没找到要停用的设施。{usage}"));
        };
        let facility = facility.clone();
        text.replace_range(s..e, " ");
        let today = self.ctx.catalog.today(self.now);
        let Ok(range) = dates::take_slot(&mut text) else { return Ok(format!("时间看不懂。{usage}")) };
        let Ok((first, _)) = dates::take_date(&mut text, today) else {
            return Ok(format!("日期看不懂。{usage}"));
        };
        let Ok((second, _)) = dates::take_date(&mut text, today) else {
            return Ok(format!("日期看不懂。{usage}"));
        };
        let open_ended = text.contains('起');
        // 全天 / 整天 say what a date alone already means (the whole day): not part of the reason.
        let words = text.replace(['起', '至', '到', '-', '~'], " ");
        let reason = words.split_whitespace().filter(|w| !matches!(*w, "全天" | "整天")).collect::<Vec<_>>().join(" ");
        if reason.is_empty() {
            return Ok(format!("请说明停用原因。{usage}"));
        }
        let midnight = NaiveTime::MIN;
        let (start, end) = match (range, first, second) {
            (Some(SlotSpec::Range(a, b)), date, None) => {
                let day = date.unwrap_or(today);
                (self.at(day, a), Some(self.at(day, b)))
            }
            (None, Some(from), Some(to)) if to >= from => {
                (self.at(from, midnight), Some(self.at(to + Duration::days(1), midnight)))
            }
            (None, Some(from), None) if open_ended => (self.at(from, midnight).max(self.now), None),
            (None, Some(day), None) => (self.at(day, midnight), Some(self.at(day + Duration::days(1), midnight))),
            (None, None, None) if open_ended => (self.now, None),
            _ => return Ok(format!("请说明停用时间。{usage}")),
        };
        if end.is_some_and(|end| end <= self.now) {
            return Ok("这段时间已经过去了，不用停用。".into());
        }
        let stop = closure::StopUse { facility: &facility.code, start, end, reason: &reason };
        let events = &mut self.events.borrow_mut();
        let closed = closure::close(self.tx, &self.rules(), &stop, self.user, self.now, events)?;
        tracing::info!(admin = self.user, facility = %facility.code, bookings = closed.bookings, "facility closed");
        let period = closure::period_label(self.ctx.catalog, start, end);
        let told = if closed.members_told.is_empty() {
            "没有受影响的预约".to_string()
        } else {
            format!("已正式通知 {} 人（{}）", closed.members_told.len(), closed.members_told.join("、"))
        };
        Ok(format!(
            "已停用 {} {period}（{reason}）。取消预约 {} 个，{told}；清除候补 {} 人；已向全体职工广播。",
            facility.name, closed.bookings, closed.waiters_cleared
        ))
    }

    /// 启用 健身房
    pub(super) fn reopen(&self, args: &str) -> super::Result<String> {
        if let Some(refusal) = self.refuse_non_admin("启用") {
            return Ok(refusal);
        }
        let text = normalize(args);
        let Some((facility, _, _)) = self.ctx.catalog.find_facility_in(&text) else {
            return Ok("要启用哪个设施？如：启用 健身房".into());
        };
        let events = &mut self.events.borrow_mut();
        let ended = closure::reopen(self.tx, &facility.code, self.user, self.now, events)?;
        Ok(if ended == 0 {
            format!("{} 没有停用，不用启用。", facility.name)
        } else {
            tracing::info!(admin = self.user, facility = %facility.code, "facility reopened");
            format!("{} 已恢复开放，并已全员广播。", facility.name)
        })
    }

    /// 通知 <text> (everyone) · 通知 部门名 <text> (one configured department)
    pub(super) fn broadcast(&self, args: &str) -> super::Result<String> {
        if let Some(refusal) = self.refuse_non_admin("通知") {
            return Ok(refusal);
        }
        let args = args.trim();
        if args.is_empty() {
            return Ok("请写上通知内容：通知 本周六职工之家开放至 22:00".into());
        }
        let first = args.split_whitespace().next().unwrap_or_default();
        let (recipients, audience, text) = match self.ctx.config.departments.get(first) {
            Some(party) => (Audience::Department(party.clone()), first.to_string(), args[first.len()..].trim()),
            None => (Audience::Everyone, "全体职工".to_string(), args),
        };
        if text.is_empty() {
            return Ok("请写上通知内容。".into());
        }
        notify::broadcast(self.tx, &self.ctx.notifier(), recipients, text, self.user, self.now)?;
        tracing::info!(admin = self.user, audience = %audience, "broadcast queued");
        Ok(format!("已通知{audience}：{text}"))
    }

    /// 报表 [本周|上周|本月|上月|日期范围]: sent as markdown (passive replies cannot be). Worked
    /// out on the reader that answers the message; the message is queued with its record.
    pub(super) fn report(&self, args: &str) -> super::Result<String> {
        if let Some(refusal) = self.refuse_non_admin("报表") {
            return Ok(refusal);
        }
        let today = self.ctx.catalog.today(self.now);
        let Some((from, to, title)) = report_period(args, today) else {
            return Ok("看不懂报表的时间：报表 本周 / 上周 / 本月 / 上月 / 11-01 11-15".into());
        };
        if !crate::report::span_allowed(from, to) {
            return Ok(format!(
                "报表最长 {} 天（一年），{} 至 {} 太长了，请分段查询。",
                crate::report::MAX_SPAN_DAYS,
                from,
                to
            ));
        }
        let report = crate::report::build(self.tx, self.ctx.catalog, from, to)?;
        let content = crate::report::markdown(&report, self.ctx.catalog, &format!("职工之家{title}报表"));
        let key = format!("report:{}:{}:{from}:{to}", self.user, self.now.timestamp());
        *self.message.borrow_mut() = Some(notify::Message::markdown(key, self.user, &content));
        Ok(format!(
            "{title}（{} 至 {}）报表已生成，稍后以消息发给你。预约 {} 次，取消 {} 次，未到场 {} 次。",
            from.format("%m-%d"),
            to.format("%m-%d"),
            report.bookings,
            report.cancellations,
            report.no_shows
        ))
    }

    /// 授权 userid 管理员 / 撤销 userid 管理员
    pub(super) fn set_admin(&self, args: &str, grant: bool) -> super::Result<String> {
        let word = if grant { "授权" } else { "撤销" };
        if let Some(refusal) = self.refuse_non_admin(word) {
            return Ok(refusal);
        }
        let mut words = args.split_whitespace();
        let (Some(target), Some(role)) = (words.next(), words.next()) else {
            return Ok(format!("请这样写：{word} 用户ID 管理员"));
        };
        if role != "管理员" && !role.eq_ignore_ascii_case("admin") {
            return Ok(format!("只能{word}管理员：{word} {target} 管理员"));
        }
        // Config admins are the config's business: a stored grant would outlive their removal.
        if self.ctx.config.roles.admins.iter().any(|a| a == target) {
            return Ok(if grant {
                format!("{target} 是配置文件里的管理员，无需授权。")
            } else {
                format!("{target} 是配置文件里的管理员，不能在聊天中撤销。")
            });
        }
        let now = self.now.timestamp();
        crate::users::touch_quietly(self.tx, target, now)?;
        crate::store::execute(
            self.tx,
            "UPDATE users SET role = ?2 WHERE userid = ?1",
            params![target, if grant { "admin" } else { "staff" }],
        )?;
        tracing::info!(admin = self.user, target, grant, "admin role changed");
        Ok(if grant {
            format!("已授予 {target} 管理员。")
        } else {
            format!("已撤销 {target} 的管理员。")
        })
    }
}

/// 本周 (default), 上周, 本月, 上月, or a date range (11-01 11-15), inclusive.
pub fn report_period(args: &str, today: NaiveDate) -> Option<(NaiveDate, NaiveDate, &'static str)> {
    let text = normalize(args);
    let this_week = week_start(today);
    let month_start = |d: NaiveDate| NaiveDate::from_ymd_opt(d.year(), d.month(), 1);
    if text.contains("上周") {
        return Some((this_week - Duration::days(7), this_week - Duration::days(1), "上周"));
    }
    if text.contains("本月") || text.contains("这个月") {
        return Some((month_start(today)?, today, "本月"));
    }
    if text.contains("上月") || text.contains("上个月") {
        let first = month_start(today)?;
        let last_month_end = first - Duration::days(1);
        return Some((month_start(last_month_end)?, last_month_end, "上月"));
    }
    let mut rest = text.clone();
    let (first, _) = dates::take_date(&mut rest, today).ok()?;
    let (second, _) = dates::take_date(&mut rest, today).ok()?;
    match (first, second) {
        (Some(a), Some(b)) if a <= b => Some((a, b, "")),
        (Some(a), None) => Some((a, a, "")),
        (None, None) => Some((this_week, this_week + Duration::days(6), "本周")),
        _ => None,
    }
}
