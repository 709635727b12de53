"""The ledger opens an account when identity announces a new member."""

import asyncio
import uuid

import grpc
import nats
import pytest

from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.conftest import Servers
from tests.services.ledger.support import Ledger


async def test_a_member_enrolled_event_opens_the_account_once(
    start_service, servers: Servers, nats_namespace: str
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        event = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id="acme",
            member_enrolled=events_pb2.MemberEnrolled(member_id="newbie"),
        )
        event.occurred_at.GetCurrentTime()
        client = await nats.connect(servers.nats_url)
        try:
            subject = f"{nats_namespace}.identity.member_enrolled"
            for _ in range(2):  # a redelivery, as after a relay restart
                await client.publish(
                    subject, event.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
                )
        finally:
            await client.close()
        for _ in range(100):
            try:
                balance = await ledger.balance("newbie")
                break
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.NOT_FOUND
                await asyncio.sleep(0.05)
        else:
            pytest.fail("the account was not opened")
        assert (balance.tier_code, balance.available_points) == ("member", 0)
        history = await ledger.stub.ListHistory(
            ledger_pb2.ListHistoryRequest(program_id="acme", member_id="newbie")
        )
        assert list(history.postings) == []
        await ledger.assert_clean()


async def publish(servers: Servers, subject: str, event: events_pb2.Event) -> None:
    client = await nats.connect(servers.nats_url)
    try:
        await client.publish(
            subject, event.SerializeToString(), headers={"Nats-Msg-Id": str(uuid.uuid4())}
        )
    finally:
        await client.close()


async def test_a_merged_member_is_closed_and_late_points_follow_the_survivor(
    start_service, servers: Servers, nats_namespace: str
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        await ledger.earn("old-card", 100)
        await ledger.earn("app-user", 10)
        await ledger.transfer("old-card", "app-user", transfer_all=True)  # identity's merge
        await ledger.earn("old-card", 7)  # a till that still had the old card, after the transfer
        event = events_pb2.Event(
            event_id=str(uuid.uuid4()),
            program_id="acme",
            member_merged=events_pb2.MemberMerged(
                survivor_member_id="app-user", merged_member_id="old-card"
            ),
        )
        subject = f"{nats_namespace}.identity.member_merged"
        for _ in range(2):  # and a redelivery
            await publish(servers, subject, event)
        for _ in range(100):
            try:
                await ledger.earn("old-card", 1)
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "merged into 'app-user'" in error.details()
                assert ("loyalty-error-reason", "MEMBER_CLOSED") in tuple(error.trailing_metadata())
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the merged account was not closed")
        survivor = await ledger.balance("app-user")
        closed = await ledger.balance("old-card")
        # 100 + 10 moved by the merge, the late 7, and any 1s that landed before the close.
        assert survivor.available_points + closed.available_points >= 117
        assert closed.available_points == 0
        batch = ledger_pb2.PostBatchRequest(
            program_id="acme",
            batch_id="after-merge",
            member_ids=["old-card"],
            points=[5],
            idempotency_keys=["x"],
        )

        async def one():
            yield batch

        [response] = [r async for r in ledger.stub.PostBatch(one())]
        assert list(response.reject_reasons) == [5]  # MEMBER_CLOSED
        await ledger.assert_clean()
