//! The server under test: a release binary started on loopback with a config of the run's own.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Server {
    process: std::process::Child,
    pub base: String,
    db: PathBuf,
    /// From spawn to the first 200 from /healthz.
    pub startup: Duration,
    /// Peak RSS right after start-up, KiB.
    pub idle_rss: Option<u64>,
}

impl Server {
    /// Start `binary` with the demo config, pointed at the stand-in (`api_base`), its
    /// database under `dir`; `adjust` edits the config text further.
    pub async fn start(
        binary: &Path,
        dir: &Path,
        name: &str,
        api_base: &str,
        client: &reqwest::Client,
        now: &str,
        adjust: impl FnOnce(String) -> String,
    ) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
        let db = dir.join(format!("{name}.db"));
        let text = crate::bench_config()
            .replace("bind = \"127.0.0.1:8080\"", &format!("bind = \"127.0.0.1:{port}\""))
            .replace("api_base = \"http://127.0.0.1:8081\"", &format!("api_base = \"{api_base}\""))
            .replace("path = \"data/demo.db\"", &format!("path = \"{}\"", db.display()))
            .replace("max_active_per_user = 4", "max_active_per_user = 4\nmax_per_week_per_user = 0");
        let config_path = dir.join(format!("{name}.toml"));
        std::fs::write(&config_path, adjust(text)).expect("config");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let process = std::process::Command::new(binary)
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("STAFFHOME_NOW", now)
            .env("RUST_LOG", "warn")
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the server (build it with cargo build --release)");
        loop {
            if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "server did not start");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let startup = started.elapsed();
        let idle_rss = peak_rss_kib(process.id());
        Server { process, base, db, startup, idle_rss }
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.pid())
    }

    /// Bookings held by members whose ids start with `prefix` (read from the database beside
    /// the running server).
    pub fn bookings_made(&self, prefix: &str) -> i64 {
        let conn = rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the server's database");
        conn.query_row("SELECT count(*) FROM bookings WHERE userid LIKE ?1", [format!("{prefix}%")], |r| r.get(0))
            .expect("count bookings")
    }

    /// Wait until the server has delivered every message its outbox holds (each run starts
    /// on an idle server: a run does not pay for the previous run's pass messages). Returns
    /// how long that took.
    pub async fn outbox_drained(&self) -> Duration {
        let started = Instant::now();
        let conn = rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the server's database");
        loop {
            let pending: i64 = conn
                .query_row("SELECT count(*) FROM outbox WHERE state = 'pending'", [], |r| r.get(0))
                .expect("count the outbox");
            if pending == 0 {
                return started.elapsed();
            }
            assert!(started.elapsed() < Duration::from_secs(120), "{pending} messages still pending after 2 minutes");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The size of the server's write-ahead log now, bytes.
    pub fn wal_bytes(&self) -> u64 {
        let mut wal = self.db.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    pub fn stop(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time the process has used so far (user + system), from /proc.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc counts in USER_HZ, which Linux fixes at 100 for user space.
    Some(Duration::from_millis(ticks * 10))
}
