//! Approval cards: a `button_interaction` card to each approver of a level; once the level is
//! decided (or the request withdrawn) every other card of it is greyed out in place, or, when
//! its response code is spent or expired, its approver gets a text.

use super::{CardButton, Notifier, NotifyError};
use crate::booking::approval::Decision;
use crate::booking::events::Withdrawn;
use crate::booking::service::describe;
use crate::booking::Booking;
use crate::outbox::{self, Outgoing, Recipient, Weight};
use crate::wecom::card::{self, Button, Field, TaskId};
use rusqlite::{params, Connection};
use serde_json::json;

/// WeCom honours a response code for 72 hours, once.
const RESPONSE_CODE_SECONDS: i64 = 72 * 3600;

/// What an approver is asked about.
pub struct Request<'a> {
    pub booking: &'a Booking,
    pub level: u32,
    pub levels: u32,
    pub approvers: &'a [String],
    pub department: Option<&'a str>,
    pub pending_in_slot: u32,
}

/// One card to each approver of the request's level (once per approver and level).
pub fn send_cards(tx: &Connection, n: &Notifier, request: &Request, now: i64) -> Result<(), NotifyError> {
    let Request { booking, level, levels, approvers, department, pending_in_slot } = *request;
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let facility_name = n.catalog.facility(&booking.facility).map_or(booking.facility.as_str(), |f| f.name.as_str());
    let number = format!("#{}", booking.id);
    let stage = format!("第 {level}/{levels} 级");
    let count = format!("{pending_in_slot} 个");
    let mut fields = vec![
        Field { key: "申请人", value: &booking.userid },
        Field { key: "预约号", value: &number },
        Field { key: "审批", value: &stage },
        Field { key: "同时段待审", value: &count },
    ];
    if let Some(department) = department {
        fields.insert(1, Field { key: "部门", value: department });
    }
    for (i, approver) in approvers.iter().enumerate() {
        let task_id = TaskId::parse(&format!("apv-{}-{level}-{i}-{now}", booking.id))?;
        let body = card::button_card(
            &task_id,
            &format!("{facility_name}预约审批"),
            &what,
            &fields,
            &[
                Button::tap("通过", 1, decide(booking.id, level, Decision::Approve)),
                Button::tap("驳回", 4, decide(booking.id, level, Decision::Reject)),
            ],
        )?;
        let outbox_key = format!("approval-card:{}:{level}:{approver}", booking.id);
        let message = Outgoing::to_user(outbox_key.clone(), approver, Weight::Light, body);
        if outbox::enqueue(tx, &message, now)? {
            crate::store::execute(
                tx,
                "INSERT INTO approval_cards (booking_id, level, approver, task_id, outbox_key, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![booking.id, level, approver, task_id.as_str(), outbox_key, now],
            )?;
        }
    }
    Ok(())
}

fn decide(booking: i64, level: u32, decision: Decision) -> String {
    CardButton::Decide { booking, level: Some(level), decision }.key()
}

/// What the other cards of a withdrawn request's level say.
pub fn withdrawn_label(why: Withdrawn) -> &'static str {
    match why {
        Withdrawn::Cancelled => "申请人已取消",
        Withdrawn::Expired => "已过期",
        Withdrawn::Closed => "设施停用",
    }
}

/// An approval card as its outbox row stands.
struct SentCard {
    approver: String,
    level: u32,
    state: String,
    response_code: Option<String>,
    sent_at: Option<i64>,
    outbox_id: i64,
}

/// Grey out every card of request `id`'s `level` except `except`'s, saying `label`:
/// through update_template_card while its response code is fresh and unused, else a text.
pub fn update_other_cards(
    tx: &Connection,
    id: i64,
    level: u32,
    except: &str,
    label: &str,
    now: i64,
) -> Result<(), NotifyError> {
    let mut stmt = tx.prepare_cached(
        "SELECT c.approver, c.level, o.state, o.response_code, o.sent_at, o.id FROM approval_cards c
         JOIN outbox o ON o.dedupe_key = c.outbox_key
         WHERE c.booking_id = ?1 AND c.level = ?2 AND c.approver != ?3",
    )?;
    let cards: Vec<SentCard> = stmt
        .query_map(params![id, level, except], |r| {
            Ok(SentCard {
                approver: r.get(0)?,
                level: r.get(1)?,
                state: r.get(2)?,
                response_code: r.get(3)?,
                sent_at: r.get(4)?,
                outbox_id: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    for SentCard { approver, level: card_level, state, response_code, sent_at, outbox_id } in cards {
        let key = format!("approval-update:{id}:{card_level}:{approver}");
        if state == "pending" {
            // Not delivered yet: it will never need a decision, so it is never sent.
            crate::store::execute(
                tx,
                "UPDATE outbox SET state = 'failed', last_error = 'superseded: decided before delivery' WHERE id = ?1",
                [outbox_id],
            )?;
            continue;
        }
        let fresh = sent_at.is_some_and(|at| now - at < RESPONSE_CODE_SECONDS);
        let message = match response_code.filter(|_| fresh && state == "done") {
            Some(code) => Outgoing {
                dedupe_key: key,
                recipient: Recipient::User(approver.clone()),
                weight: Weight::Light,
                body: json!({
                    "msgtype": "update_card", "response_code": code, "label": label,
                    "fallback": format!("预约申请 #{id} {label}，无需再处理。"),
                }),
            },
            None => Outgoing::text(key, &approver, Weight::Light, &format!("预约申请 #{id} {label}，无需再处理。")),
        };
        outbox::enqueue(tx, &message, now)?;
    }
    Ok(())
}
