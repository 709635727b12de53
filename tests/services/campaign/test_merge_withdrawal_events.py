"""The events a return in full publishes when it takes back a completion and badges of a member
merged away since, as read from JetStream: each names the final survivor (campaign's
members.merged_into), as the return's own PurchaseRecorded and the ledger's PointsPosted of the
reversal do, whichever member the till names."""

import asyncpg
import pytest

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign import support
from tests.services.campaign.streams import campaign_events, eventually
from tests.services.campaign.support import PROGRAM, available, earning, ledger_and_campaign, rate
from tests.services.campaign.test_returns import MONDAY, merge, record_return

NTH_PURCHASE = engagement_pb2.MILESTONE_KIND_NTH_PURCHASE
RETURNED = events_pb2.AWARD_WITHDRAWAL_REASON_PURCHASE_RETURNED


@pytest.fixture
async def services(start_service, database_url):  # type: ignore[no-untyped-def]
    async with ledger_and_campaign(start_service) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(), qualifying=True))
        await campaign.configure_recognition(
            engagement_pb2.RecognitionConfig(
                milestones=[
                    engagement_pb2.Milestone(
                        code="first", kind=NTH_PURCHASE, threshold=1, points=5, badge_code="new"
                    )
                ]
            )
        )
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
        connection = await asyncpg.connect(database_url)
        try:
            yield ledger, campaign, connection
        finally:
            await connection.close()


async def withdrawals(servers, nats_namespace: str, count: int):  # type: ignore[no-untyped-def]
    async def found():  # type: ignore[no-untyped-def]
        completions = await campaign_events(
            servers, nats_namespace, "campaign.mission_completion_withdrawn"
        )
        badges = await campaign_events(servers, nats_namespace, "campaign.badge_withdrawn")
        named = sorted(
            [
                *(
                    (
                        "completion",
                        e.mission_completion_withdrawn.member_id,
                        e.mission_completion_withdrawn.mission_id,
                        list(e.mission_completion_withdrawn.transaction_ids),
                        e.mission_completion_withdrawn.points,
                        e.mission_completion_withdrawn.reason,
                    )
                    for e in completions
                ),
                *(
                    (
                        "badge",
                        e.badge_withdrawn.member_id,
                        e.badge_withdrawn.badge_code,
                        list(e.badge_withdrawn.transaction_ids),
                        0,
                        e.badge_withdrawn.reason,
                    )
                    for e in badges
                ),
            ]
        )
        return named if len(named) >= count else None

    return await eventually(found)


@pytest.mark.parametrize("named", ["survivor", "merged"])
async def test_a_return_after_a_merge_withdraws_for_the_survivor(
    services, servers, nats_namespace, named
) -> None:
    ledger, campaign, connection = services
    await campaign.purchase("zed", "z1", 1_000, at=MONDAY)
    await campaign.purchase("zed", "z2", 2_000, at=MONDAY)
    assert await available(ledger, "zed") == 10 + 20 + 5 + 50
    await merge(ledger, connection, servers, nats_namespace, "zed", "ann")
    # The till names the survivor (the cards moved to it), or the merged member.
    till = "ann" if named == "survivor" else "zed"
    # z2 in full re-opens the mission (one purchase left), z1 in full the milestone too.
    await record_return(campaign, till, "r2", "z2", 2_000)
    await record_return(campaign, till, "r1", "z1", 1_000)
    assert await available(ledger, "ann") == 0
    assert await withdrawals(servers, nats_namespace, 3) == [
        ("badge", "ann", "duo", ["z2"], 0, RETURNED),
        ("badge", "ann", "new", ["z1"], 0, RETURNED),
        ("completion", "ann", "two-buys", ["z2"], 50, RETURNED),
    ]
    await ledger.assert_clean()
