"""Segment and experiment benchmarks over 100,000 members: ComputeSegment (full, set-based SQL),
the refresh job's incremental evaluation of changed members, and GetExperimentReport, each
against a bare aggregate scan of the same purchases in the same run (`baseline.segment_scan`:
one GROUP BY over the transactions, the least any per-member computation has to read).

The purchases, members and consents are written straight into campaign's tables with COPY (the
ingest path has its own benchmark, campaign.ingest); the figures measure the SQL of segments and
reports. Every figure is the median of 3 runs after a warm-up.
"""

import asyncio
import datetime as dt
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable

import asyncpg
import grpc

from bench.harness import Figure, Reporter
from bench.infra import fresh_database, servers, service_processes
from bench.ledger import _program
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, experiments_pb2, segments_pb2
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2_grpc
from services.campaign import repository_segments

MEMBERS = int(os.environ.get("BENCH_SEGMENT_MEMBERS", 100_000))
PURCHASES_PER_MEMBER = 6
CHANGED_MEMBERS = 5_000
REPEATS = 3
NAMES = (
    "campaign.segment_compute",
    "campaign.segment_incremental",
    "campaign.experiment_report",
    "baseline.segment_scan",
)


def run(reporter: Reporter) -> None:
    if not reporter.wants(*NAMES):
        return
    with servers() as (server_url, nats_url):
        asyncio.run(_run(reporter, server_url, nats_url))


def definition(program_id: str) -> segments_pb2.Segment:
    """Lapsing big spenders who may be e-mailed: four conditions over three tables."""
    return segments_pb2.Segment(
        segment_id="lapsing-vips",
        name="Lapsing VIPs",
        conditions=[
            segments_pb2.SegmentCondition(
                monetary=segments_pb2.MonetaryCondition(
                    window_days=365, spend_min=common_pb2.Money(amount_minor=20_000, currency="EUR")
                )
            ),
            segments_pb2.SegmentCondition(
                frequency=segments_pb2.FrequencyCondition(window_days=90, purchases_min=2)
            ),
            segments_pb2.SegmentCondition(
                recency=segments_pb2.RecencyCondition(days_since_purchase_min=14)
            ),
            segments_pb2.SegmentCondition(
                consent=segments_pb2.ConsentCondition(
                    channel=common_pb2.CONSENT_CHANNEL_EMAIL, granted=True
                )
            ),
        ],
    )


