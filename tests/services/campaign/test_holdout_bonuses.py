"""The program-wide holdout against the bonuses no earning rule gives: the birthday bonus, the top
members of the month and a mission completed by an activity. A held-out member must get none of
them, or the holdout report's baseline is no baseline (found by the learn-loop audit)."""

import datetime as dt

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign.assignment import held_out
from tests.services.campaign.streams import eventually, publish
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    engagement,
    key,
    ledger_and_campaign,
    ts,
)

SALT = f"holdout:{PROGRAM}"
HOLDOUT_BPS = 5_000
APRIL = dt.datetime(2025, 4, 10, 10, 0, tzinfo=dt.UTC)
HOLDOUT_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
# Mission steps (a mission copies its steps: one message serves every mission).
BUY_STEP = engagement_pb2.MissionStep(
    step_code="buy", purchase=engagement_pb2.PurchaseRequirement()
)
REVIEW_STEP = engagement_pb2.MissionStep(
    step_code="review", activity_kind=common_pb2.ACTIVITY_KIND_REVIEW
)


def pick_members() -> tuple[str, str]:
    """One member the holdout keeps out and one it does not (the hash decides)."""
    candidates = [f"hb{index:03d}" for index in range(100)]
    held = next(m for m in candidates if held_out(SALT, HOLDOUT_BPS, m))
    free = next(m for m in candidates if not held_out(SALT, HOLDOUT_BPS, m))
    return held, free


async def configure_holdout(campaign) -> None:  # type: ignore[no-untyped-def]
    await campaign.configure_holdout(HOLDOUT_BPS, start_time=ts(HOLDOUT_START))


async def create_mission(  # type: ignore[no-untyped-def]
    campaign, mission_id: str, step: engagement_pb2.MissionStep, **fields
) -> None:
    """A mission of the one step paying 200 points (its name the id unless given)."""
    await campaign.stub.CreateMission(
        campaign_pb2.CreateMissionRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            mission=engagement_pb2.Mission(
                mission_id=mission_id,
                name=fields.pop("name", mission_id),
                reward_points=200,
                steps=[step],
                **fields,
            ),
        )
    )


async def test_held_out_members_get_no_birthday_or_top_of_month_bonus(
    start_service, servers, nats_namespace
) -> None:
    held, free = pick_members()
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await campaign.configure_recognition(
            engagement_pb2.RecognitionConfig(
                birthday_bonus_points=250,
                top_members_of_month=engagement_pb2.TopMembersOfMonth(
                    count=1, points=500, basis=engagement_pb2.TOP_MEMBERS_BASIS_SPEND
                ),
            )
        )
        for number, member in enumerate((held, free)):
            await publish(
                servers,
                nats_namespace,
                "identity.member_enrolled",
                events_pb2.Event(
                    event_id=f"00000000-0000-0000-0000-{number:012d}",
                    program_id=PROGRAM,
                    member_enrolled=events_pb2.MemberEnrolled(
                        member_id=member,
                        entry_tier_code="member",
                        birthday=common_pb2.LocalDate(year=1990, month=6, day=11),
                    ),
                ),
            )
        pool = campaign.service.runtime.pool

        async def both_enrolled() -> bool:
            count = await pool.fetchval(
                "SELECT count(*) FROM members WHERE birthday_month IS NOT NULL"
            )
            return bool(count == 2)

        await eventually(both_enrolled)
        # The held-out member spends most in April: without the holdout it would be the top one.
        await campaign.ingest(
            batch("april", [("t1", held, 9_000, APRIL), ("t2", free, 1_000, APRIL)])
        )
        jobs = campaign.recognition()
        assert (await jobs.run_once(APRIL))["top_of_month"] == 0
        settled = await jobs.run_once(dt.datetime(2025, 5, 1, 8, 0, tzinfo=dt.UTC))
        # The top place goes to the best member the holdout does not keep out.
        assert settled["top_of_month"] == 1
        birthdays = await jobs.run_once(dt.datetime(2025, 6, 11, 12, 0, tzinfo=dt.UTC))
        assert birthdays["birthday"] == 1
        # Run again: the held-out member's birthday is decided (nothing), not left to retry.
        again = await jobs.run_once(dt.datetime(2025, 6, 11, 13, 0, tzinfo=dt.UTC))
        assert again["birthday"] == 0
        assert await available(ledger, held) == 0
        assert await available(ledger, free) == 500 + 250


async def test_a_held_out_member_completing_a_mission_by_an_activity_gets_no_points(
    start_service,
) -> None:
    held, free = pick_members()
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await create_mission(
            campaign,
            "first-review",
            REVIEW_STEP,
            name="Write a review",
            window_days=14,
        )
        for member in (held, free):
            await campaign.stub.RecordActivity(
                campaign_pb2.RecordActivityRequest(
                    program_id=PROGRAM,
                    idempotency_key=f"review-{member}",
                    activity=engagement_pb2.Activity(
                        activity_id=f"review-{member}",
                        member_id=member,
                        kind=common_pb2.ACTIVITY_KIND_REVIEW,
                        channel=common_pb2.CHANNEL_WEBSHOP,
                    ),
                )
            )
            progress = await campaign.stub.GetMissionProgress(
                campaign_pb2.GetMissionProgressRequest(
                    program_id=PROGRAM, member_id=member, mission_id="first-review"
                )
            )
            # Completed all the same, as a purchase completing a mission is for a held-out
            # member (its badge stands): only the points are withheld.
            assert progress.progresses[0].state == engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED
        assert await available(ledger, free) == 200
        assert await available(ledger, held) == 0


