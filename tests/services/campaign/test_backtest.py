"""Backtest keeps to the targeting live accrual applies: a rule's segments, the experiment arm
that names it and the program-wide holdout (each purchase judged at its own time)."""

import datetime as dt

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, experiments_pb2, segments_pb2
from services.campaign.assignment import held_out
from tests.services.campaign.insight_support import compute, create_segment, field_of, segment
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    eur,
    ledger_and_campaign,
    rate,
    ts,
    two_arms,
)

HOLDOUT_SALT = f"holdout:{PROGRAM}"
HOLDOUT_BPS = 2_000


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def backtest(campaign, start: dt.datetime, **subject) -> campaign_pb2.BacktestResponse:  # type: ignore[no-untyped-def]
    return await campaign.stub.Backtest(
        campaign_pb2.BacktestRequest(
            program_id=PROGRAM,
            start_time=ts(start),
            end_time=ts(now()),
            top_members_count=100,
            **subject,
        )
    )


async def test_backtest_rewards_only_the_members_live_accrual_would(start_service) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate()))
        members = [f"b{index:02d}" for index in range(40)]
        big = set(members[:20])
        period_start = now() - dt.timedelta(days=30)
        # Before the holdout and the experiment start: everybody earns.
        await campaign.ingest(
            batch(
                "before",
                [
                    (f"t1-{m}", m, 50_000 if m in big else 1_000, now() - dt.timedelta(days=10))
                    for m in members
                ],
            )
        )
        await create_segment(
            campaign,
            segment(
                "big",
                segments_pb2.SegmentCondition(
                    monetary=segments_pb2.MonetaryCondition(window_days=30, spend_min=eur(10_000))
                ),
            ),
        )
        assert (await compute(campaign, "big")).member_count == len(big)
        started = now() - dt.timedelta(days=5)
        await campaign.live(earning("promo", fixed_bonus_points=5))
        await campaign.configure_holdout(HOLDOUT_BPS, start_time=ts(started))
        await campaign.create_experiment(
            experiments_pb2.Experiment(
                experiment_id="promo-test",
                name="Promo",
                start_time=ts(started),
                arms=two_arms("promo", rule_ids=["promo"]),
            )
        )
        await campaign.ingest(
            batch("after", [(f"t2-{m}", m, 1_000, now() - dt.timedelta(days=2)) for m in members])
        )
        held = {m for m in members if held_out(HOLDOUT_SALT, HOLDOUT_BPS, m)}
        treated = set()
        for member in members:
            assignment = await campaign.stub.GetExperimentAssignment(
                campaign_pb2.GetExperimentAssignmentRequest(
                    program_id=PROGRAM, experiment_id="promo-test", member_id=member
                )
            )
            if assignment.arm_code == "promo":
                treated.add(member)
        # The case is only telling when each group splits.
        assert big & held and big - held and treated and set(members) - held - treated
        balances = {m: await available(ledger, m) for m in members}

        # A draft for the segment: its members only, and after the holdout's start not the
        # held-out ones among them.
        draft = earning("vip", fixed_bonus_points=7)
        draft.segment_ids.append("big")
        vip = await backtest(campaign, period_start, rule_draft=draft)
        assert vip.transactions_count == 2 * len(members)
        assert vip.rewarded_transactions_count == len(big) + len(big - held)
        assert vip.members_rewarded_count == len(big)
        assert {m.member_id: m.points for m in vip.top_members} == {
            m: 7 if m in held else 14 for m in big
        }

        # A rule an experiment arm names: that arm's members, from the experiment's start.
        promo = await backtest(campaign, period_start, rule_ref="promo@1")
        assert {m.member_id: m.points for m in promo.top_members} == dict.fromkeys(treated, 5)

        # A rule for everybody: everybody but the held-out members after the holdout's start.
        base = await backtest(campaign, period_start, rule_ref="base@1")
        assert base.points_total == sum(
            (500 if m in big else 10) + (0 if m in held else 10) for m in members
        )
        # Each live rule replayed gives what live accrual gave.
        assert base.points_total + promo.points_total == base.baseline_points_total

        draft.segment_ids[0] = "no-such-segment"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await backtest(campaign, period_start, rule_draft=draft)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_of(error.value) == "rule_draft.segment_ids[0]"
        assert {m: await available(ledger, m) for m in members} == balances
