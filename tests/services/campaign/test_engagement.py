"""Activities from JetStream and RecordActivity: caps, verification, referrals; idempotent."""

import asyncio
import datetime as dt

import grpc
import nats
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign.support import (
    PROGRAM,
    available,
    earning,
    engagement,
    key,
    ledger_and_campaign,
    rate,
    ts,
)

REVIEW = common_pb2.ACTIVITY_KIND_REVIEW
SHARE = common_pb2.ACTIVITY_KIND_SOCIAL_SHARE
REFERRAL = common_pb2.ACTIVITY_KIND_REFERRAL
OUTCOME = engagement_pb2.ActivityOutcome
NOON = dt.datetime(2025, 5, 6, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
async def services(start_service):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(
            engagement("review", activity_kind=REVIEW, points=50, requires_verification=True)
        )
        await campaign.live(
            engagement(
                "share",
                activity_kind=SHARE,
                points=10,
                caps=rules_pb2.ActivityCaps(per_day_count_max=2),
            )
        )
        await campaign.live(
            engagement(
                "referral",
                activity_kind=REFERRAL,
                points=300,
                referred_points=100,
                requires_first_purchase=True,
            )
        )
        await campaign.live(earning("base", rate=rate()))
        yield ledger, campaign


def recorded(activity_id: str, member: str, kind: int, **fields) -> events_pb2.Event:  # type: ignore[no-untyped-def]
    return events_pb2.Event(
        event_id=f"00000000-0000-0000-0000-{abs(hash(activity_id)) % 10**12:012d}",
        program_id=PROGRAM,
        activity_recorded=events_pb2.ActivityRecorded(
            activity_id=activity_id,
            member_id=member,
            kind=kind,  # type: ignore[arg-type]
            channel=common_pb2.CHANNEL_SOCIAL,
            occurred_at=ts(fields.pop("at", NOON)),
            **fields,
        ),
    )


async def publish(servers, namespace: str, event: events_pb2.Event, *, msg_id: str) -> None:  # type: ignore[no-untyped-def]
    client = await nats.connect(servers.nats_url)
    try:
        subject = f"{namespace}.activity.{common_pb2.ActivityKind.Name(event.activity_recorded.kind).lower()}"
        await client.jetstream().publish(
            subject, event.SerializeToString(), headers={"Nats-Msg-Id": msg_id}
        )
    finally:
        await client.close()


async def activities(campaign, **filters) -> list[engagement_pb2.Activity]:  # type: ignore[no-untyped-def]
    listed = await campaign.stub.ListActivities(
        campaign_pb2.ListActivitiesRequest(program_id=PROGRAM, **filters)
    )
    return list(listed.activities)


async def wait_for(campaign, count: int, **filters) -> list[engagement_pb2.Activity]:  # type: ignore[no-untyped-def]
    for _ in range(200):
        found = await activities(campaign, **filters)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{count} activities did not arrive")


async def test_activities_from_jetstream_are_capped_verified_and_never_twice(
    services, servers, nats_namespace
) -> None:
    ledger, campaign = services
    review = recorded("rv1", "ann", REVIEW, url="https://shop.example/r/1")
    await publish(servers, nats_namespace, review, msg_id="m1")
    for index in range(3):
        await publish(
            servers, nats_namespace, recorded(f"sh{index}", "ann", SHARE), msg_id=f"s{index}"
        )
    # A redelivery (a new message id, so JetStream keeps it) of an activity seen before.
    await publish(servers, nats_namespace, recorded("sh0", "ann", SHARE), msg_id="s0-again")
    found = await wait_for(campaign, 4, member_id="ann")
    await asyncio.sleep(0.3)
    found = {a.activity_id: a for a in await activities(campaign, member_id="ann")}
    assert set(found) == {"rv1", "sh0", "sh1", "sh2"}
    assert [found[f"sh{i}"].outcome for i in range(3)] == [
        OUTCOME.ACTIVITY_OUTCOME_REWARDED,
        OUTCOME.ACTIVITY_OUTCOME_REWARDED,
        OUTCOME.ACTIVITY_OUTCOME_CAPPED,
    ]
    assert found["rv1"].outcome == OUTCOME.ACTIVITY_OUTCOME_PENDING and found["rv1"].points == 50
    assert found["rv1"].verification_state == common_pb2.VERIFICATION_STATE_PENDING
    assert await available(ledger, "ann") == 20
    pending = await activities(campaign, verification_state=common_pb2.VERIFICATION_STATE_PENDING)
    assert [a.activity_id for a in pending] == ["rv1"]
    approve = campaign_pb2.VerifyActivityRequest(
        program_id=PROGRAM,
        idempotency_key="approve-rv1",
        activity_id="rv1",
        decision=campaign_pb2.VERIFICATION_DECISION_APPROVE,
        verifier_id="moderator-7",
    )
    verified = await campaign.stub.VerifyActivity(approve)
    assert verified.activity.outcome == OUTCOME.ACTIVITY_OUTCOME_REWARDED
    assert await campaign.stub.VerifyActivity(approve) == verified
    assert await available(ledger, "ann") == 70
    # A second review, rejected: no points, and its decision cannot be taken twice.
    await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key="rv2",
            activity=engagement_pb2.Activity(
                activity_id="rv2", member_id="ann", kind=REVIEW, channel=common_pb2.CHANNEL_WEBSHOP
            ),
        )
    )
    rejected = await campaign.stub.VerifyActivity(
        campaign_pb2.VerifyActivityRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            activity_id="rv2",
            decision=campaign_pb2.VERIFICATION_DECISION_REJECT,
            verifier_id="moderator-7",
            note="spam",
        )
    )
    assert (rejected.activity.outcome, rejected.activity.points) == (
        OUTCOME.ACTIVITY_OUTCOME_REJECTED,
        0,
    )
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await campaign.stub.VerifyActivity(
            campaign_pb2.VerifyActivityRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                activity_id="rv2",
                decision=campaign_pb2.VERIFICATION_DECISION_APPROVE,
                verifier_id="moderator-7",
            )
        )
    assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert await available(ledger, "ann") == 70


