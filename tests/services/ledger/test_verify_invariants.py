"""Verify checks what ledger migrations 017 to 020 keep beside the balances: a write-off of held
points never exceeds the points held, a voided hold's paid debt never exceeds its points (and
only a voided hold pays any), a reversal's count of a credit's expired points never exceeds the
credit, and a lot a transfer credited names a lot it came from. Each is built by real calls,
then one stored value is put out of line, as a bug or a hand edit would, and Verify names it."""

from collections.abc import AsyncIterator

import asyncpg
import pytest

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from tests.services.ledger.support import Ledger


@pytest.fixture
async def ledger(start_service) -> AsyncIterator[Ledger]:
    async with start_service(SPEC, LedgerConfig) as (_, channel):
        client = Ledger(channel)
        await client.setup(negative_balance_policy=ledger_pb2.NEGATIVE_BALANCE_POLICY_WRITE_OFF)
        yield client


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    yield connection
    await connection.close()


def found(result: ledger_pb2.VerifyResponse) -> list[tuple[str, str, int, int]]:
    return [(d.account_id, d.field, d.stored_value, d.recomputed_value) for d in result.differences]


async def test_verify_names_each_stored_value_out_of_line_with_its_bound(
    ledger: Ledger, connection: asyncpg.Connection
) -> None:
    # ann: 100 points of order o1, 60 held, then o1 refunded: 60 written off as held.
    await ledger.earn("ann", 100, source_reference="o1")
    held = await ledger.hold("ann", 60)
    await ledger.refund("ann", "o1", refunded=10, original=10)
    # bob: an earn of 10 reversed; cat: points moved to it from dan by a merge's transfer.
    earned = await ledger.earn("bob", 10)
    await ledger.stub.Reverse(
        ledger_pb2.ReverseRequest(
            program_id="acme",
            idempotency_key="bob-reverse",
            member_id="bob",
            posting_id=earned.posting.posting_id,
        )
    )
    await ledger.earn("dan", 30, source_reference="o2")
    await ledger.transfer("dan", "cat", transfer_all=True)
    await ledger.assert_clean()
    assert (
        await connection.fetchval(
            "SELECT held_write_off FROM member_accounts WHERE member_id = 'ann'"
        )
        == 60
    )
    [moved] = await connection.fetch("SELECT * FROM moved_lots WHERE member_id = 'cat'")
    assert moved["origin_member_id"] == "dan"

    await connection.execute(
        "UPDATE member_accounts SET held_write_off = 61 WHERE member_id = 'ann'"
    )
    await connection.execute("UPDATE holds SET debt_paid_points = 5 WHERE member_id = 'ann'")
    await connection.execute(
        "INSERT INTO reversed_expired_points VALUES ('acme', 'bob', $1, 11)",
        int(earned.posting.posting_id),
    )
    await connection.execute(
        "UPDATE moved_lots SET origin_lot_id = origin_lot_id + 1000000 WHERE member_id = 'cat'"
    )
    result = await ledger.verify()
    hold_id = held.hold.hold_id
    assert sorted(found(result)) == [
        ("member:ann", "held_write_off", 61, 60),  # at most the 60 held
        ("member:ann", f"hold:{hold_id}.debt_paid_points", 5, 0),  # an open hold paid nothing
        ("member:bob", f"posting:{earned.posting.posting_id}.reversed_expired_points", 11, 10),
        ("member:cat", f"lot:{moved['lot_id']}.origin_lot_id", moved["origin_lot_id"] + 1000000, 0),
    ]
    assert result.differences_count == 4 and result.program_sum_points == 0

    # Put back, it is clean again; a voided hold may have paid debt up to its points.
    await connection.execute(
        "UPDATE member_accounts SET held_write_off = 60 WHERE member_id = 'ann'"
    )
    await connection.execute("UPDATE holds SET debt_paid_points = 0 WHERE member_id = 'ann'")
    await connection.execute("DELETE FROM reversed_expired_points WHERE member_id = 'bob'")
    await connection.execute(
        "UPDATE moved_lots SET origin_lot_id = origin_lot_id - 1000000 WHERE member_id = 'cat'"
    )
    await ledger.void(hold_id)
    await ledger.assert_clean()
    voided = await connection.fetchval(
        "SELECT debt_paid_points FROM holds WHERE hold_id = $1", hold_id
    )
    assert voided == 60  # it paid back the write-off
    await connection.execute("UPDATE holds SET debt_paid_points = 61 WHERE hold_id = $1", hold_id)
    assert found(await ledger.verify()) == [
        ("member:ann", f"hold:{hold_id}.debt_paid_points", 61, 60)
    ]
    await connection.execute("UPDATE holds SET debt_paid_points = 60 WHERE hold_id = $1", hold_id)
    await ledger.assert_clean()


async def test_verify_names_a_spends_write_off_beyond_its_points(
    ledger: Ledger, connection: asyncpg.Connection
) -> None:
    # eve spent 30 of order o3's 100 points, then o3 was refunded: the 30 written off, owed by
    # the spend (ledger migration 021).
    await ledger.earn("eve", 100, source_reference="o3")
    spent = await ledger.redeem("eve", 30)
    await ledger.refund("eve", "o3", refunded=10, original=10)
    await ledger.assert_clean()
    posting_id = int(spent.posting.posting_id)
    owed = "SELECT written_off_points FROM spent_write_offs WHERE posting_id = $1"
    assert await connection.fetchval(owed, posting_id) == 30

    # A spend owes at most the points it spent: a cancellation would take more than it gives.
    update = "UPDATE spent_write_offs SET written_off_points = $2 WHERE posting_id = $1"
    await connection.execute(update, posting_id, 31)
    assert found(await ledger.verify()) == [
        ("member:eve", f"posting:{posting_id}.written_off_points", 31, 30)
    ]
    await connection.execute(update, posting_id, 30)
    await ledger.assert_clean()
