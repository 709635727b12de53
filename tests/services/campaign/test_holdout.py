"""The program-wide holdout: a stable share of members gets no incentive at all, and the report
measures the program against it."""

import datetime as dt

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, experiments_pb2
from loyalty.common.v1 import common_pb2
from services.campaign.assignment import held_out
from tests.services.campaign.insight_support import field_of
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    engagement,
    key,
    ledger_and_campaign,
    rate,
    ts,
    two_arms,
)

SALT = f"holdout:{PROGRAM}"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def configure(campaign, bps: int, idempotency_key: str = "", **fields):  # type: ignore[no-untyped-def]
    return await campaign.configure_holdout(bps, idempotency_key=idempotency_key, **fields)


async def test_held_out_members_earn_nothing_and_the_report_compares(start_service) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (ledger, campaign):
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await campaign.stub.GetHoldoutReport(
                campaign_pb2.GetHoldoutReportRequest(program_id=PROGRAM)
            )
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        for bad in (10_000, -1):
            with pytest.raises(grpc.aio.AioRpcError) as error:
                await configure(campaign, bad)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field_of(error.value) == "config.holdout_bps"
        # The last instant a Timestamp holds (a "never") would be stored as infinity.
        never = Timestamp(seconds=253_402_300_799, nanos=999_999_999)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await configure(campaign, 2_000, start_time=never)
        assert field_of(error.value) == "config.start_time"

        started = now() - dt.timedelta(hours=1)
        first = await configure(campaign, 2_000, "holdout-1", start_time=ts(started))
        assert await configure(campaign, 2_000, "holdout-1", start_time=ts(started)) == first
        assert (first.config.holdout_bps, first.config.assignment_salt) == (2_000, SALT)

        await campaign.live(earning("base", rate=rate(1, 100)))
        await campaign.live(
            engagement("reviews", activity_kind=common_pb2.ACTIVITY_KIND_REVIEW, points=50)
        )
        members = [f"h{index:03d}" for index in range(300)]
        held = {m for m in members if held_out(SALT, 2_000, m)}
        assert 30 < len(held) < 90
        bought = now() - dt.timedelta(minutes=5)
        await campaign.ingest(batch("b1", [(f"t-{m}", m, 2_000, bought) for m in members]))
        for member in members[:40]:
            assert await available(ledger, member) == (0 if member in held else 20), member

        held_member = sorted(held)[0]
        review = await campaign.stub.RecordActivity(
            campaign_pb2.RecordActivityRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                activity=engagement_pb2.Activity(
                    activity_id="review-1",
                    member_id=held_member,
                    kind=common_pb2.ACTIVITY_KIND_REVIEW,
                    channel=common_pb2.CHANNEL_APP,
                ),
            )
        )
        assert review.activity.points == 0 and await available(ledger, held_member) == 0
        # A held-out member takes part in no experiment either.
        await campaign.live(earning("promo", fixed_bonus_points=5))
        await campaign.create_experiment(
            experiments_pb2.Experiment(
                experiment_id="promo-test",
                name="Promo",
                arms=two_arms("promo", rule_ids=["promo"]),
            )
        )
        assignment = await campaign.stub.GetExperimentAssignment(
            campaign_pb2.GetExperimentAssignmentRequest(
                program_id=PROGRAM, experiment_id="promo-test", member_id=held_member
            )
        )
        assert (assignment.in_holdout, assignment.arm_code) == (True, "")

        report = await campaign.stub.GetHoldoutReport(
            campaign_pb2.GetHoldoutReportRequest(program_id=PROGRAM, start_time=ts(started))
        )
        program, holdout = report.arms
        assert (program.arm_code, holdout.arm_code, holdout.control) == ("program", "holdout", True)
        assert (program.member_count, holdout.member_count) == (300 - len(held), len(held))
        assert (
            program.spend_per_member.amount_minor == holdout.spend_per_member.amount_minor == 2_000
        )
        assert (program.points_per_member, holdout.points_per_member) == (20, 0)
        assert program.participation_rate == holdout.participation_rate == 1.0
        assert report.uplift.arm_code == "program" and report.uplift.interval_available
        assert report.uplift.spend_uplift.amount_minor == 0

        # Raising the share keeps everyone held out so far.
        raised = await configure(campaign, 3_000)
        assert raised.config.start_time == first.config.start_time
        assert all(held_out(SALT, 3_000, m) for m in held)
