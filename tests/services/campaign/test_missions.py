"""Missions and badges on real ledger and campaign processes, PostgreSQL and NATS: progress from
purchases (RecordPurchase, IngestTransactions) and activities (the activity.* consumer,
RecordActivity), rewards given once under redelivered events and retried calls, windows, order,
drafts, archiving, and bad input."""

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

import grpc
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.shared.local_days import local_days_later
from tests.services.campaign.streams import campaign_events, consumed, eventually, publish
from tests.services.campaign.support import (
    PROGRAM,
    batch,
    earning,
    eur,
    key,
    ledger_and_campaign,
    ledger_postings,
    rate,
    ts,
)

REVIEW = common_pb2.ACTIVITY_KIND_REVIEW
SHARE = common_pb2.ACTIVITY_KIND_SOCIAL_SHARE
STORE = common_pb2.CHANNEL_STORE
WEBSHOP = common_pb2.CHANNEL_WEBSHOP
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


class STATE:
    NOT_STARTED = engagement_pb2.MISSION_PROGRESS_STATE_NOT_STARTED
    IN_PROGRESS = engagement_pb2.MISSION_PROGRESS_STATE_IN_PROGRESS
    COMPLETED = engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED
    EXPIRED = engagement_pb2.MISSION_PROGRESS_STATE_EXPIRED


def amsterdam(*fields: int) -> dt.datetime:
    """An Amsterdam wall-clock time (the test program's zone) as a UTC instant."""
    return dt.datetime(*fields, tzinfo=AMSTERDAM).astimezone(dt.UTC)


# Recent enough that a 14-day window started then is still open now.
DAY0 = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=5)


def store_then_review(**fields) -> engagement_pb2.Mission:  # type: ignore[no-untyped-def]
    """'Buy in a store for at least 10 euros, then review online within 14 days.'"""
    values = {
        "mission_id": "store-then-review",
        "name": "Buy in store, review online",
        "ordered": True,
        "window_days": 14,
        "reward_points": 200,
        "badge_code": "reviewer",
        "badge_name": "Reviewer",
        "steps": [
            engagement_pb2.MissionStep(
                step_code="buy",
                purchase=engagement_pb2.PurchaseRequirement(
                    channels=[STORE], minimum_spend=eur(1_000)
                ),
            ),
            engagement_pb2.MissionStep(step_code="review", activity_kind=REVIEW),
        ],
        **fields,
    }
    return engagement_pb2.Mission(**values)


@pytest.fixture
async def services(start_service):
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate()))
        yield ledger, campaign


async def create(campaign, mission: engagement_pb2.Mission, idempotency_key: str | None = None):  # type: ignore[no-untyped-def]
    response = await campaign.stub.CreateMission(
        campaign_pb2.CreateMissionRequest(
            program_id=PROGRAM, idempotency_key=idempotency_key or key(), mission=mission
        )
    )
    return response.mission


async def progress(campaign, member: str, mission_id: str) -> engagement_pb2.MissionProgress:  # type: ignore[no-untyped-def]
    response = await campaign.stub.GetMissionProgress(
        campaign_pb2.GetMissionProgressRequest(
            program_id=PROGRAM, member_id=member, mission_id=mission_id
        )
    )
    return response.progresses[0]


async def badges(campaign, member: str) -> list[engagement_pb2.MemberBadge]:  # type: ignore[no-untyped-def]
    response = await campaign.stub.ListMemberBadges(
        campaign_pb2.ListMemberBadgesRequest(program_id=PROGRAM, member_id=member)
    )
    return list(response.badges)


async def review(campaign, member: str, activity_id: str, at: dt.datetime):  # type: ignore[no-untyped-def]
    return await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key=activity_id,
            activity=engagement_pb2.Activity(
                activity_id=activity_id,
                member_id=member,
                kind=REVIEW,
                channel=WEBSHOP,
                occurred_at=ts(at),
            ),
        )
    )


