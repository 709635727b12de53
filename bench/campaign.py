"""Campaign benchmarks: IngestTransactions end to end (campaign → ledger → PostgreSQL, tiers
evaluated, events published) against the ledger-only PostBatch of the same volume, and Backtest
over the million purchases the ingest stored.

Every figure is the median of 3 runs after a warm-up; the baseline is measured in the same run on
the same servers (`ledger.post_batch`, with bench/ledger.py's own helpers).
"""

import asyncio
import datetime as dt
import os
import statistics
import time
from collections.abc import AsyncIterator

import grpc
import numpy as np

from bench.harness import Figure, Reporter
from bench.infra import fresh_database, servers, service_processes
from bench.ledger import _batches, _program, _stream
from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2_grpc

TRANSACTIONS = int(os.environ.get("BENCH_CAMPAIGN_TRANSACTIONS", 1_000_000))
MEMBERS = 100_000
BATCH_SIZE = 10_000
REPEATS = 3
CATEGORIES = ("shoes", "books", "toys", "food", "garden", "beauty", "sports", "music")
NAMES = ("campaign.ingest", "ledger.post_batch", "campaign.backtest")
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", 64 * 2**20),
    ("grpc.max_receive_message_length", 64 * 2**20),
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
            extra_env={"LEDGER_JOBS_ENABLED": "false", "CAMPAIGN_RECOGNITION_ENABLED": "false"},
        ) as cluster:
            ledger_address = cluster.endpoints["ledger"].grpc_address
            campaign_address = cluster.endpoints["campaign"].grpc_address
            async with (
                grpc.aio.insecure_channel(ledger_address, options=GRPC_OPTIONS) as ledger_channel,
                grpc.aio.insecure_channel(
                    campaign_address, options=GRPC_OPTIONS
                ) as campaign_channel,
            ):
                ledger = ledger_pb2_grpc.LedgerServiceStub(ledger_channel)
                campaign = campaign_pb2_grpc.CampaignServiceStub(campaign_channel)
                await _ingest(reporter, ledger, campaign)


def rules() -> list[rules_pb2.Rule]:
    """A realistic rule set: a base rate with tier and category multipliers, a weekend bonus capped
    per member and day, and an exclusive double-points promotion for the app channel."""
    return [
        rules_pb2.Rule(
            rule_id="base",
            name="1 point per euro",
            priority=10,
            earning=rules_pb2.EarningRule(
                rate=rules_pb2.EarnRate(points=1, per_amount_minor=100),
                multipliers=[
                    rules_pb2.Multiplier(tier_code="silver", multiplier_bps=12_500),
                    rules_pb2.Multiplier(tier_code="gold", multiplier_bps=15_000),
                    rules_pb2.Multiplier(category="shoes", multiplier_bps=20_000),
                ],
                exclusions=rules_pb2.Exclusions(categories=["food"]),
                qualifying=True,
            ),
        ),
        rules_pb2.Rule(
            rule_id="weekend",
            name="Weekend bonus",
            priority=20,
            earning=rules_pb2.EarningRule(
                fixed_bonus_points=25,
                minimum_spend=common_pb2.Money(amount_minor=2_000, currency="EUR"),
                time_windows=[
                    rules_pb2.TimeWindow(
                        weekdays=[rules_pb2.WEEKDAY_SATURDAY, rules_pb2.WEEKDAY_SUNDAY]
                    )
                ],
                caps=rules_pb2.EarningCaps(per_member_day_points_max=50),
                qualifying=True,
            ),
        ),
        rules_pb2.Rule(
            rule_id="app-double",
            name="Double points in the app",
            priority=5,
            stacking_mode=rules_pb2.STACKING_MODE_EXCLUSIVE,
            earning=rules_pb2.EarningRule(
                rate=rules_pb2.EarnRate(points=2, per_amount_minor=100),
                channels=[common_pb2.CHANNEL_APP],
                qualifying=True,
            ),
        ),
    ]


async def _setup_rules(campaign: campaign_pb2_grpc.CampaignServiceStub, program_id: str) -> None:
    for rule in rules():
        await campaign.CreateRule(
            campaign_pb2.CreateRuleRequest(
                program_id=program_id, idempotency_key=f"create-{rule.rule_id}", rule=rule
            )
        )
        await campaign.ActivateRule(
            campaign_pb2.ActivateRuleRequest(
                program_id=program_id,
                idempotency_key=f"activate-{rule.rule_id}",
                rule_id=rule.rule_id,
                version=1,
            )
        )


