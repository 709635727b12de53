"""What live missions cost the bulk path: IngestTransactions with three live missions that most
purchases count toward (progress rows updated, completions posting points and awarding badges in
the same batches), against the same ingest of a program without missions, in the same run.

Every figure is the median of 3 runs after a warm-up; each run ingests both programs, one after
the other, with the same rules and volumes.
"""

import asyncio
import os
import statistics
import time

import grpc

from bench.campaign import GRPC_OPTIONS, _ingest_stream, _requests, _setup_rules
from bench.harness import Figure, Reporter
from bench.infra import fresh_database, servers, service_processes
from bench.ledger import _program
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2_grpc

TRANSACTIONS = int(os.environ.get("BENCH_MISSIONS_TRANSACTIONS", 200_000))
REPEATS = 3
NAMES = ("campaign.missions.ingest", "campaign.missions.ingest_without")


def missions() -> list[engagement_pb2.Mission]:
    webshop = engagement_pb2.PurchaseRequirement(channels=[common_pb2.CHANNEL_WEBSHOP])
    return [
        engagement_pb2.Mission(
            mission_id="store-then-web",
            name="Buy at a till, then online, within 30 days",
            ordered=True,
            window_days=30,
            reward_points=50,
            badge_code="omnichannel",
            steps=[
                engagement_pb2.MissionStep(
                    step_code="till",
                    purchase=engagement_pb2.PurchaseRequirement(channels=[common_pb2.CHANNEL_POS]),
                ),
                engagement_pb2.MissionStep(step_code="web", purchase=webshop),
            ],
        ),
        engagement_pb2.Mission(
            mission_id="three-and-review",
            name="Three orders and a review",
            reward_points=100,
            steps=[
                engagement_pb2.MissionStep(
                    step_code="orders",
                    count=3,
                    purchase=engagement_pb2.PurchaseRequirement(),
                ),
                engagement_pb2.MissionStep(
                    step_code="review", activity_kind=common_pb2.ACTIVITY_KIND_REVIEW
                ),
            ],
        ),
        engagement_pb2.Mission(
            mission_id="shoes",
            name="Two pairs of shoes",
            badge_code="shoe-lover",
            steps=[
                engagement_pb2.MissionStep(
                    step_code="shoes",
                    count=2,
                    purchase=engagement_pb2.PurchaseRequirement(category="shoes"),
                )
            ],
        ),
    ]


def run(reporter: Reporter) -> None:
    if not reporter.wants(*NAMES):
        return
    with servers() as (server_url, nats_url):
        asyncio.run(_run(reporter, server_url, nats_url))


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
                "CAMPAIGN_NOTIFICATIONS_ENABLED": "false",
            },
        ) as cluster:
            async with (
                grpc.aio.insecure_channel(
                    cluster.endpoints["ledger"].grpc_address, options=GRPC_OPTIONS
                ) as ledger_channel,
                grpc.aio.insecure_channel(
                    cluster.endpoints["campaign"].grpc_address, options=GRPC_OPTIONS
                ) as campaign_channel,
            ):
                await _measure(
                    reporter,
                    ledger_pb2_grpc.LedgerServiceStub(ledger_channel),
                    campaign_pb2_grpc.CampaignServiceStub(campaign_channel),
                )


async def _ingest_rate(
    ledger: ledger_pb2_grpc.LedgerServiceStub,
    campaign: campaign_pb2_grpc.CampaignServiceStub,
    *,
    with_missions: bool,
    count: int,
    seed: int,
) -> float:
    program_id = await _program(ledger)
    await _setup_rules(campaign, program_id)
    if with_missions:
        for mission in missions():
            await campaign.CreateMission(
                campaign_pb2.CreateMissionRequest(
                    program_id=program_id,
                    idempotency_key=f"mission-{mission.mission_id}",
                    mission=mission,
                )
            )
    requests = _requests(program_id, count, seed=seed)
    started = time.perf_counter()
    done, _ = await _ingest_stream(campaign, requests)
    assert done == count, done
    return done / (time.perf_counter() - started)


async def _measure(
    reporter: Reporter,
    ledger: ledger_pb2_grpc.LedgerServiceStub,
    campaign: campaign_pb2_grpc.CampaignServiceStub,
) -> None:
    params = {"transactions": TRANSACTIONS, "batch_size": 10_000, "missions": len(missions())}
    reporter.progress("campaign.missions: warm-up")
    for with_missions in (False, True):
        await _ingest_rate(ledger, campaign, with_missions=with_missions, count=20_000, seed=0)
    with_rates, without_rates = [], []
    for repeat in range(REPEATS):
        without_rates.append(
            await _ingest_rate(
                ledger, campaign, with_missions=False, count=TRANSACTIONS, seed=repeat + 1
            )
        )
        with_rates.append(
            await _ingest_rate(
                ledger, campaign, with_missions=True, count=TRANSACTIONS, seed=repeat + 1
            )
        )
        reporter.progress(
            f"campaign.missions: run {repeat + 1}: {with_rates[-1]:,.0f} tx/s with missions, "
            f"{without_rates[-1]:,.0f} without"
        )
    baseline = Figure(
        "campaign.missions.ingest_without", statistics.median(without_rates), "tx/s", params
    )
    reporter.emit(baseline)
    reporter.emit(
        Figure("campaign.missions.ingest", statistics.median(with_rates), "tx/s", params),
        baseline=baseline,
    )