async def record_activity(  # type: ignore[no-untyped-def]
    campaign, activity_id: str, member: str, kind: int, at: dt.datetime | None = None, **fields
) -> engagement_pb2.Activity:
    response = await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key=activity_id,
            activity=engagement_pb2.Activity(
                activity_id=activity_id,
                member_id=member,
                kind=kind,  # type: ignore[arg-type]
                occurred_at=ts(at) if at is not None else None,
                **fields,
            ),
        )
    )
    return response.activity


async def refer(
    campaign, activity_id: str, referrer: str, referred: str
) -> engagement_pb2.Activity:  # type: ignore[no-untyped-def]
    return await record_activity(
        campaign,
        activity_id,
        referrer,
        REFERRAL,
        channel=common_pb2.CHANNEL_APP,
        referred_member_id=referred,
    )


async def test_referrals_pay_both_sides_after_the_first_purchase_and_refuse_loops(services) -> None:
    ledger, campaign = services
    self_referral = await refer(campaign, "ref0", "ann", "ann")
    assert self_referral.outcome == OUTCOME.ACTIVITY_OUTCOME_REJECTED
    assert self_referral.attributes["campaign.rejection"] == "self_referral"
    first = await refer(campaign, "ref1", "ann", "bob")
    assert first.outcome == OUTCOME.ACTIVITY_OUTCOME_PENDING
    assert (await refer(campaign, "ref2", "bob", "cat")).outcome == OUTCOME.ACTIVITY_OUTCOME_PENDING
    loop = await refer(campaign, "ref3", "cat", "ann")
    assert loop.attributes["campaign.rejection"] == "referral_loop"
    twice = await refer(campaign, "ref4", "dan", "bob")
    assert twice.attributes["campaign.rejection"] == "already_referred"
    assert await available(ledger, "ann") == 0
    await campaign.purchase("bob", "p1", 2_000, at=NOON)
    await campaign.purchase("bob", "p2", 2_000, at=NOON)
    assert await available(ledger, "ann") == 300
    assert await available(ledger, "bob") == 20 + 100 + 20
    assert await refer(campaign, "ref1", "ann", "bob") == first


