"""Experiments' and the holdout's start and end against purchases and activities to the
microsecond: in live accrual (RecordPurchase, IngestTransactions, RecordActivity), the
experiment's report, Backtest, and whose rewards an experiment withholds. They were compared in
whole seconds, so an experiment starting at 10:00:00.5 rewarded a purchase at 10:00:00.2."""

import datetime as dt
import json

import numpy as np
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, experiments_pb2
from loyalty.common.v1 import common_pb2
from services.campaign.accrual import Codes
from services.campaign.assignment import arm_index, bucket, held_out
from services.campaign.columnar import ArchivedPurchases
from services.campaign.targeting import withheld_rewards
from tests.services.campaign.support import (
    PROGRAM,
    batch,
    earning,
    engagement,
    key,
    ledger_and_campaign,
    rate,
    ts,
    two_arms,
)

START = dt.datetime(2026, 6, 1, 10, 0, 0, 500_000, tzinfo=dt.UTC)
END = dt.datetime(2026, 6, 2, 10, 0, 0, 500_000, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
EXPERIMENT = "bounds"
# (purchase time, the promo's points): only [START, END) is the experiment's.
PURCHASES = [
    (START - dt.timedelta(milliseconds=300), 0),  # the second it starts in, before it
    (START - MICROSECOND, 0),
    (START, 5),
    (END - dt.timedelta(milliseconds=100), 5),  # the second it ends in, before it
    (END, 0),
]
AMOUNT_MINOR = 10_000  # 100 points of the base rule each


def arm_of(member: str) -> int:
    return arm_index([5_000, 5_000], bucket(EXPERIMENT, member))


TREATED = next(m for m in (f"t{i}" for i in range(100)) if arm_of(m) == 1)
CONTROL = next(m for m in (f"c{i}" for i in range(100)) if arm_of(m) == 0)


async def create_experiment(campaign) -> None:  # type: ignore[no-untyped-def]
    await campaign.create_experiment(
        experiments_pb2.Experiment(
            experiment_id=EXPERIMENT,
            name="Bounds",
            start_time=ts(START),
            end_time=ts(END),
            arms=two_arms("promo", rule_ids=["promo", "reviews"], reward_ids=["coffee"]),
        )
    )


@pytest.mark.parametrize("path", ["record_purchase", "ingest"])
async def test_an_experiment_runs_from_its_start_to_its_end_to_the_microsecond(
    start_service, path: str
) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        await campaign.live(earning("base", rate=rate()))
        await campaign.live(earning("promo", fixed_bonus_points=5))
        await campaign.live(
            engagement("reviews", activity_kind=common_pb2.ACTIVITY_KIND_REVIEW, points=50)
        )
        await create_experiment(campaign)
        control_at = START + dt.timedelta(hours=1)
        if path == "record_purchase":
            points = [
                (await campaign.purchase(TREATED, f"t{i}", AMOUNT_MINOR, at=at)).accrual.points
                for i, (at, _) in enumerate(PURCHASES)
            ]
            await campaign.purchase(CONTROL, "c", AMOUNT_MINOR, at=control_at)
        else:
            rows = [(f"t{i}", TREATED, AMOUNT_MINOR, at) for i, (at, _) in enumerate(PURCHASES)]
            [answer] = await campaign.ingest(
                batch("b1", [*rows, ("c", CONTROL, AMOUNT_MINOR, control_at)])
            )
            points = list(answer.points)[: len(PURCHASES)]
        assert points == [100 + promo for _, promo in PURCHASES]

        # The report counts the purchases of the experiment's period only.
        report = await campaign.stub.GetExperimentReport(
            campaign_pb2.GetExperimentReportRequest(program_id=PROGRAM, experiment_id=EXPERIMENT)
        )
        treated_arm = next(arm for arm in report.arms if arm.arm_code == "promo")
        assert treated_arm.member_count == 1
        inside = sum(1 for _, promo in PURCHASES if promo)
        assert treated_arm.spend_per_member.amount_minor == inside * AMOUNT_MINOR

        # Backtest replays the archive with the purchases' microseconds, as live accrual did.
        replay = await campaign.stub.Backtest(
            campaign_pb2.BacktestRequest(
                program_id=PROGRAM,
                rule_ref="promo@1",
                start_time=ts(START - dt.timedelta(days=1)),
                end_time=ts(END + dt.timedelta(days=1)),
            )
        )
        assert (replay.transactions_count, replay.rewarded_transactions_count) == (
            len(PURCHASES) + 1,
            inside,
        )
        assert replay.points_total == replay.baseline_points_total - 100 * (len(PURCHASES) + 1)


async def test_an_experiments_activities_and_rewards_wait_for_its_start(start_service) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        await campaign.live(earning("promo", fixed_bonus_points=5))
        await campaign.live(
            engagement("reviews", activity_kind=common_pb2.ACTIVITY_KIND_REVIEW, points=50)
        )
        await create_experiment(campaign)
        reviewed = []
        for index, at in enumerate((START - dt.timedelta(milliseconds=300), START)):
            answer = await campaign.stub.RecordActivity(
                campaign_pb2.RecordActivityRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    activity=engagement_pb2.Activity(
                        activity_id=f"review-{index}",
                        member_id=TREATED,
                        kind=common_pb2.ACTIVITY_KIND_REVIEW,
                        channel=common_pb2.CHANNEL_APP,
                        occurred_at=ts(at),
                    ),
                )
            )
            reviewed.append(answer.activity.points)
        assert reviewed == [0, 50]

        # The arm's reward is for no one before the experiment starts, its arm's from then on.
        pool = campaign.service.runtime.pool
        before = START - dt.timedelta(milliseconds=300)
        assert await withheld_rewards(pool, PROGRAM, TREATED, ["coffee"], before) == {"coffee"}
        assert await withheld_rewards(pool, PROGRAM, TREATED, ["coffee"], START) == set()
        assert await withheld_rewards(pool, PROGRAM, CONTROL, ["coffee"], START) == {"coffee"}


