"""Real PostgreSQL and NATS for every test: the ones in DATABASE_URL / NATS_URL, or our own.

Each test run has a run id; each test gets its own database and its own NATS namespace (stream
and subject names), so runs and tests never see each other's data.
"""

import asyncio
import contextlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import pytest

from deploy.local.cluster import LocalCluster, free_endpoints
from deploy.local.servers import DATA_ROOT, LocalNats, LocalPostgres, free_port

RUN_ID = secrets.token_hex(3)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@dataclass(frozen=True)
class Servers:
    database_url: str  # a maintenance database on the server; tests create their own databases
    nats_url: str


@contextlib.contextmanager
def _running_servers() -> Iterator[Servers]:
    """The servers in DATABASE_URL / NATS_URL, or our own, started here and removed afterwards."""
    started: list[LocalPostgres | LocalNats] = []
    database_url = os.environ.get("DATABASE_URL")
    nats_url = os.environ.get("NATS_URL")
    run_dir = DATA_ROOT / "test-runs" / RUN_ID
    try:
        if not database_url:
            postgres = LocalPostgres(run_dir / "postgres", port=free_port())
            started.append(postgres)
            database_url = postgres.start()
        if not nats_url:
            local_nats = LocalNats(run_dir / "nats", port=free_port())
            started.append(local_nats)
            nats_url = local_nats.start()
        yield Servers(database_url, nats_url)
    finally:
        for server in reversed(started):
            server.stop()
            server.remove()


# With pytest-xdist (`make test` runs two workers), the controller starts the servers once and
# hands them to its workers, so a run without DATABASE_URL / NATS_URL runs one PostgreSQL, not one
# per worker. Each worker still has its own RUN_ID, so their databases and streams never meet.
_SHARED = "loyalty_servers"
_servers_key = pytest.StashKey[Servers]()
_controller_servers = contextlib.ExitStack()


def _distributes(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


def pytest_configure(config: pytest.Config) -> None:
    if _distributes(config):
        config.stash[_servers_key] = _controller_servers.enter_context(_running_servers())


def pytest_unconfigure(config: pytest.Config) -> None:
    _controller_servers.close()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # an xdist hook, run by the controller per worker
    shared = node.config.stash[_servers_key]
    node.workerinput[_SHARED] = [shared.database_url, shared.nats_url]


# Tests sharing a costly session fixture (the gateway tests' whole platform) all go to one worker
# (`--dist loadgroup`), so it is built once per run, not once per worker.
_SHARED_FIXTURES = ("gateway_platform",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in _SHARED_FIXTURES:
            if name in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.xdist_group(name))


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    shared = getattr(request.config, "workerinput", {}).get(_SHARED)
    if shared:
        yield Servers(*shared)
        return
    with _running_servers() as running:
        yield running


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


_counter = iter(range(1, 1_000_000))


@pytest.fixture
async def database_url(servers: Servers) -> AsyncIterator[str]:
    """A fresh, empty database for this test, dropped afterwards."""
    name = f"loyalty_t{RUN_ID}_{next(_counter)}"
    admin = await asyncpg.connect(servers.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield with_database(servers.database_url, name)
    admin = await asyncpg.connect(servers.database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def nats_namespace(servers: Servers) -> AsyncIterator[str]:
    """A NATS namespace of this test's own; its streams are deleted afterwards."""
    namespace = f"t{RUN_ID}_{next(_counter)}"
    yield namespace
    client = await nats.connect(servers.nats_url)
    try:
        manager = client.jetstream()
        for stream in await manager.streams_info():
            if stream.config.name and stream.config.name.startswith(namespace.upper() + "_"):
                with contextlib.suppress(Exception):
                    await manager.delete_stream(stream.config.name)
    finally:
        await client.close()


@pytest.fixture
async def cluster(
    servers: Servers, database_url: str, nats_namespace: str, request: pytest.FixtureRequest
) -> AsyncIterator[LocalCluster]:
    """The four services as real processes on this test's database and namespace."""
    log_dir = ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}"
    running = LocalCluster(
        database_url=database_url,
        nats_url=servers.nats_url,
        namespace=nats_namespace,
        endpoints=free_endpoints(),
        log_dir=log_dir,
    )
    try:
        await asyncio.to_thread(running.start)
        yield running
    finally:
        await asyncio.to_thread(running.stop)
