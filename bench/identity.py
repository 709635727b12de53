"""Identity: ResolveIdentifier with 1,000,000 members at concurrency 64.

Figures (BENCH.md): `identity.resolve` (calls/s), `identity.resolve_p50` and `identity.resolve_p99`
(ms), each with the baseline `baseline.grpc_echo`, a bare grpc.aio echo at the same concurrency
measured in this run. Identity runs as its own process (`python -m services.identity`, as
deployed, logging at INFO), like the echo server; the client is this process. The members are
loaded with COPY straight into identity's tables (members, member_identifiers,
identifier_lookup) of a database made for the run on DATABASE_URL's server, or on a local server
started for it, and dropped afterwards. Lookups are e-mail addresses of random members.
"""

import asyncio
import contextlib
import os
import random
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import grpc
import nats

from bench.harness import Figure, LatencyRun, Reporter, measure_grpc_echo, median_closed_loop
from deploy.local.servers import DATA_ROOT, LocalNats, LocalPostgres, free_port, wait_for_port
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import SPEC
from services.shared.server import migrate

MEMBERS = 1_000_000
CONCURRENCY = 64
DURATION_S = 5.0
WARMUP_S = 3.0
COPY_BATCH_ROWS = 200_000
PROGRAM = "bench"
SEED = 20_240_501
FIGURES = ("identity.resolve", "identity.resolve_p50", "identity.resolve_p99")


def member_id(index: int) -> str:
    return f"00000000-0000-7000-8000-{index:012d}"


def member_email(index: int) -> str:
    return f"member{index}@bench.example.com"


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(database server URL, NATS URL): the environment's, or local ones started for the run."""
    started: list[LocalPostgres | LocalNats] = []
    run_dir = DATA_ROOT / "bench" / secrets.token_hex(3)
    try:
        database_url = os.environ.get("DATABASE_URL", "")
        if not database_url:
            postgres = LocalPostgres(run_dir / "postgres", port=free_port())
            started.append(postgres)
            database_url = postgres.start()
        nats_url = os.environ.get("NATS_URL", "")
        if not nats_url:
            local_nats = LocalNats(run_dir / "nats", port=free_port())
            started.append(local_nats)
            nats_url = local_nats.start()
        yield database_url, nats_url
    finally:
        for server in reversed(started):
            server.stop()
            server.remove()


@contextlib.asynccontextmanager
async def bench_database(server_url: str) -> AsyncIterator[str]:
    name = f"loyalty_bench_identity_{secrets.token_hex(3)}"
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


