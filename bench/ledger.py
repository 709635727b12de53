"""Ledger benchmarks: PostBatch vs raw COPY, unary earn vs pgbench TPC-B and bare gRPC, and
GetBalance latency for a member with 10 postings vs one with 1,000,000.

Every figure is the median of 3 runs after a warm-up, and its baseline is measured in the same
run on the same servers.
"""

import asyncio
import contextlib
import datetime as dt
import re
import secrets
import statistics
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator

import asyncpg
import grpc

from bench.harness import (
    Figure,
    Reporter,
    closed_loop,
    measure_grpc_echo,
    median_run,
    percentile,
)
from bench.infra import fresh_database, pgbench_binary, servers, service_processes
from deploy.local.programs import program_config
from loyalty.ledger.v1 import ledger_pb2, ledger_pb2_grpc

POSTINGS = 1_000_000
MEMBERS = 100_000
BATCH_SIZE = 10_000
UNARY_SECONDS = 8.0
PGBENCH_SECONDS = 10
CONCURRENCY = 64
BALANCE_CALLS = 2_000
LARGE_HISTORY = 1_000_000
REPEATS = 3
NAMES = (
    "ledger.post_batch",
    "baseline.raw_copy",
    "ledger.unary_earn",
    "baseline.pgbench_tpcb",
    "baseline.grpc_echo",
    "ledger.get_balance_p99",
)


def run(reporter: Reporter) -> None:
    if not reporter.wants(*NAMES):
        return
    with servers() as (server_url, nats_url):
        asyncio.run(_run(reporter, server_url, nats_url))


async def _run(reporter: Reporter, server_url: str, nats_url: str) -> None:
    async with fresh_database(server_url) as database_url:
        with service_processes(
            database_url, nats_url, "ledger", extra_env={"LEDGER_JOBS_ENABLED": "false"}
        ) as cluster:
            address = cluster.endpoints["ledger"].grpc_address
            options = [("grpc.max_send_message_length", 64 * 2**20)]
            async with grpc.aio.insecure_channel(address, options=options) as channel:
                stub = ledger_pb2_grpc.LedgerServiceStub(channel)
                if reporter.wants("ledger.post_batch", "baseline.raw_copy"):
                    await _post_batch(reporter, stub, database_url)
                if reporter.wants(
                    "ledger.unary_earn", "baseline.pgbench_tpcb", "baseline.grpc_echo"
                ):
                    await _unary_earn(reporter, stub, server_url)
                if reporter.wants("ledger.get_balance_p99"):
                    await _get_balance(reporter, stub)


async def _program(stub: ledger_pb2_grpc.LedgerServiceStub) -> str:
    program_id = f"bench-{secrets.token_hex(4)}"
    await stub.ConfigureProgram(
        ledger_pb2.ConfigureProgramRequest(
            program_id=program_id,
            idempotency_key="configure",
            config=program_config(program_id),
        )
    )
    await stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id=program_id,
            idempotency_key="tiers",
            tiers=[
                ledger_pb2.TierDefinition(
                    code="member", name="Member", rank=0, threshold=0, multiplier_bps=10_000
                ),
                ledger_pb2.TierDefinition(
                    code="silver", name="Silver", rank=1, threshold=5_000, multiplier_bps=12_500
                ),
                ledger_pb2.TierDefinition(
                    code="gold", name="Gold", rank=2, threshold=20_000, multiplier_bps=15_000
                ),
            ],
        )
    )
    return program_id


def _batches(
    program_id: str, postings: int, *, member_of=lambda i: f"m{i % MEMBERS}"
) -> list[ledger_pb2.PostBatchRequest]:
    now_micros = int(time.time() * 1e6)
    requests = []
    for start in range(0, postings, BATCH_SIZE):
        indexes = range(start, min(start + BATCH_SIZE, postings))
        requests.append(
            ledger_pb2.PostBatchRequest(
                program_id=program_id,
                batch_id=f"b{start}",
                member_ids=[member_of(i) for i in indexes],
                points=[10 + i % 90 for i in indexes],
                idempotency_keys=[f"t{i}" for i in indexes],
                qualifying_flags=[True] * len(indexes),
                occurred_at_unix_micros=[now_micros] * len(indexes),
            )
        )
    return requests