async def test_an_activity_arriving_late_counts_against_its_own_week_and_month(services) -> None:
    ledger, campaign = services
    wish, visit = common_pb2.ACTIVITY_KIND_WISHLIST_ADD, common_pb2.ACTIVITY_KIND_STORE_CHECK_IN
    for rule_id, kind, points, caps in (
        ("wishlist", wish, 5, rules_pb2.ActivityCaps(per_week_count_max=1)),
        ("check-in", visit, 7, rules_pb2.ActivityCaps(per_month_count_max=1)),
    ):
        await campaign.live(engagement(rule_id, activity_kind=kind, points=points, caps=caps))

    async def record(activity_id: str, kind: int, at: dt.datetime) -> int:
        activity = await record_activity(
            campaign, activity_id, "ann", kind, at, channel=common_pb2.CHANNEL_APP
        )
        return activity.outcome

    rewarded, capped = OUTCOME.ACTIVITY_OUTCOME_REWARDED, OUTCOME.ACTIVITY_OUTCOME_CAPPED
    # NOON is a Tuesday in May; the late ones are from the week and the month before.
    assert await record("w-this-week", wish, NOON) == rewarded
    assert await record("w-last-week", wish, NOON - dt.timedelta(days=7)) == rewarded
    assert await record("w-this-week-again", wish, NOON + dt.timedelta(days=1)) == capped
    assert await record("c-this-month", visit, NOON) == rewarded
    assert await record("c-last-month", visit, NOON - dt.timedelta(days=20)) == rewarded
    assert await record("c-this-month-again", visit, NOON + dt.timedelta(days=3)) == capped
    assert await available(ledger, "ann") == 2 * 5 + 2 * 7


async def test_an_activity_the_channel_sends_as_pending_earns_once_verified(services) -> None:
    # The share rule needs no verification, but this channel moderates its shares first.
    ledger, campaign = services

    async def record(activity_id: str) -> engagement_pb2.Activity:
        return await record_activity(
            campaign,
            activity_id,
            "bob",
            SHARE,
            NOON,
            channel=common_pb2.CHANNEL_SOCIAL,
            verification_state=common_pb2.VERIFICATION_STATE_PENDING,
        )

    async def decide(activity_id: str, decision: int) -> engagement_pb2.Activity:
        response = await campaign.stub.VerifyActivity(
            campaign_pb2.VerifyActivityRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                activity_id=activity_id,
                decision=decision,  # type: ignore[arg-type]
                verifier_id="moderator-7",
            )
        )
        return response.activity

    first, second = await record("share-spam"), await record("share-ok")
    assert [(a.outcome, a.points) for a in (first, second)] == [
        (OUTCOME.ACTIVITY_OUTCOME_PENDING, 10)
    ] * 2
    assert await available(ledger, "bob") == 0
    rejected = await decide("share-spam", campaign_pb2.VERIFICATION_DECISION_REJECT)
    assert (rejected.outcome, rejected.points) == (OUTCOME.ACTIVITY_OUTCOME_REJECTED, 0)
    approved = await decide("share-ok", campaign_pb2.VERIFICATION_DECISION_APPROVE)
    assert (approved.outcome, approved.points) == (OUTCOME.ACTIVITY_OUTCOME_REWARDED, 10)
    assert await available(ledger, "bob") == 10


async def test_engagement_rules_stack_by_priority_best_of_and_exclusive(services) -> None:
    ledger, campaign = services
    like, check_in = common_pb2.ACTIVITY_KIND_SOCIAL_LIKE, common_pb2.ACTIVITY_KIND_STORE_CHECK_IN
    best_of, exclusive = rules_pb2.STACKING_MODE_BEST_OF_PRIORITY, rules_pb2.STACKING_MODE_EXCLUSIVE
    for rule_id, kind, priority, mode, points in (
        # Of one priority's best-of rules only the richest applies; the others stack.
        ("like-a", like, 10, best_of, 20),
        ("like-b", like, 10, best_of, 50),
        ("like-c", like, 10, 0, 5),
        ("like-d", like, 20, 0, 7),
        # An exclusive rule leaves out later priorities, not the rest of its own.
        ("visit-a", check_in, 10, exclusive, 30),
        ("visit-b", check_in, 10, 0, 4),
        ("visit-c", check_in, 20, 0, 9),
    ):
        rule = engagement(rule_id, priority=priority, activity_kind=kind, points=points)
        rule.stacking_mode = mode
        await campaign.live(rule)

    liked = await record_activity(campaign, "like-1", "ann", like, at=NOON)
    assert liked.points == 62
    assert [ref.split("@")[0] for ref in liked.rule_ids] == ["like-b", "like-c", "like-d"]
    visited = await record_activity(campaign, "visit-1", "bob", check_in, at=NOON)
    assert visited.points == 34
    assert [ref.split("@")[0] for ref in visited.rule_ids] == ["visit-a", "visit-b"]
    assert await available(ledger, "ann") == 62 and await available(ledger, "bob") == 34


