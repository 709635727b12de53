"""Prometheus metrics of segments and experiments, registered on the process's registry."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

COMPUTATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass(frozen=True)
class InsightMetrics:
    segment_computation: Histogram
    segment_members: Gauge
    segment_changes: Counter
    experiment_assignments: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> "InsightMetrics":
        return cls(
            segment_computation=Histogram(
                "loyalty_segment_computation_duration_seconds",
                "Time to compute segment membership, full or for changed members.",
                ["program", "mode"],
                buckets=COMPUTATION_BUCKETS_S,
                registry=registry,
            ),
            segment_members=Gauge(
                "loyalty_segment_members",
                "Members in a segment after its last computation.",
                ["program", "segment"],
                registry=registry,
            ),
            segment_changes=Counter(
                "loyalty_segment_membership_changes",
                "Members who joined or left segments.",
                ["program", "change"],
                registry=registry,
            ),
            experiment_assignments=Counter(
                "loyalty_experiment_assignments",
                "Experiment assignments answered, by arm ('' for members outside the experiment).",
                ["program", "experiment", "arm"],
                registry=registry,
            ),
        )
