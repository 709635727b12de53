"""A service running in the test's own event loop, on the test's database and NATS namespace."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc
import pytest

from services.shared.server import ProcessConfig, RunningService, ServiceSpec
from tests.conftest import Servers

StartService = Callable[..., "AsyncIterator[tuple[RunningService, grpc.aio.Channel]]"]


@pytest.fixture
def start_service(servers: Servers, database_url: str, nats_namespace: str):
    """`async with start_service(SPEC, ConfigClass, **overrides) as (service, channel): ...`"""

    @asynccontextmanager
    async def start(spec: ServiceSpec, config_class: type[ProcessConfig], **overrides: object):
        settings: dict[str, object] = {
            "database_url": database_url,
            "nats_url": servers.nats_url,
            "nats_namespace": nats_namespace,
            "grpc_address": "127.0.0.1:0",
            # Bound by the service itself: a port free_port() found free could be taken by
            # another process (an outgoing connection's) before the service binds it.
            "metrics_port": 0,
            "shutdown_grace_ms": 5000,
            # A consumer notices the shutdown when its pull ends: at the default of a second,
            # each service of each test would take a second to stop.
            "nats_fetch_wait_ms": 100,
        }
        config = config_class(**{**settings, **overrides})
        service = RunningService(spec, config)
        await service.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.port}")
        try:
            yield service, channel
        finally:
            await channel.close()
            await service.shutdown()

    return start
