"""The ledger opens an account when identity announces a new member."""

import asyncio
import uuid
from pathlib import Path

import asyncpg
import grpc
import nats
import pytest

from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.conftest import Servers
from tests.services.ledger.support import Ledger

MIGRATIONS = Path(__file__).parents[3] / "services" / "ledger" / "migrations"


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


def merged_event(merged: str, survivor: str) -> events_pb2.Event:
    return events_pb2.Event(
        event_id=str(uuid.uuid4()),
        program_id="acme",
        member_merged=events_pb2.MemberMerged(survivor_member_id=survivor, merged_member_id=merged),
    )


async def refusal(ledger: Ledger, member: str) -> str:
    """What an earn for the member is refused with, once the ledger has closed its account."""
    for _ in range(200):
        try:
            await ledger.earn(member, 1)
        except grpc.aio.AioRpcError as error:
            assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert ("loyalty-error-reason", "MEMBER_CLOSED") in tuple(error.trailing_metadata())
            return error.details()
        await asyncio.sleep(0.05)
    pytest.fail(f"the account of {member!r} was not closed")


async def closed_into(database_url: str) -> dict[str, str]:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:
        rows = await connection.fetch(
            "SELECT member_id, closed_into FROM member_accounts WHERE closed_into IS NOT NULL"
        )
    finally:
        await connection.close()
    return {row["member_id"]: row["closed_into"] for row in rows}


async def test_after_a_into_b_then_b_into_c_a_is_closed_into_c(
    start_service, servers: Servers, nats_namespace: str, database_url: str
) -> None:
    subject = f"{nats_namespace}.identity.member_merged"
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        await ledger.earn("a", 100, source_reference="order-a")
        await ledger.earn("b", 10)
        await ledger.earn("c", 1)
        await ledger.transfer("a", "b", transfer_all=True)  # identity's merge of a into b
        await publish(servers, subject, merged_event("a", "b"))
        assert await refusal(ledger, "a") == (
            "member_id: member 'a' was merged into 'b'; post to the survivor"
        )
        await ledger.transfer("b", "c", transfer_all=True)  # then of b into c
        for _ in range(2):  # and a redelivery
            await publish(servers, subject, merged_event("b", "c"))
        assert "merged into 'c'" in await refusal(ledger, "b")
        # a is c's now: its postings are refused naming c, not b (closed too).
        assert await refusal(ledger, "a") == (
            "member_id: member 'a' was merged into 'c'; post to the survivor"
        )
        assert await closed_into(database_url) == {"a": "c", "b": "c"}
        # A refund of a's purchase takes the points back from c, in one step.
        refunded = await ledger.refund("a", "order-a", refunded=1_000, original=1_000)
        assert (refunded.reversed_points, refunded.balance.member_id) == (100, "c")
        assert (await ledger.balance("c")).available_points >= 11
        await ledger.assert_clean()


async def test_a_merge_announced_after_its_survivors_own_merge_closes_into_the_last_survivor(
    start_service, servers: Servers, nats_namespace: str, database_url: str
) -> None:
    subject = f"{nats_namespace}.identity.member_merged"
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        await ledger.earn("a", 100)
        await ledger.earn("b", 10)
        await ledger.transfer("a", "b", transfer_all=True)
        await ledger.earn("a", 5)  # a late till, after a's transfer
        await ledger.transfer("b", "c", transfer_all=True)
        # JetStream delivers b into c first (a into b came back after a failure, say).
        await publish(servers, subject, merged_event("b", "c"))
        assert "merged into 'c'" in await refusal(ledger, "b")
        for _ in range(2):
            await publish(servers, subject, merged_event("a", "b"))
        assert await refusal(ledger, "a") == (
            "member_id: member 'a' was merged into 'c'; post to the survivor"
        )
        assert await closed_into(database_url) == {"a": "c", "b": "c"}
        # The late 5 (and any 1s that landed before the close) went to c, the last survivor,
        # not to b's closed account.
        assert (await ledger.balance("b")).available_points == 0
        assert (await ledger.balance("a")).available_points == 0
        assert (await ledger.balance("c")).available_points >= 115
        await ledger.assert_clean()


async def test_migration_010_repoints_accounts_closed_before_it_to_the_last_survivor(
    start_service, database_url: str
) -> None:
    async with start_service(SPEC, LedgerConfig, jobs_enabled=False) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        for member in ("a", "b", "c", "d", "x", "y"):
            await ledger.earn(member, 1)
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:  # chains as the consumer left them before: a into b, b into c, c into d; x into y
        for member, survivor in (("a", "b"), ("b", "c"), ("c", "d"), ("x", "y")):
            await connection.execute(
                "UPDATE member_accounts SET closed_into = $2 WHERE member_id = $1", member, survivor
            )
        sql = MIGRATIONS.joinpath("010_closed_into_final_survivor.sql").read_text()
        await connection.execute(sql[sql.index("DO $$") :])
    finally:
        await connection.close()
    assert await closed_into(database_url) == {"a": "d", "b": "d", "c": "d", "x": "y"}