def _requests(
    program_id: str, count: int, *, seed: int
) -> list[campaign_pb2.IngestTransactionsRequest]:
    """`count` purchases over MEMBERS members in batches, over the last 30 days."""
    rng = np.random.default_rng(seed)
    now_s = int(time.time())
    requests = []
    for start in range(0, count, BATCH_SIZE):
        size = min(BATCH_SIZE, count - start)
        members = (np.arange(start, start + size) % MEMBERS).tolist()
        requests.append(
            campaign_pb2.IngestTransactionsRequest(
                program_id=program_id,
                batch_id=f"b{start}",
                currency="EUR",
                transaction_ids=[f"t{i}" for i in range(start, start + size)],
                member_ids=[f"m{m}" for m in members],
                amounts_minor=rng.integers(500, 20_000, size).tolist(),
                channels=rng.choice(
                    [common_pb2.CHANNEL_POS, common_pb2.CHANNEL_WEBSHOP, common_pb2.CHANNEL_APP],
                    size,
                    p=[0.6, 0.3, 0.1],
                ).tolist(),
                store_ids=[f"store-{s}" for s in rng.integers(0, 200, size).tolist()],
                occurred_at_unix_micros=(
                    (now_s - rng.integers(0, 30 * 86_400, size)) * 1_000_000
                ).tolist(),
                categories=[CATEGORIES[c] for c in rng.integers(0, len(CATEGORIES), size).tolist()],
            )
        )
    return requests


async def _ingest_stream(
    campaign: campaign_pb2_grpc.CampaignServiceStub,
    requests: list[campaign_pb2.IngestTransactionsRequest],
) -> tuple[int, int]:
    async def feed() -> AsyncIterator[campaign_pb2.IngestTransactionsRequest]:
        for request in requests:
            yield request

    progress = campaign_pb2.IngestProgress()
    async for response in campaign.IngestTransactions(feed(), timeout=3600):
        progress = response.progress
    return progress.items_done, progress.items_posted + progress.items_duplicate


async def _ingest(
    reporter: Reporter,
    ledger: ledger_pb2_grpc.LedgerServiceStub,
    campaign: campaign_pb2_grpc.CampaignServiceStub,
) -> None:
    params = {
        "transactions": TRANSACTIONS,
        "members": MEMBERS,
        "batch_size": BATCH_SIZE,
        "rules": len(rules()),
    }
    reporter.progress("campaign.ingest: warm-up")
    warm = await _program(ledger)
    await _setup_rules(campaign, warm)
    await _ingest_stream(campaign, _requests(warm, 100_000, seed=0))
    await _stream(ledger, _batches(await _program(ledger), 100_000))
    campaign_rates, ledger_rates = [], []
    last_program = warm
    for repeat in range(REPEATS):
        program_id = await _program(ledger)
        await _setup_rules(campaign, program_id)
        requests = _requests(program_id, TRANSACTIONS, seed=repeat + 1)
        started = time.perf_counter()
        done, _ = await _ingest_stream(campaign, requests)
        campaign_rates.append(done / (time.perf_counter() - started))
        assert done == TRANSACTIONS, done
        last_program = program_id
        baseline_requests = _batches(await _program(ledger), TRANSACTIONS)
        started = time.perf_counter()
        posted = await _stream(ledger, baseline_requests)
        ledger_rates.append(posted / (time.perf_counter() - started))
        reporter.progress(
            f"campaign.ingest: run {repeat + 1}: {campaign_rates[-1]:,.0f} tx/s vs "
            f"ledger PostBatch {ledger_rates[-1]:,.0f}/s"
        )
    baseline = Figure("ledger.post_batch", statistics.median(ledger_rates), "postings/s", params)
    reporter.emit(baseline)
    reporter.emit(
        Figure("campaign.ingest", statistics.median(campaign_rates), "tx/s", params),
        baseline=baseline,
    )
    if reporter.wants("campaign.backtest"):
        await _backtest(reporter, campaign, last_program)


async def _backtest(
    reporter: Reporter, campaign: campaign_pb2_grpc.CampaignServiceStub, program_id: str
) -> None:
    """Backtest a draft over the purchases the last ingest stored (TRANSACTIONS of them)."""
    draft = rules()[0]
    draft.rule_id = "draft"
    draft.earning.multipliers.append(rules_pb2.Multiplier(category="toys", multiplier_bps=30_000))
    draft.earning.caps.per_member_month_points_max = 500
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    request = campaign_pb2.BacktestRequest(
        program_id=program_id,
        rule_draft=draft,
        cost_per_thousand_points=common_pb2.Money(amount_minor=500, currency="EUR"),
        top_members_count=10,
    )
    request.start_time.FromDatetime(start)
    await campaign.Backtest(request, timeout=600)
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = await campaign.Backtest(request, timeout=600)
        seconds.append(time.perf_counter() - started)
        assert result.transactions_count == TRANSACTIONS, result.transactions_count
    median_s = statistics.median(seconds)
    reporter.progress(f"campaign.backtest: {median_s:.2f}s over {TRANSACTIONS:,} purchases")
    reporter.emit(
        Figure(
            "campaign.backtest",
            TRANSACTIONS / median_s,
            "tx/s",
            {"transactions": TRANSACTIONS, "members": MEMBERS, "seconds": round(median_s, 3)},
        )
    )
