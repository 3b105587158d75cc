//! The chat command parser on any text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use staffhome::booking::Catalog;
use staffhome::config::Config;
use std::sync::OnceLock;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let config = Config::from_toml(staffhome::demo::DEMO_CONFIG, |_| None).expect("demo config");
        Catalog::from_config(&config)
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
        let _ = staffhome::chat::parse(text, catalog(), today);
    }
});
