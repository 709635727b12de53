"""Experiments: stable assignment, the control arm gets no incentive, and a report whose interval
covers a known uplift."""

import datetime as dt
import random

import asyncpg
import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import generate_latest

from loyalty.campaign.v1 import campaign_pb2, campaign_pb2_grpc, experiments_pb2, segments_pb2
from loyalty.events.v1 import events_pb2
from services.campaign.app import SPEC as CAMPAIGN
from services.campaign.app import CampaignConfig
from services.campaign.assignment import arm_index, bucket, bucket_sql
from tests.services.campaign.insight_support import (
    compute,
    create_segment,
    enrolled,
    eventually,
    field_of,
    publish,
    segment,
)
from tests.services.campaign.support import (
    PROGRAM,
    _reason,
    available,
    batch,
    earning,
    eur,
    ledger_and_campaign,
    rate,
    ts,
    two_arms,
)

SEED = 20250101
MEMBERS = 1_600
SPEND_MEAN, SPEND_SD, TREATMENT_EFFECT = 6_000, 1_500, 800
PURCHASE_RATE = {"control": 0.8, "double": 0.9}
# E[spend per member]: 0.9 x (6000 + 800) - 0.8 x 6000 = 1320 minor units; participation +10 pp.
TRUE_SPEND_UPLIFT = 0.9 * (SPEND_MEAN + TREATMENT_EFFECT) - 0.8 * SPEND_MEAN
TRUE_PARTICIPATION_UPLIFT_BPS = 1_000


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def arms(*, treatment_rules: tuple[str, ...] = ("double",), control_bps: int = 5_000):  # type: ignore[no-untyped-def]
    return two_arms("double", control_bps=control_bps, rule_ids=list(treatment_rules))


def experiment(experiment_id: str, **fields) -> experiments_pb2.Experiment:  # type: ignore[no-untyped-def]
    made = experiments_pb2.Experiment(
        experiment_id=experiment_id, name="Double points", arms=fields.pop("arms", arms()), **fields
    )
    return made


async def create(
    campaign, made: experiments_pb2.Experiment, idempotency_key: str = ""
) -> experiments_pb2.Experiment:  # type: ignore[no-untyped-def]
    return await campaign.create_experiment(made, idempotency_key=idempotency_key)


