//! A half-finished request per member (预约 健身房 → "which slot?" → 18:30), stored so it
//! survives a restart, and forgotten after 10 minutes.

use super::command::{Command, SlotRequest};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

const EXPIRES_AFTER_SECONDS: i64 = 600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dialogue {
    Book(SlotRequest),
    Waitlist(SlotRequest),
    LeaveWaitlist(SlotRequest),
    Free(SlotRequest),
}

impl Dialogue {
    /// The command the request becomes with the member's next piece (a slot, a date).
    pub fn continued_with(self, piece: SlotRequest) -> Command {
        let merged = |mut request: SlotRequest| {
            request.merge(piece);
            request
        };
        match self {
            Dialogue::Book(request) => Command::Book(merged(request)),
            Dialogue::Waitlist(request) => Command::Waitlist(merged(request)),
            Dialogue::LeaveWaitlist(request) => Command::LeaveWaitlist(merged(request)),
            Dialogue::Free(request) => Command::Free(merged(request)),
        }
    }
}

pub fn load(conn: &Connection, user: &str, now: i64) -> rusqlite::Result<Option<Dialogue>> {
    let row: Option<(String, i64)> =
        crate::store::query_row(conn, "SELECT state, updated_at FROM dialogues WHERE userid = ?1", [user], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    Ok(row.filter(|(_, at)| now - at <= EXPIRES_AFTER_SECONDS).and_then(|(state, _)| serde_json::from_str(&state).ok()))
}

pub fn save(conn: &Connection, user: &str, dialogue: &Dialogue, now: i64) -> rusqlite::Result<()> {
    let state = serde_json::to_string(dialogue).unwrap_or_default();
    crate::store::execute(
        conn,
        "INSERT INTO dialogues (userid, state, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (userid) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        params![user, state, now],
    )?;
    Ok(())
}

/// Is a request (perhaps expired) stored for this member?
pub fn exists(conn: &Connection, user: &str) -> rusqlite::Result<bool> {
    crate::store::query_row(conn, "SELECT EXISTS (SELECT 1 FROM dialogues WHERE userid = ?1)", [user], |row| row.get(0))
}

pub fn clear(conn: &Connection, user: &str) -> rusqlite::Result<()> {
    crate::store::execute(conn, "DELETE FROM dialogues WHERE userid = ?1", [user])?;
    Ok(())
}
