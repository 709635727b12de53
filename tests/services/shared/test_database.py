"""The services' connection pools plan each statement run for the tables as they are then, and
a database whose collation is not byte order is named at start."""

import logging

import asyncpg
import pytest

from services.shared.database import check_collation, create_pool
from tests.conftest import RUN_ID, Servers, with_database

UPDATE_BY_MEMBER = (
    "UPDATE accounts AS a SET balance = t.balance "
    "FROM unnest($2::text[], $3::bigint[]) AS t(member_id, balance) "
    "WHERE a.program_id = $1 AND a.member_id = t.member_id"
)


async def plan_after_growth(connection: asyncpg.Connection) -> str:
    """The plan of a prepared group write run often while the table was small, once it is large.

    SQL-level PREPARE goes through the same plan cache as the protocol-level statements asyncpg
    prepares, and unlike those can be explained.
    """
    await connection.execute(
        "CREATE TABLE accounts (program_id text, member_id text, balance bigint, "
        "PRIMARY KEY (program_id, member_id))"
    )
    await connection.execute(
        "INSERT INTO accounts SELECT 'p', 'm' || i, 0 FROM generate_series(1, 5) AS i"
    )
    await connection.execute(f"PREPARE group_write(text, text[], bigint[]) AS {UPDATE_BY_MEMBER}")
    for _ in range(8):
        await connection.execute("EXECUTE group_write('p', '{m1,m2}', '{1,2}')")
    await connection.execute(
        "INSERT INTO accounts SELECT 'p', 'm' || i, 0 FROM generate_series(6, 100000) AS i"
    )
    rows = await connection.fetch("EXPLAIN EXECUTE group_write('p', '{m1,m2}', '{3,4}')")
    return "\n".join(row[0] for row in rows)


async def test_a_statement_planned_on_a_small_table_still_finds_rows_by_key(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, schema="public")
    try:
        async with pool.acquire() as connection:
            assert await connection.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
            plan = await plan_after_growth(connection)
    finally:
        await pool.close()
    # Each of the group's members looked up by the whole key, not the program's rows scanned.
    assert "Index Cond: ((program_id = 'p'::text) AND (member_id = t.member_id))" in plan, plan


async def test_the_generic_plan_the_pool_avoids_scans_the_whole_program(database_url: str) -> None:
    """What the pool's setting is for: with the server's default, the plan made while the table
    was small is kept, and looks every member up among all the program's rows."""
    connection = await asyncpg.connect(database_url)
    try:
        plan = await plan_after_growth(connection)
    finally:
        await connection.close()
    assert "Index Cond: (program_id = $1)" in plan, plan
    assert "member_id = t.member_id" not in plan.split("Index Cond")[-1], plan


@pytest.mark.parametrize(("locale", "warned"), [("C", False), ("C.UTF-8", True)])
async def test_a_database_not_in_byte_order_is_named_with_its_fix(
    servers: Servers, caplog: pytest.LogCaptureFixture, locale: str, warned: bool
) -> None:
    name = f"loyalty_t{RUN_ID}_collation_{locale.replace('.', '_').replace('-', '_').lower()}"
    admin = await asyncpg.connect(servers.database_url)
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" LOCALE '{locale}' TEMPLATE template0")
        connection = await asyncpg.connect(with_database(servers.database_url, name))
        try:
            with caplog.at_level(logging.WARNING, logger="services.shared.database"):
                assert await check_collation(connection) == locale
        finally:
            await connection.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    if warned:
        assert len(warnings) == 1 and f"collation is {locale}, not C" in warnings[0], warnings
        assert "LOCALE 'C' TEMPLATE template0" in warnings[0]
    else:
        assert warnings == []