async def _seed(database_url: str, program_id: str) -> None:
    rng = random.Random(7)
    now_micros = int(time.time() * 1_000_000)
    day = 86_400_000_000
    members = [f"member-{index:06d}" for index in range(MEMBERS)]
    transactions = [
        (
            program_id,
            member,
            f"t{member}-{n}",
            1,
            rng.randint(500, 15_000),
            0,
            now_micros - rng.randint(0, 365) * day,
            "",
            "",
            "",
        )
        for member in members
        for n in range(PURCHASES_PER_MEMBER)
    ]
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "campaign"})
    try:
        await connection.copy_records_to_table(
            "transactions",
            records=transactions,
            columns=[
                "program_id",
                "member_id",
                "transaction_id",
                "kind",
                "amount_minor",
                "points",
                "occurred_micros",
                "original_transaction_id",
                "applications",
                "batch_id",
            ],
        )
        await connection.copy_records_to_table(
            "members",
            records=[(program_id, m, rng.choice(("member", "silver", "gold"))) for m in members],
            columns=["program_id", "member_id", "tier_code"],
        )
        await connection.copy_records_to_table(
            "segment_member_consents",
            records=[
                (
                    program_id,
                    m,
                    common_pb2.CONSENT_CHANNEL_EMAIL,
                    rng.random() < 0.6,
                    dt.datetime.now(dt.UTC),
                )
                for m in members
            ],
            columns=["program_id", "member_id", "channel", "granted", "changed_at"],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def _median(run: Callable[[], Awaitable[object]]) -> float:
    await run()
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def _run(reporter: Reporter, server_url: str, nats_url: str) -> None:
    async with fresh_database(server_url) as database_url:
        with service_processes(
            database_url,
            nats_url,
            "ledger",
            "campaign",
            extra_env={
                "LEDGER_JOBS_ENABLED": "false",
                "CAMPAIGN_RECOGNITION_ENABLED": "false",
                "CAMPAIGN_SEGMENTS_ENABLED": "false",
            },
        ) as cluster:
            async with (
                grpc.aio.insecure_channel(
                    cluster.endpoints["ledger"].grpc_address
                ) as ledger_channel,
                grpc.aio.insecure_channel(cluster.endpoints["campaign"].grpc_address) as channel,
            ):
                program_id = await _program(ledger_pb2_grpc.LedgerServiceStub(ledger_channel))
                reporter.progress(f"campaign.segment_*: seeding {MEMBERS} members")
                await _seed(database_url, program_id)
                await _measure(
                    reporter,
                    database_url,
                    campaign_pb2_grpc.CampaignServiceStub(channel),
                    program_id,
                )


async def _measure(
    reporter: Reporter,
    database_url: str,
    campaign: campaign_pb2_grpc.CampaignServiceStub,
    program_id: str,
) -> None:
    params = {"members": MEMBERS, "purchases": MEMBERS * PURCHASES_PER_MEMBER, "conditions": 4}
    keys = iter(range(1_000_000))
    await campaign.CreateSegment(
        campaign_pb2.CreateSegmentRequest(
            program_id=program_id, idempotency_key="segment", segment=definition(program_id)
        )
    )
    await campaign.CreateExperiment(
        campaign_pb2.CreateExperimentRequest(
            program_id=program_id,
            idempotency_key="experiment",
            experiment=experiments_pb2.Experiment(
                experiment_id="report",
                name="Report",
                arms=[
                    experiments_pb2.ExperimentArm(
                        arm_code="control", allocation_bps=5_000, control=True
                    ),
                    experiments_pb2.ExperimentArm(arm_code="treatment", allocation_bps=5_000),
                ],
                start_time=_timestamp(dt.datetime.now(dt.UTC) - dt.timedelta(days=365)),
            ),
        )
    )
    pool = await asyncpg.create_pool(database_url, server_settings={"search_path": "campaign"})
    assert pool is not None
    try:

        async def scan() -> None:
            await pool.fetch(
                "SELECT member_id, count(*), sum(amount_minor), max(occurred_micros) "
                "FROM transactions WHERE program_id = $1 GROUP BY member_id",
                program_id,
            )

        async def full() -> None:
            response = await campaign.ComputeSegment(
                campaign_pb2.ComputeSegmentRequest(
                    program_id=program_id,
                    idempotency_key=f"k{next(keys)}",
                    segment_id="lapsing-vips",
                ),
                timeout=600,
            )
            params["segment_members"] = response.member_count

        changed = [
            f"member-{index:06d}" for index in range(0, MEMBERS, max(MEMBERS // CHANGED_MEMBERS, 1))
        ]

        segment = definition(program_id)
        segment.program_id = program_id

        async def incremental() -> None:
            async with pool.acquire() as connection, connection.transaction():
                await repository_segments.compute(
                    connection,
                    segment,
                    entry_tier="member",
                    now=dt.datetime.now(dt.UTC),
                    # The zone of the program bench.ledger configures (program_config's default).
                    time_zone="Europe/Amsterdam",
                    members=changed,
                )

        async def report() -> None:
            await campaign.GetExperimentReport(
                campaign_pb2.GetExperimentReportRequest(
                    program_id=program_id, experiment_id="report"
                ),
                timeout=600,
            )

        reporter.progress("baseline.segment_scan")
        baseline = Figure(
            "baseline.segment_scan", MEMBERS / await _median(scan), "members/s", dict(params)
        )
        reporter.emit(baseline)
        reporter.progress("campaign.segment_compute")
        reporter.emit(
            Figure(
                "campaign.segment_compute", MEMBERS / await _median(full), "members/s", dict(params)
            ),
            baseline=baseline,
        )
        reporter.progress("campaign.segment_incremental")
        reporter.emit(
            Figure(
                "campaign.segment_incremental",
                len(changed) / await _median(incremental),
                "members/s",
                {**params, "changed_members": len(changed)},
            ),
            baseline=baseline,
        )
        reporter.progress("campaign.experiment_report")
        reporter.emit(
            Figure(
                "campaign.experiment_report",
                MEMBERS / await _median(report),
                "members/s",
                dict(params),
            ),
            baseline=baseline,
        )
    finally:
        await pool.close()


def _timestamp(moment: dt.datetime):  # type: ignore[no-untyped-def]
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp
