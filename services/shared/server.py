"""Start a service process: config, metrics, database and migrations, JetStream, gRPC, workers.

The metrics port serves /metrics, /healthz and /readyz (services/shared/probes.py); /readyz is
200 exactly when the gRPC health service answers SERVING.

Shutdown on SIGTERM/SIGINT: health goes NOT_SERVING, the server stops accepting calls and lets the
ones in flight finish (up to the grace period), background workers stop, the outbox relay publishes
what is left, and connections close. Nothing accepted is lost.
"""

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.shared.config import ConfigError, load_config, require, require_event_loop
from services.shared.database import STATEMENT_TIMEOUT_MS, check_collation, create_pool
from services.shared.interceptors import ServiceInterceptor, streaming_methods
from services.shared.jetstream import (
    DEAD_LETTER_STREAM,
    FETCH_WAIT_MAX_MS,
    FETCH_WAIT_MIN_MS,
    STREAM_REPLICAS_MAX,
    JetStream,
    StreamSpec,
    server_urls,
)
from services.shared.logs import configure_logging
from services.shared.metrics import Metrics
from services.shared.migrations import apply_migrations
from services.shared.outbox import Outbox, OutboxRelay
from services.shared.probes import NOT_SERVING, SERVING, ProbeServer, ProcessHealth, serve_probes

logger = logging.getLogger(__name__)

PLUMBING_MIGRATIONS = Path(__file__).parent / "migrations"
WORKER_RESTART_DELAY_FIRST_S = 0.5
WORKER_RESTART_DELAY_MAX_S = 30.0
MESSAGE_SIZE_MAX_BYTES = 64 * 1024 * 1024
CONNECTION_AGE_MAX_MS = 300_000
# As sysexits' EX_CONFIG: the process cannot start as configured; restarting will not help.
EXIT_CONFIG_ERROR = 78


SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MESSAGE_SIZE_MAX_BYTES),
    # Callers reconnect (and so re-resolve the service's pods) every few minutes, so replicas
    # added by the autoscaler get calls; calls in flight finish first.
    ("grpc.max_connection_age_ms", CONNECTION_AGE_MAX_MS),
    # gRPC binds with SO_REUSEPORT by default: a second server on a taken port would silently
    # share its calls (a test saw CreateRule answered "Method not found" by another service).
    # A taken port must fail the start instead.
    ("grpc.so_reuseport", 0),
]


@dataclass(frozen=True, kw_only=True)
class ProcessConfig:
    """What every service process reads; a service's own config extends it."""

    database_url: str
    # One server, or a cluster's servers comma-separated (the client fails over between them).
    nats_url: str
    nats_namespace: str = "loyalty"
    # Servers each stream is replicated on: 1 for a single server, 3 (or 5) in a cluster.
    nats_stream_replicas: int = 1
    # How long a publish waits for the stream's ack before the outbox relay retries it.
    nats_publish_timeout_ms: int = 5_000
    # How long a consumer's pull waits for messages before it asks again: the most a consumer
    # takes to notice a shutdown, against one pull request per consumer this often when idle.
    nats_fetch_wait_ms: int = 1_000
    grpc_address: str = "127.0.0.1:50051"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9100
    pool_size_max: int = 10
    deadline_ms: int = 10_000
    # The deadline of the service's administrative calls (ServiceSpec.admin_methods), whose work
    # grows with a program; every other unary call keeps `deadline_ms`.
    admin_deadline_ms: int = 600_000
    shutdown_grace_ms: int = 20_000
    log_level: str = "INFO"
    # "uvloop" or "asyncio" (the standard library's, should uvloop ever misbehave).
    event_loop: str = "uvloop"


@dataclass
class Runtime:
    """What a service's setup receives: its config and the connections it may use."""

    name: str
    config: Any
    pool: asyncpg.Pool
    jetstream: JetStream
    outbox: Outbox
    metrics: Metrics


Worker = Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class Application:
    """What a service's setup returns: how to register its servicers, and its background workers."""

    register: Callable[[grpc.aio.Server], None]
    workers: dict[str, Worker] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    # Service descriptors (e.g. ledger_pb2.DESCRIPTOR.services_by_name["LedgerService"]).
    descriptors: tuple[Any, ...]
    migrations: Path
    streams: tuple[StreamSpec, ...]
    setup: Callable[[Runtime], Awaitable[Application]]
    # `/package.Service/Method` names of the administrative unary calls that get
    # `admin_deadline_ms` rather than `deadline_ms`.
    admin_methods: frozenset[str] = frozenset()

    def method_deadlines_ms(self, config: ProcessConfig) -> dict[str, int]:
        return {method: config.admin_deadline_ms for method in self.admin_methods}

    @property
    def schema(self) -> str:
        return self.name


