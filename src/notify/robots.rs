//! The lighter channel: group robots (`[[robots]]`). A light notice to everyone (a week
//! opened, a facility reopened) goes to every configured robot's group as markdown instead of
//! an app message to every member; formal notices never come here. Without robots, the app
//! message goes as before. Each robot is sent at most 20 a minute (the outbox holds the rest).

use super::{Notifier, NotifyError};
use crate::outbox::{self, Outgoing, Recipient, Weight};
use rusqlite::Connection;
use serde_json::json;

/// A light notice only the robots' groups get (none configured: nobody), e.g. the weekly
/// digest's public part.
pub fn to_robots(tx: &Connection, n: &Notifier, key: &str, markdown: &str, now: i64) -> Result<(), NotifyError> {
    for robot in n.robots {
        let body = json!({"msgtype": "markdown", "markdown": {"content": markdown}});
        let message = Outgoing {
            dedupe_key: format!("{key}:robot:{}", robot.name),
            recipient: Recipient::Robot(robot.name.clone()),
            weight: Weight::Light,
            body,
        };
        outbox::enqueue(tx, &message, now)?;
    }
    Ok(())
}

/// `to_everyone` as a light notice: to the robots as `markdown`, or (none configured) as is.
pub fn light_to_everyone(
    tx: &Connection,
    n: &Notifier,
    key: &str,
    markdown: &str,
    to_everyone: Outgoing,
    now: i64,
) -> Result<(), NotifyError> {
    if n.robots.is_empty() {
        outbox::enqueue(tx, &to_everyone, now)?;
        return Ok(());
    }
    to_robots(tx, n, key, markdown, now)
}
