//! What every part of the service shares: configuration, storage, clock, metrics.

use crate::booking::{Catalog, Rules};
use crate::chat::{ChatContext, Replies};
use crate::clock::Clock;
use crate::config::Config;
use crate::inbox::{Later, RecentAnswers};
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::store::Store;
use crate::wecom::api::WeComApi;
use crate::wecom::WeComCrypto;
use crate::workers::Workers;
use std::sync::Arc;

pub struct AppContext {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub crypto: WeComCrypto,
    pub catalog: Catalog,
    pub replies: Replies,
    pub metrics: Metrics,
    pub api: WeComApi,
    /// Replies to read-only questions, for WeCom's retries.
    pub recent_answers: RecentAnswers,
    /// What answered questions leave to write (members seen, cards), written together.
    pub later: Arc<Later>,
    /// Callbacks being answered now: while many are, messages go out one recipient at a time.
    pub answering: Arc<std::sync::atomic::AtomicUsize>,
    /// Threads for a callback's first look on a reader (reads block; writes queue for the
    /// store's writer thread without holding one).
    pub look_threads: Workers,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("WeCom crypto: {0}")]
    Crypto(#[from] crate::wecom::CryptoError),
    #[error("templates: {0}")]
    Templates(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("cannot start worker threads: {0}")]
    Threads(std::io::Error),
}

/// Admins granted by chat (stored) who are not in `[roles] admins`: said at every start, so an
/// operator who removed someone from the config sees who still holds the role.
fn warn_of_stored_admins(store: &Store, config: &Config) -> Result<(), StartError> {
    let stored: Vec<String> = store
        .read(|conn| {
            let mut stmt = conn.prepare("SELECT userid FROM users WHERE role = 'admin' ORDER BY userid")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            rows.collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(crate::store::StoreError::from)?;
    for admin in stored.iter().filter(|a| !config.roles.admins.contains(a)) {
        tracing::warn!(admin = %admin, "an admin granted by chat, not in [roles] admins (revoke with 撤销 {admin} 管理员)");
    }
    Ok(())
}

/// First looks at once: one per reader connection (more would only wait for one).
const LOOK_THREADS: usize = crate::store::READERS;

impl AppContext {
    /// Open the database and build everything the service shares.
    pub fn new(config: Config, clock: Arc<dyn Clock>) -> Result<AppContext, StartError> {
        let crypto = WeComCrypto::new(
            config.wecom.token.expose(),
            config.wecom.encoding_aes_key.expose(),
            &config.wecom.corp_id,
        )?;
        let store = Store::open(&config.database.path)?;
        warn_of_stored_admins(&store, &config)?;
        let catalog = Catalog::from_config(&config);
        let replies = Replies::new().map_err(|e| StartError::Templates(e.to_string()))?;
        let api = WeComApi::new(
            &config.wecom.api_base,
            &config.wecom.corp_id,
            config.wecom.secret.clone(),
            config.wecom.agent_id,
            std::time::Duration::from_millis(config.wecom.api_timeout_ms),
        );
        Ok(AppContext {
            config,
            store,
            clock,
            crypto,
            catalog,
            replies,
            metrics: Metrics::new(),
            api,
            recent_answers: RecentAnswers::default(),
            later: Arc::default(),
            answering: Arc::default(),
            look_threads: Workers::start("staffhome-look", LOOK_THREADS).map_err(StartError::Threads)?,
        })
    }

    /// The booking rules over this service's catalog and configuration.
    pub fn rules(&self) -> Rules<'_> {
        Rules { catalog: &self.catalog, config: &self.config.booking, admins: &self.config.roles.admins }
    }

    /// How the service words and sends notices.
    pub fn notifier(&self) -> Notifier<'_> {
        Notifier::new(&self.catalog, &self.config)
    }
}

impl crate::inbox::InboxContext for AppContext {
    fn store(&self) -> &Store {
        &self.store
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn chat(&self) -> ChatContext<'_> {
        ChatContext { catalog: &self.catalog, config: &self.config, replies: &self.replies }
    }

    fn recent_answers(&self) -> &RecentAnswers {
        &self.recent_answers
    }

    fn look_threads(&self) -> &Workers {
        &self.look_threads
    }

    fn later(&self) -> &Arc<Later> {
        &self.later
    }
}

impl crate::outbox::worker::Courier for AppContext {
    fn store(&self) -> &Store {
        &self.store
    }

    fn api(&self) -> &WeComApi {
        &self.api
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn zone(&self) -> chrono_tz::Tz {
        self.config.tz()
    }

    fn budget(&self) -> (u64, &[String]) {
        (self.config.wecom.daily_message_budget, &self.config.roles.admins)
    }

    fn robot_url(&self, name: &str) -> Option<String> {
        self.config.robots.iter().find(|r| r.name == name).map(|r| r.webhook_url.expose().to_string())
    }

    fn answering(&self) -> usize {
        self.answering.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl crate::scheduler::JobContext for AppContext {
    fn store(&self) -> &Store {
        &self.store
    }

    fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn config(&self) -> &Config {
        &self.config
    }
}