async def _stream(
    stub: ledger_pb2_grpc.LedgerServiceStub, requests: list[ledger_pb2.PostBatchRequest]
) -> int:
    async def feed() -> AsyncIterator[ledger_pb2.PostBatchRequest]:
        for request in requests:
            yield request

    posted = 0
    async for response in stub.PostBatch(feed(), timeout=3600):
        posted += response.posted_count
    return posted


async def _post_batch(
    reporter: Reporter, stub: ledger_pb2_grpc.LedgerServiceStub, database_url: str
) -> None:
    params = {"postings": POSTINGS, "members": MEMBERS, "batch_size": BATCH_SIZE}
    reporter.progress("ledger.post_batch: warm-up")
    await _stream(stub, _batches(await _program(stub), 100_000))
    ledger_rates, copy_rates = [], []
    for repeat in range(REPEATS):
        program_id = await _program(stub)
        requests = _batches(program_id, POSTINGS)
        started = time.perf_counter()
        posted = await _stream(stub, requests)
        ledger_rates.append(posted / (time.perf_counter() - started))
        assert posted == POSTINGS, posted
        copy_rates.append(await _raw_copy(database_url, requests))
        reporter.progress(
            f"ledger.post_batch: run {repeat + 1}: {ledger_rates[-1]:,.0f}/s vs COPY {copy_rates[-1]:,.0f}/s"
        )
    baseline = Figure("baseline.raw_copy", statistics.median(copy_rates), "rows/s", params)
    reporter.emit(baseline)
    reporter.emit(
        Figure("ledger.post_batch", statistics.median(ledger_rates), "postings/s", params),
        baseline=baseline,
    )


async def _raw_copy(database_url: str, requests: list[ledger_pb2.PostBatchRequest]) -> float:
    """The same rows, COPYed by asyncpg into a bare table with the same keys, in the same batches."""
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS raw_postings (program_id text, member_id text, posting_id bigint, "
            "amount bigint, item_key text, occurred_at timestamptz, PRIMARY KEY (program_id, member_id, posting_id))"
        )
        await connection.execute("TRUNCATE raw_postings")
        now = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        posting_id = 0
        for request in requests:
            rows = []
            for member, points, item_key in zip(
                request.member_ids, request.points, request.idempotency_keys, strict=True
            ):
                posting_id += 1
                rows.append((request.program_id, member, posting_id, points, item_key, now))
            async with connection.transaction():
                await connection.copy_records_to_table("raw_postings", records=rows)
        return posting_id / (time.perf_counter() - started)
    finally:
        await connection.close()


async def _unary_earn(
    reporter: Reporter, stub: ledger_pb2_grpc.LedgerServiceStub, server_url: str
) -> None:
    program_id = await _program(stub)
    calls = iter(range(10**9))

    async def earn(_: int) -> None:
        index = next(calls)
        await stub.Earn(
            ledger_pb2.EarnRequest(
                program_id=program_id,
                idempotency_key=f"u{index}",
                member_id=f"m{index % MEMBERS}",
                points=10 + index % 90,
                qualifying=True,
            )
        )

    # The ledger's runs and pgbench's alternate, so that both see the machine as it is at the
    # time (on a shared machine its speed drifts by a third within minutes).
    with _pgbench_tpcb(server_url) as tpcb_run:
        reporter.progress("ledger.unary_earn: measuring, alternating with pgbench")
        await closed_loop(earn, concurrency=CONCURRENCY, duration_s=2.0)
        runs, tpcb_rates = [], []
        for _ in range(REPEATS):
            runs.append(await closed_loop(earn, concurrency=CONCURRENCY, duration_s=UNARY_SECONDS))
            if tpcb_run is not None:
                tpcb_rates.append(await asyncio.to_thread(tpcb_run))
    run = median_run(runs)
    params = {
        "concurrency": CONCURRENCY,
        "members": MEMBERS,
        "seconds": UNARY_SECONDS,
        "calls": run.calls,
    }
    tpcb = (
        Figure(
            "baseline.pgbench_tpcb",
            statistics.median(tpcb_rates),
            "tps",
            {"clients": CONCURRENCY, "scale": 10, "seconds": PGBENCH_SECONDS},
        )
        if tpcb_rates
        else None
    )
    echo = await measure_grpc_echo(
        concurrency=CONCURRENCY, duration_s=UNARY_SECONDS, warmup_s=2.0, payload_bytes=64
    )
    echo_figure = Figure(
        "baseline.grpc_echo", echo.calls_per_s, "calls/s", {"concurrency": CONCURRENCY}
    )
    reporter.emit(echo_figure)
    if tpcb is not None:
        reporter.emit(tpcb)
    reporter.emit(Figure("ledger.unary_earn", run.calls_per_s, "calls/s", params), baseline=tpcb)
    reporter.emit(
        Figure("ledger.unary_earn_vs_echo", run.calls_per_s, "calls/s", params),
        baseline=echo_figure,
    )
    reporter.emit(
        Figure("ledger.unary_earn_p50", run.p50_ms, "ms", params),
        baseline=Figure("baseline.grpc_echo_p50", echo.p50_ms, "ms"),
    )
    reporter.emit(
        Figure("ledger.unary_earn_p99", run.p99_ms, "ms", params),
        baseline=Figure("baseline.grpc_echo_p99", echo.p99_ms, "ms"),
    )


