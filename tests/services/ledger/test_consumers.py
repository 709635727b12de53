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
