//! Prometheus metrics (`palisade_controller_*`): reconciles by result, errors by operation,
//! drift repairs by kind, reconcile duration, objects applied and deleted, leadership.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<ResultLabels, Counter>,
    pub errors: Family<OperationLabels, Counter>,
    pub drift_repairs: Family<KindLabels, Counter>,
    pub applied: Counter,
    pub deleted: Counter,
    pub kept_namespaces: Gauge,
    pub duration: Histogram,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("palisade_controller");
        let metrics = Metrics {
            reconciles: Family::default(),
            errors: Family::default(),
            drift_repairs: Family::default(),
            applied: Counter::default(),
            deleted: Counter::default(),
            kept_namespaces: Gauge::default(),
            // 5 ms to about 80 s.
            duration: Histogram::new(exponential_buckets(0.005, 2.0, 15)),
            leader: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "reconciles",
            "Reconcile loops by result (ok, error)",
            metrics.reconciles.clone(),
        );
        registry.register(
            "errors",
            "Failed API operations by operation (list, apply, delete, status, event, lease, watch)",
            metrics.errors.clone(),
        );
        registry.register(
            "drift_repairs",
            "Managed objects deleted or edited behind the controller's back and restored, by kind",
            metrics.drift_repairs.clone(),
        );
        registry.register(
            "objects_applied",
            "Objects applied (server-side apply)",
            metrics.applied.clone(),
        );
        registry.register(
            "objects_deleted",
            "Managed objects deleted",
            metrics.deleted.clone(),
        );
        registry.register(
            "kept_namespaces",
            "Namespaces kept although no Team wants them, because they hold workloads",
            metrics.kept_namespaces.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time of one reconcile loop",
            metrics.duration.clone(),
        );
        registry.register(
            "leader",
            "1 while this instance holds the lease",
            metrics.leader.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    pub fn reconcile(&self, result: &'static str) {
        self.reconciles
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    pub fn error(&self, operation: &'static str) {
        self.errors
            .get_or_create(&OperationLabels { operation })
            .inc();
    }

    pub fn drift(&self, kind: &str) {
        self.drift_repairs
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_named_and_counted() {
        let m = Metrics::new();
        m.reconcile("ok");
        m.error("apply");
        m.drift("NetworkPolicy");
        m.duration.observe(0.01);
        let text = m.encode();
        for line in [
            "palisade_controller_reconciles_total{result=\"ok\"} 1",
            "palisade_controller_errors_total{operation=\"apply\"} 1",
            "palisade_controller_drift_repairs_total{kind=\"NetworkPolicy\"} 1",
            "palisade_controller_reconcile_duration_seconds_count 1",
            "palisade_controller_leader 0",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