@contextlib.contextmanager
def _pgbench_tpcb(server_url: str) -> Iterator[Callable[[], float] | None]:
    """A TPC-B-like pgbench database (scale 10) on the server, and a function that runs pgbench
    on it once (CONCURRENCY clients, PGBENCH_SECONDS) and gives its tps; None without pgbench."""
    binary = pgbench_binary()
    if binary is None:
        yield None
        return
    database = f"pgbench_{secrets.token_hex(3)}"
    connection = server_url.rsplit("/", 1)[0]
    host_port = connection.split("@", 1)[1]
    host, port = host_port.split(":")
    common = ["-h", host, "-p", port, "-U", "postgres"]
    path = {"PATH": f"{binary.parent}:/usr/bin:/bin"}
    subprocess.run(["createdb", *common, database], check=True, env=path)

    def run_once() -> float:
        output = subprocess.run(
            [
                str(binary),
                *common,
                "-c",
                str(CONCURRENCY),
                "-j",
                "2",
                "-T",
                str(PGBENCH_SECONDS),
                "-n",
                "-b",
                "tpcb-like",
                database,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        match = re.search(r"tps = ([0-9.]+)", output)
        assert match, output
        return float(match.group(1))

    try:
        subprocess.run(
            [str(binary), *common, "-i", "-s", "10", "-q", database],
            check=True,
            capture_output=True,
        )
        yield run_once
    finally:
        subprocess.run(["dropdb", *common, "--force", database], check=False, env=path)


async def _get_balance(reporter: Reporter, stub: ledger_pb2_grpc.LedgerServiceStub) -> None:
    program_id = await _program(stub)
    reporter.progress(f"ledger.get_balance: loading a member with {LARGE_HISTORY:,} postings")
    await _stream(stub, _batches(program_id, LARGE_HISTORY, member_of=lambda i: "large"))
    await _stream(
        stub,
        [
            ledger_pb2.PostBatchRequest(
                program_id=program_id,
                batch_id="small",
                member_ids=["small"] * 10,
                points=[5] * 10,
                idempotency_keys=[f"s{i}" for i in range(10)],
            )
        ],
    )
    p99: dict[str, list[float]] = {"small": [], "large": []}
    for repeat in range(REPEATS + 1):
        latencies: dict[str, list[float]] = {"small": [], "large": []}
        for index in range(BALANCE_CALLS):
            member = "small" if index % 2 else "large"  # interleaved, so both see the same noise
            started = time.perf_counter()
            await stub.GetBalance(
                ledger_pb2.GetBalanceRequest(program_id=program_id, member_id=member)
            )
            latencies[member].append((time.perf_counter() - started) * 1000)
        if repeat:
            for member in p99:
                p99[member].append(percentile(sorted(latencies[member]), 0.99))
    small = Figure(
        "ledger.get_balance_p99_small",
        statistics.median(p99["small"]),
        "ms",
        {"postings": 10, "calls": BALANCE_CALLS // 2},
    )
    reporter.emit(small)
    reporter.emit(
        Figure(
            "ledger.get_balance_p99_large",
            statistics.median(p99["large"]),
            "ms",
            {"postings": LARGE_HISTORY, "calls": BALANCE_CALLS // 2},
        ),
        baseline=small,
    )
