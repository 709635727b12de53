"""Returns of purchases made before a merge, found whichever member the till names; and returns
taking back what their purchases counted: net spend, and the bonuses of a fully returned one."""

import datetime as dt

import asyncpg
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign import support
from tests.services.campaign.insight_support import publish
from tests.services.campaign.streams import campaign_events, eventually
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    engagement,
    eur,
    ledger_and_campaign,
    rate,
)

POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
DUPLICATE = campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE
RETURN = campaign_pb2.TRANSACTION_KIND_RETURN
MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
async def services(start_service, database_url):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        connection = await asyncpg.connect(database_url)
        try:
            yield ledger, campaign, connection
        finally:
            await connection.close()


async def merge(  # type: ignore[no-untyped-def]
    ledger, connection: asyncpg.Connection, servers, namespace: str, merged: str, survivor: str
) -> None:
    """Identity's merge as the ledger and campaign see it: the points transferred, the merged
    member's account closed into the survivor's, campaign's consumer told."""
    await ledger.transfer(merged, survivor, transfer_all=True)
    await connection.execute(
        "UPDATE ledger.member_accounts SET closed_into = $3 WHERE program_id = $1 "
        "AND member_id = $2",
        PROGRAM,
        merged,
        survivor,
    )
    event = events_pb2.Event(
        member_merged=events_pb2.MemberMerged(survivor_member_id=survivor, merged_member_id=merged)
    )
    await publish(servers.nats_url, namespace, "identity.member_merged", event)

    async def recorded() -> bool:
        return bool(
            await connection.fetchval(
                "SELECT merged_into = $2 FROM campaign.members WHERE program_id = $3 "
                "AND member_id = $1",
                merged,
                survivor,
                PROGRAM,
            )
        )

    await eventually(recorded)


async def record_return(  # type: ignore[no-untyped-def]
    campaign, member: str, return_id: str, original: str, refunded: int, *, key: str = ""
) -> campaign_pb2.RecordReturnResponse:
    return await campaign.record_return(  # type: ignore[no-any-return]
        member,
        return_id,
        original,
        at=MONDAY + dt.timedelta(days=1),
        idempotency_key=key,
        refunded_amount=eur(refunded),
    )


def returns(batch_id: str, rows: list[tuple[str, str, int, str]]):  # type: ignore[no-untyped-def]
    """rows: (return id, member, refunded, original transaction id)."""
    return batch(
        batch_id,
        [(r[0], r[1], r[2], MONDAY + dt.timedelta(days=1), "") for r in rows],
        kinds=[RETURN] * len(rows),
        original_transaction_ids=[r[3] for r in rows],
    )


async def test_a_purchase_made_before_a_merge_is_returned_through_the_survivor(
    services, servers, nats_namespace
) -> None:
    ledger, campaign, connection = services
    await campaign.purchase("zed", "z1", 4_000, at=MONDAY)
    await campaign.ingest(batch("b1", [("z2", "zed", 3_000, MONDAY, "")]))
    await campaign.purchase("ann", "a1", 1_000, at=MONDAY)
    await merge(ledger, connection, servers, nats_namespace, "zed", "ann")
    assert await available(ledger, "ann") == 10 + 40 + 30
    # The till names the survivor, which holds zed's card now: the points come back from it.
    half = await record_return(campaign, "ann", "r1", "z1", 2_000, key="r1")
    assert half.reversed_points == 20
    assert await available(ledger, "ann") == 10 + 20 + 30
    # A retry, with its key or another, and the same return through ingest take nothing more.
    for key in ("r1", "r1-again"):
        again = await record_return(campaign, "ann", "r1", "z1", 2_000, key=key)
        assert again.reversed_points == 20
    (replayed,) = await campaign.ingest(returns("b2", [("r1", "ann", 2_000, "z1")]))
    assert (list(replayed.statuses), list(replayed.points)) == ([DUPLICATE], [-20])
    # Through ingest as well, and through the merged member's own id, once each.
    (ingested,) = await campaign.ingest(
        returns("b3", [("r2", "ann", 3_000, "z2"), ("r3", "zed", 2_000, "z1")])
    )
    assert (list(ingested.statuses), list(ingested.points)) == ([POSTED, POSTED], [-30, -20])
    (replayed,) = await campaign.ingest(
        returns("b4", [("r2", "ann", 3_000, "z2"), ("r3", "ann", 2_000, "z1")])
    )
    assert (list(replayed.statuses), list(replayed.points)) == ([DUPLICATE] * 2, [-30, -20])
    assert await available(ledger, "ann") == 10
    assert await available(ledger, "zed") == 0
    # Recorded under the purchases' member, as their returns made before the merge would be.
    rows = await connection.fetch(
        "SELECT member_id, transaction_id, amount_minor, points FROM campaign.transactions "
        "WHERE program_id = $1 AND kind = 2 ORDER BY transaction_id",
        PROGRAM,
    )
    assert [tuple(row) for row in rows] == [
        ("zed", "r1", -2_000, -20),
        ("zed", "r2", -3_000, -30),
        ("zed", "r3", -2_000, -20),
    ]
    await ledger.assert_clean()


