//! Server-rendered HTML pages (templates/pages, embedded at build; HTML-escaped throughout).

use minijinja::Environment;
use serde::Serialize;
use std::sync::OnceLock;

const PAGES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/pages/base.html")),
    ("pass.html", include_str!("../../templates/pages/pass.html")),
    ("board.html", include_str!("../../templates/pages/board.html")),
    ("admin.html", include_str!("../../templates/pages/admin.html")),
    ("member.html", include_str!("../../templates/pages/member.html")),
    ("member_slot.html", include_str!("../../templates/pages/member_slot.html")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        // Templates ending in .html are auto-escaped: facility names and reasons come from admins.
        let mut env = Environment::new();
        for (name, source) in PAGES {
            if let Err(error) = env.add_template(name, source) {
                tracing::error!(template = name, error = %error, "page template does not compile");
            }
        }
        env
    })
}

/// Render a page; a template error becomes a plain error page (and a log line).
pub fn render<S: Serialize>(name: &str, ctx: S) -> Result<String, String> {
    env().get_template(name).and_then(|t| t.render(ctx)).map_err(|error| {
        tracing::error!(template = name, error = %error, "page failed to render");
        "页面出错了，请稍后再试。".to_string()
    })
}

/// Every page must compile (tested, and checked at start).
pub fn check() -> Result<(), minijinja::Error> {
    for (name, _) in PAGES {
        env().get_template(name)?;
    }
    Ok(())
}