async def test_the_holdout_starts_to_the_microsecond(start_service) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        salt = f"holdout:{PROGRAM}"
        held = next(m for m in (f"h{i}" for i in range(100)) if held_out(salt, 5_000, m))
        await campaign.configure_holdout(5_000, start_time=ts(START))
        await campaign.live(earning("base", rate=rate()))
        times = [START - dt.timedelta(milliseconds=300), START - MICROSECOND, START]
        points = [
            (await campaign.purchase(held, f"t{i}", AMOUNT_MINOR, at=at)).accrual.points
            for i, at in enumerate(times)
        ]
        assert points == [100, 100, 0]


def test_an_archive_written_in_whole_seconds_reads_as_the_start_of_each_second() -> None:
    seconds = np.array([1_780_308_000, 1_780_308_001], dtype=np.int64)
    archived = ArchivedPurchases(
        members=Codes(["m"], np.zeros(2, dtype=np.int32)),
        tiers=Codes([""], np.zeros(2, dtype=np.int32)),
        amounts=np.array([100, 200], dtype=np.int64),
        channels=np.zeros(2, dtype=np.int32),
        stores=Codes([""], np.zeros(2, dtype=np.int32)),
        micros=seconds,  # named "seconds" below, as archives were written before
        line_transaction=np.zeros(0, dtype=np.int32),
        line_amounts=np.zeros(0, dtype=np.int64),
        line_categories=Codes([], np.zeros(0, dtype=np.int32)),
        line_skus=Codes([], np.zeros(0, dtype=np.int32)),
        points=np.array([1, 2], dtype=np.int64),
    )
    encoded = archived.encode()
    size = int.from_bytes(encoded[:4], "little")
    header = json.loads(encoded[4 : 4 + size])
    header["arrays"] = [
        ["seconds" if name == "micros" else name, *rest] for name, *rest in header["arrays"]
    ]
    old_header = json.dumps(header, separators=(",", ":")).encode()
    old = len(old_header).to_bytes(4, "little") + old_header + encoded[4 + size :]
    decoded = ArchivedPurchases.decode(old)
    assert decoded.micros.tolist() == (seconds * 1_000_000).tolist()
    assert decoded.within(1_780_308_000_500_000, 1_780_308_002_000_000).amounts.tolist() == [200]