def review_event(activity_id: str, member: str, at: dt.datetime) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id=PROGRAM,
        activity_recorded=events_pb2.ActivityRecorded(
            activity_id=activity_id,
            member_id=member,
            kind=REVIEW,
            channel=WEBSHOP,
            occurred_at=ts(at),
        ),
    )


def mission_postings(postings: list[tuple[int, int, str, str]], mission_id: str) -> list[int]:
    return [points for _, points, reference, _ in postings if reference == f"mission:{mission_id}"]


async def test_a_mission_across_two_channels_rewards_once_under_redelivery(
    services, servers, nats_namespace, database_url
):
    _, campaign = services
    mission = await create(campaign, store_then_review())
    assert mission.status == engagement_pb2.MISSION_STATUS_ACTIVE

    # The review before the purchase does not count: the steps are in order.
    await publish(servers, nats_namespace, "activity.review", review_event("r0", "ann", DAY0))
    await consumed(servers, nats_namespace, "activity", "campaign_activities")
    assert (await progress(campaign, "ann", mission.mission_id)).state == STATE.NOT_STARTED

    # Too small, then the wrong channel: neither counts.
    await campaign.purchase("ann", "t0", 500, at=DAY0, channel=STORE)
    await campaign.purchase("ann", "t1", 5_000, at=DAY0, channel=WEBSHOP)
    await campaign.purchase("ann", "t2", 2_000, at=DAY0 + dt.timedelta(hours=1), channel=STORE)
    # The same purchase again (a retried call, then the same transaction in a batch).
    await campaign.purchase("ann", "t2", 2_000, at=DAY0 + dt.timedelta(hours=1), channel=STORE)
    await campaign.ingest(
        batch("b1", [("t2", "ann", 2_000, DAY0 + dt.timedelta(hours=1))], channels=[STORE])
    )
    halfway = await progress(campaign, "ann", mission.mission_id)
    assert halfway.state == STATE.IN_PROGRESS
    assert [(s.step_code, s.done_count, s.required_count) for s in halfway.steps] == [
        ("buy", 1, 1),
        ("review", 0, 1),
    ]
    # 14 local days in the program's zone (a change of the clocks in between keeps the time).
    deadline = local_days_later(DAY0 + dt.timedelta(hours=1), 14, AMSTERDAM)
    assert halfway.deadline_at.ToDatetime(tzinfo=dt.UTC) == deadline

    # The review online, delivered three times (each copy a JetStream message of its own).
    event = review_event("r1", "ann", DAY0 + dt.timedelta(days=3))
    for _ in range(3):
        await publish(servers, nats_namespace, "activity.review", event)
    await consumed(servers, nats_namespace, "activity", "campaign_activities")
    done = await progress(campaign, "ann", mission.mission_id)
    assert done.state == STATE.COMPLETED
    assert done.completed_at.ToDatetime(tzinfo=dt.UTC) == DAY0 + dt.timedelta(days=3)
    # Another review after completion changes nothing.
    await review(campaign, "ann", "r2", DAY0 + dt.timedelta(days=4))

    postings = await ledger_postings(database_url, "ann")
    assert mission_postings(postings, mission.mission_id) == [200]
    [badge] = await badges(campaign, "ann")
    assert (badge.badge_code, badge.name, badge.mission_id) == (
        "reviewer",
        "Reviewer",
        mission.mission_id,
    )
    completed = await eventually(
        lambda: campaign_events(servers, nats_namespace, "campaign.mission_completed")
    )
    assert [(e.mission_completed.member_id, e.mission_completed.points) for e in completed] == [
        ("ann", 200)
    ]
    awarded = await campaign_events(servers, nats_namespace, "campaign.badge_awarded")
    assert [(e.badge_awarded.member_id, e.badge_awarded.badge_code) for e in awarded] == [
        ("ann", "reviewer")
    ]
    registry = campaign.service.metrics.registry
    assert (
        registry.get_sample_value("loyalty_campaign_missions_completed_total", {"program": PROGRAM})
        == 1
    )
    assert (
        registry.get_sample_value("loyalty_campaign_badges_awarded_total", {"program": PROGRAM})
        == 1
    )


