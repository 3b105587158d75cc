//! One inbound callback, acted on exactly once.
//!
//! A question that changes nothing is answered on a reader, and its reply remembered for
//! WeCom's retries (`recent`). A command with effects runs in one write transaction with the
//! lookup of an earlier delivery and the record of its reply, so a retry (even one racing the
//! first delivery) gets the first reply and changes nothing.

mod later;
mod recent;

pub use later::Later;
pub use recent::RecentAnswers;

use crate::chat::{self, ChatContext, Look, Parsed, ReadOnlyAnswer};
use crate::clock::Clock;
use crate::store::Store;
use crate::users;
use crate::wecom::{InboundMessage, Reply};
use crate::workers::Workers;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Chat(#[from] chat::ChatError),
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
    #[error("the handling panicked")]
    Panicked(#[from] crate::workers::Panicked),
}

/// What acting on a callback uses (the application provides it).
pub trait InboxContext: Send + Sync + 'static {
    fn store(&self) -> &Store;
    fn clock(&self) -> &dyn Clock;
    fn chat(&self) -> ChatContext<'_>;
    /// Replies to read-only questions, for WeCom's retries.
    fn recent_answers(&self) -> &RecentAnswers;
    /// What answered questions leave to write (members seen, cards), written together.
    fn later(&self) -> &Arc<Later>;
    /// Threads for a callback's first look on a reader (reads block).
    fn look_threads(&self) -> &Workers;
}

/// The reply to send, and whether this delivery was a retry of one already handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub reply: Reply,
    pub duplicate: bool,
}

/// What a reader saw of a callback before any write.
enum FirstLook {
    AlreadyHandled(Reply),
    /// With whether the member's row needs writing (first contact, or last seen long ago).
    ReadOnly(ReadOnlyAnswer, bool),
    NeedsWrite(Option<Parsed>),
}

/// Act on `msg` once: a retry gets its first reply, a question is answered on a reader, anything
/// else goes through the writer.
pub async fn handle<C: InboxContext>(ctx: Arc<C>, msg: Arc<InboundMessage>) -> Result<Handled, InboxError> {
    let now = ctx.clock().now();
    let key = msg.dedupe_key();
    if let Some(reply) = ctx.recent_answers().get(&key) {
        return Ok(retry(&key, reply));
    }
    match first_look(&ctx, &msg, now).await? {
        FirstLook::AlreadyHandled(reply) => Ok(retry(&key, reply)),
        FirstLook::ReadOnly(answer, touch) if answer.writes_nothing() => {
            if let Some(earlier) = ctx.recent_answers().remember_first(&key, &answer.reply, now.timestamp()) {
                return Ok(retry(&key, earlier));
            }
            // Bookkeeping and cards the answer does not wait for: queued for the writer.
            if touch {
                ctx.later().seen(ctx.store(), &msg.from_user_name, now.timestamp());
            }
            if !answer.follow_ups.is_empty() {
                ctx.later().send(ctx.store(), answer.follow_ups, now.timestamp());
            }
            Ok(Handled { reply: answer.reply, duplicate: false })
        }
        // Ending a half-finished request, or a message to send (a report worked out on the
        // reader), is an effect: written, once, before the answer goes out.
        FirstLook::ReadOnly(answer, _) => {
            write_once(&ctx, msg, move |_, tx, msg| {
                let mut answer = answer;
                if answer.clears_dialogue {
                    chat::dialogue::clear(tx, &msg.from_user_name)?;
                }
                let follow_ups = std::mem::take(&mut answer.follow_ups);
                for message in answer.message.take().into_iter().chain(follow_ups) {
                    message.queue(tx, now.timestamp())?;
                }
                Ok(answer.reply)
            })
            .await
        }
        FirstLook::NeedsWrite(parsed) => {
            write_once(&ctx, msg, move |ctx, tx, msg| Ok(chat::respond(ctx, tx, msg, parsed, now)?)).await
        }
    }
}

/// What one snapshot shows of the callback, read on a look thread (readers block).
async fn first_look<C: InboxContext>(
    ctx: &Arc<C>,
    msg: &Arc<InboundMessage>,
    now: DateTime<Utc>,
) -> Result<FirstLook, InboxError> {
    let (ctx, msg) = (Arc::clone(ctx), Arc::clone(msg));
    let look_threads = ctx.look_threads().clone();
    let look = look_threads.run(move || {
        ctx.store().read(|conn| {
            if let Some(reply) = stored_reply(conn, &msg.dedupe_key())? {
                return Ok(FirstLook::AlreadyHandled(reply));
            }
            let chat = ctx.chat();
            let member = users::look_up(conn, chat.config, &msg.from_user_name, now.timestamp())?;
            Ok::<_, InboxError>(match chat::answer_read_only(chat, conn, &msg, member.role, now)? {
                Look::Answered(answer) => FirstLook::ReadOnly(answer, member.needs_touch),
                Look::NeedsWrite(parsed) => FirstLook::NeedsWrite(parsed),
            })
        })
    });
    look.await?
}

/// One write transaction: the reply `respond` works out (with its effects) and the record of
/// it, unless a delivery of the same callback got there first.
async fn write_once<C: InboxContext>(
    ctx: &Arc<C>,
    msg: Arc<InboundMessage>,
    respond: impl FnOnce(ChatContext<'_>, &Connection, &InboundMessage) -> Result<Reply, InboxError> + Send + 'static,
) -> Result<Handled, InboxError> {
    let write_ctx = Arc::clone(ctx);
    let written = ctx.store().write(move |tx| {
        let (ctx, msg) = (&*write_ctx, &*msg);
        let key = msg.dedupe_key();
        let now = ctx.clock().now().timestamp();
        let earlier = ctx.recent_answers().get(&key);
        if let Some(reply) = earlier.map_or_else(|| stored_reply(tx, &key), |reply| Ok(Some(reply)))? {
            return Ok(retry(&key, reply));
        }
        users::touch(tx, &msg.from_user_name, now)?;
        let reply = respond(ctx.chat(), tx, msg)?;
        record(tx, &key, &msg.from_user_name, msg.inbound.kind(), &reply, now)?;
        Ok(Handled { reply, duplicate: false })
    });
    written.await
}

fn retry(key: &str, reply: Reply) -> Handled {
    tracing::info!(dedupe_key = %key, "retry of a handled callback: same reply, no effect");
    Handled { reply, duplicate: true }
}

/// A reply that missed WeCom's deadline goes to the member as an active message instead.
pub async fn send_late_reply(ctx: &impl InboxContext, user: &str, handled: &Handled) -> Result<(), InboxError> {
    let text = match &handled.reply {
        Reply::Text(text) => text.clone(),
        Reply::UpdateButton(label) => format!("已处理：{label}"),
        Reply::Empty => return Ok(()),
    };
    let now = ctx.clock().now().timestamp();
    let key = format!("late-reply:{user}:{now}:{}", rand::random::<u32>());
    let user = user.to_string();
    Ok(ctx.store().write(move |tx| crate::notify::text_to(tx, key, &user, &text, now)).await?)
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

fn record(tx: &Connection, key: &str, user: &str, kind: &str, reply: &Reply, now: i64) -> rusqlite::Result<()> {
    let (reply_kind, body) = encode(reply);
    crate::store::execute(
        tx,
        "INSERT INTO processed_callbacks (dedupe_key, userid, kind, reply_kind, reply, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key, user, kind, reply_kind, body, now],
    )?;
    Ok(())
}
