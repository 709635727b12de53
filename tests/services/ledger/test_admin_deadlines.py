"""The ledger's administrative calls (SetTierDefinitions, Verify, ...) get LEDGER_ADMIN_DEADLINE_MS
and the hot path keeps LEDGER_DEADLINE_MS, through real gRPC on real PostgreSQL. A call is made
to outlast a deadline by holding a row it must lock, rather than by creating millions of
accounts."""

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from loyalty.ledger.v1 import ledger_pb2
from services.ledger.app import SPEC, LedgerConfig
from services.shared import call_budget
from services.shared.config import ConfigError
from services.shared.database import bound_to_call, create_pool
from services.shared.server import check_process_config
from tests.services.ledger.support import Ledger, key, ts
from tests.services.ledger.test_programs import TIERS

# The hot path's deadline in these tests: short, yet long enough for an uncontended call.
DEADLINE_MS = 700
GOLD_AS_VIP = ledger_pb2.TierCodeMapping(from_tier_code="gold", to_tier_code="vip")
RENAMED = [*TIERS[:2], ledger_pb2.TierDefinition(code="vip", name="VIP", rank=2, threshold=5_000)]


@contextlib.asynccontextmanager
async def holding(database_url: str, lock_sql: str, *args: object) -> AsyncIterator[None]:
    """Another session holds the row `lock_sql` locks until the block ends."""
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            assert await connection.fetchval(lock_sql, *args)
            yield
    finally:
        await connection.close()


def holding_program(database_url: str) -> contextlib.AbstractAsyncContextManager[None]:
    return holding(
        database_url, "SELECT true FROM ledger.programs WHERE program_id = 'acme' FOR SHARE"
    )


async def release_after(seconds: float, block: contextlib.AbstractAsyncContextManager[None]):
    async with block:
        await asyncio.sleep(seconds)


def rename_gold(*, idempotency_key: str) -> ledger_pb2.SetTierDefinitionsRequest:
    return ledger_pb2.SetTierDefinitionsRequest(
        program_id="acme",
        idempotency_key=idempotency_key,
        tiers=RENAMED,
        tier_code_mappings=[GOLD_AS_VIP],
    )


@pytest.fixture
async def ledger(start_service) -> AsyncIterator[Ledger]:
    async with start_service(
        SPEC, LedgerConfig, jobs_enabled=False, deadline_ms=DEADLINE_MS, admin_deadline_ms=10_000
    ) as (_, channel):
        client = Ledger(channel)
        await client.setup()
        yield client


async def test_an_admin_call_runs_past_the_normal_deadline_within_its_own(
    ledger: Ledger, database_url: str
) -> None:
    await ledger.earn("m1", 6_000, qualifying=True)  # gold
    holder = asyncio.create_task(release_after(2.0, holding_program(database_url)))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    response = await ledger.stub.SetTierDefinitions(rename_gold(idempotency_key=key()))
    assert time.monotonic() - started > DEADLINE_MS / 1000  # waited for the lock, past it
    assert response.moved_accounts_count == 1
    assert (await ledger.balance("m1")).tier_code == "vip"
    await holder


async def test_earn_keeps_the_normal_deadline(ledger: Ledger, database_url: str) -> None:
    await ledger.earn("m1", 10)
    lock = holding(
        database_url,
        "SELECT true FROM ledger.member_accounts WHERE program_id = 'acme' AND member_id = 'm1'"
        " FOR UPDATE",
    )
    # The same request twice: the same key and the same vesting instant.
    retry = {"idempotency_key": key(), "vests_at": ts(dt.datetime.now(dt.UTC))}
    async with lock:
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await ledger.earn("m1", 10, **retry)
        elapsed = time.monotonic() - started
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert DEADLINE_MS / 1000 - 0.1 < elapsed < 2.0
    # The earn may still have landed (grouped earns commit together, and the lock can go before
    # the cancellation reaches PostgreSQL, as on a loaded machine): the caller retries with its
    # key, and there is exactly one effect either way.
    await ledger.earn("m1", 10, **retry)
    assert (await ledger.balance("m1")).available_points == 20


