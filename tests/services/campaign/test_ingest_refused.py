"""Purchases the ledger refuses (a member it closed by a merge campaign has not heard of yet)
leave no trace in campaign: no milestone, no referral, no mission progress, no bonus posted for
them, nothing archived for backtests; the milestone, the referral and the mission are given when
purchases really reach them. The same after a crash between the two stages of an ingest batch,
and for RecordPurchase. The MissionCompleted and BadgeAwarded events announced for what is taken
back are taken back too, once: a MissionCompletionWithdrawn and a BadgeWithdrawn."""

import datetime as dt

import asyncpg
import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign.mission_tracker import RefusedStep
from services.campaign.withdrawal import withdraw_purchases
from tests.services.campaign import support
from tests.services.campaign.insight_support import publish
from tests.services.campaign.streams import campaign_events, eventually
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    earning,
    engagement,
    ledger_and_campaign,
    rate,
)

MISSION = "two-buys"
POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
REJECTED = campaign_pb2.INGEST_ITEM_STATUS_REJECTED
MONDAY = dt.datetime(2025, 5, 5, 9, 0, tzinfo=dt.UTC)
NTH_PURCHASE = engagement_pb2.MILESTONE_KIND_NTH_PURCHASE
NOT_STARTED = engagement_pb2.MISSION_PROGRESS_STATE_NOT_STARTED
IN_PROGRESS = engagement_pb2.MISSION_PROGRESS_STATE_IN_PROGRESS
COMPLETED = engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED
REFUSED = events_pb2.AWARD_WITHDRAWAL_REASON_PURCHASE_REFUSED


