//! One inbound callback, acted on exactly once.
//!
//! A command with effects runs in one write transaction with the lookup of an earlier
//! delivery and the record of its reply, so a WeCom retry (even one racing the first
//! delivery) gets the first reply and changes nothing. A question that changes nothing is
//! answered on a reader, its reply remembered for retries (`recent`) and what it leaves to
//! record (the member's contact, refused demand) written in bulk just after (`facts`); so is
//! a booking whose slot the reader's snapshot already shows full.

mod facts;
mod recent;

pub use facts::{Facts, PendingFacts};
pub use recent::RecentAnswers;

use crate::app::AppContext;
use crate::chat::{self, Look, Parsed, ReadOnlyAnswer};
use crate::store::WritePanicked;
use crate::users;
use crate::wecom::{InboundMessage, Reply};
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
}

/// The reply to send, and whether this delivery was a retry of one already handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub reply: Reply,
    pub duplicate: bool,
    /// Facts wait in memory: call `flush` (off the request path) to write them.
    pub flush: bool,
}

impl Handled {
    fn new(reply: Reply) -> Handled {
        Handled { reply, duplicate: false, flush: false }
    }

    fn duplicate(reply: Reply) -> Handled {
        Handled { reply, duplicate: true, flush: false }
    }
}

/// What a reader saw of a callback before any write.
enum FirstLook {
    AlreadyHandled(Reply),
    /// With whether the member's row needs writing (first contact, or last seen long ago).
    ReadOnly(ReadOnlyAnswer, bool),
    NeedsWrite(Option<Parsed>),
}

/// Where a callback stands after a reader's look: answered, or waiting for the writer.
pub enum Step {
    Answered(Handled),
    NeedsWriter(WriterWork),
}

/// What is left for the single writer to do (see [`finish`]).
pub struct WriterWork(Writing);

enum Writing {
    /// A question that ends a half-finished request: the dialogue is cleared with the answer.
    EndDialogue(ReadOnlyAnswer),
    /// With the look's parse of a text.
    Respond(Option<Parsed>),
}

/// The first step, on a reader beside other readers and the writer: a retry gets its first
/// reply; a question (or a booking the snapshot already refuses) is answered. It never waits
/// for the writer, so questions keep being answered while writes queue.
pub fn first_look(ctx: &AppContext, msg: &InboundMessage) -> Result<Step, InboxError> {
    let now = ctx.clock.now();
    let key = msg.dedupe_key();
    if let Some(reply) = ctx.recent_answers.get(&key) {
        return Ok(Step::Answered(retry(&key, reply)));
    }
    // Read before the snapshot opens, so the snapshot holds every write it counts.
    let generation = ctx.store.generation();
    // One consistent snapshot.
    let look = ctx.store.read_snapshot(|conn| {
        if let Some(reply) = stored_reply(conn, &key)? {
            return Ok(FirstLook::AlreadyHandled(reply));
        }
        Ok::<_, InboxError>(match chat::answer_read_only(ctx, conn, msg, now, generation)? {
            Look::Answered(answer) => {
                let touch = users::needs_touch(conn, &msg.from_user_name, now.timestamp())?;
                FirstLook::ReadOnly(answer, touch)
            }
            Look::NeedsWrite(parsed) => FirstLook::NeedsWrite(parsed),
        })
    })?;
    Ok(match look {
        FirstLook::AlreadyHandled(reply) => Step::Answered(retry(&key, reply)),
        FirstLook::ReadOnly(answer, touch) if !answer.clears_dialogue => {
            if let Some(earlier) = ctx.recent_answers.remember_first(&key, &answer.reply, now.timestamp()) {
                return Ok(Step::Answered(retry(&key, earlier)));
            }
            let mut flush = touch && ctx.pending_facts.touch(&msg.from_user_name, now.timestamp());
            if let Some(demand) = answer.demand {
                flush |= ctx.pending_facts.demand(demand);
            }
            Step::Answered(Handled { flush, ..Handled::new(answer.reply) })
        }
        // Ending a half-finished request is an effect: written before the answer goes out.
        FirstLook::ReadOnly(answer, _) => Step::NeedsWriter(WriterWork(Writing::EndDialogue(answer))),
        FirstLook::NeedsWrite(parsed) => Step::NeedsWriter(WriterWork(Writing::Respond(parsed))),
    })
}

/// The second step, through the single writer's committer thread: the effect and the record of
/// its reply in one transaction (it may wait behind other writes, or for a lock another process
/// holds; no thread waits with it).
pub async fn finish(
    ctx: Arc<AppContext>,
    msg: Arc<InboundMessage>,
    work: WriterWork,
) -> Result<Result<Handled, InboxError>, WritePanicked> {
    let write_ctx = Arc::clone(&ctx);
    ctx.store.write_queued(move |tx| finish_in(tx, &write_ctx, &msg, &work)).await
}

/// The transaction of `finish`: the effect and the record of its reply, unless a delivery of
/// the same callback got there first.
fn finish_in(
    tx: &Connection,
    ctx: &AppContext,
    msg: &InboundMessage,
    work: &WriterWork,
) -> Result<Handled, InboxError> {
    let key = msg.dedupe_key();
    let now = ctx.clock.now();
    let earlier = ctx.recent_answers.get(&key);
    if let Some(reply) = earlier.map_or_else(|| stored_reply(tx, &key), |reply| Ok(Some(reply)))? {
        return Ok(retry(&key, reply));
    }
    users::touch(tx, &msg.from_user_name, now.timestamp())?;
    let reply = match &work.0 {
        Writing::EndDialogue(answer) => {
            chat::dialogue::clear(tx, &msg.from_user_name)?;
            if let Some(demand) = &answer.demand {
                demand.record(tx)?;
            }
            answer.reply.clone()
        }
        Writing::Respond(parsed) => chat::respond(ctx, tx, msg, parsed.clone(), now)?,
    };
    record(tx, &key, &msg.from_user_name, msg.inbound.kind(), &reply, now.timestamp())?;
    Ok(Handled::new(reply))
}

fn retry(key: &str, reply: Reply) -> Handled {
    tracing::info!(dedupe_key = %key, "retry of a handled callback: same reply, no effect");
    Handled::duplicate(reply)
}

/// Write what answers from readers left to record; returns how many facts. Returns once
/// everything queued before the call is written.
pub fn flush(ctx: &AppContext) -> Result<usize, InboxError> {
    ctx.pending_facts.flush(|facts| {
        // Last-seen times and demand: nothing a shared day view shows.
        ctx.store.write_bookkeeping(|tx| {
            for (user, at) in &facts.touches {
                users::touch(tx, user, *at)?;
            }
            for demand in &facts.demand {
                demand.record(tx)?;
            }
            Ok::<(), InboxError>(())
        })
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
    ctx.store.write(|tx| crate::notify::text_to(tx, key, user, &text, now)).map_err(InboxError::from)
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
