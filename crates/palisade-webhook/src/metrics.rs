//! Prometheus metrics: requests, decisions by rule, latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

// Static label values: no allocation on the request path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub webhook: &'static str,
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    pub webhook: &'static str,
    pub decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabels {
    pub rule: &'static str,
    pub mode: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok`, or `error` when the changed files did not compile (the old policies stay).
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    pub webhook: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs to about 1.6 s.
    Histogram::new(exponential_buckets(0.00005, 2.0, 16))
}

#[derive(Debug)]
pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub decisions: Family<DecisionLabels, Counter>,
    pub violations: Family<RuleLabels, Counter>,
    pub latency: Family<WebhookLabels, Histogram, fn() -> Histogram>,
    pub tls_reloads: Counter,
    pub policy_reloads: Family<ReloadLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("palisade_webhook");
        let requests = Family::<RequestLabels, Counter>::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let violations = Family::<RuleLabels, Counter>::default();
        let latency = Family::<WebhookLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let tls_reloads = Counter::default();
        let policy_reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "requests",
            "Admission HTTP requests by webhook and status code",
            requests.clone(),
        );
        registry.register(
            "decisions",
            "Admission decisions by webhook (allow, deny, patch)",
            decisions.clone(),
        );
        registry.register(
            "rule_violations",
            "Checks and rules that fired, by rule and mode",
            violations.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer an admission request",
            latency.clone(),
        );
        registry.register(
            "tls_reloads",
            "Serving certificate reloads",
            tls_reloads.clone(),
        );
        registry.register(
            "policy_reloads",
            "Custom policy reloads after a file changed, by outcome (ok, error: old policies kept)",
            policy_reloads.clone(),
        );
        Self {
            registry,
            requests,
            decisions,
            violations,
            latency,
            tls_reloads,
            policy_reloads,
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