@pytest.fixture
async def services(start_service, database_url):
    # Two ledger items per ledger batch: a batch's purchases and bonuses span several.
    async with ledger_and_campaign(start_service, batch_size_max=50, ledger_batch_items_max=2) as (
        ledger,
        campaign,
    ):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
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
                    )
                ]
            )
        )
        # Two purchases complete it: zed's two refused ones would.
        await campaign.stub.CreateMission(
            campaign_pb2.CreateMissionRequest(
                program_id=PROGRAM,
                idempotency_key=support.key(),
                mission=engagement_pb2.Mission(
                    mission_id=MISSION,
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
        # bob referred zed, whose first purchase completes it.
        referral = await campaign.stub.RecordActivity(
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
        assert referral.activity.outcome == engagement_pb2.ACTIVITY_OUTCOME_PENDING
        await ledger.earn("zed", 5)  # the ledger has an account to close
        connection = await asyncpg.connect(database_url)
        try:
            yield ledger, campaign, connection
        finally:
            await connection.close()


async def close_zed(connection: asyncpg.Connection, into: str | None) -> None:
    """What the ledger does on identity's merge event (services/ledger/consumers.py), before
    campaign's consumer has recorded it."""
    await connection.execute(
        "UPDATE ledger.member_accounts SET closed_into = $2 WHERE program_id = $1 AND member_id = 'zed'",
        PROGRAM,
        into,
    )


async def zeds_traces(connection: asyncpg.Connection) -> dict[str, object]:
    row = await connection.fetchrow(
        "SELECT (SELECT count(*) FROM campaign.transactions WHERE member_id = 'zed') AS purchases, "
        "coalesce((SELECT purchase_count FROM campaign.members WHERE member_id = 'zed'), 0) "
        "AS purchase_count, "
        "(SELECT count(*) FROM campaign.bonus_awards WHERE member_id = 'zed') AS milestones, "
        "(SELECT count(*) FROM campaign.member_badges WHERE member_id = 'zed') AS badges, "
        "(SELECT state FROM campaign.referrals WHERE referred_member_id = 'zed') AS referral"
    )
    return dict(row)


async def zeds_mission(campaign: support.Campaign) -> tuple[int, int, list[str]]:
    """zed's state and purchases counted in the mission, and badges."""
    response = await campaign.stub.GetMissionProgress(
        campaign_pb2.GetMissionProgressRequest(
            program_id=PROGRAM, member_id="zed", mission_id=MISSION
        )
    )
    badges = await campaign.stub.ListMemberBadges(
        campaign_pb2.ListMemberBadgesRequest(program_id=PROGRAM, member_id="zed")
    )
    (progress,) = response.progresses
    return (
        progress.state,
        progress.steps[0].done_count,
        sorted(badge.badge_code for badge in badges.badges),
    )


async def zeds_mission_postings(connection: asyncpg.Connection) -> list[int]:
    rows = await connection.fetch(
        "SELECT amount FROM ledger.postings WHERE program_id = $1 AND member_id = 'zed' "
        "AND source_reference = $2 ORDER BY posting_id",
        PROGRAM,
        f"mission:{MISSION}",
    )
    return [row["amount"] for row in rows]


async def backtested(campaign: support.Campaign) -> campaign_pb2.BacktestResponse:
    return await campaign.stub.Backtest(
        campaign_pb2.BacktestRequest(
            program_id=PROGRAM,
            rule_ref="base@1",
            start_time=support.ts(MONDAY - dt.timedelta(days=1)),
            end_time=support.ts(MONDAY + dt.timedelta(days=1)),
        )
    )


NOTHING_OF_ZED = {"purchases": 0, "purchase_count": 0, "milestones": 0, "badges": 0, "referral": 1}
REFUSED_BATCH = [
    ("a1", "ann", 1_000, MONDAY, ""),
    ("z1", "zed", 6_000, MONDAY, ""),
    ("c1", "cat", 2_000, MONDAY, ""),
    ("z2", "zed", 3_000, MONDAY, ""),
]


async def assert_zed_is_counted_once_reopened(ledger, campaign, connection) -> None:  # type: ignore[no-untyped-def]
    # Reopened, zed's purchase is the first: the milestone and the referral are given now, and
    # the mission counts one purchase of two.
    await close_zed(connection, None)
    (posted,) = await campaign.ingest(batch("later", [("z3", "zed", 2_000, MONDAY, "")]))
    assert list(posted.statuses) == [POSTED]
    assert await zeds_traces(connection) == {
        "purchases": 1,
        "purchase_count": 1,
        "milestones": 1,
        "badges": 1,
        "referral": 2,
    }
    assert await available(ledger, "zed") == 5 + 20 + 5 + 100
    assert await available(ledger, "bob") == 300
    assert (await backtested(campaign)).transactions_count == 3
    assert await zeds_mission(campaign) == (IN_PROGRESS, 1, ["new"])
    # The second real purchase completes the mission, once: its points and badge are given now.
    for _ in range(2):
        (posted,) = await campaign.ingest(batch("last", [("z4", "zed", 1_000, MONDAY, "")]))
        assert list(posted.statuses) == [POSTED]
    assert await zeds_mission(campaign) == (COMPLETED, 2, ["duo", "new"])
    assert await available(ledger, "zed") == 5 + 20 + 5 + 100 + 10 + 50
    assert await zeds_mission_postings(connection) == [50]
    await ledger.assert_clean()


async def test_a_purchase_the_ledger_refuses_completes_no_milestone_or_referral(services) -> None:
    ledger, campaign, connection = services
    await close_zed(connection, "ann")
    (refused,) = await campaign.ingest(batch("b1", REFUSED_BATCH))
    assert list(refused.statuses) == [POSTED, REJECTED, POSTED, REJECTED]
    assert refused.reason_codes[1] == refused.reason_codes[3] == "member_closed"
    assert await zeds_traces(connection) == NOTHING_OF_ZED
    assert await zeds_mission(campaign) == (NOT_STARTED, 0, [])
    # Neither side of the referral was posted: bob's half would have been.
    assert await available(ledger, "bob") == 0
    assert await available(ledger, "zed") == 5
    assert await available(ledger, "ann") == 10 + 5 and await available(ledger, "cat") == 20 + 5
    # Backtests replay ann's and cat's purchases only, with their points.
    replayed = await backtested(campaign)
    assert (replayed.transactions_count, replayed.baseline_points_total) == (2, 30)
    await assert_zed_is_counted_once_reopened(ledger, campaign, connection)


async def test_a_batch_finished_after_a_crash_takes_back_the_refused_purchase_too(
    services,
) -> None:
    ledger, campaign, connection = services
    await close_zed(connection, "ann")
    request = batch("crashed", REFUSED_BATCH)
    # Stage 1 alone, as if the process died before the ledger answered: all is counted.
    pending = await campaign.ingest_stage_one(request)
    assert not pending.done
    assert (await zeds_traces(connection))["milestones"] == 1
    assert await zeds_mission(campaign) == (COMPLETED, 2, ["duo", "new"])
    assert (await backtested(campaign)).transactions_count == 4
    # A replay of the batch finishes it; another answers as the first did and changes nothing.
    for _ in range(2):
        (finished,) = await campaign.ingest(request)
        assert list(finished.statuses) == [POSTED, REJECTED, POSTED, REJECTED]
        assert await zeds_traces(connection) == NOTHING_OF_ZED
        assert await zeds_mission(campaign) == (NOT_STARTED, 0, [])
        assert await available(ledger, "bob") == 0
        assert await available(ledger, "ann") == 10 + 5
        assert (await backtested(campaign)).transactions_count == 2
    await assert_zed_is_counted_once_reopened(ledger, campaign, connection)


async def test_a_recorded_purchase_the_ledger_refuses_leaves_nothing_either(services) -> None:
    ledger, campaign, connection = services
    await close_zed(connection, "ann")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.purchase("zed", "z1", 6_000, at=MONDAY)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert await zeds_traces(connection) == NOTHING_OF_ZED
    assert await available(ledger, "bob") == 0
    assert (await backtested(campaign)).transactions_count == 0
    await close_zed(connection, None)
    await campaign.purchase("zed", "z2", 2_000, at=MONDAY)
    assert await available(ledger, "zed") == 5 + 20 + 5 + 100
    assert await available(ledger, "bob") == 300
    await ledger.assert_clean()


async def announced(servers, namespace: str, connection: asyncpg.Connection) -> dict[str, list]:  # type: ignore[no-untyped-def, type-arg]
    """What campaign published of missions and badges, once its outbox is drained (so an event
    written by then is in the stream): completions and badges given, and taken back."""

    async def drained() -> bool:
        return not await connection.fetchval(
            "SELECT count(*) FROM campaign.outbox WHERE published_at IS NULL"
        )

    await eventually(drained)

    async def on(subject: str) -> list[events_pb2.Event]:
        return await campaign_events(servers, namespace, f"campaign.{subject}")

    completed = [e.mission_completed for e in await on("mission_completed")]
    awarded = [e.badge_awarded for e in await on("badge_awarded")]
    uncompleted = [e.mission_completion_withdrawn for e in await on("mission_completion_withdrawn")]
    unawarded = [e.badge_withdrawn for e in await on("badge_withdrawn")]
    return {
        "completed": sorted((e.member_id, e.mission_id, e.points) for e in completed),
        "awarded": sorted(
            (e.member_id, e.badge_code, e.mission_id, e.milestone_code) for e in awarded
        ),
        "completions_withdrawn": sorted(
            (e.member_id, e.mission_id, e.points, list(e.transaction_ids), e.reason)
            for e in uncompleted
        ),
        "badges_withdrawn": sorted(
            (
                e.member_id,
                e.badge_code,
                e.mission_id,
                e.milestone_code,
                list(e.transaction_ids),
                e.reason,
            )
            for e in unawarded
        ),
    }


# zed's two refused purchases completed the mission (its badge "duo") and the milestone (its
# badge "new"): announced, then taken back. ann's and cat's milestones stand.
ZEDS_AWARDS_TAKEN_BACK = {
    "completed": [("zed", MISSION, 50)],
    "awarded": [
        ("ann", "new", "", "first"),
        ("cat", "new", "", "first"),
        ("zed", "duo", MISSION, ""),
        ("zed", "new", "", "first"),
    ],
    "completions_withdrawn": [("zed", MISSION, 50, ["z1", "z2"], REFUSED)],
    "badges_withdrawn": [
        ("zed", "duo", MISSION, "", ["z1", "z2"], REFUSED),
        ("zed", "new", "", "first", ["z1", "z2"], REFUSED),
    ],
}


async def test_a_refused_purchase_takes_back_the_completion_and_badges_it_announced(
    services, servers, nats_namespace
) -> None:
    ledger, campaign, connection = services
    await close_zed(connection, "ann")
    # Twice: the replay is answered as the first was, and takes nothing back again.
    for _ in range(2):
        (refused,) = await campaign.ingest(batch("b1", REFUSED_BATCH))
        assert list(refused.statuses) == [POSTED, REJECTED, POSTED, REJECTED]
        assert await announced(servers, nats_namespace, connection) == ZEDS_AWARDS_TAKEN_BACK
    # Real purchases complete the mission again: announced again, and nothing taken back.
    await assert_zed_is_counted_once_reopened(ledger, campaign, connection)
    again = await announced(servers, nats_namespace, connection)
    assert again["completed"] == [("zed", MISSION, 50), ("zed", MISSION, 50)]
    assert again["completions_withdrawn"] == ZEDS_AWARDS_TAKEN_BACK["completions_withdrawn"]
    assert again["badges_withdrawn"] == ZEDS_AWARDS_TAKEN_BACK["badges_withdrawn"]


async def test_a_withdrawal_run_again_takes_back_nothing_again(
    services, servers, nats_namespace
) -> None:
    ledger, campaign, connection = services
    await close_zed(connection, "ann")
    request = batch("crashed", REFUSED_BATCH)
    # Stage 1 alone (a crash): the completion and badges are announced, nothing taken back yet.
    await campaign.ingest_stage_one(request)
    stage_one = await announced(servers, nats_namespace, connection)
    assert stage_one["completed"] == ZEDS_AWARDS_TAKEN_BACK["completed"]
    assert stage_one["awarded"] == ZEDS_AWARDS_TAKEN_BACK["awarded"]
    assert stage_one["completions_withdrawn"] == stage_one["badges_withdrawn"] == []
    # Replays finish the batch, once; the withdrawal itself run again (as a second process
    # finishing the same batch would) finds nothing left to take back.
    for _ in range(2):
        (finished,) = await campaign.ingest(request)
        assert list(finished.statuses) == [POSTED, REJECTED, POSTED, REJECTED]
    pool, outbox = campaign.service.runtime.pool, campaign.service.runtime.outbox
    program = await campaign.ledger_client().program(PROGRAM)
    async with pool.acquire() as withdrawing, withdrawing.transaction():
        held = await withdraw_purchases(
            withdrawing,
            program,
            [("zed", "z1"), ("zed", "z2")],
            outbox=outbox,
            steps=[RefusedStep("zed", f"z{n}", MISSION, 1, 0) for n in (1, 2)],
        )
    assert held == set()
    assert await announced(servers, nats_namespace, connection) == ZEDS_AWARDS_TAKEN_BACK
    assert await zeds_mission(campaign) == (NOT_STARTED, 0, [])
    assert await available(ledger, "bob") == 0


async def test_a_refused_purchase_that_completed_nothing_takes_nothing_back(
    services, servers, nats_namespace
) -> None:
    ledger, campaign, connection = services
    # zed's first purchase, posted, reaches the milestone; the mission is archived.
    await campaign.ingest(batch("open", [("z0", "zed", 2_000, MONDAY, "")]))
    await campaign.stub.ArchiveMission(
        campaign_pb2.ArchiveMissionRequest(
            program_id=PROGRAM, idempotency_key=support.key(), mission_id=MISSION
        )
    )
    await ledger.earn("yan", 5)
    await close_zed(connection, "ann")
    await connection.execute(
        "UPDATE ledger.member_accounts SET closed_into = 'ann' "
        "WHERE program_id = $1 AND member_id = 'yan'",
        PROGRAM,
    )
    # zed's refused purchase counted for nothing announced; yan's reached the milestone.
    (refused,) = await campaign.ingest(
        batch("b1", [("z1", "zed", 6_000, MONDAY, ""), ("y1", "yan", 1_000, MONDAY, "")])
    )
    assert list(refused.statuses) == [REJECTED, REJECTED]
    assert await announced(servers, nats_namespace, connection) == {
        "completed": [],
        "awarded": [("yan", "new", "", "first"), ("zed", "new", "", "first")],
        "completions_withdrawn": [],
        "badges_withdrawn": [("yan", "new", "", "first", ["y1"], REFUSED)],
    }
    assert await zeds_traces(connection) == {
        "purchases": 1,
        "purchase_count": 1,
        "milestones": 1,
        "badges": 1,
        "referral": 2,
    }


async def test_a_badge_the_mission_did_not_give_is_not_taken_back(
    services, servers, nats_namespace
) -> None:
    _, campaign, connection = services
    # The milestone gives the mission's badge too: zed's first purchase, posted, reaches it.
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            milestones=[
                engagement_pb2.Milestone(
                    code="first", kind=NTH_PURCHASE, threshold=1, points=5, badge_code="duo"
                )
            ]
        )
    )
    await campaign.ingest(batch("open", [("z0", "zed", 2_000, MONDAY, "")]))
    await close_zed(connection, "ann")
    # The refused purchase completes the mission, whose badge zed held already: the completion
    # is announced and taken back, the badge neither (zed still holds it).
    (refused,) = await campaign.ingest(batch("b1", [("z1", "zed", 6_000, MONDAY, "")]))
    assert list(refused.statuses) == [REJECTED]
    assert await announced(servers, nats_namespace, connection) == {
        "completed": [("zed", MISSION, 50)],
        "awarded": [("zed", "duo", "", "first")],
        "completions_withdrawn": [("zed", MISSION, 50, ["z1"], REFUSED)],
        "badges_withdrawn": [],
    }
    assert await zeds_mission(campaign) == (IN_PROGRESS, 1, ["duo"])


async def test_a_window_the_refused_purchase_opened_starts_again_with_the_next_fact(
    services,
) -> None:
    """zed's refused purchase opened a 14-day window, and a review counted in it before the
    ledger answered (the batch finished after a crash). Taking the purchase back left the window
    where the purchase had opened it, so zed's purchases 16 and 17 days in restarted the mission
    instead of completing it. The window now starts with the review."""
    ledger, campaign, connection = services
    window = "buy-twice-and-review"
    await campaign.stub.CreateMission(
        campaign_pb2.CreateMissionRequest(
            program_id=PROGRAM,
            idempotency_key=support.key(),
            mission=engagement_pb2.Mission(
                mission_id=window,
                name="Buy twice and review, within 14 days",
                reward_points=70,
                window_days=14,
                steps=[
                    engagement_pb2.MissionStep(
                        step_code="buy", count=2, purchase=engagement_pb2.PurchaseRequirement()
                    ),
                    engagement_pb2.MissionStep(
                        step_code="review", activity_kind=common_pb2.ACTIVITY_KIND_REVIEW
                    ),
                ],
            ),
        )
    )
    # Recent enough for the window to be open still when it has moved.
    opened = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=20)
    await close_zed(connection, "ann")
    request = batch("crashed", [("z1", "zed", 6_000, opened, "")])
    await campaign.ingest_stage_one(request)
    reviewed_at = opened + dt.timedelta(days=10)
    await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key="review-1",
            activity=engagement_pb2.Activity(
                activity_id="review-1",
                member_id="zed",
                kind=common_pb2.ACTIVITY_KIND_REVIEW,
                channel=common_pb2.CHANNEL_APP,
                occurred_at=support.ts(reviewed_at),
            ),
        )
    )

    async def progress() -> engagement_pb2.MissionProgress:
        response = await campaign.stub.GetMissionProgress(
            campaign_pb2.GetMissionProgressRequest(
                program_id=PROGRAM, member_id="zed", mission_id=window
            )
        )
        return response.progresses[0]

    before = await progress()
    assert (before.started_at.ToDatetime(dt.UTC), [s.done_count for s in before.steps]) == (
        opened,
        [1, 1],
    )
    (finished,) = await campaign.ingest(request)
    assert list(finished.statuses) == [REJECTED]
    after = await progress()
    assert after.state == IN_PROGRESS and [s.done_count for s in after.steps] == [0, 1]
    assert (after.started_at.ToDatetime(dt.UTC), after.deadline_at.ToDatetime(dt.UTC)) == (
        reviewed_at,
        reviewed_at + dt.timedelta(days=14),
    )
    # Past the refused purchase's deadline, within the review's: the mission completes.
    await close_zed(connection, None)
    days = (16, 17)
    (posted,) = await campaign.ingest(
        batch(
            "later",
            [(f"z{d}", "zed", 1_000, opened + dt.timedelta(days=d), "") for d in days],
        )
    )
    assert list(posted.statuses) == [POSTED, POSTED]
    done = await progress()
    assert done.state == COMPLETED and done.started_at.ToDatetime(dt.UTC) == reviewed_at
    await ledger.assert_clean()