async def test_a_held_out_member_gets_no_sign_up_bonus(
    start_service, servers, nats_namespace
) -> None:
    held, free = pick_members()
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await campaign.configure_recognition(
            engagement_pb2.RecognitionConfig(signup_bonus_points=100)
        )
        for number, member in enumerate((held, free)):
            event = events_pb2.Event(
                event_id=f"00000000-0000-0000-0001-{number:012d}",
                program_id=PROGRAM,
                member_enrolled=events_pb2.MemberEnrolled(
                    member_id=member, entry_tier_code="member"
                ),
            )
            event.occurred_at.GetCurrentTime()
            await publish(servers, nats_namespace, "identity.member_enrolled", event)
        pool = campaign.service.runtime.pool

        async def both_decided() -> bool:
            count = await pool.fetchval("SELECT count(*) FROM bonus_awards WHERE kind = 'signup'")
            return bool(count == 2)

        await eventually(both_decided)
        assert await available(ledger, free) == 100
        assert await available(ledger, held) == 0


def other_free_member() -> str:
    return next(
        m
        for m in (f"hb{index:03d}" for index in range(100, 200))
        if not held_out(SALT, HOLDOUT_BPS, m)
    )


def referral_rule(rule_id: str, **fields) -> rules_pb2.Rule:  # type: ignore[no-untyped-def]
    """100 points to the referrer, 50 to the referred member."""
    return engagement(
        rule_id,
        activity_kind=common_pb2.ACTIVITY_KIND_REFERRAL,
        points=100,
        referred_points=50,
        **fields,
    )


async def refer(campaign, number: int, referrer: str, referred: str):  # type: ignore[no-untyped-def]
    answer = await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            activity=engagement_pb2.Activity(
                activity_id=f"referral-{number}",
                member_id=referrer,
                kind=common_pb2.ACTIVITY_KIND_REFERRAL,
                channel=common_pb2.CHANNEL_APP,
                referred_member_id=referred,
            ),
        )
    )
    return answer.activity


async def test_a_held_out_member_referred_gets_no_referral_bonus(start_service) -> None:
    """A referral paid at once (no first purchase required, or the referred member has bought
    already) paid the referred side even when the holdout keeps that member out; at a first
    purchase it did not."""
    held, free = pick_members()
    other_free = other_free_member()
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await campaign.live(referral_rule("refer"))
        for number, referred in enumerate((held, other_free)):
            referral = await refer(campaign, number, free, referred)
            assert referral.outcome == engagement_pb2.ACTIVITY_OUTCOME_REWARDED
        # The referrer is not held out: paid for both referrals.
        assert await available(ledger, free) == 200
        assert await available(ledger, other_free) == 50
        assert await available(ledger, held) == 0


async def test_a_held_out_referrer_s_referral_is_recorded_and_pays_the_referred_member(
    start_service,
) -> None:
    """A referral by a member the holdout keeps out was not recorded at all (NO_RULE), so the
    referred member, who is not held out, got no bonus either. The holdout withholds the
    held-out side's bonus only: paid at once, and at the referred member's first purchase."""
    held, free = pick_members()
    later = other_free_member()
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await campaign.live(referral_rule("refer"))
        at_once = await refer(campaign, 0, held, free)
        assert at_once.outcome == engagement_pb2.ACTIVITY_OUTCOME_REWARDED
        # The referrer is paid nothing, and the activity says so.
        assert at_once.points == 0
        assert await available(ledger, free) == 50
        assert await available(ledger, held) == 0
        # Recorded: the referred member names its referrer.
        pool = campaign.service.runtime.pool
        assert (
            await pool.fetchval(
                "SELECT referrer_member_id FROM referrals WHERE referred_member_id = $1", free
            )
            == held
        )

        await campaign.live(referral_rule("refer-first", priority=5, requires_first_purchase=True))
        waiting = await refer(campaign, 1, held, later)
        assert waiting.outcome == engagement_pb2.ACTIVITY_OUTCOME_PENDING
        await campaign.ingest(batch("first", [("t-later", later, 1_000, APRIL)]))
        assert await available(ledger, later) == 50
        assert await available(ledger, held) == 0


async def test_bonuses_of_a_purchase_before_the_holdout_s_start_are_paid(start_service) -> None:
    """A held-out member's milestone, referral and mission bonuses were withheld whatever the
    purchase's time; a purchase from before the holdout's start (ingested late) is judged by its
    own time, as earning rules judge it, and one after it is still withheld."""
    held, free = pick_members()
    before_start = HOLDOUT_START - dt.timedelta(days=10)
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await campaign.configure_recognition(
            engagement_pb2.RecognitionConfig(
                milestones=[
                    engagement_pb2.Milestone(
                        code="first",
                        kind=engagement_pb2.MILESTONE_KIND_NTH_PURCHASE,
                        threshold=1,
                        points=30,
                    ),
                    engagement_pb2.Milestone(
                        code="second",
                        kind=engagement_pb2.MILESTONE_KIND_NTH_PURCHASE,
                        threshold=2,
                        points=700,
                    ),
                ]
            )
        )
        await campaign.live(referral_rule("refer-first", requires_first_purchase=True))
        await create_mission(
            campaign,
            "buy-once",
            BUY_STEP,
            name="Buy once",
            start_time=ts(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)),
        )
        waiting = await refer(campaign, 0, free, held)
        assert waiting.outcome == engagement_pb2.ACTIVITY_OUTCOME_PENDING
        # The first purchase, from before the holdout started: the first milestone, the
        # referral (both sides) and the mission are the purchase's, paid.
        await campaign.ingest(batch("late", [("t-old", held, 1_000, before_start)]))
        assert await available(ledger, held) == 30 + 50 + 200
        assert await available(ledger, free) == 100
        # The second purchase is from after the start: its milestone is withheld.
        await campaign.ingest(batch("now", [("t-new", held, 1_000, APRIL)]))
        assert await available(ledger, held) == 30 + 50 + 200
