//! The conversation: turns an inbound message into a command, runs it against the booking
//! rules, and words the outcome. Knows nothing of XML, HTTP or crypto.

mod actions;
mod admin;
mod cards;
mod checkin;
pub mod command;
pub mod dates;
pub mod dialogue;
mod free;
mod moves;
mod offers;
mod parse;
mod partners;
mod preferences;
mod refusals;
mod repeat;
mod reply;
mod series;
mod table;
mod taps;

pub use command::{Command, SlotRequest};
pub use parse::{normalize, parse, Parsed, SmallTalk};
pub use reply::Replies;

use crate::booking::{Catalog, Events, Rules};
use crate::config::Config;
use crate::notify::{self, Message, Notifier, NotifyError};
use crate::users::{self, Role};
use crate::wecom::{Inbound, InboundMessage, Reply};
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use std::cell::RefCell;

/// What the conversation uses: the facilities and slots, the configuration, the reply texts.
#[derive(Clone, Copy)]
pub struct ChatContext<'a> {
    pub catalog: &'a Catalog,
    pub config: &'a Config,
    pub replies: &'a Replies,
}

impl<'a> ChatContext<'a> {
    pub fn rules(&self) -> Rules<'a> {
        Rules { catalog: self.catalog, config: &self.config.booking, admins: &self.config.roles.admins }
    }

    pub fn notifier(&self) -> Notifier<'a> {
        Notifier::new(self.catalog, self.config)
    }
}

/// What stopped a message from being answered (the member is never told these; the callback
/// fails and WeCom retries).
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("notice: {0}")]
    Notify(#[from] NotifyError),
}

pub type Result<T> = std::result::Result<T, ChatError>;

/// Menu click keys (`staffhome menu` creates buttons with these keys).
pub const MENU_FREE: &str = "free";
pub const MENU_MINE: &str = "mine";
pub const MENU_HELP: &str = "help";

/// One member's message being answered, inside the callback's write transaction.
pub struct Turn<'a> {
    pub ctx: ChatContext<'a>,
    /// The callback's write transaction, or a reader for read-only questions.
    pub tx: &'a Connection,
    pub user: &'a str,
    pub role: Role,
    pub now: DateTime<Utc>,
    /// What the booking rules did during this turn, told (`notify`) before it ends.
    pub events: RefCell<Events>,
    /// A message that must be written with the reply (a report worked out on a reader).
    pub message: RefCell<Option<Message>>,
    /// Messages after the reply (cards to tap): a question's are queued once it is answered.
    pub follow_ups: RefCell<Vec<Message>>,
    /// The callback's dedupe key: the follow-ups' keys derive from it, so a retry queues none.
    pub callback: &'a str,
}

/// A reply worked out without writing anything.
pub struct ReadOnlyAnswer {
    pub reply: Reply,
    /// A new command ends the member's half-finished request, and there is one to clear.
    pub clears_dialogue: bool,
    /// A message to queue with the reply (a report).
    pub message: Option<Message>,
    /// Messages to queue after the reply (cards to tap), not waited for.
    pub follow_ups: Vec<Message>,
}

impl ReadOnlyAnswer {
    /// Nothing to write before the answer goes out.
    pub fn writes_nothing(&self) -> bool {
        !self.clears_dialogue && self.message.is_none()
    }
}

/// What a look on a reader found for a message.
pub enum Look {
    Answered(ReadOnlyAnswer),
    /// The write path is needed; a text's parse travels with it.
    NeedsWrite(Option<Parsed>),
}

/// The answer to `msg` if it only reads (help, facilities, free slots, mine, board, approvals,
/// not understood, events with nothing to say), or what the write path needs.
pub fn answer_read_only(
    ctx: ChatContext<'_>,
    conn: &Connection,
    msg: &InboundMessage,
    role: Role,
    now: DateTime<Utc>,
) -> Result<Look> {
    let user = msg.from_user_name.as_str();
    let key = msg.dedupe_key();
    let turn = Turn::new(ctx, conn, user, role, now, &key);
    let answer = |reply: Reply, ends_dialogue: bool| {
        let clears_dialogue = ends_dialogue && dialogue::exists(conn, user)?;
        let message = turn.message.borrow_mut().take();
        let follow_ups = turn.follow_ups.take();
        Ok(Look::Answered(ReadOnlyAnswer { reply, clears_dialogue, message, follow_ups }))
    };
    match &msg.inbound {
        Inbound::Text { content, .. } => match parse(content, ctx.catalog, ctx.catalog.today(now)) {
            Parsed::Command(command) if command.is_read_only() => answer(Reply::Text(turn.run(command)?), true),
            // Not understood: said so, and a pending dialogue stays.
            unknown @ Parsed::Unknown { .. } => answer(Reply::Text(turn.not_understood(unknown)), false),
            Parsed::SmallTalk(talk) => answer(Reply::Text(turn.small_talk(talk)), false),
            parsed => Ok(Look::NeedsWrite(Some(parsed))),
        },
        Inbound::Click { key } if matches!(key.as_str(), MENU_FREE | MENU_MINE | MENU_HELP) => {
            answer(Reply::Text(turn.run(menu_command(key))?), false)
        }
        Inbound::EnterAgent | Inbound::View { .. } | Inbound::Unsubscribe | Inbound::Other { .. } => {
            answer(Reply::Empty, false)
        }
        _ => Ok(Look::NeedsWrite(None)),
    }
}