async def test_a_passed_window_restarts_the_mission(services, database_url):
    _, campaign = services
    # Long enough ago that the first window has passed, recent enough that the second is open.
    early = DAY0 - dt.timedelta(days=20)
    mission = await create(campaign, store_then_review(badge_code="", badge_name=""))
    await campaign.purchase("bob", "t1", 2_000, at=early, channel=STORE)
    # The review comes a day after the 14-day window: the attempt expired, nothing is given.
    await review(campaign, "bob", "r1", early + dt.timedelta(days=15))
    expired = await progress(campaign, "bob", mission.mission_id)
    assert expired.state == STATE.EXPIRED
    assert [s.done_count for s in expired.steps] == [1, 0]

    # A new purchase starts a new attempt with a new window; its review completes it.
    await campaign.purchase("bob", "t2", 1_000, at=early + dt.timedelta(days=16), channel=STORE)
    again = await progress(campaign, "bob", mission.mission_id)
    assert again.state == STATE.IN_PROGRESS
    assert again.started_at.ToDatetime(tzinfo=dt.UTC) == early + dt.timedelta(days=16)
    await review(campaign, "bob", "r2", early + dt.timedelta(days=20))
    assert (await progress(campaign, "bob", mission.mission_id)).state == STATE.COMPLETED
    assert mission_postings(await ledger_postings(database_url, "bob"), mission.mission_id) == [200]
    assert await badges(campaign, "bob") == []


async def test_a_window_ends_at_the_same_local_time_across_a_change_of_the_clocks(services):
    """14 days after 10:15 is 10:15, in summer or winter time (Europe/Amsterdam, the program's
    zone): a window opened on 20 October 2026 ends at 10:15 on 3 November, though the clocks
    went back on 25 October, and one opened on 20 March 2026 at 10:15 on 3 April, across 29
    March. 14 x 24 hours ended them at 09:15 and 11:15, so a review at 09:45 on 3 November came
    too late and one at 10:45 on 3 April in time."""
    _, campaign = services
    mission = await create(campaign, store_then_review(badge_code="", badge_name=""))
    opened = {"ann": amsterdam(2026, 10, 20, 10, 15), "bob": amsterdam(2026, 3, 20, 10, 15)}
    ends = {"ann": amsterdam(2026, 11, 3, 10, 15), "bob": amsterdam(2026, 4, 3, 10, 15)}
    for member, at in opened.items():
        await campaign.purchase(member, f"{member}-t1", 2_000, at=at, channel=STORE)
        started = await progress(campaign, member, mission.mission_id)
        assert started.deadline_at.ToDatetime(tzinfo=dt.UTC) == ends[member], member
    await review(campaign, "ann", "ann-r1", amsterdam(2026, 11, 3, 9, 45))
    assert (await progress(campaign, "ann", mission.mission_id)).state == STATE.COMPLETED
    await review(campaign, "bob", "bob-r1", amsterdam(2026, 4, 3, 10, 45))
    late = await progress(campaign, "bob", mission.mission_id)
    assert late.state == STATE.EXPIRED
    assert [s.done_count for s in late.steps] == [1, 0]