async def test_the_clients_shorter_deadline_still_wins(ledger: Ledger, database_url: str) -> None:
    async with holding_program(database_url):
        started = time.monotonic()
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await ledger.stub.SetTierDefinitions(rename_gold(idempotency_key=key()), timeout=0.3)
        assert time.monotonic() - started < DEADLINE_MS / 1000
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


async def test_a_call_past_the_admin_deadline_fails_and_writes_nothing(
    start_service, database_url: str
) -> None:
    async with start_service(
        SPEC, LedgerConfig, jobs_enabled=False, deadline_ms=300, admin_deadline_ms=1_000
    ) as (_, channel):
        ledger = Ledger(channel)
        await ledger.setup()
        await ledger.earn("m1", 6_000, qualifying=True)  # gold
        database = await asyncpg.connect(database_url)
        try:
            outbox_before = await database.fetchval("SELECT count(*) FROM ledger.outbox")
            async with holding_program(database_url):
                started = time.monotonic()
                with pytest.raises(grpc.aio.AioRpcError) as error:
                    await ledger.stub.SetTierDefinitions(rename_gold(idempotency_key="rename"))
                assert 0.9 < time.monotonic() - started < 5
                assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                # Its statement ended with it: nothing of the ledger's waits on the lock (polled,
                # since a loaded machine takes a moment to see the cancelled backend stop waiting;
                # a statement left waiting would wait for as long as the lock is held).
                assert await _lock_waits_end(database)
            assert await database.fetchval("SELECT count(*) FROM ledger.outbox") == outbox_before
        finally:
            await database.close()
        listed = await ledger.stub.ListTierDefinitions(
            ledger_pb2.ListTierDefinitionsRequest(program_id="acme")
        )
        assert [t.code for t in listed.tiers] == [t.code for t in TIERS]
        assert (await ledger.balance("m1")).tier_code == "gold"
        # No idempotency record was kept: the same key runs the change afresh.
        response = await ledger.stub.SetTierDefinitions(rename_gold(idempotency_key="rename"))
        assert response.moved_accounts_count == 1


async def test_a_transaction_bound_to_its_call_gets_the_calls_time_as_statement_timeout(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, schema="public", size_min=1, size_max=1)
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW statement_timeout") == "30s"
            async with connection.transaction():
                await bound_to_call(connection)  # outside a call: the pool's guard stays
                assert await connection.fetchval("SHOW statement_timeout") == "30s"
            token = call_budget.deadline_var.set(asyncio.get_running_loop().time() + 120)
            try:
                async with connection.transaction():
                    await bound_to_call(connection)
                    # What is left of the call's 120 s: a millisecond or so may have passed.
                    left_ms = await connection.fetchval(
                        "SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"
                    )
                    assert 119_000 <= left_ms <= 120_000
            finally:
                call_budget.deadline_var.reset(token)
            # SET LOCAL: the connection goes back to the pool with the guard.
            assert await connection.fetchval("SHOW statement_timeout") == "30s"
    finally:
        await pool.close()


def test_the_admin_deadline_may_not_be_shorter_than_the_normal_one() -> None:
    config = LedgerConfig(
        database_url="postgresql://x",
        nats_url="nats://x",
        deadline_ms=10_000,
        admin_deadline_ms=5_000,
    )
    with pytest.raises(ConfigError) as error:
        check_process_config(config, prefix="LEDGER")
    assert error.value.variable == "LEDGER_ADMIN_DEADLINE_MS"


async def _lock_waits_end(database: asyncpg.Connection, *, within_s: float = 10) -> bool:
    """Whether no ledger statement waits on a lock within `within_s`, asked from a connection
    outside any transaction (a transaction keeps its first read of pg_stat_activity)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        waiting = await database.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
            " 'loyalty-ledger' AND wait_event_type = 'Lock'"
        )
        if waiting == 0:
            return True
        await asyncio.sleep(0.1)
    return False