async def test_a_window_whose_facts_are_all_refused_waits_for_the_next_fact(services) -> None:
    """Every fact of the attempt taken back: not started, and the next fact opens a window."""
    _, campaign, connection = services
    await close_zed(connection, "ann")
    (refused,) = await campaign.ingest(batch("b1", [("z1", "zed", 6_000, MONDAY, "")]))
    assert list(refused.statuses) == [REJECTED]
    response = await campaign.stub.GetMissionProgress(
        campaign_pb2.GetMissionProgressRequest(
            program_id=PROGRAM, member_id="zed", mission_id=MISSION
        )
    )
    (progress,) = response.progresses
    assert progress.state == NOT_STARTED and not progress.HasField("started_at")


async def test_a_withdrawal_after_campaign_recorded_the_merge_names_the_survivor(
    services, servers, nats_namespace
) -> None:
    """A batch counted before campaign recorded zed's merge into ann, and finished after it (a
    crash between its stages): the withdrawal's events name ann, whose balance the ledger moved
    zed's points to, as a return's PurchaseRecorded does after a merge."""
    _, campaign, connection = services
    await close_zed(connection, "ann")
    request = batch("crashed", REFUSED_BATCH)
    assert not (await campaign.ingest_stage_one(request)).done
    await publish(
        servers.nats_url,
        nats_namespace,
        "identity.member_merged",
        events_pb2.Event(
            member_merged=events_pb2.MemberMerged(survivor_member_id="ann", merged_member_id="zed")
        ),
    )

    async def recorded() -> bool:
        return bool(
            await connection.fetchval(
                "SELECT merged_into = 'ann' FROM campaign.members WHERE program_id = $1 "
                "AND member_id = 'zed'",
                PROGRAM,
            )
        )

    await eventually(recorded)
    (finished,) = await campaign.ingest(request)
    assert list(finished.statuses) == [POSTED, REJECTED, POSTED, REJECTED]
    withdrawn = await announced(servers, nats_namespace, connection)
    assert withdrawn["completions_withdrawn"] == [("ann", MISSION, 50, ["z1", "z2"], REFUSED)]
    assert withdrawn["badges_withdrawn"] == [
        ("ann", "duo", MISSION, "", ["z1", "z2"], REFUSED),
        ("ann", "new", "", "first", ["z1", "z2"], REFUSED),
    ]
