//! Load generator for `scripts/bench.sh`: starts the release server (with a WeCom stand-in on
//! loopback), fires pre-generated signed, encrypted callbacks at a fixed concurrency, and
//! reports throughput, latency percentiles, peak RSS and start-up time; then times one
//! scheduler tick over 100,000 bookings. Writes BENCHMARKS.md.

use clap::Parser;
use staffhome::wecom::sim::{SimApi, SimMember};
use staffhome::wecom::{Inbound, WeComCrypto};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// The staffhome binary to measure (a release build).
    #[arg(long, default_value = "target/release/staffhome")]
    server: PathBuf,
    /// Requests per scenario.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Where to write the report (Markdown).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Members asking questions: each asks several times in a run, as staff do (booking
    /// attempts come each from a member of its own, as in a rush for places).
    #[arg(long, default_value_t = 2_000)]
    members: usize,
    /// Run only the callback scenario whose name contains this (for profiling one path);
    /// /healthz always runs, as the ratio's base.
    #[arg(long)]
    only: Option<String>,
}

const NOW: &str = "2026-11-23T08:00:00+08:00";

struct Stats {
    name: &'static str,
    count: usize,
    errors: usize,
    rps: f64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// Server CPU time (user + system) per request: steadier than req/s on a shared machine.
    cpu_per_request: Option<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn stats(name: &'static str, mut latencies: Vec<Duration>, errors: usize, elapsed: Duration) -> Stats {
    latencies.sort_unstable();
    Stats {
        name,
        count: latencies.len(),
        errors,
        rps: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied().unwrap_or_default(),
        cpu_per_request: None,
    }
}

/// One request: a GET, or a POST with a signed callback.
#[derive(Clone)]
enum Request {
    Get(String),
    Post { url: String, body: String },
}

async fn send(client: &reqwest::Client, request: &Request) -> bool {
    let response = match request {
        Request::Get(url) => client.get(url).send().await,
        Request::Post { url, body } => client.post(url).body(body.clone()).send().await,
    };
    match response {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok_and(|b| !b.is_empty()),
        _ => false,
    }
}

/// Closed loop: `concurrency` workers take the next request until all are sent.
async fn closed_loop(
    name: &'static str,
    client: &reqwest::Client,
    requests: Vec<Request>,
    concurrency: usize,
) -> Stats {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, requests, next) = (client.clone(), requests.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = requests.get(i) else { break };
                let t = Instant::now();
                if !send(&client, request).await {
                    errors += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for worker in workers {
        let (latencies, e) = worker.await.expect("worker");
        all.extend(latencies);
        errors += e;
    }
    stats(name, all, errors, started.elapsed())
}

/// Open loop: one request every `1/rate` seconds regardless of answers (latency at a load).
async fn open_loop(name: &'static str, client: &reqwest::Client, requests: Vec<Request>, rate: u64) -> Stats {
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, request) in requests.into_iter().enumerate() {
        tokio::time::sleep_until(started + Duration::from_micros(i as u64 * 1_000_000 / rate)).await;
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let ok = send(&client, &request).await;
            (t.elapsed(), ok)
        }));
    }
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        let (latency, ok) = task.await.expect("task");
        latencies.push(latency);
        errors += usize::from(!ok);
    }
    stats(name, latencies, errors, started.elapsed())
}

fn callbacks(member: &SimMember, url: &str, texts: impl Iterator<Item = (String, String)>) -> Vec<Request> {
    let now = chrono::DateTime::parse_from_rfc3339(NOW).expect("now").timestamp();
    texts
        .map(|(user, text)| {
            let msg = member.message(&user, now, Inbound::Text { content: text, msg_id: member.next_msg_id() });
            let signed = member.sign(&msg);
            Request::Post { url: format!("{url}?{}", signed.query), body: signed.body }
        })
        .collect()
}

const FACILITIES: [&str; 5] = ["健身房", "阅览室", "乒乓球", "羽毛球", "跑步机"];
const DAYS: [&str; 7] = ["今天", "明天", "周三", "周四", "周五", "周六", "周日"];
const TIMES: [&str; 11] =
    ["8:30", "9:30", "10:30", "12:00", "13:00", "14:30", "15:30", "16:30", "17:30", "18:30", "19:30"];

