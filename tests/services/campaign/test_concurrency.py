"""Requests of one member (or one purchase) at once, on real ledger and campaign processes,
PostgreSQL and NATS: each bonus, badge, completion and refund is given once however the requests
interleave, and no request fails for having met another."""

import asyncio
import datetime as dt

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    engagement,
    eur,
    key,
    ledger_and_campaign,
    ledger_postings,
    rate,
    ts,
)
from tests.services.campaign.test_missions import (
    DAY0,
    STORE,
    create,
    mission_postings,
    progress,
    review,
    store_then_review,
)

APRIL = dt.datetime(2025, 4, 10, 10, 0, tzinfo=dt.UTC)
POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
DUPLICATE = campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE


@pytest.fixture
async def services(start_service):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        await campaign.configure_recognition(
            engagement_pb2.RecognitionConfig(
                milestones=[
                    engagement_pb2.Milestone(
                        code="second",
                        kind=engagement_pb2.MILESTONE_KIND_NTH_PURCHASE,
                        threshold=2,
                        points=25,
                    ),
                    engagement_pb2.Milestone(
                        code="big-spender",
                        kind=engagement_pb2.MILESTONE_KIND_SPEND_THRESHOLD,
                        threshold=10_000,
                        points=7,
                        badge_code="big-spender",
                    ),
                ]
            )
        )
        yield ledger, campaign


async def badges(campaign, member: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = await campaign.stub.ListMemberBadges(
        campaign_pb2.ListMemberBadgesRequest(program_id=PROGRAM, member_id=member)
    )
    return [badge.badge_code for badge in response.badges]


async def test_purchases_of_one_member_at_once_reach_each_milestone_once(services) -> None:
    ledger, campaign = services
    answers = await asyncio.gather(
        *(campaign.purchase("ann", f"m{index}", 3_000, at=APRIL) for index in range(8))
    )
    assert sum(answer.accrual.points for answer in answers) == 240
    # 240 for the purchases, 25 for the second one, 7 for passing 100 euros.
    assert await available(ledger, "ann") == 240 + 25 + 7
    assert await badges(campaign, "ann") == ["big-spender"]


async def test_purchases_and_an_ingest_of_one_member_at_once_reach_each_milestone_once(
    services,
) -> None:
    ledger, campaign = services
    rows = [(f"i{index}", "bob", 3_000, APRIL) for index in range(4)]
    unary = [campaign.purchase("bob", f"u{index}", 3_000, at=APRIL) for index in range(4)]
    ingested, *answers = await asyncio.gather(campaign.ingest(batch("b1", rows)), *unary)
    assert list(ingested[0].statuses) == [POSTED] * 4
    assert [answer.accrual.points for answer in answers] == [30] * 4
    assert await available(ledger, "bob") == 240 + 25 + 7
    assert await badges(campaign, "bob") == ["big-spender"]


async def test_one_transaction_sent_at_once_as_a_purchase_and_in_an_ingest_counts_once(
    services,
) -> None:
    ledger, campaign = services

    async def unary() -> str:
        try:
            answer = await campaign.purchase("cat", "same", 3_000, at=APRIL)
        except grpc.aio.AioRpcError as error:
            return error.code().name
        return "duplicate" if answer.duplicate else "recorded"

    ingested, told = await asyncio.gather(
        campaign.ingest(batch("b2", [("same", "cat", 3_000, APRIL)])), unary()
    )
    status = ingested[0].statuses[0]
    assert (status, told) in {(POSTED, "duplicate"), (DUPLICATE, "recorded"), (POSTED, "ABORTED")}
    assert await available(ledger, "cat") == 30


async def test_two_partial_returns_of_one_purchase_at_once_never_refund_more_than_it(
    services,
) -> None:
    ledger, campaign = services
    await campaign.purchase("dan", "p1", 10_000, at=APRIL)

    async def give_back(return_id: str) -> str:
        try:
            answer = await campaign.stub.RecordReturn(
                campaign_pb2.RecordReturnRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    member_id="dan",
                    return_id=return_id,
                    original_transaction_id="p1",
                    refunded_amount=eur(6_000),
                    channel=common_pb2.CHANNEL_POS,
                    occurred_at=ts(APRIL + dt.timedelta(days=1)),
                )
            )
        except grpc.aio.AioRpcError as error:
            return error.code().name
        return str(answer.reversed_points)

    told = sorted(await asyncio.gather(give_back("r1"), give_back("r2")))
    assert told == ["60", "FAILED_PRECONDITION"]
    # 100 earned and 7 for passing 100 euros (a partial return keeps it), 60 back.
    assert await available(ledger, "dan") == 47


async def give_back(campaign, member: str, return_id: str, refunded: int) -> str:  # type: ignore[no-untyped-def]
    """RecordReturn of purchase p1 under a fresh key: the points taken back, or the error."""
    try:
        answer = await campaign.stub.RecordReturn(
            campaign_pb2.RecordReturnRequest(
                program_id=PROGRAM,
                idempotency_key=key(),
                member_id=member,
                return_id=return_id,
                original_transaction_id="p1",
                refunded_amount=eur(refunded),
                channel=common_pb2.CHANNEL_POS,
                occurred_at=ts(APRIL + dt.timedelta(days=1)),
            )
        )
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name}: {error.details()}"
    return str(answer.reversed_points)


