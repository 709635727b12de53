"""Prometheus metrics shared by every service process, served on the process's own port
(services/shared/probes.py)."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Outcomes of scheduled jobs and background workers (loyalty_scheduled_job_runs_total).
JOB_OUTCOMES = ("ok", "failed", "crashed")
CONSUMER_OUTCOMES = ("acked", "retried", "dead_lettered")
# Outcomes of deleting an erased member's message from JetStream (loyalty_stream_erasures_total):
# deleted, found gone already (aged out, or deleted by an earlier try), or failed (tried again).
STREAM_ERASURE_OUTCOMES = ("deleted", "gone", "failed")
# The latencies the alerts name (p99 over 1 s for gRPC, over 2 s for HTTP) are bounds: between
# two bounds histogram_quantile only interpolates, and an alert there fires on a guess.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    grpc_requests: Counter
    grpc_latency: Histogram
    outbox_published: Counter
    outbox_publish_failures: Counter
    outbox_backlog: Gauge
    outbox_oldest_pending_age: Gauge
    stream_erasures: Counter
    stream_erasures_pending: Gauge
    stream_erasure_oldest_age: Gauge
    consumer_messages: Counter
    consumer_pending: Gauge
    job_runs: Counter

    @classmethod
    def create(cls) -> "Metrics":
        # A registry per process object: tests start several services in one interpreter.
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            grpc_requests=Counter(
                "loyalty_grpc_requests",
                "gRPC requests served, by method and status code.",
                ["service", "method", "code"],
                registry=registry,
            ),
            grpc_latency=Histogram(
                "loyalty_grpc_request_duration_seconds",
                "gRPC request latency, by method.",
                ["service", "method"],
                buckets=LATENCY_BUCKETS_S,
                registry=registry,
            ),
            outbox_published=Counter(
                "loyalty_outbox_published_events",
                "Events the outbox relay published to JetStream.",
                ["service"],
                registry=registry,
            ),
            outbox_publish_failures=Counter(
                "loyalty_outbox_publish_failures",
                "Failed attempts of the outbox relay to publish (retried).",
                ["service"],
                registry=registry,
            ),
            outbox_backlog=Gauge(
                "loyalty_outbox_backlog_events",
                "Events written to the outbox and not yet published.",
                ["service"],
                registry=registry,
            ),
            outbox_oldest_pending_age=Gauge(
                "loyalty_outbox_oldest_pending_age_seconds",
                "Age of the oldest event not yet published (0 when none is waiting).",
                ["service"],
                registry=registry,
            ),
            stream_erasures=Counter(
                "loyalty_stream_erasures",
                "Messages with an erased member's personal data the relay worked on, by outcome.",
                ["service", "outcome"],
                registry=registry,
            ),
            stream_erasures_pending=Gauge(
                "loyalty_stream_erasures_pending_messages",
                "Messages with an erased member's personal data still to delete from JetStream.",
                ["service"],
                registry=registry,
            ),
            stream_erasure_oldest_age=Gauge(
                "loyalty_stream_erasure_oldest_age_seconds",
                "Age of the oldest deletion from JetStream an erasure asked for and still waiting "
                "(0 when none is).",
                ["service"],
                registry=registry,
            ),
            consumer_messages=Counter(
                "loyalty_consumer_messages",
                "JetStream messages handled by durable consumers, by outcome.",
                ["service", "consumer", "outcome"],
                registry=registry,
            ),
            consumer_pending=Gauge(
                "loyalty_consumer_pending_messages",
                "Messages in the stream not yet delivered to the durable consumer (its lag), "
                "as of the consumer's last pull.",
                ["service", "consumer"],
                registry=registry,
            ),
            # Not `job`: Prometheus sets `job` to the scrape job on every series and renames a
            # process's own to exported_job, so rules by `job` would name loyalty-<service>.
            job_runs=Counter(
                "loyalty_scheduled_job_runs",
                "Scheduled job runs, by job and outcome.",
                ["service", "scheduled_job", "outcome"],
                registry=registry,
            ),
        )

    # The expect_* methods export labelled counters at zero before anything happens: a series'
    # first sample is invisible to increase() and rate(), so an alert on a counter that appears
    # at 1 would miss that first failure or dead letter (one alone would never fire it).

    def expect_job(
        self, service: str, job: str, *, outcomes: tuple[str, ...] = JOB_OUTCOMES
    ) -> None:
        for outcome in outcomes:
            self.job_runs.labels(service, job, outcome)

    def expect_consumer(self, service: str, consumer: str) -> None:
        for outcome in CONSUMER_OUTCOMES:
            self.consumer_messages.labels(service, consumer, outcome)

    def expect_outbox(self, service: str) -> None:
        self.outbox_published.labels(service)
        self.outbox_publish_failures.labels(service)
        for outcome in STREAM_ERASURE_OUTCOMES:
            self.stream_erasures.labels(service, outcome)
        self.stream_erasures_pending.labels(service)
        self.stream_erasure_oldest_age.labels(service)
