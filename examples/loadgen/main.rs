//! Load generator for `scripts/bench.sh`: starts the release server (with a WeCom stand-in on
//! loopback), fires pre-generated signed, encrypted callbacks at a fixed concurrency, and
//! reports throughput, latency percentiles, peak RSS and start-up time; then times one
//! scheduler tick over 100,000 bookings. Writes BENCHMARKS.md.

mod report;
mod scenarios;
mod server;

use clap::Parser;
use report::{ms, Round, Stats};
use server::Server;
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
    /// Run only the callback scenarios whose names contain this (or one of these, comma
    /// separated), for profiling one path; /healthz always runs, as the ratio's base.
    #[arg(long)]
    only: Option<String>,
    /// Rounds, each on fresh servers: a run lasts about a second, so one round's ratios move
    /// with whatever else the machine does; the report gives each run's median round and range.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

const NOW: &str = "2026-11-23T08:00:00+08:00";

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
    Stats::new(name, all, errors, started.elapsed())
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
    Stats::new(name, latencies, errors, started.elapsed())
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

/// One scheduler pass over a database holding 100,000 bookings (in this process).
async fn tick_benchmark() -> (usize, Duration, Duration) {
    use staffhome::app::AppContext;
    let dir = tempfile::tempdir().expect("dir");
    let mut config = staffhome::config::Config::from_toml(staffhome::demo::DEMO_CONFIG, |_| None).expect("config");
    config.database.path = dir.path().join("tick.db");
    let now = chrono::DateTime::parse_from_rfc3339(NOW).expect("now").with_timezone(&chrono::Utc);
    let clock = Arc::new(staffhome::clock::FixedClock::new(now));
    let ctx = Arc::new(AppContext::new(config, clock).expect("context"));
    let total = 100_000usize;
    ctx.store
        .write(move |tx| {
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
        .await
        .expect("fixture");
    let schedules = staffhome::scheduler::Schedules::from_config(&ctx.config);
    // The first pass sends what is due today; later passes are the steady state.
    let first = Instant::now();
    staffhome::scheduler::run_due_jobs(&ctx, &schedules, now).await;
    let first = first.elapsed();
    let mut runs: Vec<Duration> = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        staffhome::scheduler::run_due_jobs(&ctx, &schedules, now + chrono::Duration::minutes(i + 1)).await;
        runs.push(t.elapsed());
    }
    runs.sort_unstable();
    (total, first, runs[runs.len() / 2])
}

/// A stop-use that closes 1,000 bookings, with WeCom (the stand-in) answering every call in
/// 100 ms: how long until the 1,000 personal notices (and the broadcast) have reached it.
async fn fanout_benchmark() -> (usize, Duration) {
    use staffhome::app::AppContext;
    use staffhome::inbox::InboxContext;
    let dir = tempfile::tempdir().expect("dir");
    let mut config = staffhome::config::Config::from_toml(&bench_config(), |_| None).expect("config");
    let api = SimApi::start(&config.wecom.corp_id, config.wecom.secret.expose()).expect("stand-in");
    api.set_latency(Duration::from_millis(100));
    config.wecom.api_base = api.base_url().to_string();
    config.database.path = dir.path().join("fanout.db");
    let now = chrono::DateTime::parse_from_rfc3339(NOW).expect("now").with_timezone(&chrono::Utc);
    let ctx = Arc::new(AppContext::new(config, Arc::new(staffhome::clock::FixedClock::new(now))).expect("context"));
    let total = 1000usize;
    let tomorrow = ctx.catalog.today(now) + chrono::Duration::days(1);
    ctx.store
        .write(move |tx| {
            for i in 0..total {
                let user = format!("f{i}");
                tx.execute("INSERT INTO users (userid, created_at, last_seen_at) VALUES (?1, 0, 0)", [&user])?;
                let starts = now.timestamp() + 86_400 + (i % 11) as i64 * 3600;
                tx.execute(
                    "INSERT INTO bookings (userid, facility, date, slot, starts_at, ends_at, state, checkin_code, pass_token, created_at, updated_at)
                     VALUES (?1, 'gym', ?2, ?3, ?4, ?5, 'confirmed', '000000', ?6, 0, 0)",
                    rusqlite::params![user, tomorrow.to_string(), (i % 11 + 1) as u32, starts, starts + 3600, format!("{i:032x}")],
                )?;
            }
            Ok::<(), rusqlite::Error>(())
        })
        .await
        .expect("fixture");
    let before = api.calls().len();
    let write_ctx = Arc::clone(&ctx);
    let closed = ctx.store.write(move |tx| {
        let command = staffhome::chat::Command::Close("健身房 明天 设备检修".into());
        staffhome::chat::run_for_page(write_ctx.chat(), tx, "admin1", command, now, "fanout")
    });
    let said = closed.await.expect("stop-use");
    assert!(said.contains("停用"), "{said}");
    let started = Instant::now();
    let worker = tokio::spawn(staffhome::outbox::worker::run(Arc::clone(&ctx)));
    // Every personal notice and the one broadcast.
    while api.calls().len() < before + total + 1 && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    worker.abort();
    (api.calls().len() - before, took)
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

/// Run `run` and note the server's CPU time per request it made.
async fn measured(pid: u32, run: impl std::future::Future<Output = Stats>) -> Stats {
    let before = server::cpu_time(pid);
    let mut stats = run.await;
    if let (Some(before), Some(after)) = (before, server::cpu_time(pid)) {
        stats.cpu_per_request = Some((after - before) / stats.count.max(1) as u32);
    }
    stats
}

/// The run's setting: one HTTP client, the stand-in and the callbacks' signer.
struct Bench {
    args: Args,
    client: reqwest::Client,
    api: SimApi,
    dir: tempfile::TempDir,
    config: staffhome::config::Config,
}

impl Bench {
    async fn server(&self, name: &str, adjust: impl FnOnce(String) -> String) -> Server {
        Server::start(&self.args.server, self.dir.path(), name, self.api.base_url(), &self.client, NOW, adjust).await
    }

    fn member(&self, server: &Server) -> SimMember {
        let wecom = &self.config.wecom;
        let crypto =
            WeComCrypto::new(wecom.token.expose(), wecom.encoding_aes_key.expose(), &wecom.corp_id).expect("crypto");
        SimMember::new(crypto, &wecom.corp_id, wecom.agent_id, &format!("{}/wecom/callback", server.base))
    }

    /// One closed-loop scenario against `server`, with the bookings it made when it books.
    /// `member` signs for every run against this server: its MsgIds must never repeat there.
    async fn scenario(&self, server: &Server, member: &SimMember, name: &'static str) -> Stats {
        let texts = scenarios::scenario(name, self.args.requests, self.args.members);
        let requests = callbacks(member, &format!("{}/wecom/callback", server.base), texts.into_iter());
        let mut run = measured(server.pid(), closed_loop(name, &self.client, requests, self.args.concurrency)).await;
        if name == scenarios::WRITES || name == scenarios::EVERY_ATTEMPT_BOOKS {
            run.booked = Some(server.bookings_made(&scenarios::booker_prefix(name)));
        }
        run
    }

    async fn healthz(&self, server: &Server) -> Stats {
        let get = |n: usize| (0..n).map(|_| Request::Get(format!("{}/healthz", server.base))).collect::<Vec<_>>();
        // Warm up connections and caches.
        closed_loop("warm-up", &self.client, get(2000), self.args.concurrency).await;
        // Three times the requests of a callback run: being so much faster, it would otherwise
        // last a third of a second, and the base of every ratio would be the noisiest figure.
        let requests = get(self.args.requests * 3);
        measured(server.pid(), closed_loop("/healthz", &self.client, requests, self.args.concurrency)).await
    }
}

impl Bench {
    fn wanted(&self, name: &str) -> bool {
        self.args.only.as_deref().is_none_or(|only| only.split(',').any(|part| name.contains(part)))
    }

    /// One round on fresh servers (a rush must find the week empty): /healthz, every scenario
    /// wanted, and the every-attempt-books run on a roomy server of its own. Returns the main
    /// server still running, with the member that signs for it.
    async fn round(&self, r: usize) -> (Round, Server, SimMember) {
        let server = self.server(&format!("bench-{r}"), |c| c).await;
        let member = self.member(&server);
        let healthz = self.healthz(&server).await;
        let mut runs = Vec::new();
        for name in scenarios::SCENARIOS.into_iter().filter(|name| self.wanted(name)) {
            runs.push(self.scenario(&server, &member, name).await);
            let drained = server.outbox_drained().await;
            if self.args.only.is_some() {
                println!("  outbox drained {} ms after the run", drained.as_millis());
            }
        }
        if self.wanted(scenarios::EVERY_ATTEMPT_BOOKS) {
            let roomy_server = self.server(&format!("roomy-{r}"), roomy).await;
            runs.push(self.scenario(&roomy_server, &self.member(&roomy_server), scenarios::EVERY_ATTEMPT_BOOKS).await);
            if self.args.only.is_some() {
                println!("  write-ahead log after the run: {} KiB", roomy_server.wal_bytes() / 1024);
            }
            roomy_server.stop();
        }
        (Round { healthz, runs }, server, member)
    }
}

/// A config whose slots never fill in a run (every capacity at the most the config allows),
/// for the every-attempt-books run.
fn roomy(config: String) -> String {
    config
        .lines()
        .map(|l| if l.starts_with("capacity = ") { "capacity = 1000" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The demo's configuration with secrets of the bench's own (`serve` refuses the demo's
/// published ones).
fn bench_config() -> String {
    staffhome::demo::DEMO_CONFIG
        .replace("demo-secret-not-real", "bench-secret")
        .replace("DemoToken2026", "BenchToken2026")
        .replace("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "BenchKey0123456789abcdefghijklmnopqrstuvwxy")
        .replace("demo-admin-token", "bench-admin-token")
}

async fn run() {
    let args = Args::parse();
    let config = staffhome::config::Config::from_toml(&bench_config(), |_| None).expect("bench config");
    let api = SimApi::start(&config.wecom.corp_id, config.wecom.secret.expose()).expect("stand-in");
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
    let bench = Bench { args, client, api, dir: tempfile::tempdir().expect("dir"), config };
    let rounds_wanted = bench.args.rounds.max(1);
    let (mut rounds, mut peak_rss, mut startup, mut idle_rss) = (Vec::new(), None, Duration::ZERO, None);
    let mut at_rate = None;
    for r in 1..=rounds_wanted {
        let (round, server, member) = bench.round(r).await;
        if bench.args.only.is_some() {
            for run in &round.runs {
                println!("round {r}: {}", run.line(&round.healthz));
            }
            println!("  server peak RSS so far: {} KiB", server.peak_rss_kib().unwrap_or(0));
        } else if r == rounds_wanted {
            // Latency at a steady load, once, on the last round's server.
            let paced = callbacks(
                &member,
                &format!("{}/wecom/callback", server.base),
                scenarios::scenario(scenarios::MIXED, 10_000, bench.args.members)
                    .into_iter()
                    .map(|(user, text)| (format!("p{user}"), text)),
            );
            at_rate = Some(measured(server.pid(), open_loop("mixed at 1,000 req/s", &bench.client, paced, 1000)).await);
        }
        // The worst of the rounds: these are ceilings.
        peak_rss = peak_rss.max(server.peak_rss_kib());
        idle_rss = idle_rss.max(server.idle_rss);
        startup = startup.max(server.startup);
        server.stop();
        rounds.push(round);
    }
    let Some(at_rate) = at_rate else { return };
    let (bookings, first_tick, tick) = tick_benchmark().await;
    let (notices, fanout) = fanout_benchmark().await;

    let summary = |name: &str| report::summarise(name, &rounds);
    let ratio = |name: &str| summary(name).ratio;
    // The median round's ratio, with the range over the rounds.
    let shown = |name: &str| {
        let s = summary(name);
        format!("{:.0}% (rounds {:.0}–{:.0}%)", s.ratio * 100.0, s.lowest * 100.0, s.highest * 100.0)
    };
    let check = |ok: bool| if ok { "met" } else { "MISSED" };
    let rss_mib = peak_rss.unwrap_or(0) as f64 / 1024.0;
    let rush = summary(scenarios::WRITES).run;
    let targets = format!(
        "| target | measured | |\n|---|---|---|\n\
         | reads ≥ 50% of /healthz | {} | {} |\n\
         | bookings ≥ 25% of /healthz: a rush, most attempts find the slot full ({} of {} booked) | {} | {} |\n\
         | bookings ≥ 20% of /healthz: every attempt books (issue 21: a little speed traded for one booking path) | {} | {} |\n\
         | mixed ≥ 35% of /healthz | {} | {} |\n\
         | p99 < 10 ms at 1,000 req/s | {} ms | {} |\n\
         | server peak RSS < 64 MiB | {rss_mib:.1} MiB (idle {:.1} MiB) | {} |\n\
         | start-up < 0.5 s | {} ms | {} |\n\
         | one tick over {bookings} bookings < 100 ms | {} ms (first pass, sending what is due: {} ms) | {} |\n\
         | a stop-use's 1,000 personal notices, WeCom answering each call in 100 ms: all sent < 10 s | {notices} calls in {:.1} s | {} |\n",
        shown(scenarios::READS),
        check(ratio(scenarios::READS) >= 0.5),
        rush.booked.unwrap_or(0),
        rush.count,
        shown(scenarios::WRITES),
        check(ratio(scenarios::WRITES) >= 0.25),
        shown(scenarios::EVERY_ATTEMPT_BOOKS),
        check(ratio(scenarios::EVERY_ATTEMPT_BOOKS) >= 0.20),
        shown(scenarios::MIXED),
        check(ratio(scenarios::MIXED) >= 0.35),
        ms(at_rate.p99),
        check(at_rate.p99 < Duration::from_millis(10)),
        idle_rss.unwrap_or(0) as f64 / 1024.0,
        check(rss_mib < 64.0),
        ms(startup),
        check(startup < Duration::from_millis(500)),
        ms(tick),
        ms(first_tick),
        check(tick < Duration::from_millis(100)),
        fanout.as_secs_f64(),
        check(notices > 1000 && fanout < Duration::from_secs(10)),
    );
    let table = report::table(&rounds, &at_rate);
    println!("{table}\n{targets}");
    if let Some(out) = &bench.args.out {
        let (cpu, cores, date, commit) = report::provenance();
        let (n, c, rounds) = (bench.args.requests, bench.args.concurrency, rounds.len());
        let body = format!(
            "Measured by `scripts/bench.sh` (release build, `examples/loadgen/`): the load generator, the \
             WeCom stand-in and the server share one machine over loopback, so the ratios to `/healthz` of the same run are \
             what compares across machines.\n\n- machine: {cpu}, {cores} cores\n- date: {date}\n- commit: {commit}\n\
             - {rounds} rounds, each on fresh servers: /healthz, then every scenario; each row is the round with the \
             median ratio to its own /healthz, with the range over the rounds\n\
             - {n} requests per closed-loop run at concurrency {c}; every callback signed, encrypted and verified; \
             unique MsgIds; questions from {} members, each booking attempt from a member of its own\n\
             - the every-attempt-books run has a server of its own whose capacities are raised so that no slot fills\n\
             - after each run the bench waits until the server's outbox is empty, so that no run pays for the messages \
             an earlier one queued (the rush's pass messages take about half a second more)\n\n\
             {table}\n## Targets\n\n{targets}",
            bench.args.members
        );
        report::write_results(out, &body).expect("write report");
        println!("wrote {}", out.display());
    }
}
