"""'Points earned' for purchases that happened recently only. Since every purchase gives its
intent (8a6ef96), an import of years of past transactions (`loyalty-admin import`, or any
IngestTransactions of old purchases) told each member 'you earned points' about purchases
from long ago. The ledger's PointsPosted now says when each member's latest earn of the batch
happened, and a member whose latest earn is older than a day is not told (found by the
learn-loop audit's follow-up)."""

import datetime as dt

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from tests.services.campaign.streams import eventually
from tests.services.campaign.support import batch, earning, ledger_and_campaign, rate

POINTS_EARNED = common_pb2.NOTIFICATION_KIND_POINTS_EARNED


async def test_an_import_of_old_purchases_gives_no_points_earned_intents(start_service) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (_ledger, campaign):
        await campaign.live(earning("base", rate=rate(1, 100)))
        await campaign.notification_policy(enabled_kinds=[POINTS_EARNED])
        now = dt.datetime.now(dt.UTC)
        # One batch: a purchase of two years ago, one of two days ago, one of minutes ago, and
        # a member with an old purchase and a recent one (told: its latest is recent).
        await campaign.ingest(
            batch(
                "history",
                [
                    ("t1", "old", 1_000, now - dt.timedelta(days=730)),
                    ("t2", "days-ago", 1_000, now - dt.timedelta(days=2)),
                    ("t3", "recent", 3_000, now - dt.timedelta(minutes=5)),
                    ("t4", "both", 1_000, now - dt.timedelta(days=400)),
                    ("t5", "both", 2_000, now - dt.timedelta(hours=2)),
                ],
            )
        )

        async def intents() -> dict[str, engagement_pb2.NotificationIntentRecord]:
            listed = await campaign.notification_intents()
            found = {i.member_id: i for i in listed if i.kind == POINTS_EARNED}
            return found if "recent" in found else {}

        # The batch's event is decided in one go: once the recent buyer's intent is there, the
        # others of the batch were decided too.
        found = await eventually(intents, timeout_s=30)
        assert set(found) == {"recent", "both"}
        assert found["both"].template_data["available_points"] == "30"
