"""'Points earned' for what members earn most by: purchases, which campaign posts through the
ledger's PostBatch (RecordPurchase and IngestTransactions alike). The batch's PointsPosted event
carries no posting kinds, and the notifier asked for an earn among them: no purchase ever gave a
points-earned intent, only single Earn calls did (found by the learn-loop audit)."""

import datetime as dt

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from tests.services.campaign.streams import eventually
from tests.services.campaign.support import batch, earning, ledger_and_campaign, rate

POINTS_EARNED = common_pb2.NOTIFICATION_KIND_POINTS_EARNED


async def test_a_purchase_and_an_ingested_batch_give_points_earned_intents(start_service) -> None:
    async with ledger_and_campaign(start_service, segments_enabled=False) as (ledger, campaign):
        await campaign.live(earning("base", rate=rate(1, 100)))
        await campaign.notification_policy(enabled_kinds=[POINTS_EARNED])
        bought = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        await campaign.purchase("buyer", "t1", 2_500, at=bought)
        await campaign.ingest(
            batch("b1", [("t2", "bulk-1", 1_000, bought), ("t3", "bulk-2", 3_000, bought)])
        )
        # A single Earn, which always gave one: the pipeline is up when it is there.
        await ledger.earn("single", 7)

        async def intents() -> dict[str, engagement_pb2.NotificationIntentRecord]:
            listed = await campaign.notification_intents()
            found = {i.member_id: i for i in listed if i.kind == POINTS_EARNED}
            return found if len(found) == 4 else {}

        found = await eventually(intents, timeout_s=30)
        assert set(found) == {"buyer", "bulk-1", "bulk-2", "single"}
        # Without consent (identity told campaign of none) each is decided and suppressed.
        assert {i.status for i in found.values()} == {
            engagement_pb2.NOTIFICATION_STATUS_SUPPRESSED_NO_CONSENT
        }
        assert found["buyer"].template_data["points"] == "25"
        assert found["bulk-2"].template_data["available_points"] == "30"
