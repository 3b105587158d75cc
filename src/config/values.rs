//! Values parsed once, at load: a time zone, a time of day, a cron schedule, the public URL.
//! Each refuses a bad value with a message naming its key, so a typo stops the start.

use chrono_tz::Tz;
use serde::{de, Deserialize, Deserializer};
use std::str::FromStr;

/// Where members reach the service (links in messages and pages); joins paths onto itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(url: &str) -> Result<PublicUrl, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err("must start with http:// or https://".into());
        }
        Ok(PublicUrl(url.trim_end_matches('/').to_string()))
    }

    /// `path` (starting with `/`) under this address.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The host (and port), e.g. `staffhome.example.com`.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest)
    }

    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for PublicUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PublicUrl::parse(&text).map_err(|why| de::Error::custom(format!("config key `server.public_url`: {why}")))
    }
}

/// The zone every date and time is in.
pub fn zone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let text = String::deserialize(d)?;
    Tz::from_str(&text)
        .map_err(|_| de::Error::custom(format!("config key `booking.timezone`: unknown time zone {text:?}")))
}

/// A time of day, `HH:MM`.
pub fn time_of_day<'de, D: Deserializer<'de>>(d: D) -> Result<chrono::NaiveTime, D::Error> {
    let text = String::deserialize(d)?;
    chrono::NaiveTime::parse_from_str(&text, "%H:%M")
        .map_err(|_| de::Error::custom(format!("config key `slots`: {text:?} is not a time HH:MM")))
}

/// A cron schedule (sec min hour day month weekday), checked as it is read.
#[derive(Debug, Clone)]
pub struct Cron(pub cron::Schedule);

impl Cron {
    pub fn parse(key: &str, expr: &str) -> Result<Cron, String> {
        cron::Schedule::from_str(expr)
            .map(Cron)
            .map_err(|e| format!("config key `{key}`: bad cron expression {expr:?}: {e}"))
    }
}

/// A schedule under `[schedule]`: the key is named in the error by its field.
macro_rules! cron_field {
    ($name:ident, $key:literal) => {
        pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<Cron, D::Error> {
            let text = String::deserialize(d)?;
            Cron::parse($key, &text).map_err(de::Error::custom)
        }
    };
}
cron_field!(tick, "schedule.tick");
cron_field!(publish_week, "schedule.publish_week");
cron_field!(weekly_digest, "schedule.weekly_digest");
