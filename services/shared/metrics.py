"""Prometheus metrics shared by every service process, served on the process's own port."""

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    grpc_requests: Counter
    grpc_latency: Histogram
    outbox_published: Counter
    outbox_publish_failures: Counter
    outbox_backlog: Gauge
    consumer_messages: Counter
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
            consumer_messages=Counter(
                "loyalty_consumer_messages",
                "JetStream messages handled by durable consumers, by outcome.",
                ["service", "consumer", "outcome"],
                registry=registry,
            ),
            job_runs=Counter(
                "loyalty_scheduled_job_runs",
                "Scheduled job runs, by job and outcome.",
                ["service", "job", "outcome"],
                registry=registry,
            ),
        )

    def serve(self, *, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)
