//! Prometheus metrics: callbacks by kind and outcome, rejections by reason, latency, outbox.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallbackLabels {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms … ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    pub callbacks: Family<CallbackLabels, Counter>,
    pub rejected: Family<ReasonLabels, Counter>,
    pub latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub outbox_rows: Family<StateLabels, Gauge>,
    pub outbox_sent: Counter,
    pub outbox_retried: Counter,
    pub outbox_failed: Counter,
    /// Light messages held to the next day by the send budget.
    pub deferred_for_budget: Counter,
    /// The day's budget and what was sent of it (set when /metrics is read).
    pub budget: Gauge,
    pub sent_today: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("staffhome");
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register("callbacks", "Callbacks handled, by kind and outcome", callbacks.clone());
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register("callbacks_rejected", "Callbacks refused, by reason", rejected.clone());
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("request_seconds", "Request latency by route", latency.clone());
        let outbox_rows = Family::<StateLabels, Gauge>::default();
        registry.register(
            "outbox_rows",
            "Outbox messages waiting (pending: the depth) and given up on (failed, kept database.keep_days)",
            outbox_rows.clone(),
        );
        let outbox_sent = Counter::default();
        registry.register("outbox_sent", "Outbox messages delivered", outbox_sent.clone());
        let outbox_retried = Counter::default();
        registry.register("outbox_retried", "Outbox deliveries that will be retried", outbox_retried.clone());
        let outbox_failed = Counter::default();
        registry.register("outbox_failed", "Outbox messages given up on", outbox_failed.clone());
        let deferred_for_budget = Counter::default();
        registry.register(
            "outbox_deferred_for_budget",
            "Light messages held to the next day by wecom.daily_message_budget",
            deferred_for_budget.clone(),
        );
        let budget = Gauge::default();
        registry.register(
            "message_budget",
            "App messages a day (wecom.daily_message_budget; 0: unlimited)",
            budget.clone(),
        );
        let sent_today = Gauge::default();
        registry.register("messages_sent_today", "App messages sent today (local day)", sent_today.clone());
        Metrics {
            registry,
            callbacks,
            rejected,
            latency,
            outbox_rows,
            outbox_sent,
            outbox_retried,
            outbox_failed,
            deferred_for_budget,
            budget,
            sent_today,
        }
    }

    pub fn callback(&self, kind: &str, outcome: &str) {
        self.callbacks.get_or_create(&CallbackLabels { kind: kind.into(), outcome: outcome.into() }).inc();
    }

    pub fn reject(&self, reason: &str) {
        self.rejected.get_or_create(&ReasonLabels { reason: reason.into() }).inc();
    }

    pub fn observe(&self, route: &str, seconds: f64) {
        self.latency.get_or_create(&RouteLabels { route: route.into() }).observe(seconds);
    }

    pub fn set_outbox_rows(&self, state: &str, rows: i64) {
        self.outbox_rows.get_or_create(&StateLabels { state: state.into() }).set(rows);
    }

    /// The OpenMetrics text of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
