//! What a card button does, written into its key when the card is made and read back when
//! the member taps it: one type, so the two cannot drift apart.

use crate::booking::approval::Decision;
use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardButton {
    /// A free slot on a card of choices: book it, as 预约 would.
    Book {
        facility: String,
        date: NaiveDate,
        slot: u32,
    },
    /// 候补 on a full slot's card: join its waitlist.
    Waitlist {
        facility: String,
        date: NaiveDate,
        slot: u32,
    },
    /// 签到 on a booking's card.
    CheckIn(i64),
    /// 确认参加 on a confirmation card.
    Confirm(i64),
    /// 取消预约 on a confirmation card.
    Cancel(i64),
    /// 通过 / 驳回 on an approval card of one level (None: an old card without it).
    Decide {
        booking: i64,
        level: Option<u32>,
        decision: Decision,
    },
    /// 接受 / 放弃 on a waitlist offer's card (the waitlist entry it was made to).
    AcceptOffer(i64),
    DeclineOffer(i64),
    /// 接受 / 拒绝 on a partner's invitation (their booking).
    PartnerAccept(i64),
    PartnerDecline(i64),
}

impl CardButton {
    /// The button's key: `confirm:12`, `cancel:12`, `checkin:12`, `approve:12:1`, `reject:12:1`,
    /// `book:gym:2026-11-24:10`, `waitlist:gym:2026-11-24:10`.
    pub fn key(&self) -> String {
        match self {
            CardButton::Book { facility, date, slot } => format!("book:{facility}:{date}:{slot}"),
            CardButton::Waitlist { facility, date, slot } => format!("waitlist:{facility}:{date}:{slot}"),
            CardButton::CheckIn(id) => format!("checkin:{id}"),
            CardButton::Confirm(id) => format!("confirm:{id}"),
            CardButton::Cancel(id) => format!("cancel:{id}"),
            CardButton::AcceptOffer(entry) => format!("accept_offer:{entry}"),
            CardButton::DeclineOffer(entry) => format!("decline_offer:{entry}"),
            CardButton::PartnerAccept(id) => format!("partner_accept:{id}"),
            CardButton::PartnerDecline(id) => format!("partner_decline:{id}"),
            CardButton::Decide { booking, level, decision } => {
                let level = level.map(|l| format!(":{l}")).unwrap_or_default();
                format!("{}:{booking}{level}", decision.as_str())
            }
        }
    }

    /// The button behind a key; None for a key no card of this version made.
    pub fn parse(key: &str) -> Option<CardButton> {
        let mut parts = key.split(':');
        let action = parts.next()?;
        if matches!(action, "book" | "waitlist") {
            let facility = parts.next().filter(|f| !f.is_empty())?.to_string();
            let date = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
            let slot = parts.next()?.parse::<u32>().ok()?;
            if parts.next().is_some() {
                return None;
            }
            return Some(match action {
                "book" => CardButton::Book { facility, date, slot },
                _ => CardButton::Waitlist { facility, date, slot },
            });
        }
        let id = parts.next()?.parse::<i64>().ok()?;
        let level = parts.next().and_then(|l| l.parse::<u32>().ok());
        match action {
            "confirm" => Some(CardButton::Confirm(id)),
            "cancel" => Some(CardButton::Cancel(id)),
            "checkin" => Some(CardButton::CheckIn(id)),
            "accept_offer" => Some(CardButton::AcceptOffer(id)),
            "decline_offer" => Some(CardButton::DeclineOffer(id)),
            "partner_accept" => Some(CardButton::PartnerAccept(id)),
            "partner_decline" => Some(CardButton::PartnerDecline(id)),
            "approve" => Some(CardButton::Decide { booking: id, level, decision: Decision::Approve }),
            "reject" => Some(CardButton::Decide { booking: id, level, decision: Decision::Reject }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_button_reads_back_as_itself_and_strange_keys_as_nothing() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let buttons = [
            CardButton::Book { facility: "gym".into(), date, slot: 10 },
            CardButton::Waitlist { facility: "gym".into(), date, slot: 10 },
            CardButton::CheckIn(12),
            CardButton::Confirm(12),
            CardButton::Cancel(12),
            CardButton::AcceptOffer(3),
            CardButton::DeclineOffer(3),
            CardButton::PartnerAccept(4),
            CardButton::PartnerDecline(4),
            CardButton::Decide { booking: 7, level: Some(2), decision: Decision::Approve },
            CardButton::Decide { booking: 7, level: Some(1), decision: Decision::Reject },
            CardButton::Decide { booking: 7, level: None, decision: Decision::Reject },
        ];
        for button in buttons {
            assert_eq!(CardButton::parse(&button.key()), Some(button.clone()), "{}", button.key());
        }
        for strange in [
            "",
            "confirm",
            "confirm:x",
            "delete:12",
            "approve:",
            "book:gym",
            "book::2026-11-24:1",
            "book:gym:2026-13-01:1",
        ] {
            assert_eq!(CardButton::parse(strange), None, "{strange}");
        }
    }
}