async def test_an_unordered_mission_with_counts_gives_a_badge_once(services, database_url):
    _, campaign = services
    shopper = engagement_pb2.Mission(
        mission_id="shopper",
        name="Two webshop orders of shoes and a share",
        steps=[
            engagement_pb2.MissionStep(
                step_code="orders",
                count=2,
                purchase=engagement_pb2.PurchaseRequirement(channels=[WEBSHOP], category="shoes"),
            ),
            engagement_pb2.MissionStep(step_code="share", activity_kind=SHARE),
        ],
        badge_code="shopper",
    )
    await create(campaign, shopper)
    # The same badge from a second mission is not given twice.
    await create(
        campaign,
        engagement_pb2.Mission(
            mission_id="sharer",
            name="Share once",
            steps=[engagement_pb2.MissionStep(step_code="share", activity_kind=SHARE)],
            badge_code="shopper",
            reward_points=5,
        ),
    )
    await campaign.stub.RecordActivity(
        campaign_pb2.RecordActivityRequest(
            program_id=PROGRAM,
            idempotency_key="s1",
            activity=engagement_pb2.Activity(
                activity_id="s1",
                member_id="cem",
                kind=SHARE,
                channel=common_pb2.CHANNEL_SOCIAL,
                occurred_at=ts(DAY0),
            ),
        )
    )
    assert (await progress(campaign, "cem", "shopper")).state == STATE.IN_PROGRESS
    assert (await progress(campaign, "cem", "sharer")).state == STATE.COMPLETED
    await campaign.ingest(
        batch(
            "b1",
            [
                ("w1", "cem", 3_000, DAY0 + dt.timedelta(days=1), "shoes"),
                ("w2", "cem", 3_000, DAY0 + dt.timedelta(days=2), "books"),
                ("w3", "cem", 3_000, DAY0 + dt.timedelta(days=3), "shoes"),
            ],
            channels=[WEBSHOP] * 3,
        )
    )
    done = await progress(campaign, "cem", "shopper")
    assert done.state == STATE.COMPLETED
    assert [s.done_count for s in done.steps] == [2, 1]
    [badge] = await badges(campaign, "cem")
    assert (badge.badge_code, badge.mission_id) == ("shopper", "sharer")
    # The badge-only mission posted nothing; the other its 5 points.
    postings = await ledger_postings(database_url, "cem")
    assert mission_postings(postings, "shopper") == []
    assert mission_postings(postings, "sharer") == [5]
    # Every live mission of the member at once.
    everything = await campaign.stub.GetMissionProgress(
        campaign_pb2.GetMissionProgressRequest(program_id=PROGRAM, member_id="cem")
    )
    assert sorted(p.mission_id for p in everything.progresses) == ["sharer", "shopper"]


