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

/// The results table: one row per run, ratios against the first (/healthz).
pub fn table(runs: &[&Stats]) -> String {
    let healthz = runs.first().map_or(1.0, |h| h.rps);
    let mut out = String::from(
        "| run | requests | errors | req/s | ratio to /healthz | p50 ms | p99 ms | max ms | server CPU µs/request | booked |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for s in runs {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.0}% | {} | {} | {} | {} | {} |\n",
            s.name,
            s.count,
            s.errors,
            s.rps,
            s.rps / healthz * 100.0,
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            us(s.cpu_per_request),
            s.booked.map_or("".to_string(), |b| b.to_string())
        ));
    }
    out
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
