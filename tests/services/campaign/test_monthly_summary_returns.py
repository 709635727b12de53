"""The monthly summary of a month with a return: the spend was the month's purchases, before
returns, but the points were net of the returns' reversals, so 100.00 EUR bought at a point a
euro and 40.00 EUR of it returned read "spend 100.00, points 60" (found by the learn-loop
audit). Purchases, their spend and points are the month's purchases; the month's returns are
told apart: how many, the refund and the points taken back."""

import datetime as dt
import zoneinfo

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from tests.services.campaign.streams import eventually, publish
from tests.services.campaign.support import (
    PROGRAM,
    Campaign,
    earning,
    eur,
    ledger_and_campaign,
    rate,
)

ZONE = zoneinfo.ZoneInfo("Europe/Amsterdam")
MONTHLY = common_pb2.NOTIFICATION_KIND_MONTHLY_SUMMARY


async def test_a_month_with_a_return_is_summarised_with_purchases_and_returns_apart(
    start_service, servers, nats_namespace
) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, monthly_summary_enabled=False
    ) as (_, campaign):
        await campaign.live(earning("base", rate=rate(1, 100)))
        await campaign.notification_policy(enabled_kinds=[MONTHLY])
        await publish(
            servers,
            nats_namespace,
            "identity.member_enrolled",
            events_pb2.Event(
                event_id="00000000-0000-0000-0002-000000000001",
                program_id=PROGRAM,
                member_enrolled=events_pb2.MemberEnrolled(
                    member_id="ann", entry_tier_code="member"
                ),
            ),
        )
        pool = campaign.service.runtime.pool

        async def known() -> bool:
            return bool(
                await pool.fetchval("SELECT count(*) FROM notification_members WHERE NOT closed")
            )

        await eventually(known)
        may = dt.datetime(2025, 5, 10, 12, tzinfo=ZONE)
        await campaign.purchase("ann", "t1", 10_000, at=may)
        await campaign.purchase("ann", "t2", 2_500, at=may)
        await campaign.record_return(
            "ann", "r1", "t1", at=may + dt.timedelta(days=2), refunded_amount=eur(4_000)
        )
        # Switched on in May (the job's first run), summarised once May has ended.
        data = await may_summarised(campaign, "ann")
        assert (data["purchases"], data["spend_minor"], data["purchase_points"]) == (
            "2",
            "12500",
            "125",
        )
        assert (data["returns"], data["returned_minor"], data["returned_points"]) == (
            "1",
            "4000",
            "40",
        )


async def may_summarised(campaign: Campaign, member: str) -> dict[str, str]:
    """Run the monthly summary job on 2 May (its first run: switched on, nothing to summarise)
    and on 1 June (May summarised, for one member); the template data of `member`'s summary."""
    notifier = campaign.notifier()
    assert await notifier.monthly_summaries(dt.datetime(2025, 5, 2, 9, tzinfo=ZONE)) == 0
    assert await notifier.monthly_summaries(dt.datetime(2025, 6, 1, 9, tzinfo=ZONE)) == 1
    listed = await campaign.notification_intents(member)
    [summary] = [i for i in listed if i.kind == MONTHLY]
    return dict(summary.template_data)