/// The command behind a menu button's key (help for a key this version does not know).
fn menu_command(key: &str) -> Command {
    match key {
        MENU_FREE => Command::Free(SlotRequest::default()),
        MENU_MINE => Command::Mine,
        _ => Command::Help,
    }
}

/// The reply to one inbound message; its effects are written through `tx`. `parsed`: a text's
/// parse if a look already made it.
pub fn respond(
    ctx: ChatContext<'_>,
    tx: &Connection,
    msg: &InboundMessage,
    parsed: Option<Parsed>,
    now: DateTime<Utc>,
) -> Result<Reply> {
    let user = msg.from_user_name.as_str();
    let role = users::role(tx, ctx.config, user)?;
    let key = msg.dedupe_key();
    let turn = Turn::new(ctx, tx, user, role, now, &key);
    let reply = turn.reply_to(msg, parsed)?;
    notify::queue(tx, &ctx.notifier(), &turn.events.borrow_mut().take(), now.timestamp())?;
    for message in turn.message.take().into_iter().chain(turn.follow_ups.take()) {
        message.queue(tx, now.timestamp())?;
    }
    Ok(reply)
}

/// A command given on a page (the member's page), run as if typed: the same rules, the same
/// notices to others; the reply's words for the page to show. Cards to tap are not sent (the
/// member is looking at the page). `key` names the action, as a callback's key would.
pub fn run_for_page(
    ctx: ChatContext<'_>,
    tx: &Connection,
    user: &str,
    command: Command,
    now: DateTime<Utc>,
    key: &str,
) -> Result<String> {
    users::touch(tx, user, now.timestamp())?;
    let role = users::role(tx, ctx.config, user)?;
    let turn = Turn::new(ctx, tx, user, role, now, key);
    let text = turn.run(command)?;
    notify::queue(tx, &ctx.notifier(), &turn.events.borrow_mut().take(), now.timestamp())?;
    Ok(text)
}

impl<'a> Turn<'a> {
    fn new(
        ctx: ChatContext<'a>,
        tx: &'a Connection,
        user: &'a str,
        role: Role,
        now: DateTime<Utc>,
        callback: &'a str,
    ) -> Turn<'a> {
        let (events, message, follow_ups) = (RefCell::default(), RefCell::default(), RefCell::default());
        Turn { ctx, tx, user, role, now, events, message, follow_ups, callback }
    }

    fn reply_to(&self, msg: &InboundMessage, parsed: Option<Parsed>) -> Result<Reply> {
        let (turn, ctx, tx, user, now) = (self, self.ctx, self.tx, self.user, self.now);
        match &msg.inbound {
            Inbound::Text { content, .. } => turn.on_text(content, parsed).map(Reply::Text),
            Inbound::Click { key } => turn.run(menu_command(key)).map(Reply::Text),
            Inbound::Subscribe => Ok(Reply::Text(ctx.replies.render("welcome", ()))),
            // Entering the app, opening a link, leaving: nothing to say.
            Inbound::EnterAgent | Inbound::View { .. } | Inbound::Unsubscribe => Ok(Reply::Empty),
            Inbound::TemplateCardEvent { event_key, .. } => turn.on_card_click(event_key),
            // scancode_waitmsg waits for our reply; for scancode_push the client moves on, so the
            // answer goes out as a message.
            Inbound::ScanCodeWaitMsg { scan_result, .. } => turn.on_scan(scan_result).map(Reply::Text),
            Inbound::ScanCodePush { scan_result, .. } => {
                let text = turn.on_scan(scan_result)?;
                notify::text_to(tx, format!("scan-reply:{}", msg.dedupe_key()), user, &text, now.timestamp())?;
                Ok(Reply::Empty)
            }
            Inbound::Other { msg_type, event } => {
                tracing::info!(msg_type, event = ?event, "ignoring a message kind staffhome does not act on");
                Ok(Reply::Empty)
            }
        }
    }
}