NTH_PURCHASE = engagement_pb2.MILESTONE_KIND_NTH_PURCHASE
SPEND = engagement_pb2.MILESTONE_KIND_SPEND_THRESHOLD
RETURNED = events_pb2.AWARD_WITHDRAWAL_REASON_PURCHASE_RETURNED
IN_PROGRESS = engagement_pb2.MISSION_PROGRESS_STATE_IN_PROGRESS
COMPLETED = engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED


@pytest.fixture
async def bonuses(services):  # type: ignore[no-untyped-def]
    """bob referred zed; zed's first purchase completes it (bob 300, zed 100). Milestones: the
    first purchase (5, badge "new") and 2,000 euros spent (50, badge "big")."""
    _, campaign, _ = services
    await campaign.live(
        engagement(
            "referral",
            activity_kind=common_pb2.ACTIVITY_KIND_REFERRAL,
            points=300,
            referred_points=100,
            requires_first_purchase=True,
        )
    )
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            milestones=[
                engagement_pb2.Milestone(
                    code="first", kind=NTH_PURCHASE, threshold=1, points=5, badge_code="new"
                ),
                engagement_pb2.Milestone(
                    code="2000", kind=SPEND, threshold=200_000, points=50, badge_code="big"
                ),
            ]
        )
    )
    await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key="ref1",
            activity=engagement_pb2.Activity(
                activity_id="ref1",
                member_id="bob",
                kind=common_pb2.ACTIVITY_KIND_REFERRAL,
                channel=common_pb2.CHANNEL_APP,
                referred_member_id="zed",
            ),
        )
    )
    return services


async def buy(campaign, path: str, member: str, transaction_id: str, amount: int) -> None:  # type: ignore[no-untyped-def]
    if path == "RecordPurchase":
        await campaign.purchase(member, transaction_id, amount, at=MONDAY)
    else:
        (answer,) = await campaign.ingest(
            batch(f"buy-{transaction_id}", [(transaction_id, member, amount, MONDAY, "")])
        )
        assert list(answer.statuses) == [POSTED]


async def give_back(  # type: ignore[no-untyped-def]
    campaign, path: str, member: str, return_id: str, original: str, refunded: int, *, batch_id=""
) -> int:
    """A return through RecordReturn or ingest; the purchase's points it reversed."""
    if path == "RecordPurchase":
        answer = await record_return(campaign, member, return_id, original, refunded, key=return_id)
        return answer.reversed_points  # type: ignore[no-any-return]
    (ingested,) = await campaign.ingest(
        returns(batch_id or f"return-{return_id}", [(return_id, member, refunded, original)])
    )
    assert list(ingested.statuses) in ([POSTED], [DUPLICATE]), ingested
    return -ingested.points[0]  # type: ignore[no-any-return]


async def referral_state(connection: asyncpg.Connection) -> int:
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT state FROM campaign.referrals WHERE referred_member_id = 'zed'"
    )


async def badges(campaign, member: str) -> list[str]:  # type: ignore[no-untyped-def]
    held = await campaign.stub.ListMemberBadges(
        campaign_pb2.ListMemberBadgesRequest(program_id=PROGRAM, member_id=member)
    )
    return sorted(badge.badge_code for badge in held.badges)


@pytest.mark.parametrize("path", ["RecordPurchase", "IngestTransactions"])
async def test_a_full_return_of_the_first_purchase_takes_back_both_referral_bonuses(
    bonuses, path, servers, nats_namespace
) -> None:
    ledger, campaign, connection = bonuses
    await buy(campaign, path, "zed", "z1", 3_000)
    assert await available(ledger, "zed") == 30 + 100 + 5
    assert await available(ledger, "bob") == 300
    assert await badges(campaign, "zed") == ["new"]
    # A partial return takes back the purchase's share only: the bonuses stand.
    assert await give_back(campaign, path, "zed", "r1", "z1", 1_000) == 10
    assert await available(ledger, "zed") == 20 + 100 + 5
    assert await available(ledger, "bob") == 300
    # The rest of it leaves zed without a purchase: both referral bonuses and the first-purchase
    # milestone (with its badge) are taken back. Retried, through either path, nothing more.
    for retry in range(3):
        assert await give_back(campaign, path, "zed", "r2", "z1", 2_000, batch_id=f"b{retry}") == 20
        assert await available(ledger, "zed") == 0
        assert await available(ledger, "bob") == 0
        assert await badges(campaign, "zed") == []
        assert await referral_state(connection) == 4
        assert await record_return(campaign, "zed", "r2", "z1", 2_000) is not None

    async def withdrawn() -> list[tuple[str, str, list[str], int]]:
        events = await campaign_events(servers, nats_namespace, "campaign.badge_withdrawn")
        return [
            (
                e.badge_withdrawn.member_id,
                e.badge_withdrawn.badge_code,
                list(e.badge_withdrawn.transaction_ids),
                e.badge_withdrawn.reason,
            )
            for e in events
        ]

    assert await eventually(withdrawn) == [("zed", "new", ["z1"], RETURNED)]
    # A bonus is given once: zed's next purchase earns its own points only.
    await buy(campaign, path, "zed", "z2", 1_000)
    assert await available(ledger, "zed") == 10
    assert await available(ledger, "bob") == 0
    assert await withdrawn() == [("zed", "new", ["z1"], RETURNED)]
    await ledger.assert_clean()


