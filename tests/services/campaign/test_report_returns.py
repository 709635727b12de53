"""Experiment and holdout reports take a return with its purchase, as segments do. The reports'
spend counted a return when it happened and participation counted a purchase returned in full:
a member who bought in the period and returned it all after it was an active member with its
whole spend, and a return in the period of a purchase from before it made spend negative."""

import datetime as dt

from loyalty.campaign.v1 import campaign_pb2
from tests.services.campaign.support import PROGRAM, batch, ledger_and_campaign, ts
from tests.services.campaign.test_holdout_bonuses import HOLDOUT_BPS, pick_members

RETURN = campaign_pb2.TRANSACTION_KIND_RETURN


async def test_the_holdout_report_counts_a_return_with_its_purchase(start_service) -> None:
    held, free = pick_members()
    now = dt.datetime.now(dt.UTC)

    def ago(**delta: float) -> dt.datetime:
        return now - dt.timedelta(**delta)

    async with ledger_and_campaign(
        start_service, segments_enabled=False, consumers_enabled=False
    ) as (_, campaign):
        await campaign.configure_holdout(HOLDOUT_BPS, start_time=ts(ago(days=10)))
        await campaign.ingest(
            batch(
                "purchases",
                [
                    # In the report's period, returned in full after it.
                    ("f1", free, 10_000, ago(days=4)),
                    # Before the period, returned in full in it.
                    ("h1", held, 3_000, ago(days=7)),
                ],
            )
        )
        await campaign.ingest(
            batch(
                "returns",
                [("f1-back", free, 10_000, ago(minutes=30)), ("h1-back", held, 3_000, ago(days=3))],
                kinds=[RETURN, RETURN],
                original_transaction_ids=["f1", "h1"],
            )
        )
        report = await campaign.stub.GetHoldoutReport(
            campaign_pb2.GetHoldoutReportRequest(
                program_id=PROGRAM, start_time=ts(ago(days=5)), end_time=ts(ago(hours=1))
            )
        )
        program, holdout = report.arms
        assert (program.member_count, holdout.member_count) == (1, 1)
        # The member who returned all it bought in the period spent nothing and took no part.
        assert program.spend_per_member.amount_minor == 0
        assert program.participation_rate == 0.0
        # A return of a purchase from before the period is not the period's (it read -30.00).
        assert holdout.spend_per_member.amount_minor == 0
        assert holdout.participation_rate == 0.0
