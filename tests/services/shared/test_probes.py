"""The metrics port of a service: /readyz says what the gRPC health service says (starting,
serving, draining), /healthz answers while the process runs, /metrics is scraped, and any other
path is 404. A real service on the test's PostgreSQL and NATS, with a worker that the test holds
to keep it starting or draining."""

import asyncio
import urllib.error
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.servers import free_port
from services.shared.probes import NOT_SERVING, SERVING
from services.shared.server import (
    Application,
    ProcessConfig,
    RunningService,
    Runtime,
    ServiceSpec,
)
from tests.conftest import Servers
from tests.support.http_probes import get, probe


async def grpc_health(service: RunningService) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=5
        )
    return int(response.status)


@dataclass
class Gates:
    """Where the test holds the service: in its setup, and in a worker's stop at shutdown."""

    in_setup: asyncio.Event = field(default_factory=asyncio.Event)
    finish_setup: asyncio.Event = field(default_factory=asyncio.Event)
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    finish_draining: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Held:
    service: RunningService
    gates: Gates
    starting: asyncio.Task[None]
    stopping: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.service.config.metrics_port

    async def serving(self) -> None:
        """Let the start finish."""
        self.gates.finish_setup.set()
        await asyncio.wait_for(self.starting, 30)

    def shut_down(self) -> asyncio.Task[None]:
        self.stopping = asyncio.create_task(self.service.shutdown())
        return self.stopping


@pytest.fixture
async def held(
    servers: Servers, database_url: str, nats_namespace: str, tmp_path: Path
) -> AsyncIterator[Held]:
    """A service starting in a task (its setup waits for `finish_setup`)."""
    gates = Gates()

    async def slow_to_stop(stop: asyncio.Event) -> None:
        await stop.wait()
        gates.draining.set()
        await gates.finish_draining.wait()

    async def setup(runtime: Runtime) -> Application:
        gates.in_setup.set()
        await gates.finish_setup.wait()
        return Application(register=lambda server: None, workers={"slow_to_stop": slow_to_stop})

    spec = ServiceSpec(name="probed", descriptors=(), migrations=tmp_path, streams=(), setup=setup)
    config = ProcessConfig(
        database_url=database_url,
        nats_url=servers.nats_url,
        nats_namespace=nats_namespace,
        grpc_address="127.0.0.1:0",
        metrics_port=free_port(),
        shutdown_grace_ms=10_000,
        nats_fetch_wait_ms=100,
    )
    service = RunningService(spec, config)
    starting = asyncio.create_task(service.start())
    held = Held(service, gates, starting)
    try:
        yield held
    finally:
        gates.finish_setup.set()
        gates.finish_draining.set()
        await starting
        await (held.stopping or held.shut_down())


async def test_readyz_is_503_while_starting_and_200_once_grpc_health_is_serving(
    held: Held,
) -> None:
    await asyncio.wait_for(held.gates.in_setup.wait(), 30)
    # Migrations done, setup running, no gRPC server yet: alive, not ready.
    assert await probe(held.port, "/healthz") == (200, {"status": "alive"})
    assert await probe(held.port, "/readyz") == (
        503,
        {"status": "not ready", "reason": "starting"},
    )

    await held.serving()
    assert await grpc_health(held.service) == SERVING
    assert await probe(held.port, "/readyz") == (200, {"status": "ready"})


async def test_readyz_follows_the_grpc_health_and_is_503_while_draining(held: Held) -> None:
    service, gates, port = held.service, held.gates, held.port
    await held.serving()

    # One state for both: whatever gRPC health answers, /readyz answers.
    await service.health.set(NOT_SERVING, reason="a dependency is away")
    assert await grpc_health(service) == NOT_SERVING
    assert await probe(port, "/readyz") == (
        503,
        {"status": "not ready", "reason": "a dependency is away"},
    )
    await service.health.set(SERVING, reason="serving")
    assert await grpc_health(service) == SERVING
    assert await probe(port, "/readyz") == (200, {"status": "ready"})

    # Shutdown: gRPC has stopped taking calls, a worker is still finishing.
    stopping = held.shut_down()
    await asyncio.wait_for(gates.draining.wait(), 30)
    assert await probe(port, "/readyz") == (
        503,
        {"status": "not ready", "reason": "draining: shutting down"},
    )
    assert await probe(port, "/healthz") == (200, {"status": "alive"})
    gates.finish_draining.set()
    await stopping
    # Stopped: the port is closed with the rest of the process.
    with pytest.raises(urllib.error.URLError):
        await asyncio.to_thread(get, port, "/healthz")


async def test_metrics_are_on_slash_metrics_and_other_paths_are_404(held: Held) -> None:
    port = held.port
    await held.serving()

    status, text = await asyncio.to_thread(get, port, "/metrics")
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"loyalty_outbox_published_events", "loyalty_scheduled_job_runs"} <= names
    for path in ("/", "/readyz/extra", "/favicon.ico", "/metricsx"):
        assert (await probe(port, path))[0] == 404, path