async def earned_by_rule(database_url: str, members: list[str]) -> dict[str, tuple[int, set[str]]]:
    """Per member: the points of earn postings and the rules named in their reasons, read from
    the ledger's own tables."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:
        rows = await connection.fetch(
            "SELECT member_id, amount, reason FROM postings WHERE program_id = $1 "
            "AND member_id = ANY($2::text[]) AND amount > 0",
            PROGRAM,
            members,
        )
    finally:
        await connection.close()
    earned: dict[str, tuple[int, set[str]]] = {m: (0, set()) for m in members}
    for row in rows:
        points, rules = earned[row["member_id"]]
        refs = {ref.split("@")[0] for ref in _reason(bytes(row["reason"])).split(",") if ref}
        earned[row["member_id"]] = (points + row["amount"], rules | refs)
    return earned


async def test_known_uplift_is_covered_and_control_gets_nothing(
    start_service, servers, nats_namespace, database_url
) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(1, 100)))
        await campaign.live(earning("double", rate=rate(1, 100)))
        started = now() - dt.timedelta(hours=1)
        made = await create(campaign, experiment("double-points", start_time=ts(started)))
        assert made.status == experiments_pb2.EXPERIMENT_STATUS_RUNNING
        assert made.assignment_salt == "double-points"

        rng = random.Random(SEED)
        members = [f"m{index:04d}" for index in range(MEMBERS)]
        arm_of = {
            m: ("control", "double")[arm_index([5_000, 5_000], bucket("double-points", m))]
            for m in members
        }
        spend: dict[str, int] = {}
        for member in members:
            arm = arm_of[member]
            if rng.random() < PURCHASE_RATE[arm]:
                # Whole euros, so the points are exact under any rounding mode.
                amount = max(100, round(rng.gauss(SPEND_MEAN, SPEND_SD) / 100) * 100)
                spend[member] = amount + (TREATMENT_EFFECT if arm == "double" else 0)
        # Every member enrols (so non-buyers count); purchases come in bulk.
        await publish(
            servers.nats_url,
            nats_namespace,
            "identity.member_enrolled",
            *[enrolled(m) for m in members],
        )
        bought = now() - dt.timedelta(minutes=10)
        rows = [(f"t-{m}", m, amount, bought) for m, amount in spend.items()]
        for start in range(0, len(rows), 500):
            await campaign.ingest(batch(f"b{start}", rows[start : start + 500]))
        redeemers = [m for m in members[:200] if m in spend]
        await publish(
            servers.nats_url,
            nats_namespace,
            "rewards.reward_redeemed",
            *[
                events_pb2.Event(
                    reward_redeemed=events_pb2.RewardRedeemed(
                        redemption_id=f"r-{m}", member_id=m, reward_id="coffee", points_spent=10
                    ),
                    occurred_at=ts(now()),
                )
                for m in redeemers
            ],
        )

        async def report() -> campaign_pb2.GetExperimentReportResponse:
            return await campaign.stub.GetExperimentReport(
                campaign_pb2.GetExperimentReportRequest(
                    program_id=PROGRAM, experiment_id="double-points"
                )
            )

        async def counted() -> tuple[int, int]:
            got = await report()
            redeemed = sum(round(a.redemption_rate * a.member_count) for a in got.arms)
            return sum(a.member_count for a in got.arms), redeemed

        assert await eventually(counted, (MEMBERS, len(redeemers)), timeout_s=60) == (
            MEMBERS,
            len(redeemers),
        )
        result = await report()
        control, treatment = result.arms
        assert (control.arm_code, control.control, treatment.arm_code) == (
            "control",
            True,
            "double",
        )
        assert control.member_count == sum(1 for a in arm_of.values() if a == "control")
        assert treatment.participant_count == sum(1 for m in spend if arm_of[m] == "double")
        uplift = result.uplifts[0]
        assert result.confidence_bps == 9_500 and uplift.interval_available
        # The interval covers the true uplift, and is narrow enough to exclude no effect.
        assert (
            uplift.spend_uplift_lower.amount_minor
            <= TRUE_SPEND_UPLIFT
            <= uplift.spend_uplift_upper.amount_minor
        )
        assert uplift.spend_uplift_lower.amount_minor > 0
        assert uplift.spend_uplift_upper.amount_minor - uplift.spend_uplift_lower.amount_minor < 800
        assert (
            uplift.participation_uplift_lower_bps
            <= TRUE_PARTICIPATION_UPLIFT_BPS
            <= uplift.participation_uplift_upper_bps
        )
        expected_spend = {
            arm: sum(spend.get(m, 0) for m in members if arm_of[m] == arm)
            for arm in ("control", "double")
        }
        assert control.spend_per_member.amount_minor == round(
            expected_spend["control"] / control.member_count
        )
        assert treatment.points_per_member > 1.8 * control.points_per_member

        # The control arm received nothing from the treatment rule: its points are the base
        # rule's alone, and no posting names the rule; the treatment arm got both.
        earned = await earned_by_rule(database_url, members)
        for member in members:
            base = spend.get(member, 0) // 100
            points, rules = earned[member]
            if arm_of[member] == "control":
                assert (points, rules <= {"base"}) == (base, True), member
            else:
                assert points == 2 * base, member
                assert member not in spend or rules == {"base", "double"}
        control_member = next(m for m in members if arm_of[m] == "control")
        treated_member = next(m for m in members if arm_of[m] == "double")
        # The unary path honours the arms too.
        before = await available(ledger, control_member)
        answer = await campaign.purchase(control_member, "late-1", 1_000, at=now())
        assert (
            answer.accrual.points == 10 and await available(ledger, control_member) == before + 10
        )
        assert (
            await campaign.purchase(treated_member, "late-2", 1_000, at=now())
        ).accrual.points == 20

        # Ending the experiment ends the treatment; ending it again answers the same.
        end = campaign_pb2.EndExperimentRequest(
            program_id=PROGRAM, idempotency_key="end-1", experiment_id="double-points"
        )
        ended = await campaign.stub.EndExperiment(end)
        assert ended.experiment.status == experiments_pb2.EXPERIMENT_STATUS_ENDED
        assert await campaign.stub.EndExperiment(end) == ended
        assert (
            await campaign.purchase(treated_member, "late-3", 1_000, at=now())
        ).accrual.points == 10
        listed = await campaign.stub.ListExperiments(
            campaign_pb2.ListExperimentsRequest(
                program_id=PROGRAM, status=experiments_pb2.EXPERIMENT_STATUS_ENDED
            )
        )
        assert [e.experiment_id for e in listed.experiments] == ["double-points"]
        # Without a status: every experiment.
        everything = await campaign.stub.ListExperiments(
            campaign_pb2.ListExperimentsRequest(program_id=PROGRAM)
        )
        assert [e.experiment_id for e in everything.experiments] == ["double-points"]


async def test_assignment_is_stable_across_processes_and_matches_sql(
    start_service, database_url
) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_, campaign):
        await campaign.live(earning("double", rate=rate(1, 100)))
        await create(
            campaign, experiment("split", arms=arms(control_bps=3_000), assignment_salt="salt-1")
        )
        members = [f"member-{index}" for index in range(60)]
        first = [
            await campaign.stub.GetExperimentAssignment(
                campaign_pb2.GetExperimentAssignmentRequest(
                    program_id=PROGRAM, experiment_id="split", member_id=m
                )
            )
            for m in members
        ]
        expected = [
            ("control", "double")[arm_index([3_000, 7_000], bucket("salt-1", m))] for m in members
        ]
        assert [a.arm_code for a in first] == expected
        assert {"control", "double"} == set(expected)
        metrics = generate_latest(campaign.service.runtime.metrics.registry).decode()
        assigned = f'loyalty_experiment_assignments_total{{arm="control",experiment="split",program="{PROGRAM}"}}'
        assert f"{assigned} {float(expected.count('control'))}" in metrics
        # Another process on the same database answers the same.
        async with start_service(
            CAMPAIGN,
            CampaignConfig,
            ledger_address=campaign.ledger_address,
            consumers_enabled=False,
            segments_enabled=False,
            recognition_enabled=False,
        ) as (_, channel):
            other = campaign_pb2_grpc.CampaignServiceStub(channel)
            second = [
                await other.GetExperimentAssignment(
                    campaign_pb2.GetExperimentAssignmentRequest(
                        program_id=PROGRAM, experiment_id="split", member_id=m
                    )
                )
                for m in members
            ]
        assert [a.arm_code for a in second] == expected
    connection = await asyncpg.connect(database_url)
    try:
        ids = [f"id-{index}-é" for index in range(500)]
        rows = await connection.fetch(
            f"SELECT m, {bucket_sql('$1::text', 'm')} AS b FROM unnest($2::text[]) AS m",
            "salt-2",
            ids,
        )
    finally:
        await connection.close()
    assert {row["m"]: row["b"] for row in rows} == {m: bucket("salt-2", m) for m in ids}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"arms": arms()[:1]}, "experiment.arms"),
        (
            {
                "arms": [
                    *arms()[:1],
                    experiments_pb2.ExperimentArm(arm_code="b", allocation_bps=4_000),
                ]
            },
            "experiment.arms.allocation_bps",
        ),
        (
            {
                "arms": [
                    arms()[0],
                    experiments_pb2.ExperimentArm(arm_code="b", allocation_bps=5_000, control=True),
                ]
            },
            "experiment.arms.control",
        ),
        (
            {
                "arms": [
                    experiments_pb2.ExperimentArm(
                        arm_code="a", allocation_bps=5_000, control=True, rule_ids=["double"]
                    ),
                    arms()[1],
                ]
            },
            "experiment.arms[0].rule_ids",
        ),
        (
            {
                "arms": [
                    arms()[0],
                    experiments_pb2.ExperimentArm(arm_code="control", allocation_bps=5_000),
                ]
            },
            "experiment.arms[1].arm_code",
        ),
        (
            {
                "arms": [
                    experiments_pb2.ExperimentArm(arm_code="a", allocation_bps=0, control=True),
                    experiments_pb2.ExperimentArm(arm_code="b", allocation_bps=10_000),
                ]
            },
            "experiment.arms[0].allocation_bps",
        ),
        ({"arms": arms(treatment_rules=("missing",))}, "experiment.arms[1].rule_ids[0]"),
        ({"segment_id": "no-such-segment"}, "experiment.segment_id"),
        # The last instant a Timestamp holds (a "never") would be stored as infinity.
        (
            {"end_time": Timestamp(seconds=253_402_300_799, nanos=999_999_999)},
            "experiment.end_time",
        ),
        ({"start_time": Timestamp(seconds=4_102_444_800)}, "experiment.start_time"),  # 2100
    ],
)
async def test_bad_experiments_name_the_field(start_service, change, field) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        await campaign.live(earning("double", rate=rate(1, 100)))
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create(campaign, experiment("bad", **change))
        assert error.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
        assert field_of(error.value) == field


async def test_experiment_creation_is_idempotent_and_a_rule_serves_one_experiment(
    start_service,
) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        await campaign.live(earning("double", rate=rate(1, 100)))
        first = await create(campaign, experiment(""), idempotency_key="exp-1")
        again = await create(campaign, experiment(""), idempotency_key="exp-1")
        assert first == again and first.experiment_id.startswith("exp-")
        got = await campaign.stub.GetExperiment(
            campaign_pb2.GetExperimentRequest(program_id=PROGRAM, experiment_id=first.experiment_id)
        )
        assert got.experiment == first
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create(campaign, experiment("second"))
        assert error.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert field_of(error.value) == "experiment.arms[1].rule_ids[0]"
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await create(campaign, experiment(first.experiment_id, arms=arms(treatment_rules=())))
        assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await campaign.stub.GetExperimentReport(
                campaign_pb2.GetExperimentReportRequest(
                    program_id=PROGRAM, experiment_id=first.experiment_id, confidence_bps=10_000
                )
            )
        assert field_of(error.value) == "confidence_bps"


async def test_an_experiment_on_a_segment_leaves_the_others_out(start_service) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        await campaign.live(earning("double", rate=rate(1, 100)))
        members = [f"s{index:02d}" for index in range(40)]
        for index, member in enumerate(members):
            # The first half are big spenders.
            await campaign.purchase(
                member, f"seed-{member}", 50_000 if index < 20 else 1_000, at=now()
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
        assert (await compute(campaign, "big")).member_count == 20
        await create(
            campaign,
            experiment(
                "big-only", segment_id="big", arms=arms(control_bps=1), start_time=ts(now())
            ),
        )
        for index, member in enumerate(members):
            assignment = await campaign.stub.GetExperimentAssignment(
                campaign_pb2.GetExperimentAssignmentRequest(
                    program_id=PROGRAM, experiment_id="big-only", member_id=member
                )
            )
            bought = await campaign.purchase(member, f"after-{member}", 1_000, at=now())
            if index < 20:
                # Nearly everybody in the segment is in the treatment arm (1 bp of control).
                assert assignment.arm_code in ("control", "double")
                assert bought.accrual.points == (10 if assignment.arm_code == "double" else 0)
            else:
                assert (assignment.not_eligible, assignment.arm_code) == (True, "")
                assert bought.accrual.points == 0
        report = await campaign.stub.GetExperimentReport(
            campaign_pb2.GetExperimentReportRequest(program_id=PROGRAM, experiment_id="big-only")
        )
        assert sum(arm.member_count for arm in report.arms) == 20


async def test_an_arm_s_rewards_are_withheld_from_everyone_before_the_start_and_checks_name_the_field(
    start_service,
) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        later = experiment(
            "later",
            arms=[
                experiments_pb2.ExperimentArm(
                    arm_code="control", allocation_bps=5_000, control=True
                ),
                experiments_pb2.ExperimentArm(
                    arm_code="offer", allocation_bps=5_000, reward_ids=["r-offer"]
                ),
            ],
        )
        later.start_time.FromDatetime(now() + dt.timedelta(days=1))
        await create(campaign, later)

        async def withheld(member: str, *reward_ids: str) -> list[str]:
            response = await campaign.stub.CheckRewardTargeting(
                campaign_pb2.CheckRewardTargetingRequest(
                    program_id=PROGRAM, member_id=member, reward_ids=list(reward_ids)
                )
            )
            return list(response.withheld_reward_ids)

        for member in ("a", "b", "c", "d"):
            assert await withheld(member, "r-offer", "r-other") == ["r-offer"]
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await withheld("a", *[f"r{index}" for index in range(1_001)])
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "reward_ids" in error.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await withheld("a", "")
        assert "reward_ids[0]" in error.value.details()
