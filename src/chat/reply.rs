//! Reply texts, rendered from templates/ (embedded at build).

use minijinja::Environment;
use serde::Serialize;

const TEMPLATES: &[(&str, &str)] = &[
    ("help", include_str!("../../templates/chat/help.txt")),
    ("facilities", include_str!("../../templates/chat/facilities.txt")),
    ("free_overview", include_str!("../../templates/chat/free_overview.txt")),
    ("free_facility", include_str!("../../templates/chat/free_facility.txt")),
    ("booked", include_str!("../../templates/chat/booked.txt")),
    ("cancelled", include_str!("../../templates/chat/cancelled.txt")),
    ("mine", include_str!("../../templates/chat/mine.txt")),
    ("waitlisted", include_str!("../../templates/chat/waitlisted.txt")),
    ("refused", include_str!("../../templates/chat/refused.txt")),
    ("moved", include_str!("../../templates/chat/moved.txt")),
    ("ask", include_str!("../../templates/chat/ask.txt")),
    ("unknown", include_str!("../../templates/chat/unknown.txt")),
    ("board", include_str!("../../templates/chat/board.txt")),
    ("published", include_str!("../../templates/chat/published.txt")),
    ("welcome", include_str!("../../templates/chat/welcome.txt")),
    ("checkin", include_str!("../../templates/chat/checkin.txt")),
];

pub struct Replies {
    env: Environment<'static>,
    /// 帮助 depends only on what the member may use, so its four versions are rendered once:
    /// indexed by `help_index`.
    help: [String; 4],
}

fn help_index(is_admin: bool, is_approver: bool) -> usize {
    usize::from(is_admin) * 2 + usize::from(is_approver)
}

impl Replies {
    /// Compile every template; a broken one stops the start.
    pub fn new() -> Result<Replies, minijinja::Error> {
        // Block tags sit inline in these texts, so every newline written is kept.
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let help_for = |is_admin, is_approver| {
            let lines = super::command::help_lines(is_admin, is_approver);
            env.get_template("help")?.render(minijinja::context! { lines }).map(|text| text.trim_end().to_string())
        };
        let help = [help_for(false, false)?, help_for(false, true)?, help_for(true, false)?, help_for(true, true)?];
        Ok(Replies { env, help })
    }

    /// The 帮助 text for a member who is (or is not) an admin and an approver.
    pub fn help(&self, is_admin: bool, is_approver: bool) -> &str {
        &self.help[help_index(is_admin, is_approver)]
    }

    /// Render `name` with `ctx`. A render error is a bug in a template; the member gets a
    /// plain apology and the log gets the cause.
    pub fn render<S: Serialize>(&self, name: &str, ctx: S) -> String {
        match self.env.get_template(name).and_then(|t| t.render(ctx)) {
            Ok(text) => text.trim_end().to_string(),
            Err(error) => {
                tracing::error!(template = name, error = %error, "template failed to render");
                "抱歉，出了点问题，请稍后再试。".to_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// WeCom cuts a passive reply past 2,048 bytes: the longest 帮助 (an admin who approves)
    /// must end where it should, with how to book every week and with partners.
    #[test]
    fn every_help_fits_one_reply_and_names_series_and_partners() {
        let replies = Replies::new().unwrap();
        for (is_admin, is_approver) in [(false, false), (false, true), (true, false), (true, true)] {
            let help = replies.help(is_admin, is_approver);
            assert!(help.len() <= crate::wecom::xml::MAX_TEXT_BYTES, "{} bytes: {help}", help.len());
            assert!(help.contains("每周三") && help.contains("和 lisi"), "{help}");
        }
    }
}
