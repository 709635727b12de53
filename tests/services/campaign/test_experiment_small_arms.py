"""An experiment report on arms of two members, recomputed by hand: Welch's interval at one
degree of freedom, where Student's t is 12.706 (found by the learn-loop audit: the report's
approximate quantile gave 11.300, an interval 11 % narrower than the 95 % it claims)."""

import datetime as dt

from loyalty.campaign.v1 import campaign_pb2, experiments_pb2
from services.campaign.assignment import arm_index, bucket
from tests.services.campaign.support import (
    PROGRAM,
    Campaign,
    batch,
    earning,
    ledger_and_campaign,
    rate,
    ts,
    two_arms,
)

EXPERIMENT = "small-arms"
# Two-sided 95 % and 99 % critical values of Student's t at 1 degree of freedom (tables).
T_975_1, T_995_1 = 12.706205, 63.656741


def two_of_each_arm() -> tuple[list[str], list[str]]:
    control: list[str] = []
    treatment: list[str] = []
    for index in range(200):
        member = f"s{index:03d}"
        arm = control if arm_index([5_000, 5_000], bucket(EXPERIMENT, member)) == 0 else treatment
        if len(arm) < 2:
            arm.append(member)
    return control, treatment


async def start_experiment(campaign: Campaign) -> dt.datetime:
    """The promo rule live and the experiment of two equal arms (control, promo) started an
    hour ago; answers when it started."""
    await campaign.live(earning("promo", rate=rate(1, 100)))
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await campaign.create_experiment(
        experiments_pb2.Experiment(
            experiment_id=EXPERIMENT,
            name="Small arms",
            start_time=ts(started),
            arms=two_arms("promo", rule_ids=["promo"]),
        )
    )
    return started


async def test_a_report_on_two_members_per_arm_has_the_t_interval_of_one_degree_of_freedom(
    start_service,
) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        started = await start_experiment(campaign)
        control, treatment = two_of_each_arm()
        bought = started + dt.timedelta(minutes=30)
        # Control spends 10.00 each (no variance); the treatment 10.00 and 30.00.
        spends = {control[0]: 1_000, control[1]: 1_000, treatment[0]: 1_000, treatment[1]: 3_000}
        await campaign.ingest(
            batch("b1", [(f"t-{m}", m, amount, bought) for m, amount in spends.items()])
        )

        async def report(confidence_bps: int) -> campaign_pb2.GetExperimentReportResponse:
            return await campaign.stub.GetExperimentReport(
                campaign_pb2.GetExperimentReportRequest(
                    program_id=PROGRAM, experiment_id=EXPERIMENT, confidence_bps=confidence_bps
                )
            )

        result = await report(9_500)
        assert [(a.arm_code, a.member_count) for a in result.arms] == [
            ("control", 2),
            ("promo", 2),
        ]
        assert [a.spend_per_member.amount_minor for a in result.arms] == [1_000, 2_000]
        [uplift] = result.uplifts
        # Means 2000 and 1000; treatment variance (1000² + 1000²) / 1 = 2,000,000, control 0:
        # standard error sqrt(2,000,000 / 2) = 1000, Welch degrees of freedom
        # (1e6)² / ((1e6)² / 1) = 1.
        assert uplift.interval_available
        assert uplift.spend_uplift.amount_minor == 1_000
        assert uplift.spend_uplift_lower.amount_minor == round(1_000 - T_975_1 * 1_000)
        assert uplift.spend_uplift_upper.amount_minor == round(1_000 + T_975_1 * 1_000)
        wide = (await report(9_900)).uplifts[0]
        assert wide.spend_uplift_lower.amount_minor == round(1_000 - T_995_1 * 1_000)
        assert wide.spend_uplift_upper.amount_minor == round(1_000 + T_995_1 * 1_000)


async def test_an_arm_without_members_gives_no_uplift(start_service) -> None:
    """With nobody in control there is nothing to compare with: the report gave the treatment's
    own spend and participation as their uplift (+20.00 EUR, +100 percentage points)."""
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        started = await start_experiment(campaign)
        _, treatment = two_of_each_arm()
        bought = started + dt.timedelta(minutes=30)
        await campaign.ingest(batch("b1", [(f"t-{m}", m, 2_000, bought) for m in treatment]))
        result = await campaign.stub.GetExperimentReport(
            campaign_pb2.GetExperimentReportRequest(program_id=PROGRAM, experiment_id=EXPERIMENT)
        )
        assert [(a.arm_code, a.member_count) for a in result.arms] == [
            ("control", 0),
            ("promo", 2),
        ]
        [uplift] = result.uplifts
        assert not uplift.interval_available
        assert uplift.spend_uplift.amount_minor == 0
        assert uplift.participation_uplift_bps == uplift.redemption_uplift_bps == 0
        assert (uplift.spend_uplift_lower, uplift.spend_uplift_upper) == (
            uplift.spend_uplift,
            uplift.spend_uplift,
        )


async def test_a_rate_of_all_or_none_still_has_an_interval(start_service) -> None:
    """Both treatment members buy, neither control member does: Welch's interval on 0/1
    observations has no width when each arm's rate is 0 or 1, so the report claimed a
    participation uplift of exactly +100 percentage points from four members ([10000, 10000]).
    Rates take Newcombe's interval from Wilson's score intervals of each arm (by hand: Wilson's
    for 2 of 2 is [0.342378, 1], for 0 of 2 [0, 0.657622]; the lower bound of the difference
    is 1 - sqrt(0.657622² + 0.657622²) = 0.069983)."""
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        started = await start_experiment(campaign)
        control, treatment = two_of_each_arm()
        # The control members bought before the experiment only: known, not participating.
        before = started - dt.timedelta(days=1)
        during = started + dt.timedelta(minutes=30)
        await campaign.ingest(
            batch(
                "b1",
                [(f"c-{m}", m, 1_000, before) for m in control]
                + [(f"t-{m}", m, 1_000, during) for m in treatment],
            )
        )
        result = await campaign.stub.GetExperimentReport(
            campaign_pb2.GetExperimentReportRequest(program_id=PROGRAM, experiment_id=EXPERIMENT)
        )
        assert [(a.arm_code, a.member_count, a.participant_count) for a in result.arms] == [
            ("control", 2, 0),
            ("promo", 2, 2),
        ]
        [uplift] = result.uplifts
        assert uplift.participation_uplift_bps == 10_000
        assert uplift.participation_uplift_lower_bps == 700
        assert uplift.participation_uplift_upper_bps == 10_000
        # Nobody redeemed in either arm: no difference, but not a certain one either.
        assert uplift.redemption_uplift_bps == 0
        assert uplift.redemption_uplift_lower_bps == -6_576
        assert uplift.redemption_uplift_upper_bps == 6_576