@pytest.mark.parametrize("path", ["RecordPurchase", "IngestTransactions"])
async def test_refunded_spend_does_not_count_toward_a_spend_milestone(bonuses, path) -> None:
    ledger, campaign, connection = bonuses
    await buy(campaign, path, "ann", "a1", 100_000)
    assert await give_back(campaign, path, "ann", "r1", "a1", 60_000) == 600
    # 1,000 + 1,500 euros bought, 600 returned: 1,900 spent, short of 2,000.
    await buy(campaign, path, "ann", "a2", 150_000)
    assert await available(ledger, "ann") == 400 + 1_500 + 5
    assert await badges(campaign, "ann") == ["new"]
    await buy(campaign, path, "ann", "a3", 10_000)
    assert await available(ledger, "ann") == 400 + 1_500 + 100 + 5 + 50
    assert await badges(campaign, "ann") == ["big", "new"]
    # A partial return takes net spend below 2,000 again: the milestone stands, and crossing
    # 2,000 again pays it no second time.
    assert await give_back(campaign, path, "ann", "r3", "a3", 5_000) == 50
    await buy(campaign, path, "ann", "a4", 10_000)
    assert await available(ledger, "ann") == 400 + 1_500 + 50 + 100 + 5 + 50
    # A full return after which the purchases kept (550 euros) no longer reach 2,000 takes the
    # milestone back, once.
    for retry in range(2):
        assert (
            await give_back(campaign, path, "ann", "r2", "a2", 150_000, batch_id=f"b{retry}")
            == 1_500
        )
        assert await available(ledger, "ann") == 400 + 50 + 100 + 5
        assert await badges(campaign, "ann") == ["new"]
    counted = await connection.fetchrow(
        "SELECT purchase_count, spend_minor FROM campaign.members WHERE member_id = 'ann'"
    )
    assert tuple(counted) == (3, 40_000 + 5_000 + 10_000)
    await ledger.assert_clean()


async def test_milestones_configured_later_count_purchases_net_of_their_returns(services) -> None:
    ledger, campaign, connection = services
    # Without milestones nobody keeps the counts; configuring them counts the purchases kept.
    await campaign.purchase("ann", "a1", 100_000, at=MONDAY)
    await record_return(campaign, "ann", "r1", "a1", 100_000)
    await campaign.purchase("ann", "a2", 50_000, at=MONDAY)
    await record_return(campaign, "ann", "r2", "a2", 20_000)
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            milestones=[
                engagement_pb2.Milestone(code="2000", kind=SPEND, threshold=200_000, points=50)
            ]
        )
    )
    counted = await connection.fetchrow(
        "SELECT purchase_count, spend_minor FROM campaign.members WHERE member_id = 'ann'"
    )
    assert tuple(counted) == (1, 30_000)
    await campaign.purchase("ann", "a3", 160_000, at=MONDAY)
    assert await available(ledger, "ann") == 300 + 1_600
    await campaign.purchase("ann", "a4", 10_000, at=MONDAY)
    assert await available(ledger, "ann") == 300 + 1_600 + 100 + 50