async def test_one_return_sent_at_once_under_several_keys_is_recorded_once(services) -> None:
    # The till's call and its retry through another route: one records the return, the others
    # answer it as recorded, as they would a moment later.
    ledger, campaign = services
    await campaign.purchase("fay", "p1", 10_000, at=APRIL)
    told = await asyncio.gather(*(give_back(campaign, "fay", "r1", 4_000) for _ in range(4)))
    assert told == ["40"] * 4
    assert await available(ledger, "fay") == 100 + 7 - 40


async def test_one_return_sent_at_once_as_a_call_and_in_an_ingest_is_recorded_once(
    services,
) -> None:
    ledger, campaign = services
    await campaign.purchase("gus", "p1", 10_000, at=APRIL)
    returned = batch(
        "returns",
        [("r1", "gus", 4_000, APRIL + dt.timedelta(days=1))],
        kinds=[campaign_pb2.TRANSACTION_KIND_RETURN],
        original_transaction_ids=["p1"],
    )
    ingested, told = await asyncio.gather(
        campaign.ingest(returned), give_back(campaign, "gus", "r1", 4_000)
    )
    assert told == "40"
    assert ingested[0].statuses[0] in {POSTED, DUPLICATE}, ingested[0].messages[0]
    assert list(ingested[0].points) == [-40]
    assert await available(ledger, "gus") == 100 + 7 - 40


async def test_a_return_of_a_purchase_whose_batch_is_not_posted_yet_takes_its_points_back(
    services,
) -> None:
    # An ingest batch is accrued, then posted: a return arriving in between (or while a crash
    # leaves the batch to the recovery job) found the purchase, but no points in the ledger.
    ledger, campaign = services
    await campaign.ingest_stage_one(batch("unposted", [("p1", "ivy", 10_000, APRIL)]))
    assert await available(ledger, "ivy") == 0
    assert await give_back(campaign, "ivy", "r1", 10_000) == "100"
    # The 100 of the purchase and the 7 of the milestone it reached, both taken back.
    assert await available(ledger, "ivy") == 0
    [replayed] = await campaign.ingest(batch("unposted", [("p1", "ivy", 10_000, APRIL)]))
    assert (list(replayed.statuses), list(replayed.points)) == ([POSTED], [100])
    assert await available(ledger, "ivy") == 0


async def test_an_ingest_return_of_a_purchase_whose_batch_is_not_posted_takes_its_points_back(
    services,
) -> None:
    # The same through an ingest batch: the till's stream died after accruing its purchases, and
    # the returns come in the next day's upload, in another batch.
    ledger, campaign = services
    await campaign.ingest_stage_one(batch("day-1", [("p1", "joy", 10_000, APRIL)]))
    returned = batch(
        "day-2",
        [("r1", "joy", 10_000, APRIL + dt.timedelta(days=1))],
        kinds=[campaign_pb2.TRANSACTION_KIND_RETURN],
        original_transaction_ids=["p1"],
    )
    [answer] = await campaign.ingest(returned)
    assert (list(answer.statuses), list(answer.points)) == ([POSTED], [-100]), answer.messages
    # The 100 of the purchase and the 7 of the milestone it reached, both taken back.
    assert await available(ledger, "joy") == 0


async def test_a_return_at_once_with_the_ingest_of_its_purchase_takes_its_points_back(
    services,
) -> None:
    # The till returns a purchase the shop's import is sending: the return is sent again while
    # the purchase is not recorded (NOT_FOUND), and must take its points back once it is.
    ledger, campaign = services
    members = [f"jo{index}" for index in range(6)]
    for member in members:
        ingesting = asyncio.ensure_future(
            campaign.ingest(batch(f"{member}-b", [("p1", member, 10_000, APRIL)]))
        )
        while True:
            told = await give_back(campaign, member, f"{member}-r", 10_000)
            if not told.startswith("NOT_FOUND") or ingesting.done():
                break
            await asyncio.sleep(0)
        await ingesting
        assert told == "100"
        assert await available(ledger, member) == 0


async def test_two_members_returns_of_one_return_id_are_both_recorded(services) -> None:
    # Return ids are the member's, as transaction ids are: two tills' receipt numbers meet.
    ledger, campaign = services
    for member in ("kim", "lou"):
        await campaign.purchase(member, "p1", 10_000, at=APRIL, idempotency_key=key())
    told = await asyncio.gather(*(give_back(campaign, m, "r1", 4_000) for m in ("kim", "lou")))
    assert told == ["40", "40"]
    assert [await available(ledger, m) for m in ("kim", "lou")] == [67, 67]


@pytest.fixture
async def referrals(start_service):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate()))
        await campaign.live(
            engagement(
                "referral",
                activity_kind=common_pb2.ACTIVITY_KIND_REFERRAL,
                points=300,
                referred_points=100,
                requires_first_purchase=True,
            )
        )
        yield ledger, campaign


