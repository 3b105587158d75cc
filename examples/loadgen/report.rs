//! Figures of a run and the Markdown written to BENCHMARKS.md.

use std::path::Path;
use std::time::Duration;

pub struct Stats {
    pub name: &'static str,
    pub count: usize,
    pub errors: usize,
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Server CPU time (user + system) per request: steadier than req/s on a shared machine.
    pub cpu_per_request: Option<Duration>,
    /// For booking runs: how many attempts became bookings.
    pub booked: Option<i64>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

impl Stats {
    pub fn new(name: &'static str, mut latencies: Vec<Duration>, errors: usize, elapsed: Duration) -> Stats {
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
            booked: None,
        }
    }

    /// One line for `--only` runs.
    pub fn line(&self, healthz: &Stats) -> String {
        let mut booked = self.booked.map_or(String::new(), |b| format!(", {b} of {} attempts booked", self.count));
        if self.errors > 0 {
            booked.push_str(&format!(", {} ERRORS", self.errors));
        }
        format!(
            "{}: {:.0} req/s ({:.0}% of /healthz), p99 {} ms, server CPU {} µs per request (/healthz {}){booked}",
            self.name,
            self.rps,
            self.rps / healthz.rps * 100.0,
            ms(self.p99),
            us(self.cpu_per_request),
            us(healthz.cpu_per_request)
        )
    }
}

pub fn us(d: Option<Duration>) -> String {
    d.map_or("?".to_string(), |d| format!("{:.0}", d.as_secs_f64() * 1e6))
}

pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// One round: /healthz, then the callback runs, on the same fresh server.
pub struct Round {
    pub healthz: Stats,
    pub runs: Vec<Stats>,
}

impl Round {
    fn get(&self, name: &str) -> Option<&Stats> {
        std::iter::once(&self.healthz).chain(&self.runs).find(|s| s.name == name)
    }
}

/// A run over the rounds: the round with the median ratio to its own /healthz stands for it.
pub struct Summary<'a> {
    pub run: &'a Stats,
    pub ratio: f64,
    pub lowest: f64,
    pub highest: f64,
}

/// `name`'s median round (by ratio to the same round's /healthz; /healthz itself by req/s).
pub fn summarise<'a>(name: &str, rounds: &'a [Round]) -> Summary<'a> {
    let mut seen: Vec<(f64, &Stats)> =
        rounds.iter().filter_map(|round| round.get(name).map(|run| (run.rps / round.healthz.rps, run))).collect();
    if name == "/healthz" {
        seen.sort_by(|a, b| a.1.rps.total_cmp(&b.1.rps));
    } else {
        seen.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    assert!(!seen.is_empty(), "no round ran {name}");
    let (ratio, run) = seen[(seen.len() - 1) / 2];
    let (lowest, highest) = seen.iter().fold((f64::MAX, f64::MIN), |(lo, hi), (r, _)| (lo.min(*r), hi.max(*r)));
    Summary { run, ratio, lowest, highest }
}

/// The results table: each run's median round, its ratio to /healthz and the range over the
/// rounds; then the paced run, whose rate is set, not measured.
pub fn table(rounds: &[Round], paced: &Stats) -> String {
    let mut out = String::from(
        "| run | requests | errors | req/s | ratio to /healthz | range over rounds | p50 ms | p99 ms | max ms | server CPU µs/request | booked |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let names = rounds.first().map(|r| std::iter::once(&r.healthz).chain(&r.runs).map(|s| s.name).collect::<Vec<_>>());
    for name in names.unwrap_or_default() {
        let summary = summarise(name, rounds);
        let range = format!("{:.0}–{:.0}%", summary.lowest * 100.0, summary.highest * 100.0);
        out.push_str(&row(summary.run, &format!("{:.0}%", summary.ratio * 100.0), &range));
    }
    out.push_str(&row(paced, "–", "–"));
    out
}

fn row(s: &Stats, ratio: &str, range: &str) -> String {
    format!(
        "| {} | {} | {} | {:.0} | {ratio} | {range} | {} | {} | {} | {} | {} |\n",
        s.name,
        s.count,
        s.errors,
        s.rps,
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        us(s.cpu_per_request),
        s.booked.map_or("".to_string(), |b| b.to_string())
    )
}

/// Replace the results block of `out` (or start the file): notes written around the block
/// (profiling, before and after) stay.
pub fn write_results(out: &Path, body: &str) -> std::io::Result<()> {
    let block = format!("<!-- results -->\n{body}<!-- /results -->\n");
    let text = match std::fs::read_to_string(out) {
        Ok(old) if old.contains("<!-- results -->") && old.contains("<!-- /results -->") => {
            let start = old.find("<!-- results -->").unwrap_or(0);
            let end = old.find("<!-- /results -->").map_or(old.len(), |e| e + "<!-- /results -->\n".len());
            format!("{}{block}{}", &old[..start], old.get(end..).unwrap_or(""))
        }
        _ => format!("# Benchmarks\n\n{block}"),
    };
    std::fs::write(out, text)
}

/// The machine, date and commit, for the report's header.
pub fn provenance() -> (String, usize, String, String) {
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
    (cpu, cores, chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(), commit)
}
