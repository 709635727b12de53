"""GetBalance of a member the caller knows as enrolled (`enrolled`) whose account the ledger has
not opened yet: the fresh account its enrolment consumer will open, written nowhere."""

import asyncio
import uuid

import grpc
import pytest

from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.conftest import Servers
from tests.services.ledger.support import Ledger
from tests.services.ledger.test_consumers import publish


async def test_an_enrolled_member_without_an_account_has_the_fresh_accounts_balance(
    start_service, servers: Servers, nats_namespace: str
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        asked = ledger_pb2.GetBalanceRequest(program_id="acme", member_id="not-opened")
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await ledger.stub.GetBalance(asked)
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

        asked.enrolled = True
        unopened = (await ledger.stub.GetBalance(asked)).balance
        assert unopened.member_id == "not-opened"
        assert (unopened.tier_code, unopened.available_points, unopened.qualifying_amount) == (
            "member",
            0,
            0,
        )
        # Read only: without the flag the member is still unknown.
        asked.enrolled = False
        with pytest.raises(grpc.aio.AioRpcError) as still:
            await ledger.stub.GetBalance(asked)
        assert still.value.code() == grpc.StatusCode.NOT_FOUND

        # The same balance as an account the enrolment consumer opened, tier progress included.
        event = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id="acme",
            member_enrolled=events_pb2.MemberEnrolled(member_id="opened"),
        )
        event.occurred_at.GetCurrentTime()
        await publish(servers, f"{nats_namespace}.identity.member_enrolled", event)
        opened = await _opened_balance(ledger, "opened")
        assert opened.next_tier_code  # acme has a tier above its entry tier
        for balance in (opened, unopened):
            balance.ClearField("member_id")
            balance.ClearField("as_of")
        assert unopened == opened


async def _opened_balance(ledger: Ledger, member_id: str) -> ledger_pb2.Balance:
    """Once the consumer has opened the account: a condition waited for, bounded so a broken
    consumer fails the test instead of hanging it."""
    for _ in range(200):
        try:
            return await ledger.balance(member_id)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            await asyncio.sleep(0.05)
    pytest.fail("the account was not opened")


async def test_a_batch_read_answers_enrolled_members_without_an_account(ledger: Ledger) -> None:
    await ledger.setup()
    await ledger.earn("opened", 70)
    asked = ledger_pb2.BatchGetBalancesRequest(
        program_id="acme", member_ids=["not-opened", "opened"]
    )
    assert [b.member_id for b in (await ledger.stub.BatchGetBalances(asked)).balances] == ["opened"]

    asked.enrolled = True
    fresh, opened = (await ledger.stub.BatchGetBalances(asked)).balances
    assert (fresh.member_id, fresh.available_points, fresh.tier_code) == ("not-opened", 0, "member")
    single = await ledger.stub.GetBalance(
        ledger_pb2.GetBalanceRequest(program_id="acme", member_id="not-opened", enrolled=True)
    )
    fresh.ClearField("as_of")
    single.balance.ClearField("as_of")
    assert fresh == single.balance  # the same fresh account as the single read
    assert (opened.member_id, opened.available_points) == ("opened", 70)
    # Nothing was opened by the reads.
    asked.enrolled = False
    assert len((await ledger.stub.BatchGetBalances(asked)).balances) == 1
