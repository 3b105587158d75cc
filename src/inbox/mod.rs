//! One inbound callback, acted on exactly once.
//!
//! The lookup of an earlier delivery, the effect of the command and the record of its reply
//! share one write transaction, so a WeCom retry (even one racing the first delivery) gets
//! the first reply and changes nothing.

use crate::app::AppContext;
use crate::chat;
use crate::outbox::{self, Outgoing, Weight};
use crate::users;
use crate::wecom::{InboundMessage, Reply};
use rusqlite::{params, OptionalExtension, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// The reply to send, and whether this delivery was a retry of one already handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub reply: Reply,
    pub duplicate: bool,
}

pub fn handle(ctx: &AppContext, msg: &InboundMessage) -> Result<Handled, InboxError> {
    let now = ctx.clock.now();
    let key = msg.dedupe_key();
    if let Some(reply) = ctx.store.read(|conn| stored_reply(conn, &key))? {
        tracing::info!(dedupe_key = %key, "retry of a handled callback: same reply, no effect");
        return Ok(Handled { reply, duplicate: true });
    }
    // A question that changes nothing is answered on a reader (one consistent snapshot),
    // beside other readers; the writer only records it.
    let read_only = ctx.store.read(|conn| {
        let snapshot = conn.unchecked_transaction()?;
        chat::answer_read_only(ctx, &snapshot, msg, now)
    })?;
    if let Some(answer) = read_only {
        return ctx.store.write(|tx| {
            if let Some(reply) = stored_reply(tx, &key)? {
                return Ok(Handled { reply, duplicate: true });
            }
            users::touch(tx, &msg.from_user_name, now.timestamp())?;
            if answer.ends_dialogue {
                chat::dialogue::clear(tx, &msg.from_user_name)?;
            }
            record(tx, &key, msg, &answer.reply, now.timestamp())?;
            Ok(Handled { reply: answer.reply, duplicate: false })
        });
    }
    ctx.store.write(|tx| {
        if let Some(reply) = stored_reply(tx, &key)? {
            tracing::info!(dedupe_key = %key, "retry of a handled callback: same reply, no effect");
            return Ok(Handled { reply, duplicate: true });
        }
        users::touch(tx, &msg.from_user_name, now.timestamp())?;
        let reply = chat::respond(ctx, tx, msg, now)?;
        record(tx, &key, msg, &reply, now.timestamp())?;
        Ok(Handled { reply, duplicate: false })
    })
}

/// A reply that missed WeCom's deadline goes to the member as an active message instead.
pub fn send_late_reply(ctx: &AppContext, user: &str, handled: &Handled) -> Result<(), InboxError> {
    let text = match &handled.reply {
        Reply::Text(text) => text.clone(),
        Reply::UpdateButton(label) => format!("已处理：{label}"),
        Reply::Empty => return Ok(()),
    };
    let now = ctx.clock.now().timestamp();
    let key = format!("late-reply:{user}:{now}:{}", rand::random::<u32>());
    ctx.store.write(|tx| {
        outbox::enqueue(tx, &Outgoing::text(key, user, Weight::Light, &text), now)?;
        Ok(())
    })
}

fn encode(reply: &Reply) -> (&'static str, &str) {
    match reply {
        Reply::Empty => ("empty", ""),
        Reply::Text(text) => ("text", text),
        Reply::UpdateButton(label) => ("update_button", label),
    }
}

fn decode(kind: &str, body: String) -> Reply {
    match kind {
        "text" => Reply::Text(body),
        "update_button" => Reply::UpdateButton(body),
        _ => Reply::Empty,
    }
}

fn stored_reply(tx: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<Reply>> {
    crate::store::query_row(
        tx,
        "SELECT reply_kind, reply FROM processed_callbacks WHERE dedupe_key = ?1",
        [key],
        |row| Ok(decode(&row.get::<_, String>(0)?, row.get(1)?)),
    )
    .optional()
}

fn record(tx: &Transaction, key: &str, msg: &InboundMessage, reply: &Reply, now: i64) -> rusqlite::Result<()> {
    let (kind, body) = encode(reply);
    crate::store::execute(
        tx,
        "INSERT INTO processed_callbacks (dedupe_key, userid, kind, reply_kind, reply, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key, msg.from_user_name, msg.inbound.kind(), kind, body, now],
    )?;
    Ok(())
}
