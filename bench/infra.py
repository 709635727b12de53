"""What the service benchmarks stand on: servers, throwaway databases, service processes and
pgbench (the load helpers and the gRPC echo baseline are in bench.harness)."""

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from deploy.local.cluster import LocalCluster, free_endpoints
from deploy.local.servers import (
    DATA_ROOT,
    LocalNats,
    LocalPostgres,
    free_port,
)


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(PostgreSQL server URL, NATS URL): from DATABASE_URL / NATS_URL, or local ones."""
    started: list[LocalPostgres | LocalNats] = []
    run_dir = DATA_ROOT / "bench-runs" / secrets.token_hex(3)
    try:
        database_url = os.environ.get("DATABASE_URL")
        if not database_url:
            postgres = LocalPostgres(run_dir / "postgres", port=free_port())
            started.append(postgres)
            database_url = postgres.start()
        nats_url = os.environ.get("NATS_URL")
        if not nats_url:
            local_nats = LocalNats(run_dir / "nats", port=free_port())
            started.append(local_nats)
            nats_url = local_nats.start()
        yield database_url, nats_url
    finally:
        for server in reversed(started):
            server.stop()
            server.remove()


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> AsyncIterator[str]:
    name = f"loyalty_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(server_url, name)
    finally:
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.contextmanager
def service_processes(
    database_url: str, nats_url: str, *names: str, extra_env: dict[str, str] | None = None
) -> Iterator[LocalCluster]:
    cluster = LocalCluster(
        database_url=database_url,
        nats_url=nats_url,
        namespace=f"bench_{secrets.token_hex(3)}",
        endpoints=free_endpoints(),
        log_dir=DATA_ROOT / "bench-logs",
        extra_env=extra_env,
    )
    cluster.start(*names)
    try:
        yield cluster
    finally:
        cluster.stop()


def pgbench_binary() -> Path | None:
    from deploy.local.servers import postgres_bindir

    candidate = postgres_bindir() / "pgbench"
    return candidate if candidate.exists() else None
