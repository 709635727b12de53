"""A merged member's account once the points it had pending would have vested: the merge moved
them to the survivor, and the lots left behind empty still vest, for reads and for the job."""

import asyncio
import datetime as dt

import asyncpg
import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from tests.conftest import Servers
from tests.services.ledger.support import Ledger, key, ts
from tests.services.ledger.test_consumers import closed_into, merged_event, publish


async def merge(
    ledger: Ledger, servers: Servers, nats_namespace: str, database_url: str, *, into: str
) -> None:
    """What identity's merge of "old" does: the points move, then the ledger's member_merged
    consumer closes the account (awaited here)."""
    await ledger.transfer("old", into, transfer_all=True)
    await publish(servers, f"{nats_namespace}.identity.member_merged", merged_event("old", into))
    for _ in range(200):
        if "old" in await closed_into(database_url):
            return
        await asyncio.sleep(0.05)
    pytest.fail("the account of 'old' was not closed")


async def merged_with_points_pending(
    ledger: Ledger, servers: Servers, nats_namespace: str, database_url: str
) -> None:
    """ "old", merged into "new" with 100 points pending, once the return window has passed."""
    window_end = dt.datetime.now(dt.UTC) + dt.timedelta(days=14)
    await ledger.earn("old", 100, vested=False, vests_at=ts(window_end))
    await ledger.earn("new", 40)
    await merge(ledger, servers, nats_namespace, database_url, into="new")
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "ledger"})
    try:  # time travel, however slow the machine: the return window has passed
        await connection.execute(
            "UPDATE lots SET vests_at = now() - interval '1 second' WHERE vests_at > now()"
        )
        moved = await connection.execute(
            "UPDATE member_accounts SET next_vest_at = now() - interval '1 second' "
            "WHERE next_vest_at > now()"
        )
        assert moved == "UPDATE 2"  # the survivor, and the merged member's emptied lot
    finally:
        await connection.close()


async def test_a_merged_member_reads_once_the_points_it_had_pending_vest(
    ledger: Ledger, servers: Servers, nats_namespace: str, database_url: str
) -> None:
    await merged_with_points_pending(ledger, servers, nats_namespace, database_url)
    # Both were FAILED_PRECONDITION MEMBER_CLOSED: a read brought the account up to date as a
    # posting does, refused for a merged member, and the batch read failed for the survivor too.
    old = await ledger.balance("old")
    assert (old.available_points, old.pending_points) == (0, 0)
    both = await ledger.stub.BatchGetBalances(
        ledger_pb2.BatchGetBalancesRequest(program_id="acme", member_ids=["old", "new"])
    )
    assert [b.available_points for b in both.balances] == [0, 140]


async def test_the_vesting_job_vests_the_lots_a_merge_left_empty(
    ledger: Ledger, servers: Servers, nats_namespace: str, database_url: str
) -> None:
    await merged_with_points_pending(ledger, servers, nats_namespace, database_url)
    run = ledger_pb2.RunMaintenanceRequest(
        program_id="acme", idempotency_key=key(), job=ledger_pb2.MAINTENANCE_JOB_VESTING
    )
    # It failed at the merged member on each run (MEMBER_CLOSED), and the scheduled jobs after
    # it in the round (expiry, hold timeouts, tiers, notices) never ran again.
    vested = await ledger.stub.RunMaintenance(run)
    assert vested.processed_count == 2  # the merged member and the survivor
    run.idempotency_key = key()
    assert (await ledger.stub.RunMaintenance(run)).processed_count == 0
    assert (await ledger.balance("new")).available_points == 140


async def test_a_transfer_names_the_member_it_refuses(
    ledger: Ledger, servers: Servers, nats_namespace: str, database_url: str
) -> None:
    await ledger.earn("old", 10)
    await ledger.earn("new", 40)
    await merge(ledger, servers, nats_namespace, database_url, into="new")
    cases = [
        ("nobody", "new", grpc.StatusCode.NOT_FOUND, "source_member_id"),
        ("new", "old", grpc.StatusCode.FAILED_PRECONDITION, "target_member_id"),
        ("old", "new", grpc.StatusCode.FAILED_PRECONDITION, "source_member_id"),
    ]
    for source, target, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await ledger.transfer(source, target, 5)
        # Each was named member_id, a field TransferPointsRequest has not.
        assert (error.value.code(), error.value.details().split(":")[0]) == (code, field)
        assert dict(error.value.trailing_metadata())["loyalty-error-field"] == field