async def test_a_draft_mission_counts_nothing_until_activated(services):
    _, campaign = services
    draft = await create(campaign, store_then_review(status=engagement_pb2.MISSION_STATUS_DRAFT))
    assert draft.status == engagement_pb2.MISSION_STATUS_DRAFT
    drafts = await campaign.stub.ListMissions(
        campaign_pb2.ListMissionsRequest(
            program_id=PROGRAM, status=engagement_pb2.MISSION_STATUS_DRAFT
        )
    )
    assert [m.mission_id for m in drafts.missions] == [draft.mission_id]
    await campaign.purchase("eve", "t1", 2_000, at=DAY0, channel=STORE)
    offered = await campaign.stub.GetMissionProgress(
        campaign_pb2.GetMissionProgressRequest(program_id=PROGRAM, member_id="eve")
    )
    assert list(offered.progresses) == []

    activate = campaign_pb2.ActivateMissionRequest(
        program_id=PROGRAM, idempotency_key="activate-1", mission_id=draft.mission_id
    )
    activated = await campaign.stub.ActivateMission(activate)
    assert activated.mission.status == engagement_pb2.MISSION_STATUS_ACTIVE
    assert (await campaign.stub.ActivateMission(activate)) == activated
    await campaign.purchase("eve", "t2", 2_000, at=DAY0 + dt.timedelta(hours=1), channel=STORE)
    started = await progress(campaign, "eve", draft.mission_id)
    assert (started.state, [s.done_count for s in started.steps]) == (STATE.IN_PROGRESS, [1, 0])

    await campaign.stub.ArchiveMission(
        campaign_pb2.ArchiveMissionRequest(
            program_id=PROGRAM, idempotency_key=key(), mission_id=draft.mission_id
        )
    )
    for mission_id, code in (
        (draft.mission_id, grpc.StatusCode.FAILED_PRECONDITION),
        ("nope", grpc.StatusCode.NOT_FOUND),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await campaign.stub.ActivateMission(
                campaign_pb2.ActivateMissionRequest(
                    program_id=PROGRAM, idempotency_key=key(), mission_id=mission_id
                )
            )
        assert refused.value.code() == code
        assert refused.value.details().startswith("mission_id:"), refused.value.details()


async def test_a_draft_missions_progress_is_answered_as_an_unknown_missions(services):
    _, campaign = services
    draft = await create(campaign, store_then_review(status=engagement_pb2.MISSION_STATUS_DRAFT))
    await campaign.purchase("eve", "t1", 2_000, at=DAY0, channel=STORE)
    refusals = []
    for mission_id in (draft.mission_id, "nope"):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await progress(campaign, "eve", mission_id)
        metadata = dict(refused.value.trailing_metadata() or ())
        refusals.append((refused.value.code(), metadata["loyalty-error-field"]))
    assert refusals == [(grpc.StatusCode.NOT_FOUND, "mission_id")] * 2
    await campaign.stub.ActivateMission(
        campaign_pb2.ActivateMissionRequest(
            program_id=PROGRAM, idempotency_key=key(), mission_id=draft.mission_id
        )
    )
    assert (await progress(campaign, "eve", draft.mission_id)).state == STATE.NOT_STARTED


async def test_archived_missions_stop_progressing(services):
    _, campaign = services
    mission = await create(campaign, store_then_review())
    await campaign.purchase("dan", "t1", 2_000, at=DAY0, channel=STORE)
    archive = campaign_pb2.ArchiveMissionRequest(
        program_id=PROGRAM, idempotency_key="archive-1", mission_id=mission.mission_id
    )
    archived = await campaign.stub.ArchiveMission(archive)
    assert archived.mission.status == engagement_pb2.MISSION_STATUS_ARCHIVED
    assert (await campaign.stub.ArchiveMission(archive)) == archived
    await review(campaign, "dan", "r1", DAY0 + dt.timedelta(days=1))
    stopped = await progress(campaign, "dan", mission.mission_id)
    assert stopped.state == STATE.IN_PROGRESS
    assert [s.done_count for s in stopped.steps] == [1, 0]

    listed = await campaign.stub.ListMissions(campaign_pb2.ListMissionsRequest(program_id=PROGRAM))
    assert list(listed.missions) == []
    listed = await campaign.stub.ListMissions(
        campaign_pb2.ListMissionsRequest(
            program_id=PROGRAM, status=engagement_pb2.MISSION_STATUS_ARCHIVED
        )
    )
    assert [m.mission_id for m in listed.missions] == [mission.mission_id]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await campaign.stub.ArchiveMission(
            campaign_pb2.ArchiveMissionRequest(
                program_id=PROGRAM, idempotency_key=key(), mission_id="nope"
            )
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_missions_are_listed_in_pages(services):
    _, campaign = services
    for number in range(5):
        await create(campaign, store_then_review(mission_id=f"m{number}"))
    seen, token = [], ""
    while True:
        page = await campaign.stub.ListMissions(
            campaign_pb2.ListMissionsRequest(program_id=PROGRAM, page_size=2, page_token=token)
        )
        seen += [m.mission_id for m in page.missions]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["m0", "m1", "m2", "m3", "m4"]


async def test_create_mission_is_idempotent(services):
    _, campaign = services
    unnamed = store_then_review(mission_id="")
    first = await create(campaign, unnamed, idempotency_key="create-1")
    again = await create(campaign, unnamed, idempotency_key="create-1")
    assert first.mission_id and again == first
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await create(campaign, store_then_review(name="other"), idempotency_key="create-1")
    assert reused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await create(campaign, store_then_review())
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await create(campaign, store_then_review())
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "mission.mission_id" in taken.value.details()


def _step(**fields) -> engagement_pb2.MissionStep:  # type: ignore[no-untyped-def]
    return engagement_pb2.MissionStep(step_code="s", **fields)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"steps": []}, "mission.steps"),
        ({"window_days": -1}, "mission.window_days"),
        ({"reward_points": 0, "badge_code": "", "badge_name": ""}, "mission.reward_points"),
        ({"reward_points": -5}, "mission.reward_points"),
        ({"name": ""}, "mission.name"),
        ({"badge_code": "Not A Code"}, "mission.badge_code"),
        ({"steps": [_step()]}, "mission.steps[0].requirement"),
        ({"steps": [_step(activity_kind=99)]}, "mission.steps[0].activity_kind"),
        (
            {"steps": [_step(purchase=engagement_pb2.PurchaseRequirement(channels=[STORE, 99]))]},
            "mission.steps[0].purchase.channels[1]",
        ),
        (
            {
                "steps": [
                    _step(
                        purchase=engagement_pb2.PurchaseRequirement(
                            minimum_spend=common_pb2.Money(amount_minor=100, currency="USD")
                        )
                    )
                ]
            },
            "mission.steps[0].purchase.minimum_spend.currency",
        ),
        ({"steps": [_step(activity_kind=REVIEW, count=-1)]}, "mission.steps[0].count"),
        (
            {"steps": [_step(activity_kind=REVIEW), _step(activity_kind=SHARE)]},
            "mission.steps[1].step_code",
        ),
        ({"status": engagement_pb2.MISSION_STATUS_ARCHIVED}, "mission.status"),
        ({"segment_ids": ["vip"]}, "mission.segment_ids[0]"),
        ({"segment_ids": ["Not Valid"]}, "mission.segment_ids[0]"),
        ({"segment_ids": [f"s{i}" for i in range(17)]}, "mission.segment_ids"),
        (
            {"start_time": ts(DAY0), "end_time": ts(DAY0 - dt.timedelta(days=1))},
            "mission.end_time",
        ),
    ],
)
async def test_bad_missions_are_refused_naming_the_field(services, change, field):
    _, campaign = services
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await create(campaign, store_then_review(**change))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(f"{field}:"), refused.value.details()