async def apply_plumbing_migrations(connection: asyncpg.Connection, schema: str) -> int:
    """The tables every service's schema has (outbox, idempotency keys, ...); returns how many
    migrations were applied."""
    return await apply_migrations(
        connection, schema=schema, directory=PLUMBING_MIGRATIONS, table="plumbing_migrations"
    )


async def migrate(pool_or_connection: asyncpg.Pool | asyncpg.Connection, spec: ServiceSpec) -> None:
    async with contextlib.AsyncExitStack() as stack:
        connection = pool_or_connection
        if isinstance(pool_or_connection, asyncpg.Pool):
            connection = await stack.enter_async_context(pool_or_connection.acquire())
        await apply_plumbing_migrations(connection, spec.schema)
        await apply_migrations(connection, schema=spec.schema, directory=spec.migrations)


T = TypeVar("T", bound=ProcessConfig)


def check_process_config(config: ProcessConfig, *, prefix: str) -> None:
    """Range checks on the fields every service shares (a service's `validate` has its own)."""
    try:
        server_urls(config.nats_url)
    except ValueError as error:
        raise ConfigError(f"{prefix}_NATS_URL", str(error)) from None
    require(
        1 <= config.nats_stream_replicas <= STREAM_REPLICAS_MAX,
        variable=f"{prefix}_NATS_STREAM_REPLICAS",
        message=f"must be 1 to {STREAM_REPLICAS_MAX}",
    )
    require(
        FETCH_WAIT_MIN_MS <= config.nats_fetch_wait_ms <= FETCH_WAIT_MAX_MS,
        variable=f"{prefix}_NATS_FETCH_WAIT_MS",
        message=f"must be {FETCH_WAIT_MIN_MS} to {FETCH_WAIT_MAX_MS}",
    )
    require(config.deadline_ms >= 1, variable=f"{prefix}_DEADLINE_MS", message="must be at least 1")
    require(
        config.admin_deadline_ms >= config.deadline_ms,
        variable=f"{prefix}_ADMIN_DEADLINE_MS",
        message=f"must be at least {prefix}_DEADLINE_MS ({config.deadline_ms})",
    )
    require_event_loop(config.event_loop, variable=f"{prefix}_EVENT_LOOP")