async def test_concurrent_activities_never_pass_a_cap_together(services) -> None:
    # A script firing shares at once: each counts the rewards before it, so without a lock all
    # of them count none and all are rewarded.
    ledger, campaign = services
    outcomes = await asyncio.gather(
        *(record_activity(campaign, f"burst{index}", "cat", SHARE, at=NOON) for index in range(16))
    )
    rewarded = [a for a in outcomes if a.outcome == OUTCOME.ACTIVITY_OUTCOME_REWARDED]
    assert len(rewarded) == 2
    assert {a.outcome for a in outcomes} == {
        OUTCOME.ACTIVITY_OUTCOME_REWARDED,
        OUTCOME.ACTIVITY_OUTCOME_CAPPED,
    }
    assert await available(ledger, "cat") == 20


async def test_one_activity_sent_at_once_on_two_paths_is_recorded_once(services) -> None:
    # The same activity id under several idempotency keys (the app and its retry through
    # another route): one records it, the others answer it as a duplicate.
    ledger, campaign = services

    async def send(attempt: int) -> campaign_pb2.RecordActivityResponse:
        return await campaign.stub.RecordActivity(
            campaign_pb2.RecordActivityRequest(
                program_id=PROGRAM,
                idempotency_key=f"same-share-{attempt}",
                activity=engagement_pb2.Activity(
                    activity_id="same-share",
                    member_id="dan",
                    kind=SHARE,
                    channel=common_pb2.CHANNEL_SOCIAL,
                    occurred_at=ts(NOON),
                ),
            )
        )

    answers = await asyncio.gather(*(send(attempt) for attempt in range(8)))
    assert sorted(answer.duplicate for answer in answers) == [False] + [True] * 7
    assert {answer.activity.outcome for answer in answers} == {OUTCOME.ACTIVITY_OUTCOME_REWARDED}
    assert await available(ledger, "dan") == 10


async def test_concurrent_referrals_of_one_member_pay_one_referrer_and_close_no_loop(
    services,
) -> None:
    ledger, campaign = services
    await campaign.purchase("zed", "z1", 1_000, at=NOON)  # so referrals pay at once
    referrals = await asyncio.gather(
        *(refer(campaign, f"zed-by-{who}", who, "zed") for who in ("amy", "ben", "cy", "dee"))
    )
    paid = [r for r in referrals if r.outcome == OUTCOME.ACTIVITY_OUTCOME_REWARDED]
    assert len(paid) == 1
    assert {r.attributes["campaign.rejection"] for r in referrals if r not in paid} == {
        "already_referred"
    }
    assert await available(ledger, "zed") == 10 + 100
    assert sum([await available(ledger, who) for who in ("amy", "ben", "cy", "dee")]) == 300

    # Two members referring each other at once: the second to be recorded closes a loop.
    await campaign.purchase("eve", "e1", 1_000, at=NOON)
    await campaign.purchase("fay", "f1", 1_000, at=NOON)
    crossed = await asyncio.gather(
        refer(campaign, "eve-by-fay", "fay", "eve"), refer(campaign, "fay-by-eve", "eve", "fay")
    )
    assert sorted(r.outcome for r in crossed) == [
        OUTCOME.ACTIVITY_OUTCOME_REWARDED,
        OUTCOME.ACTIVITY_OUTCOME_REJECTED,
    ]
    assert {r.attributes.get("campaign.rejection", "") for r in crossed} == {"", "referral_loop"}
