"""Columns copied in the binary format arrive exactly as asyncpg's own COPY of the same rows."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.shared import pg_copy

TABLE = (
    "program_id text NOT NULL, member_id text NOT NULL, seq bigint NOT NULL, kind smallint, "
    "flag boolean, at timestamptz, ends_at timestamptz, note text, reason bytea, day date, "
    "filled text NOT NULL DEFAULT 'default'"
)
NAMES = ["program_id", "member_id", "seq", "kind", "flag", "at", "ends_at", "note", "reason", "day"]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# timestamptz's range: 4713 BC to 294276 AD.
MICROS_MIN = -210_866_803_200_000_000


def instant(micros: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=micros)


rows = st.lists(
    st.tuples(
        st.text(max_size=40),
        st.integers(INT64_MIN, INT64_MAX),
        st.integers(-(2**15), 2**15 - 1),
        st.booleans(),
        # datetime's range but its ends, which asyncpg's own COPY writes as -infinity, infinity.
        st.integers(-62_135_596_800_000_000 + 1, 253_402_300_799_999_999 - 1),
        st.one_of(st.none(), st.integers(-(10**15), 10**17)),
        st.text(max_size=5),
        st.binary(max_size=20),
        # date's range but its ends (asyncpg's -infinity and infinity).
        st.integers(dt.date.min.toordinal() + 1, dt.date.max.toordinal() - 1),
    ),
    max_size=40,
)


def columns(program_id: str, batch: list[tuple]) -> list[pg_copy.Column]:  # type: ignore[type-arg]
    ends = [row[5] for row in batch]
    return [
        pg_copy.same_text("program_id", program_id),
        pg_copy.text("member_id", [row[0] for row in batch]),
        pg_copy.bigint("seq", np.array([row[1] for row in batch], dtype=np.int64)),
        pg_copy.smallint("kind", [row[2] for row in batch]),
        pg_copy.boolean("flag", [row[3] for row in batch]),
        pg_copy.timestamptz("at", np.array([row[4] for row in batch], dtype=np.int64)),
        pg_copy.timestamptz(
            "ends_at",
            np.array([end or 0 for end in ends], dtype=np.int64),
            nulls=np.array([end is None for end in ends], dtype=bool),
        ),
        pg_copy.text("note", [row[6] for row in batch]),
        pg_copy.bytea("reason", [row[7] for row in batch]),
        pg_copy.date("day", [row[8] - EPOCH_ORDINAL for row in batch]),
    ]


def records(program_id: str, batch: list[tuple]) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (
            program_id,
            member,
            seq,
            kind,
            flag,
            instant(at),
            None if end is None else instant(end),
            note,
            reason,
            dt.date.fromordinal(day),
        )
        for member, seq, kind, flag, at, end, note, reason, day in batch
    ]


async def connected(database_url: str) -> asyncpg.Connection:
    connection = await asyncpg.connect(database_url)
    await connection.execute(
        f"CREATE TABLE IF NOT EXISTS ours ({TABLE}); CREATE TABLE IF NOT EXISTS theirs ({TABLE}); "
        "TRUNCATE ours, theirs"
    )
    return connection


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await connected(database_url)
    yield connection
    await connection.close()


async def contents(connection: asyncpg.Connection, table: str) -> list[tuple]:  # type: ignore[type-arg]
    fetched = await connection.fetch(f"SELECT * FROM {table} ORDER BY seq, member_id, note, reason")
    return [tuple(row) for row in fetched]


async def both_copies(
    database_url: str,
    program_id: str,
    batch: list[tuple],  # type: ignore[type-arg]
) -> tuple[list[tuple], list[tuple]]:  # type: ignore[type-arg]
    connection = await connected(database_url)
    try:
        await pg_copy.copy_columns(
            connection, "ours", columns(program_id, batch), row_count=len(batch)
        )
        await connection.copy_records_to_table(
            "theirs", records=records(program_id, batch), columns=NAMES
        )
        return await contents(connection, "ours"), await contents(connection, "theirs")
    finally:
        await connection.close()


def without_nul(value: str) -> str:
    return value.replace("\x00", "")  # text cannot hold it


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(program_id=st.text(max_size=12), batch=rows)
def test_rows_arrive_as_asyncpgs_own_copy_writes_them(
    database_url: str,
    program_id: str,
    batch: list[tuple],  # type: ignore[type-arg]
) -> None:
    program_id = without_nul(program_id)
    batch = [(without_nul(row[0]), *row[1:6], without_nul(row[6]), *row[7:]) for row in batch]
    ours, theirs = asyncio.run(both_copies(database_url, program_id, batch))
    assert ours == theirs
    assert len(ours) == len(batch)
    assert all(row[-1] == "default" for row in ours)


async def test_extremes_and_awkward_text(connection: asyncpg.Connection) -> None:
    batch = [
        ('é✓ \t\n\\ "q" NULL', INT64_MIN, -(2**15), True, MICROS_MIN + 1, None, "", b"\x00\xff", 1),
        ("", INT64_MAX, 2**15 - 1, False, 0, 0, "x" * 10_000, b"", EPOCH_ORDINAL),
    ]
    await pg_copy.copy_columns(connection, "ours", columns("", batch), row_count=len(batch))
    fetched = await connection.fetch(
        "SELECT member_id, seq, kind, at = 'epoch'::timestamptz, ends_at, length(note), reason, "
        "program_id, day FROM ours ORDER BY seq"
    )
    assert [tuple(row) for row in fetched] == [
        ('é✓ \t\n\\ "q" NULL', INT64_MIN, -(2**15), False, None, 0, b"\x00\xff", "", dt.date.min),
        ("", INT64_MAX, 2**15 - 1, True, instant(0), 10_000, b"", "", dt.date(1970, 1, 1)),
    ]


async def test_no_rows_write_nothing(connection: asyncpg.Connection) -> None:
    await pg_copy.copy_columns(connection, "ours", columns("p", []), row_count=0)
    assert await connection.fetchval("SELECT count(*) FROM ours") == 0


def test_a_column_of_the_wrong_length_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="column member_id has 1 values for 2 rows"):
        pg_copy.encode(
            [pg_copy.bigint("seq", [1, 2]), pg_copy.text("member_id", ["m"])], row_count=2
        )