async def test_progress_and_badges_need_a_member(services):
    _, campaign = services
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.stub.GetMissionProgress(
            campaign_pb2.GetMissionProgressRequest(program_id=PROGRAM)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "member_id" in refused.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await campaign.stub.ListMemberBadges(
            campaign_pb2.ListMemberBadgesRequest(
                program_id=PROGRAM, member_id="ann", page_token="garbage"
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in refused.value.details()


async def test_a_milestone_badge_is_listed_with_mission_badges(services):
    _, campaign = services
    await campaign.configure_recognition(
        engagement_pb2.RecognitionConfig(
            milestones=[
                engagement_pb2.Milestone(
                    code="first",
                    kind=engagement_pb2.MILESTONE_KIND_NTH_PURCHASE,
                    threshold=1,
                    badge_code="newcomer",
                )
            ]
        )
    )
    await create(campaign, store_then_review())
    await campaign.purchase("eve", "t1", 2_000, at=DAY0, channel=STORE)
    await review(campaign, "eve", "r1", DAY0 + dt.timedelta(days=1))
    listed = await badges(campaign, "eve")
    # Newest first.
    assert [(b.badge_code, b.milestone_code, b.mission_id) for b in listed] == [
        ("reviewer", "", "store-then-review"),
        ("newcomer", "first", ""),
    ]
    first = await campaign.stub.ListMemberBadges(
        campaign_pb2.ListMemberBadgesRequest(program_id=PROGRAM, member_id="eve", page_size=1)
    )
    second = await campaign.stub.ListMemberBadges(
        campaign_pb2.ListMemberBadgesRequest(
            program_id=PROGRAM, member_id="eve", page_size=1, page_token=first.next_page_token
        )
    )
    assert [b.badge_code for b in [*first.badges, *second.badges]] == ["reviewer", "newcomer"]
    assert not second.next_page_token
