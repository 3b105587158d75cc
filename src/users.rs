//! Members as staffhome knows them: created on first contact, with a role.

use crate::config::Config;
use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Staff,
    Admin,
}

/// Create the member on first contact; note when they were last seen (to the minute: the row
/// is rewritten at most once a minute, not on every message).
pub fn touch(conn: &Connection, userid: &str, now: i64) -> rusqlite::Result<()> {
    crate::store::execute(
        conn,
        "INSERT INTO users (userid, created_at, last_seen_at) VALUES (?1, ?2, ?2)
         ON CONFLICT (userid) DO UPDATE SET last_seen_at = excluded.last_seen_at
         WHERE excluded.last_seen_at >= users.last_seen_at + 60",
        params![userid, now],
    )?;
    Ok(())
}

/// A member as a question finds them, in one look at their row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub role: Role,
    /// Their row needs writing: unknown so far, or last seen a minute ago or more (the rule
    /// `touch` applies).
    pub needs_touch: bool,
}

pub fn look_up(conn: &Connection, config: &Config, userid: &str, now: i64) -> rusqlite::Result<Member> {
    let row: Option<(Option<String>, i64)> =
        crate::store::query_row(conn, "SELECT role, last_seen_at FROM users WHERE userid = ?1", [userid], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let configured_admin = config.roles.admins.iter().any(|a| a == userid);
    let stored_admin = row.as_ref().is_some_and(|(role, _)| role.as_deref() == Some("admin"));
    Ok(Member {
        role: if configured_admin || stored_admin { Role::Admin } else { Role::Staff },
        needs_touch: row.is_none_or(|(_, seen)| now >= seen + 60),
    })
}

/// Admins come from `[roles]` in the config, or were granted by an admin (stored).
pub fn role(conn: &Connection, config: &Config, userid: &str) -> rusqlite::Result<Role> {
    if config.roles.admins.iter().any(|a| a == userid) {
        return Ok(Role::Admin);
    }
    let stored: Option<String> =
        crate::store::query_row(conn, "SELECT role FROM users WHERE userid = ?1", [userid], |row| row.get(0))
            .optional()?;
    Ok(if stored.as_deref() == Some("admin") { Role::Admin } else { Role::Staff })
}

/// Make sure a member exists (an admin may name one who never wrote), without marking them seen.
pub fn touch_quietly(conn: &Connection, userid: &str, now: i64) -> rusqlite::Result<()> {
    crate::store::execute(
        conn,
        "INSERT INTO users (userid, created_at, last_seen_at) VALUES (?1, ?2, ?2) ON CONFLICT (userid) DO NOTHING",
        params![userid, now],
    )?;
    Ok(())
}

/// The secret of `user`'s calendar feed (`/calendar/<token>.ics`): made on first use, replaced
/// by a new one when `reset` (the old one then stops working).
pub fn calendar_token(tx: &Connection, user: &str, reset: bool, now: i64) -> rusqlite::Result<String> {
    if !reset {
        let existing: Option<String> =
            crate::store::query_row(tx, "SELECT token FROM calendar_feeds WHERE userid = ?1", [user], |row| row.get(0))
                .optional()?;
        if let Some(token) = existing {
            return Ok(token);
        }
    }
    let token = hex::encode(rand::random::<[u8; 16]>());
    crate::store::execute(
        tx,
        "INSERT INTO calendar_feeds (userid, token, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (userid) DO UPDATE SET token = excluded.token, created_at = excluded.created_at",
        rusqlite::params![user, token, now],
    )?;
    Ok(token)
}