class RunningService:
    """A started service: `start` brings it up, `shutdown` takes it down losing nothing."""

    def __init__(self, spec: ServiceSpec, config: ProcessConfig) -> None:
        self.spec = spec
        self.config = config
        self.metrics = Metrics.create()
        self.health = ProcessHealth(self.names)
        self._probes: ProbeServer | None = None
        self._stop_workers = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def metrics_port(self) -> int:
        """The metrics port being served: the configured one, or the one the system chose for
        a configured 0 (as tests start services, so no other process can take it first)."""
        return self._probes.port if self._probes is not None else self.config.metrics_port

    @property
    def names(self) -> list[str]:
        return [descriptor.full_name for descriptor in self.spec.descriptors]

    async def start(self, *, serve_metrics: bool = True) -> None:
        spec, config = self.spec, self.config
        if serve_metrics:
            # First: /healthz answers, and /readyz says "starting", through the migrations.
            self._probes = serve_probes(
                self.metrics.registry,
                self.health,
                host=config.metrics_host,
                port=config.metrics_port,
            )
        method_deadlines_ms = spec.method_deadlines_ms(config)
        self.pool = await create_pool(
            config.database_url,
            schema=spec.schema,
            size_max=config.pool_size_max,
            # A call's statements run as long as the call may (database.bound_to_call); the rest
            # keep the default guard, or the service's deadline when that is longer.
            statement_timeout_ms=max(STATEMENT_TIMEOUT_MS, config.deadline_ms),
            longest_statement_ms=max(method_deadlines_ms.values(), default=None),
        )
        async with self.pool.acquire() as connection:
            await check_collation(connection)
        await migrate(self.pool, spec)
        self.jetstream = await JetStream.connect(
            config.nats_url,
            namespace=config.nats_namespace,
            client_name=f"loyalty-{spec.name}",
            publish_timeout_s=config.nats_publish_timeout_ms / 1000,
            stream_replicas=config.nats_stream_replicas,
            fetch_wait_s=config.nats_fetch_wait_ms / 1000,
            metrics=self.metrics,
            service=spec.name,
        )
        for stream in (DEAD_LETTER_STREAM, *spec.streams):
            await self.jetstream.declare_stream(stream)
        outbox = Outbox(
            schema=spec.schema, producer=spec.name, jetstream_namespace=config.nats_namespace
        )
        self.runtime = Runtime(spec.name, config, self.pool, self.jetstream, outbox, self.metrics)
        application = await spec.setup(self.runtime)
        self.relay = OutboxRelay(
            pool=self.pool,
            jetstream=self.jetstream,
            schema=spec.schema,
            metrics=self.metrics,
            service=spec.name,
        )
        self.interceptor = ServiceInterceptor(
            service=spec.name,
            metrics=self.metrics,
            deadline_ms=config.deadline_ms,
            streaming_methods=streaming_methods(*spec.descriptors),
            method_deadlines_ms=method_deadlines_ms,
        )
        self.server = grpc.aio.server(
            interceptors=[self.interceptor],
            options=SERVER_OPTIONS,
        )
        application.register(self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health.servicer, self.server)
        reflection.enable_server_reflection(
            [*self.names, health.SERVICE_NAME, reflection.SERVICE_NAME], self.server
        )
        self.port = self.server.add_insecure_port(config.grpc_address)
        await self.server.start()
        await self.health.set(SERVING, reason="serving")
        workers = {"outbox_relay": self.relay.run, **application.workers}
        self._tasks = [
            asyncio.create_task(
                _supervise(name, work, self._stop_workers, self.metrics, spec.name), name=name
            )
            for name, work in workers.items()
        ]
        logger.info(
            "serving %s on %s, metrics on %s:%d",
            spec.name,
            config.grpc_address,
            config.metrics_host,
            self.metrics_port,
        )

    async def shutdown(self) -> None:
        grace_s = self.config.shutdown_grace_ms / 1000
        logger.info("shutting down: finishing calls in flight")
        await self.health.set(NOT_SERVING, reason="draining: shutting down")
        await self.server.stop(grace_s)
        if not await self.interceptor.wait_idle(timeout_s=grace_s):
            logger.error(
                "%d calls still running after the grace period", self.interceptor.in_flight
            )
        self._stop_workers.set()
        await asyncio.wait(self._tasks, timeout=grace_s)
        if not await self.relay.flush(timeout_s=grace_s):
            logger.error("outbox not fully published at shutdown; it will be on the next start")
        await self.jetstream.close()
        await self.pool.close()
        if self._probes is not None:
            await asyncio.to_thread(self._probes.close)
        logger.info("stopped")


async def serve(spec: ServiceSpec, config: ProcessConfig) -> None:
    service = RunningService(spec, config)
    await service.start()
    await _wait_for_signal()
    await service.shutdown()


async def _supervise(
    name: str, work: Worker, stop: asyncio.Event, metrics: Metrics, service: str
) -> None:
    """Run a background worker until stop, restarting it with a growing delay if it fails."""
    metrics.expect_job(service, name, outcomes=("crashed",))
    delay_s = WORKER_RESTART_DELAY_FIRST_S
    while not stop.is_set():
        started_at = time.monotonic()
        try:
            await work(stop)
            return
        except Exception:
            if time.monotonic() - started_at > WORKER_RESTART_DELAY_MAX_S:
                # It ran well for a while before this failure: a new outage, short delays again.
                delay_s = WORKER_RESTART_DELAY_FIRST_S
            metrics.job_runs.labels(service, name, "crashed").inc()
            logger.exception("worker %s failed; restarting in %.1fs", name, delay_s)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay_s)
            delay_s = min(delay_s * 2, WORKER_RESTART_DELAY_MAX_S)


async def _wait_for_signal() -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()


def main(spec: ServiceSpec, config_class: type[T]) -> None:
    """The body of a service's `__main__`: read config from `<NAME>_*` variables and serve."""
    try:
        config = load_config(config_class, prefix=spec.name.upper())
        check_process_config(config, prefix=spec.name.upper())
    except ConfigError as error:
        print(f"{spec.name}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
    configure_logging(spec.name, level=config.log_level)
    run_on_event_loop(serve(spec, config), config.event_loop)


def run_on_event_loop(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """`asyncio.run(main)` on the named loop. uvloop does a service's socket work in C: a
    PostgreSQL round trip costs asyncpg about 45 µs of CPU on it against 95 on asyncio's loop, and
    grpc.aio's calls less too (their completions reach the loop through a socket)."""
    if event_loop == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)