async def load_members(database_url: str, reporter: Reporter) -> None:
    """Identity's schema, one program and MEMBERS members with an e-mail each, by COPY."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "identity"})
    try:
        await migrate(connection, SPEC)
        await connection.execute(
            "INSERT INTO programs (program_id, name, points_name, currency, time_zone, "
            "entry_tier_code, default_locale) VALUES ($1, 'Bench', 'points', 'EUR', "
            "'Europe/Amsterdam', 'member', 'nl-NL')",
            PROGRAM,
        )
        for start in range(0, MEMBERS, COPY_BATCH_ROWS):
            indexes = range(start, min(start + COPY_BATCH_ROWS, MEMBERS))
            await connection.copy_records_to_table(
                "members",
                columns=[
                    "program_id",
                    "member_id",
                    "enrollment_channel",
                    "entry_tier_code",
                    "referral_code",
                ],
                records=(
                    (PROGRAM, member_id(i), common_pb2.CHANNEL_IMPORT, "member", f"R{i:07d}")
                    for i in indexes
                ),
            )
            await connection.copy_records_to_table(
                "member_identifiers",
                columns=["program_id", "member_id", "kind", "value"],
                records=(
                    (PROGRAM, member_id(i), common_pb2.IDENTIFIER_KIND_EMAIL, member_email(i))
                    for i in indexes
                ),
            )
            await connection.copy_records_to_table(
                "identifier_lookup",
                columns=["program_id", "kind", "value", "member_id"],
                records=(
                    (PROGRAM, common_pb2.IDENTIFIER_KIND_EMAIL, member_email(i), member_id(i))
                    for i in indexes
                ),
            )
            reporter.progress(f"identity: loaded {indexes.stop} members")
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


@contextlib.contextmanager
def identity_process(database_url: str, nats_url: str, namespace: str) -> Iterator[int]:
    port = free_port()
    environment = {
        **os.environ,
        "IDENTITY_DATABASE_URL": database_url,
        "IDENTITY_NATS_URL": nats_url,
        "IDENTITY_NATS_NAMESPACE": namespace,
        "IDENTITY_GRPC_ADDRESS": f"127.0.0.1:{port}",
        "IDENTITY_METRICS_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.identity"],
        env=environment,
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, what="identity")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


async def delete_streams(nats_url: str, namespace: str) -> None:
    client = await nats.connect(nats_url)
    try:
        manager = client.jetstream()
        for stream in await manager.streams_info():
            if stream.config.name and stream.config.name.startswith(namespace.upper() + "_"):
                with contextlib.suppress(Exception):
                    await manager.delete_stream(stream.config.name)
    finally:
        await client.close()


async def measure_resolve(port: int) -> LatencyRun:
    rng = random.Random(SEED)
    requests = [
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM,
            kind=common_pb2.IDENTIFIER_KIND_EMAIL,
            value=member_email(rng.randrange(MEMBERS)),
        )
        for _ in range(100_000)
    ]
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        await channel.channel_ready()

        async def call(index: int) -> object:
            return await stub.ResolveIdentifier(requests[index % len(requests)])

        return await median_closed_loop(
            call, concurrency=CONCURRENCY, duration_s=DURATION_S, warmup_s=WARMUP_S
        )


async def measure(reporter: Reporter) -> None:
    params = {
        "members": MEMBERS,
        "concurrency": CONCURRENCY,
        "duration_s": DURATION_S,
        "repeats": 3,
    }
    with servers() as (server_url, nats_url):
        namespace = f"bench_{secrets.token_hex(3)}"
        async with bench_database(server_url) as database_url:
            await load_members(database_url, reporter)
            try:
                with identity_process(database_url, nats_url, namespace) as port:
                    reporter.progress("identity: measuring ResolveIdentifier")
                    resolve = await measure_resolve(port)
            finally:
                await delete_streams(nats_url, namespace)
        reporter.progress("identity: measuring the bare gRPC echo")
        echo = await measure_grpc_echo(
            concurrency=CONCURRENCY, duration_s=DURATION_S, warmup_s=WARMUP_S, payload_bytes=64
        )
    echo_params = {
        "concurrency": CONCURRENCY,
        "duration_s": DURATION_S,
        "repeats": 3,
        "payload_bytes": 64,
    }
    baselines = {
        "calls": Figure("baseline.grpc_echo", echo.calls_per_s, "calls/s", echo_params),
        "p50": Figure("baseline.grpc_echo_p50", echo.p50_ms, "ms", echo_params),
        "p99": Figure("baseline.grpc_echo_p99", echo.p99_ms, "ms", echo_params),
    }
    for baseline in baselines.values():
        reporter.emit(baseline)
    reporter.emit(
        Figure("identity.resolve", resolve.calls_per_s, "calls/s", params),
        baseline=baselines["calls"],
    )
    reporter.emit(
        Figure("identity.resolve_p50", resolve.p50_ms, "ms", params), baseline=baselines["p50"]
    )
    reporter.emit(
        Figure("identity.resolve_p99", resolve.p99_ms, "ms", params), baseline=baselines["p99"]
    )


def run(reporter: Reporter) -> None:
    if not reporter.wants(*FIGURES, "baseline.grpc_echo"):
        return
    asyncio.run(measure(reporter))
