//! What a card button does, written into its key when the card is made and read back when
//! the member taps it: one type, so the two cannot drift apart.

use crate::booking::approval::Decision;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardButton {
    /// 确认参加 on a confirmation card.
    Confirm(i64),
    /// 取消预约 on a confirmation card.
    Cancel(i64),
    /// 通过 / 驳回 on an approval card of one level (None: an old card without it).
    Decide { booking: i64, level: Option<u32>, decision: Decision },
}

impl CardButton {
    /// The button's key: `confirm:12`, `cancel:12`, `approve:12:1`, `reject:12:1`.
    pub fn key(self) -> String {
        match self {
            CardButton::Confirm(id) => format!("confirm:{id}"),
            CardButton::Cancel(id) => format!("cancel:{id}"),
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
        let id = parts.next()?.parse::<i64>().ok()?;
        let level = parts.next().and_then(|l| l.parse::<u32>().ok());
        match action {
            "confirm" => Some(CardButton::Confirm(id)),
            "cancel" => Some(CardButton::Cancel(id)),
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
        let buttons = [
            CardButton::Confirm(12),
            CardButton::Cancel(12),
            CardButton::Decide { booking: 7, level: Some(2), decision: Decision::Approve },
            CardButton::Decide { booking: 7, level: Some(1), decision: Decision::Reject },
            CardButton::Decide { booking: 7, level: None, decision: Decision::Reject },
        ];
        for button in buttons {
            assert_eq!(CardButton::parse(&button.key()), Some(button), "{}", button.key());
        }
        for strange in ["", "confirm", "confirm:x", "delete:12", "approve:"] {
            assert_eq!(CardButton::parse(strange), None, "{strange}");
        }
    }
}
