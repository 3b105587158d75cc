//! Sending a row (a message, a card update, a calendar entry) and writing what became of it.

use super::Recipient;
use crate::wecom::api::{ApiError, Audience, SendResult, WeComApi};
use rusqlite::params;
use serde_json::Value;

/// A row's body as stored; parsed only for what is not a message to send as it is.
pub(super) struct Stored<'a> {
    /// The row's `kind` (the body's `msgtype`).
    pub kind: &'a str,
    pub payload: &'a str,
}

impl Stored<'_> {
    /// A message to send as stored: not a card update or a calendar entry, which the worker
    /// reads fields of.
    fn is_message(&self) -> bool {
        self.kind != "update_card" && !self.kind.starts_with("schedule_")
    }

    pub(super) fn body(&self) -> Value {
        serde_json::from_str(self.payload).unwrap_or(Value::Null)
    }
}

/// Send one row: a message, a card update (`msgtype` "update_card"), or a booking's calendar
/// entry (`schedule_add`, `schedule_update`, `schedule_del`, the latter two of `schedule_id`).
pub(super) async fn send(
    api: &WeComApi,
    recipient: &Recipient,
    stored: &Stored<'_>,
    schedule_id: Option<&str>,
    robot_url: Option<&str>,
) -> Result<SendResult, ApiError> {
    let audience = match recipient {
        Recipient::User(user) => Some(Audience::Users(std::slice::from_ref(user))),
        Recipient::All => Some(Audience::All),
        Recipient::Parties(parties) => Some(Audience::Parties(parties)),
        Recipient::Robot(_) => None,
    };
    if let Some(audience) = audience.filter(|_| stored.is_message()) {
        return api.send(audience, stored.payload, true).await;
    }
    let body = stored.body();
    let nothing = SendResult::default();
    match body["msgtype"].as_str() {
        Some("update_card") => {
            let Recipient::User(user) = recipient else {
                return Err(ApiError::Garbage("a card update goes to one member".into()));
            };
            let code = body["response_code"].as_str().unwrap_or_default();
            let label = body["label"].as_str().unwrap_or("已处理");
            api.update_buttons(code, std::slice::from_ref(user), label).await?;
            return Ok(nothing);
        }
        Some("schedule_add") => {
            let id = api.add_schedule(&body["schedule"]).await?;
            return Ok(SendResult { schedule_id: Some(id), ..nothing });
        }
        // A moved booking whose first one has no schedule (its add failed for good, or came
        // before the calendar was turned on): added now.
        Some("schedule_update") if schedule_id.is_none() => {
            let id = api.add_schedule(&body["schedule"]).await?;
            return Ok(SendResult { schedule_id: Some(id), ..nothing });
        }
        // No schedule to remove.
        Some("schedule_del") if schedule_id.is_none() => return Ok(nothing),
        Some("schedule_update") => {
            let mut schedule = body["schedule"].clone();
            schedule["schedule_id"] = Value::from(schedule_id);
            api.update_schedule(&schedule).await?;
            return Ok(SendResult { schedule_id: schedule_id.map(str::to_string), ..nothing });
        }
        Some("schedule_del") => {
            api.delete_schedule(schedule_id.unwrap_or_default()).await?;
            return Ok(nothing);
        }
        _ => {}
    }
    match recipient {
        Recipient::Robot(name) => {
            let url = robot_url.ok_or_else(|| ApiError::Garbage(format!("no robot {name} in [[robots]]")))?;
            api.robot_send(url, &body).await?;
            Ok(nothing)
        }
        _ => Err(ApiError::Garbage(format!("{} is not sent to {}", stored.kind, recipient.encode()))),
    }
}

/// What a calendar entry sent changes on bookings: the schedule's id (added), none (removed),
/// or, moved, the schedule passed from the old booking to the new one.
pub(super) fn schedule_change(stored: &Stored, schedule_id: Option<String>) -> Vec<(i64, Option<String>)> {
    if !stored.kind.starts_with("schedule_") {
        return Vec::new();
    }
    let body = stored.body();
    let Some(booking) = body["booking_id"].as_i64() else { return Vec::new() };
    match (body["msgtype"].as_str(), body["moved_to"].as_i64()) {
        (Some("schedule_add"), _) => vec![(booking, schedule_id)],
        (Some("schedule_del"), _) => vec![(booking, None)],
        (Some("schedule_update"), Some(moved_to)) => vec![(booking, None), (moved_to, schedule_id)],
        _ => Vec::new(),
    }
}

pub(super) fn describe(error: &ApiError) -> String {
    match error.errcode() {
        Some(code) => format!("errcode {code}: {error}"),
        None => error.to_string(),
    }
}

pub(super) enum Mark {
    /// `schedule`: bookings' calendar entries, added (its id) or removed (None).
    Done {
        msgid: Option<String>,
        response_code: Option<String>,
        schedule: Vec<(i64, Option<String>)>,
    },
    Retry {
        error: String,
        at: i64,
    },
    Failed {
        error: String,
    },
}

/// A sent row's outcome, to write.
pub(super) struct Marked {
    pub(super) id: i64,
    pub(super) how: Mark,
    pub(super) at: i64,
}

impl Marked {
    pub(super) fn write(&self, tx: &rusqlite::Connection) -> rusqlite::Result<()> {
        let Marked { id, how, at } = self;
        match how {
            Mark::Done { msgid, response_code, schedule } => {
                for (booking, schedule_id) in schedule {
                    let set = "UPDATE bookings SET schedule_id = ?2 WHERE id = ?1";
                    crate::store::execute(tx, set, params![booking, schedule_id])?;
                }
                crate::store::execute(
                    tx,
                    "UPDATE outbox SET state = 'done', sent_at = ?2, msgid = ?3, response_code = ?4,
                         attempts = attempts + 1, last_error = NULL, claimed_until = NULL WHERE id = ?1",
                    params![id, at, msgid, response_code],
                )
            }
            Mark::Retry { error, at: next } => crate::store::execute(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, claimed_until = NULL
                 WHERE id = ?1",
                params![id, next, error],
            ),
            Mark::Failed { error } => crate::store::execute(
                tx,
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2, claimed_until = NULL
                 WHERE id = ?1",
                params![id, error],
            ),
        }?;
        Ok(())
    }
}
