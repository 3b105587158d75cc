//! The `staffhome` command line: a thin layer over the library.

use clap::{Parser, Subcommand};
use staffhome::app::AppContext;
use staffhome::config::Config;
use staffhome::startup::Application;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc's per-thread heaps instead of glibc's arenas, for SQLite's allocations too
/// (`override`); `no_thp` keeps resident memory small (huge pages back each heap 2 MiB at a
/// time). BENCHMARKS.md has the measurements.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "staffhome", version, about = "Staff clubhouse (职工之家) booking through WeCom (企业微信)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: HTTP callback, pages and background workers.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run one pass of every due scheduler job as of TIME, deliver what it queued, and exit.
    /// Safe beside a running `serve` on the same database.
    Tick {
        #[arg(long)]
        config: PathBuf,
        /// RFC 3339 instant, e.g. 2026-11-23T18:00:00+08:00 (default: now)
        #[arg(long)]
        at: Option<String>,
    },
    /// Write one printable SVG per facility: the QR code to post at its door (scanned with the
    /// app's 扫码签到 menu to check in), with the facility's name under it.
    Qr {
        #[arg(long)]
        config: PathBuf,
        #[arg(long, default_value = "qr-codes")]
        out: PathBuf,
    },
    /// Everything in one process with the WeCom stand-in and a chat prompt: try it without
    /// a WeCom account.
    Demo {
        /// Port for the service (falls back to a free one when taken)
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Keep the demo database in this file (default: a fresh temporary one)
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Create the app's menu in WeCom: 预约 (the member's page, 空闲, the board), 我的 (the page, 我的预约), 扫码签到.
    Menu {
        #[arg(long)]
        config: PathBuf,
    },
    /// Copy the database with SQLite's online backup (safe while serve runs).
    Backup {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        to: PathBuf,
    },
    /// Validate the configuration and exit (0 when good).
    Check {
        #[arg(long)]
        config: PathBuf,
    },
}

fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // People read a terminal; log collectors read JSON.
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's terminal is for the conversation: only warnings unless RUST_LOG says more.
    init_logging(if matches!(cli.command, Command::Demo { .. }) { "warn" } else { "info,actix_server=warn" });
    let result = match cli.command {
        Command::Check { config } => check(&config),
        Command::Serve { config } => serve(&config),
        Command::Tick { config, at } => tick(&config, at.as_deref()),
        Command::Qr { config, out } => qr(&config, &out),
        Command::Demo { port, db } => demo(port, db),
        Command::Menu { config } => menu(&config),
        Command::Backup { config, to } => backup(&config, &to),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("staffhome: {message}");
            ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    println!(
        "{}: ok ({} facilities, {} slots a day, database {})",
        path.display(),
        config.facilities.len(),
        config.slots.len(),
        config.database.path.display()
    );
    Ok(())
}

/// A config file that holds secrets should be readable by its owner alone.
fn warn_if_readable_by_others(path: &std::path::Path, config: &Config) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let holds_secrets = !config.wecom.secret.is_empty() || !config.server.admin_token.is_empty();
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0);
        if holds_secrets && mode & 0o077 != 0 {
            tracing::warn!(
                config = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the config file holds secrets and is readable by others: chmod 600 it"
            );
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())
}

fn serve(path: &std::path::Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let published = staffhome::demo::published_secrets(&config);
    if !published.is_empty() {
        return Err(format!(
            "{} in {} hold the demo's published values; set your own (or run `staffhome demo`)",
            published.join(", "),
            path.display()
        ));
    }
    warn_if_readable_by_others(path, &config);
    let clock = staffhome::clock::from_env()?;
    runtime()?.block_on(async move {
        let ctx = Arc::new(AppContext::new(config, clock).map_err(|e| e.to_string())?);
        let app = Application::build(Arc::clone(&ctx)).map_err(|e| e.to_string())?;
        tracing::info!(port = app.port(), "staffhome is serving");
        let handle = app.handle();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("stopping");
                handle.stop(true).await;
            }
        });
        // The server and the outbox worker side by side; the first to end is logged.
        let ended = tokio::select! {
            served = app.run_until_stopped() => {
                tracing::info!(result = ?served, "HTTP server stopped");
                served.map_err(|e| e.to_string())
            }
            worker = staffhome::outbox::worker::run(Arc::clone(&ctx)) => {
                tracing::error!(result = ?worker, "outbox worker stopped");
                worker.map_err(|e| e.to_string())
            }
            scheduler = staffhome::scheduler::run(Arc::clone(&ctx)) => {
                tracing::error!(result = ?scheduler, "scheduler stopped");
                scheduler.map_err(|e| e.to_string())
            }
        };
        ended
    })
}

fn tick(path: &std::path::Path, at: Option<&str>) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let clock: Arc<dyn staffhome::clock::Clock> = match at {
        Some(text) => {
            let at = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| format!("--at {text:?}: {e}"))?;
            Arc::new(staffhome::clock::FixedClock::new(at.with_timezone(&chrono::Utc)))
        }
        None => staffhome::clock::from_env()?,
    };
    runtime()?.block_on(async move {
        let ctx = Arc::new(AppContext::new(config, clock).map_err(|e| e.to_string())?);
        let report = staffhome::scheduler::tick_once(&ctx).await.map_err(|e| e.to_string())?;
        println!("{report}");
        Ok(())
    })
}

fn qr(path: &std::path::Path, out: &std::path::Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for facility in &config.facilities {
        // The code alone: short codes make coarse, easily scanned QR codes.
        let svg = staffhome::qr::svg(&facility.code, 12, Some(&format!("{} 签到", facility.name)))
            .ok_or_else(|| format!("cannot encode {}", facility.code))?;
        let file = out.join(format!("{}.svg", facility.code));
        std::fs::write(&file, svg).map_err(|e| format!("{}: {e}", file.display()))?;
        println!("{}", file.display());
    }
    Ok(())
}

fn demo(port: u16, db: Option<PathBuf>) -> Result<(), String> {
    let clock = staffhome::clock::from_env()?;
    runtime()?.block_on(async move {
        let options = staffhome::demo::DemoOptions { port, database: db };
        staffhome::demo::run(options, clock, tokio::io::stdin(), tokio::io::stdout()).await
    })
}

fn menu(path: &std::path::Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    runtime()?.block_on(async move {
        let api = staffhome::wecom::api::WeComApi::new(
            &config.wecom.api_base,
            &config.wecom.corp_id,
            config.wecom.secret.clone(),
            config.wecom.agent_id,
            std::time::Duration::from_millis(config.wecom.api_timeout_ms),
        );
        let menu = staffhome::wecom::menu::app_menu(
            &config.server.public_url.join("/m"),
            &config.server.public_url.join("/board"),
            staffhome::chat::MENU_FREE,
            staffhome::chat::MENU_MINE,
        );
        api.create_menu(&menu).await.map_err(|e| e.to_string())?;
        println!("menu created for agent {}", config.wecom.agent_id);
        Ok(())
    })
}

fn backup(path: &std::path::Path, to: &std::path::Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let store = staffhome::store::Store::open(&config.database.path).map_err(|e| e.to_string())?;
    store.backup(to).map_err(|e| e.to_string())?;
    println!("{} → {}", config.database.path.display(), to.display());
    Ok(())
}