fn read_text(i: usize) -> String {
    match i % 3 {
        0 => "空闲".to_string(),
        1 => format!("空闲 {} {}", FACILITIES[i % 5], DAYS[i % 7]),
        _ => "我的".to_string(),
    }
}

fn write_text(i: usize) -> String {
    format!("预约 {} {} {}", FACILITIES[i % 5], DAYS[(i / 5) % 7], TIMES[(i / 35) % 11])
}

const HELP: &str = "帮助 (protocol only)";
const READS: &str = "空闲/我的 (reads)";
const WRITES: &str = "预约 (writes)";
const MIXED: &str = "mixed 80/20";
const SCENARIOS: [&str; 4] = [HELP, READS, WRITES, MIXED];

/// Who says what in a scenario: (member, text) for `n` callbacks. Each scenario has members
/// of its own, so each starts with first contacts.
fn scenario(name: &str, n: usize, members: usize) -> Vec<(String, String)> {
    let prefix = SCENARIOS.iter().position(|s| *s == name).unwrap_or(0);
    let asker = |i: usize| format!("s{prefix}-{}", i % members.max(1));
    let booker = |i: usize| format!("b{prefix}-{i}");
    (0..n)
        .map(|i| match name {
            HELP => (asker(i), "帮助".to_string()),
            READS => (asker(i), read_text(i)),
            WRITES => (booker(i), write_text(i)),
            _ if i % 5 == 0 => (booker(i), write_text(i + 7)),
            _ => (asker(i), read_text(i)),
        })
        .collect()
}

/// CPU time the process has used so far (user + system), from /proc.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // /proc counts in USER_HZ, which Linux fixes at 100 for user space.
    Some(Duration::from_millis(ticks * 10))
}

/// Run `run` and note the server's CPU time per request it made.
async fn measured(pid: u32, run: impl std::future::Future<Output = Stats>) -> Stats {
    let before = cpu_time(pid);
    let mut stats = run.await;
    if let (Some(before), Some(after)) = (before, cpu_time(pid)) {
        stats.cpu_per_request = Some((after - before) / stats.count.max(1) as u32);
    }
    stats
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// One scheduler pass over a database holding 100,000 bookings (in this process).
fn tick_benchmark() -> (usize, Duration, Duration) {
    use staffhome::app::AppContext;
    let dir = tempfile::tempdir().expect("dir");
    let mut config = staffhome::config::Config::from_toml(staffhome::demo::DEMO_CONFIG, |_| None).expect("config");
    config.database.path = dir.path().join("tick.db");
    let now = chrono::DateTime::parse_from_rfc3339(NOW).expect("now").with_timezone(&chrono::Utc);
    let clock = Arc::new(staffhome::clock::FixedClock::new(now));
    let ctx = AppContext::new(config, clock).expect("context");
    let total = 100_000usize;
    ctx.store
        .write(|tx| {
            let mut stmt = tx.prepare(
                "INSERT INTO bookings (userid, facility, date, slot, starts_at, ends_at, state, checkin_code, pass_token, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '000000', ?8, 0, 0)",
            )?;
            for i in 0..total {
                // Ten weeks back to two weeks ahead; past ones finished, future ones confirmed.
                let day = (i % 84) as i64 - 70;
                let slot = (i / 84) % 11 + 1;
                let date = now.date_naive() + chrono::Duration::days(day);
                let starts = (now + chrono::Duration::days(day)).timestamp() + slot as i64 * 3600;
                let state = if day < 0 { ["checked_in", "no_show", "cancelled"][i % 3] } else { "confirmed" };
                let user = format!("t{}", i % 5000);
                tx.execute("INSERT OR IGNORE INTO users (userid, created_at, last_seen_at) VALUES (?1, 0, 0)", [&user])?;
                stmt.execute(rusqlite::params![
                    user,
                    ["gym", "reading", "pingpong", "badminton", "treadmill"][i % 5],
                    date.to_string(),
                    slot as u32,
                    starts,
                    starts + 3600,
                    state,
                    format!("{i:032x}")
                ])?;
            }
            Ok::<(), rusqlite::Error>(())
        })
        .expect("fixture");
    let schedules = staffhome::scheduler::Schedules::from_config(&ctx).expect("schedules");
    // The first pass sends what is due today; later passes are the steady state.
    let first = Instant::now();
    staffhome::scheduler::run_due_jobs(&ctx, &schedules, now);
    let first = first.elapsed();
    let mut runs: Vec<Duration> = (0..5)
        .map(|i| {
            let t = Instant::now();
            staffhome::scheduler::run_due_jobs(&ctx, &schedules, now + chrono::Duration::minutes(i + 1));
            t.elapsed()
        })
        .collect();
    runs.sort_unstable();
    (total, first, runs[runs.len() / 2])
}

fn us(d: Option<Duration>) -> String {
    d.map_or("?".to_string(), |d| format!("{:.0}", d.as_secs_f64() * 1e6))
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    // Named threads, so that a profile of a run tells the load generator from the server.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("loadgen")
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run());
}

