"""The operator CLI's big import: `loyalty-admin import transactions` of a generated CSV file
(default 10,000,000 purchases over 100,000 members) through campaign's ingest into the ledger,
against the ledger's own PostBatch throughput measured in the same run on the same servers
(bench/ledger.py's measurement: 1,000,000 postings, median of 3 after a warm-up).

BENCH_IMPORT_ROWS makes the file smaller for a quick check. At most 2,000,000 rows the import is
measured 3 times (median); a larger file is imported once, and params say so.
"""

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc
import numpy as np

from bench.campaign import CATEGORIES, GRPC_OPTIONS, _setup_rules
from bench.harness import Figure, Reporter
from bench.infra import fresh_database, servers, service_processes
from bench.ledger import _batches, _program, _stream
from deploy.local.servers import DATA_ROOT, PROJECT_ROOT
from loyalty.campaign.v1 import campaign_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2_grpc

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", 10_000_000))
MEMBERS = 100_000
BASELINE_POSTINGS = 1_000_000
WARMUP_ROWS = 100_000
REPEATS = 3 if ROWS <= 2_000_000 else 1
BATCH_SIZE = 10_000
CHANNELS = ("pos", "webshop", "app")
NAMES = ("ops.import_csv",)


def run(reporter: Reporter) -> None:
    # `make bench ONLY=import` selects it too: the module is named for it.
    if not (reporter.wants(*NAMES) or "import_csv".startswith(reporter.only)):
        return
    with servers() as (server_url, nats_url):
        asyncio.run(_run(reporter, server_url, nats_url))


def write_transactions(path: Path, rows: int, *, seed: int) -> None:
    """`rows` purchases over MEMBERS members in the last 30 days, as a POS export would have them."""
    rng = np.random.default_rng(seed)
    now_s = int(time.time())
    prefix = path.stem
    with path.open("w") as file:
        file.write("transaction_id,member_id,amount_minor,occurred_at,channel,store_id,category\n")
        for start in range(0, rows, 100_000):
            size = min(100_000, rows - start)
            amounts = rng.integers(500, 20_000, size).tolist()
            seconds = (now_s - rng.integers(0, 30 * 86_400, size)).astype("datetime64[s]")
            times = np.datetime_as_string(seconds, unit="s").tolist()
            channels = rng.choice(len(CHANNELS), size, p=[0.6, 0.3, 0.1]).tolist()
            stores = rng.integers(0, 200, size).tolist()
            categories = rng.integers(0, len(CATEGORIES), size).tolist()
            file.writelines(
                f"{prefix}-{start + i},m{(start + i) % MEMBERS},{amounts[i]},{times[i]}Z,"
                f"{CHANNELS[channels[i]]},store-{stores[i]},{CATEGORIES[categories[i]]}\n"
                for i in range(size)
            )


def import_with_cli(
    path: Path, program_id: str, campaign_address: str, ledger_address: str
) -> tuple[float, dict[str, object]]:
    """Wall time of the CLI process importing the file, and its JSON summary."""
    environment = {
        **os.environ,
        "LOYALTY_ADMIN_CAMPAIGN_ADDRESS": campaign_address,
        "LOYALTY_ADMIN_LEDGER_ADDRESS": ledger_address,
    }
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "admin",
            "import",
            "transactions",
            str(path),
            "--program",
            program_id,
            "--batch-size",
            str(BATCH_SIZE),
            "--progress",
            "--json",
        ],
        cwd=PROJECT_ROOT,
        env=environment,
        # The CLI's progress bar goes to the benchmark's standard error; its summary is read.
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the import failed with exit code {done.returncode}")
    return seconds, json.loads(done.stdout)


async def _run(reporter: Reporter, server_url: str, nats_url: str) -> None:
    work = DATA_ROOT / "bench-runs" / f"import-{secrets.token_hex(3)}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        async with fresh_database(server_url) as database_url:
            with service_processes(
                database_url,
                nats_url,
                "ledger",
                "campaign",
                extra_env={"LEDGER_JOBS_ENABLED": "false", "CAMPAIGN_RECOGNITION_ENABLED": "false"},
            ) as cluster:
                ledger_address = cluster.endpoints["ledger"].grpc_address
                campaign_address = cluster.endpoints["campaign"].grpc_address
                async with (
                    grpc.aio.insecure_channel(
                        ledger_address, options=GRPC_OPTIONS
                    ) as ledger_channel,
                    grpc.aio.insecure_channel(
                        campaign_address, options=GRPC_OPTIONS
                    ) as campaign_channel,
                ):
                    ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
                    campaign = campaign_pb2_grpc.CampaignServiceStub(campaign_channel)
                    await _measure(
                        reporter, work, ledger, campaign, ledger_address, campaign_address
                    )
    finally:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()


async def _measure(
    reporter: Reporter,
    work: Path,
    ledger: ledger_pb2_grpc.LedgerServiceStub,
    campaign: campaign_pb2_grpc.CampaignServiceStub,
    ledger_address: str,
    campaign_address: str,
) -> None:
    async def program() -> str:
        program_id = await _program(ledger)
        await _setup_rules(campaign, program_id)
        return program_id

    reporter.progress("ops.import_csv: warm-up")
    warm = work / "warm.csv"
    await asyncio.to_thread(write_transactions, warm, WARMUP_ROWS, seed=0)
    await asyncio.to_thread(
        import_with_cli, warm, await program(), campaign_address, ledger_address
    )
    await _stream(ledger, _batches(await _program(ledger), 100_000))

    baseline_rates = []
    for repeat in range(3):
        requests = _batches(await _program(ledger), BASELINE_POSTINGS)
        started = time.perf_counter()
        posted = await _stream(ledger, requests)
        baseline_rates.append(posted / (time.perf_counter() - started))
        reporter.progress(f"ledger.post_batch: run {repeat + 1}: {baseline_rates[-1]:,.0f}/s")
    baseline = Figure(
        "ledger.post_batch",
        statistics.median(baseline_rates),
        "postings/s",
        {"postings": BASELINE_POSTINGS, "members": MEMBERS, "batch_size": BATCH_SIZE},
    )

    rates, walls, file_bytes = [], [], 0
    for repeat in range(REPEATS):
        path = work / f"transactions{repeat}.csv"
        reporter.progress(f"ops.import_csv: writing {ROWS:,} rows to {path}")
        await asyncio.to_thread(write_transactions, path, ROWS, seed=repeat + 1)
        file_bytes = path.stat().st_size
        reporter.progress(f"ops.import_csv: importing ({file_bytes / 2**20:,.0f} MiB)")
        seconds, summary = await asyncio.to_thread(
            import_with_cli, path, await program(), campaign_address, ledger_address
        )
        assert summary["rows_done"] == ROWS and summary["rows_rejected"] == 0, summary
        rates.append(ROWS / seconds)
        walls.append(seconds)
        reporter.progress(
            f"ops.import_csv: run {repeat + 1}: {ROWS:,} rows in {seconds:,.1f} s, "
            f"{rates[-1]:,.0f} rows/s (CLI's own count: {summary['rows_per_s']:,.0f} rows/s)"
        )
        path.unlink()
    reporter.emit(baseline)
    reporter.emit(
        Figure(
            "ops.import_csv",
            statistics.median(rates),
            "rows/s",
            {
                "rows": ROWS,
                "members": MEMBERS,
                "batch_size": BATCH_SIZE,
                "repeats": REPEATS,
                "seconds": round(statistics.median(walls), 1),
                "file_mib": round(file_bytes / 2**20, 1),
                "rules": 3,
            },
        ),
        baseline=baseline,
    )
