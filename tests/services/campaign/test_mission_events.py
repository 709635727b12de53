"""MissionCompleted as read from JetStream: its points are the points given (events.proto), so a
member the program-wide holdout keeps out, who completes the mission without its points, is
announced with none, by a purchase or by an activity."""

import datetime as dt

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from tests.conftest import Servers
from tests.services.campaign.streams import campaign_events, eventually
from tests.services.campaign.support import (
    PROGRAM,
    available,
    batch,
    key,
    ledger_and_campaign,
    ts,
)
from tests.services.campaign.test_holdout_bonuses import (
    APRIL,
    BUY_STEP,
    REVIEW_STEP,
    configure_holdout,
    create_mission,
    pick_members,
)

MISSIONS_START = ts(APRIL.replace(year=2024))


async def completions(campaign, servers: Servers, nats_namespace: str):  # type: ignore[no-untyped-def]
    await campaign.service.relay.flush(timeout_s=10)
    events = await campaign_events(servers, nats_namespace, "campaign.mission_completed")
    return {
        (e.mission_completed.member_id, e.mission_completed.mission_id): e.mission_completed.points
        for e in events
    }


async def test_a_held_out_member_s_completion_is_announced_with_no_points(
    start_service, servers: Servers, nats_namespace: str
) -> None:
    held, free = pick_members()
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await create_mission(campaign, "buy-once", BUY_STEP, start_time=MISSIONS_START)
        await create_mission(campaign, "review-once", REVIEW_STEP, start_time=MISSIONS_START)
        await campaign.ingest(
            batch("april", [("t-held", held, 1_000, APRIL), ("t-free", free, 1_000, APRIL)])
        )
        for number, member in enumerate((held, free)):
            await campaign.stub.RecordActivity(
                campaign_pb2.RecordActivityRequest(
                    program_id=PROGRAM,
                    idempotency_key=key(),
                    activity=engagement_pb2.Activity(
                        activity_id=f"review-{number}",
                        member_id=member,
                        kind=common_pb2.ACTIVITY_KIND_REVIEW,
                        channel=common_pb2.CHANNEL_APP,
                    ),
                )
            )
        assert await available(ledger, held) == 0
        assert await available(ledger, free) == 400
        assert await completions(campaign, servers, nats_namespace) == {
            (held, "buy-once"): 0,
            (held, "review-once"): 0,
            (free, "buy-once"): 200,
            (free, "review-once"): 200,
        }


async def test_a_held_out_member_s_completion_is_withdrawn_with_the_points_it_announced(
    start_service, servers: Servers, nats_namespace: str
) -> None:
    """A return in full re-opens the completion its purchase made: the MissionCompletionWithdrawn
    names the points its MissionCompleted announced, none for a held-out member."""
    held, free = pick_members()
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await configure_holdout(campaign)
        await create_mission(campaign, "buy-once", BUY_STEP, start_time=MISSIONS_START)
        await campaign.ingest(
            batch("april", [("t-held", held, 1_000, APRIL), ("t-free", free, 1_000, APRIL)])
        )
        assert await available(ledger, free) == 200
        await campaign.ingest(
            batch(
                "returns",
                [
                    ("r-held", held, 1_000, APRIL + dt.timedelta(days=1), ""),
                    ("r-free", free, 1_000, APRIL + dt.timedelta(days=1), ""),
                ],
                kinds=[campaign_pb2.TRANSACTION_KIND_RETURN] * 2,
                original_transaction_ids=["t-held", "t-free"],
            )
        )
        assert await available(ledger, free) == 0

        async def withdrawn() -> dict[tuple[str, str], int]:
            found = await campaign_events(
                servers, nats_namespace, "campaign.mission_completion_withdrawn"
            )
            return {
                (
                    e.mission_completion_withdrawn.member_id,
                    e.mission_completion_withdrawn.mission_id,
                ): (e.mission_completion_withdrawn.points)
                for e in found
            }

        async def both() -> dict[tuple[str, str], int] | None:
            found = await withdrawn()
            return found if len(found) == 2 else None

        assert await eventually(both) == {(held, "buy-once"): 0, (free, "buy-once"): 200}