async fn run() {
    let args = Args::parse();
    let config_text = staffhome::demo::DEMO_CONFIG;
    let config = staffhome::config::Config::from_toml(config_text, |_| None).expect("demo config");
    let api = SimApi::start(&config.wecom.corp_id, config.wecom.secret.expose()).expect("stand-in");
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let text = config_text
        .replace("bind = \"127.0.0.1:8080\"", &format!("bind = \"127.0.0.1:{port}\""))
        .replace("api_base = \"http://127.0.0.1:8081\"", &format!("api_base = \"{}\"", api.base_url()))
        .replace("path = \"data/demo.db\"", &format!("path = \"{}\"", dir.path().join("bench.db").display()))
        .replace("max_active_per_user = 4", "max_active_per_user = 4\nmax_per_week_per_user = 0");
    let config_path = dir.path().join("bench.toml");
    std::fs::write(&config_path, text).expect("config");

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
    let started = Instant::now();
    let mut server = std::process::Command::new(&args.server)
        .args(["serve", "--config"])
        .arg(&config_path)
        .env("STAFFHOME_NOW", NOW)
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
    let idle_rss = peak_rss_kib(server.id());

    let crypto =
        WeComCrypto::new(config.wecom.token.expose(), config.wecom.encoding_aes_key.expose(), &config.wecom.corp_id)
            .expect("crypto");
    let member =
        SimMember::new(crypto, &config.wecom.corp_id, config.wecom.agent_id, &format!("{base}/wecom/callback"));
    let callback = format!("{base}/wecom/callback");
    let n = args.requests;
    let c = args.concurrency;
    // Warm up connections and caches.
    closed_loop("warm-up", &client, (0..2000).map(|_| Request::Get(format!("{base}/healthz"))).collect(), c).await;

    let mut results = Vec::new();
    let healthz = (0..n).map(|_| Request::Get(format!("{base}/healthz"))).collect();
    results.push(measured(server.id(), closed_loop("/healthz", &client, healthz, c)).await);
    if let Some(only) = &args.only {
        for name in SCENARIOS.into_iter().filter(|name| name.contains(only.as_str())) {
            let requests = callbacks(&member, &callback, scenario(name, n, args.members).into_iter());
            let run = measured(server.id(), closed_loop(name, &client, requests, c)).await;
            let ratio = run.rps / results[0].rps * 100.0;
            println!(
                "{name}: {:.0} req/s ({ratio:.0}% of /healthz), p99 {} ms, server CPU {} µs per request (/healthz {})",
                run.rps,
                ms(run.p99),
                us(run.cpu_per_request),
                us(results[0].cpu_per_request)
            );
            println!("  server peak RSS so far: {} KiB", peak_rss_kib(server.id()).unwrap_or(0));
        }
        let _ = server.kill();
        let _ = server.wait();
        return;
    }
    for name in SCENARIOS {
        let requests = callbacks(&member, &callback, scenario(name, n, args.members).into_iter());
        results.push(measured(server.id(), closed_loop(name, &client, requests, c)).await);
    }
    let paced = callbacks(
        &member,
        &callback,
        scenario(MIXED, 10_000, args.members).into_iter().map(|(user, text)| (format!("p{user}"), text)),
    );
    let at_rate = measured(server.id(), open_loop("mixed at 1,000 req/s", &client, paced, 1000)).await;
    let peak_rss = peak_rss_kib(server.id());
    let _ = server.kill();
    let _ = server.wait();
    let (bookings, first_tick, tick) = tokio::task::spawn_blocking(tick_benchmark).await.expect("tick");

    let healthz = results[0].rps;
    let mut report = String::new();
    report.push_str("| run | requests | errors | req/s | ratio to /healthz | p50 ms | p99 ms | max ms | server CPU µs/request |\n|---|---|---|---|---|---|---|---|---|\n");
    for s in results.iter().chain(std::iter::once(&at_rate)) {
        report.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0}% | {} | {} | {} | {} |\n",
            s.name,
            s.count,
            s.errors,
            s.rps,
            s.rps / healthz * 100.0,
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            us(s.cpu_per_request)
        ));
    }
    let ratio = |i: usize| results[i].rps / healthz;
    let check = |ok: bool| if ok { "met" } else { "MISSED" };
    let rss_mib = peak_rss.unwrap_or(0) as f64 / 1024.0;
    let targets = format!(
        "| target | measured | |\n|---|---|---|\n\
         | reads ≥ 50% of /healthz | {:.0}% | {} |\n\
         | bookings ≥ 25% of /healthz | {:.0}% | {} |\n\
         | mixed ≥ 35% of /healthz | {:.0}% | {} |\n\
         | p99 < 10 ms at 1,000 req/s | {} ms | {} |\n\
         | server peak RSS < 64 MiB | {rss_mib:.1} MiB (idle {:.1} MiB) | {} |\n\
         | start-up < 0.5 s | {} ms | {} |\n\
         | one tick over {bookings} bookings < 100 ms | {} ms (first pass, sending what is due: {} ms) | {} |\n",
        ratio(2) * 100.0,
        check(ratio(2) >= 0.5),
        ratio(3) * 100.0,
        check(ratio(3) >= 0.25),
        ratio(4) * 100.0,
        check(ratio(4) >= 0.35),
        ms(at_rate.p99),
        check(at_rate.p99 < Duration::from_millis(10)),
        idle_rss.unwrap_or(0) as f64 / 1024.0,
        check(rss_mib < 64.0),
        ms(startup),
        check(startup < Duration::from_millis(500)),
        ms(tick),
        ms(first_tick),
        check(tick < Duration::from_millis(100)),
    );
    println!("{report}\n{targets}");
    if let Some(out) = args.out {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
            })
            .unwrap_or_default();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
        let commit = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
        let body = format!(
            "Measured by `scripts/bench.sh` (release build, `examples/loadgen.rs`): the load generator, the \
             WeCom stand-in and the server share one machine over loopback, so the ratios to `/healthz` of the same run are \
             what compares across machines.\n\n- machine: {cpu}, {cores} cores\n- date: {date}\n- commit: {commit}\n\
             - {n} requests per closed-loop run at concurrency {c}; every callback signed, encrypted and verified; \
             unique MsgIds and members\n\n{report}\n## Targets\n\n{targets}"
        );
        // Only the results block is replaced: notes written around it (profiling, before and
        // after) stay.
        let block = format!("<!-- results -->\n{body}<!-- /results -->\n");
        let text = match std::fs::read_to_string(&out) {
            Ok(old) if old.contains("<!-- results -->") && old.contains("<!-- /results -->") => {
                let start = old.find("<!-- results -->").unwrap_or(0);
                let end = old.find("<!-- /results -->").map_or(old.len(), |e| e + "<!-- /results -->\n".len());
                format!("{}{block}{}", &old[..start], old.get(end..).unwrap_or(""))
            }
            _ => format!("# Benchmarks\n\n{block}"),
        };
        std::fs::write(&out, text).expect("write report");
        println!("wrote {}", out.display());
    }
}