async def refer(campaign, referrer: str, referred: str) -> engagement_pb2.Activity:  # type: ignore[no-untyped-def]
    response = await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            activity=engagement_pb2.Activity(
                activity_id=f"{referred}-by-{referrer}",
                member_id=referrer,
                kind=common_pb2.ACTIVITY_KIND_REFERRAL,
                referred_member_id=referred,
                occurred_at=ts(APRIL),
            ),
        )
    )
    return response.activity


async def test_a_referral_at_once_with_the_referred_members_first_purchase_is_paid(
    referrals,
) -> None:
    # The referral waits for the referred member's first purchase, and that purchase claims
    # it: recorded at once, each must see the other, or the referral waits for a purchase
    # that has been made already.
    ledger, campaign = referrals
    pairs = []
    for round_ in range(6):
        some = [(f"old{round_}-{index}", f"new{round_}-{index}") for index in range(16)]
        # Half buy through RecordPurchase, half in an ingest batch.
        unary, ingested = some[:8], some[8:]
        rows = [(f"{referred}-1", referred, 1_000, APRIL) for _, referred in ingested]
        await asyncio.gather(
            *(refer(campaign, referrer, referred) for referrer, referred in some),
            *(campaign.purchase(new, f"{new}-1", 1_000, at=APRIL) for _, new in unary),
            campaign.ingest(batch(f"firsts{round_}", rows)),
        )
        pairs += some
    assert [await available(ledger, referrer) for referrer, _ in pairs] == [300] * len(pairs)
    assert [await available(ledger, referred) for _, referred in pairs] == [110] * len(pairs)


async def test_an_activity_without_its_time_sent_at_once_under_several_keys_is_recorded_once(
    referrals,
) -> None:
    # An activity without occurred_at takes the time its first attempt was given; the
    # attempts at once each ask for it, and each must get the same one.
    _, campaign = referrals

    async def send(activity_id: str, attempt: int) -> campaign_pb2.RecordActivityResponse:
        return await campaign.stub.RecordActivity(
            campaign_pb2.RecordActivityRequest(
                program_id=PROGRAM,
                idempotency_key=f"{activity_id}-{attempt}",
                activity=engagement_pb2.Activity(
                    activity_id=activity_id,
                    member_id="hal",
                    kind=common_pb2.ACTIVITY_KIND_SOCIAL_SHARE,
                    channel=common_pb2.CHANNEL_SOCIAL,
                ),
            )
        )

    for index in range(10):
        answers = await asyncio.gather(*(send(f"share{index}", attempt) for attempt in range(8)))
        assert sorted(answer.duplicate for answer in answers) == [False] + [True] * 7
        assert len({answer.activity.occurred_at.ToMicroseconds() for answer in answers}) == 1


async def test_both_steps_of_a_mission_at_once_complete_it_once(services, database_url) -> None:
    # The purchase (unary or in a batch) and the review of each member arrive together.
    ledger, campaign = services
    mission = await create(campaign, store_then_review(ordered=False))
    members = [f"m{index}" for index in range(8)]
    rows = [(f"{m}-t", m, 2_000, DAY0) for m in members[4:]]
    await asyncio.gather(
        *(campaign.purchase(m, f"{m}-t", 2_000, at=DAY0, channel=STORE) for m in members[:4]),
        campaign.ingest(batch("both-steps", rows, channels=[STORE] * len(rows))),
        *(review(campaign, m, f"{m}-r", DAY0 + dt.timedelta(hours=1)) for m in members),
    )
    for member in members:
        done = await progress(campaign, member, mission.mission_id)
        assert done.state == engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED
        postings = await ledger_postings(database_url, member)
        assert mission_postings(postings, mission.mission_id) == [200]
        assert sorted(await badges(campaign, member)) == ["reviewer"]
        assert await available(ledger, member) == 20 + 200


async def test_a_rule_version_activated_while_purchases_accrue_applies_to_each_alone(
    services,
) -> None:
    # Each purchase is accrued by the version live when it is, never by both or neither.
    ledger, campaign = services
    await campaign.stub.UpdateRule(
        campaign_pb2.UpdateRuleRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            rule=earning("base", rate=rate(3), qualifying=True),
            base_version=1,
        )
    )

    async def activate() -> None:
        await campaign.stub.ActivateRule(
            campaign_pb2.ActivateRuleRequest(
                program_id=PROGRAM, idempotency_key=key(), rule_id="base", version=2
            )
        )

    members = [f"v{index}" for index in range(24)]
    rows = [(f"i{index}", f"i{index}", 1_000, APRIL) for index in range(40)]
    *answers, ingested, _ = await asyncio.gather(
        *(campaign.purchase(m, f"{m}-t", 1_000, at=APRIL) for m in members),
        campaign.ingest(batch("during", rows)),
        activate(),
    )
    for member, answer in zip(members, answers, strict=True):
        versions = tuple((a.rule_id, a.version) for a in answer.accrual.applications)
        assert (answer.accrual.points, versions) in {(10, (("base", 1),)), (30, (("base", 2),))}
        assert await available(ledger, member) == answer.accrual.points
    assert set(ingested[0].points) <= {10, 30}
