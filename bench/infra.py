"""What the service benchmarks stand on: servers, throwaway databases, service processes, and the
bare gRPC echo baseline. Progress goes to stderr; only figures go to stdout."""

import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc

from deploy.local.cluster import LocalCluster, free_endpoints
from deploy.local.servers import (
    DATA_ROOT,
    PROJECT_ROOT,
    LocalNats,
    LocalPostgres,
    free_port,
    wait_for_port,
)

ECHO_METHOD = "/bench.v1.EchoService/Echo"


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


async def concurrent_calls(
    call: Callable[[int], Awaitable[object]], *, count: int, concurrency: int
) -> tuple[float, list[float]]:
    """Run `count` calls with `concurrency` in flight; (calls/s, latencies in ms)."""
    latencies: list[float] = []
    next_index = iter(range(count))

    async def worker() -> None:
        for index in next_index:
            started = time.perf_counter()
            await call(index)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - started), latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def echo_process() -> Iterator[str]:
    """A bare grpc.aio echo server in its own process, as the services run: the floor of a call."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.echo_server", str(port)], cwd=PROJECT_ROOT
    )
    try:
        wait_for_port(port, what="echo server")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


async def grpc_echo(
    *, address: str, count: int, concurrency: int, payload: bytes
) -> tuple[float, list[float]]:
    async with grpc.aio.insecure_channel(address) as channel:
        echo = channel.unary_unary(ECHO_METHOD)
        await concurrent_calls(
            lambda _: echo(payload), count=min(count, 2_000), concurrency=concurrency
        )
        return await concurrent_calls(lambda _: echo(payload), count=count, concurrency=concurrency)


def pgbench_binary() -> Path | None:
    from deploy.local.servers import postgres_bindir

    candidate = postgres_bindir() / "pgbench"
    return candidate if candidate.exists() else None
