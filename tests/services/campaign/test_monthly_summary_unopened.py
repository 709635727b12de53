"""The monthly summary of a member identity enrolled whose account the ledger has not opened yet
(its enrolment consumer behind, or the program's ledger part configured after the enrolment):
BatchGetBalances left such a member out, so the summary went without the balance lines
(available points, tier, points expiring soon) the template shows. Campaign's members are
enrolled ones, so it asks with `enrolled`, and the ledger answers the fresh account."""

from loyalty.ledger.v1 import ledger_pb2
from services.campaign import repository_notifications
from tests.services.campaign.support import PROGRAM, ledger_and_campaign
from tests.services.campaign.test_monthly_summary_returns import MONTHLY, may_summarised


async def test_a_member_enrolled_without_an_account_is_summarised_with_the_fresh_balance(
    start_service,
) -> None:
    async with ledger_and_campaign(
        start_service, segments_enabled=False, monthly_summary_enabled=False
    ) as (ledger, campaign):
        await campaign.notification_policy(enabled_kinds=[MONTHLY])
        pool = campaign.service.runtime.pool
        # What campaign's consumer records when it reads the member's enrolment from identity;
        # the ledger has not read it (no account).
        async with pool.acquire() as connection:
            await repository_notifications.ensure_member(connection, PROGRAM, "newbie")
        data = await may_summarised(campaign, "newbie")
        assert (data["available_points"], data["expiring_30_days_points"]) == ("0", "0")
        assert data["tier_code"] == "member"  # the program's entry tier
        # Nothing was opened by the read.
        members = await ledger.stub.BatchGetBalances(
            ledger_pb2.BatchGetBalancesRequest(program_id=PROGRAM, member_ids=["newbie"])
        )
        assert list(members.balances) == []
        assert data["purchases"] == "0"
