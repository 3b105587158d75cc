//! The conversation: turns an inbound message into a command, runs it against the booking
//! rules, and words the outcome. Knows nothing of XML, HTTP or crypto.

mod actions;
mod admin;
mod cards;
mod checkin;
pub mod command;
pub mod dates;
pub mod dialogue;
mod refusals;
mod reply;

pub use command::{parse, Command, Parsed, SlotRequest};
pub use reply::Replies;

use crate::app::AppContext;
use crate::users::{self, Role};
use crate::wecom::{Inbound, InboundMessage, Reply};
use chrono::{DateTime, Utc};
use rusqlite::Transaction;

/// Menu click keys (`staffhome menu` creates buttons with these keys).
pub const MENU_FREE: &str = "free";
pub const MENU_MINE: &str = "mine";
pub const MENU_HELP: &str = "help";

/// One member's message being answered, inside the callback's write transaction.
pub struct Turn<'a> {
    pub ctx: &'a AppContext,
    pub tx: &'a Transaction<'a>,
    pub user: &'a str,
    pub role: Role,
    pub now: DateTime<Utc>,
}

/// The reply to one inbound message; its effects are written through `tx`.
pub fn respond(
    ctx: &AppContext,
    tx: &Transaction,
    msg: &InboundMessage,
    now: DateTime<Utc>,
) -> rusqlite::Result<Reply> {
    let user = msg.from_user_name.as_str();
    let role = users::role(tx, &ctx.config, user)?;
    let turn = Turn { ctx, tx, user, role, now };
    match &msg.inbound {
        Inbound::Text { content, .. } => turn.on_text(content).map(Reply::Text),
        Inbound::Click { key } => {
            let command = match key.as_str() {
                MENU_FREE => Command::Free(SlotRequest::default()),
                MENU_MINE => Command::Mine,
                _ => Command::Help,
            };
            turn.run(command).map(Reply::Text)
        }
        Inbound::Subscribe => Ok(Reply::Text(ctx.replies.render("welcome", ()))),
        // Entering the app, opening a link, leaving: nothing to say.
        Inbound::EnterAgent | Inbound::View { .. } | Inbound::Unsubscribe => Ok(Reply::Empty),
        Inbound::TemplateCardEvent { event_key, .. } => turn.on_card_click(event_key),
        // scancode_waitmsg waits for our reply; for scancode_push the client moves on, so the
        // answer goes out as a message.
        Inbound::ScanCodeWaitMsg { scan_result, .. } => turn.on_scan(scan_result).map(Reply::Text),
        Inbound::ScanCodePush { scan_result, .. } => {
            let text = turn.on_scan(scan_result)?;
            let key = format!("scan-reply:{}", msg.dedupe_key());
            crate::outbox::enqueue(
                tx,
                &crate::outbox::Outgoing::text(key, user, crate::outbox::Weight::Light, &text),
                now.timestamp(),
            )?;
            Ok(Reply::Empty)
        }
        Inbound::Other { msg_type, event } => {
            tracing::info!(msg_type, event = ?event, "ignoring a message kind staffhome does not act on");
            Ok(Reply::Empty)
        }
    }
}