@pytest.mark.parametrize("path", ["RecordPurchase", "IngestTransactions"])
async def test_a_full_return_takes_back_the_mission_its_purchase_completed(
    services, path, servers, nats_namespace
) -> None:
    ledger, campaign, _ = services
    await campaign.stub.CreateMission(
        campaign_pb2.CreateMissionRequest(
            program_id=PROGRAM,
            idempotency_key=support.key(),
            mission=engagement_pb2.Mission(
                mission_id="two-buys",
                name="Buy twice",
                reward_points=50,
                badge_code="duo",
                steps=[
                    engagement_pb2.MissionStep(
                        step_code="buy", count=2, purchase=engagement_pb2.PurchaseRequirement()
                    )
                ],
            ),
        )
    )

    async def progress() -> tuple[int, int, list[str]]:
        response = await campaign.stub.GetMissionProgress(
            campaign_pb2.GetMissionProgressRequest(
                program_id=PROGRAM, member_id="ann", mission_id="two-buys"
            )
        )
        (state,) = response.progresses
        return state.state, state.steps[0].done_count, await badges(campaign, "ann")

    await buy(campaign, path, "ann", "a1", 1_000)
    await buy(campaign, path, "ann", "a2", 2_000)
    assert await progress() == (COMPLETED, 2, ["duo"])
    assert await available(ledger, "ann") == 10 + 20 + 50
    # A partial return leaves the mission done; the rest of it re-opens it, once.
    assert await give_back(campaign, path, "ann", "r1", "a2", 500) == 5
    assert await progress() == (COMPLETED, 2, ["duo"])
    for retry in range(2):
        assert await give_back(campaign, path, "ann", "r2", "a2", 1_500, batch_id=f"b{retry}") == 15
        assert await progress() == (IN_PROGRESS, 1, [])
        assert await available(ledger, "ann") == 10

    async def withdrawn() -> list[tuple[str, str, list[str], int]]:
        completions = await campaign_events(
            servers, nats_namespace, "campaign.mission_completion_withdrawn"
        )
        badge_events = await campaign_events(servers, nats_namespace, "campaign.badge_withdrawn")
        return [
            *(
                (
                    e.mission_completion_withdrawn.mission_id,
                    "",
                    list(e.mission_completion_withdrawn.transaction_ids),
                    e.mission_completion_withdrawn.reason,
                )
                for e in completions
            ),
            *(
                (
                    e.badge_withdrawn.mission_id,
                    e.badge_withdrawn.badge_code,
                    list(e.badge_withdrawn.transaction_ids),
                    e.badge_withdrawn.reason,
                )
                for e in badge_events
            ),
        ]

    assert await eventually(withdrawn) == [
        ("two-buys", "", ["a2"], RETURNED),
        ("two-buys", "duo", ["a2"], RETURNED),
    ]
    # Completed again, the mission gives its badge again, and its points no second time.
    await buy(campaign, path, "ann", "a3", 1_000)
    assert await progress() == (COMPLETED, 2, ["duo"])
    assert await available(ledger, "ann") == 10 + 10
    await ledger.assert_clean()


async def test_a_full_return_of_the_purchase_that_opened_a_window_moves_it_to_the_next(
    services,
) -> None:
    """The window of a mission started with the purchase returned in full stayed where that
    purchase had opened it: ann's purchase 16 days in restarted the mission though her first
    purchase still counted was 10 days in."""
    _, campaign, _ = services
    await campaign.stub.CreateMission(
        campaign_pb2.CreateMissionRequest(
            program_id=PROGRAM,
            idempotency_key=support.key(),
            mission=engagement_pb2.Mission(
                mission_id="three-buys",
                name="Buy three times within 14 days",
                reward_points=50,
                window_days=14,
                steps=[
                    engagement_pb2.MissionStep(
                        step_code="buy", count=3, purchase=engagement_pb2.PurchaseRequirement()
                    )
                ],
            ),
        )
    )
    # Recent enough for the window to be open still when it has moved.
    opened = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=20)
    second = opened + dt.timedelta(days=10)
    await campaign.purchase("ann", "a1", 1_000, at=opened)
    await campaign.purchase("ann", "a2", 1_000, at=second)
    await campaign.stub.RecordReturn(
        campaign_pb2.RecordReturnRequest(
            program_id=PROGRAM,
            idempotency_key=support.key(),
            member_id="ann",
            return_id="r1",
            original_transaction_id="a1",
            refunded_amount=eur(1_000),
            channel=common_pb2.CHANNEL_POS,
            occurred_at=support.ts(second + dt.timedelta(days=1)),
        )
    )

    async def progress() -> engagement_pb2.MissionProgress:
        response = await campaign.stub.GetMissionProgress(
            campaign_pb2.GetMissionProgressRequest(
                program_id=PROGRAM, member_id="ann", mission_id="three-buys"
            )
        )
        return response.progresses[0]

    moved = await progress()
    assert (moved.state, moved.steps[0].done_count) == (IN_PROGRESS, 1)
    assert (moved.started_at.ToDatetime(dt.UTC), moved.deadline_at.ToDatetime(dt.UTC)) == (
        second,
        second + dt.timedelta(days=14),
    )
    await campaign.purchase("ann", "a3", 1_000, at=opened + dt.timedelta(days=16))
    counted = await progress()
    assert (counted.steps[0].done_count, counted.started_at.ToDatetime(dt.UTC)) == (2, second)
