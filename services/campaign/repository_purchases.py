"""Campaign's SQL for purchases, returns, member counts, cap counters and ingest batches."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import asyncpg
import numpy as np
import numpy.typing as npt

import ledger_core
from services.campaign.transactions import PURCHASE, RETURN
from services.shared import pg_copy
from services.shared.pg_arrays import int_array, text_array

# Up to this many rows, a plain statement costs fewer round trips than COPY or planner hints.
SMALL_WRITE_ROWS_MAX = 50
Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool
_TRANSACTION_COLUMNS = [
    "program_id",
    "member_id",
    "transaction_id",
    "kind",
    "amount_minor",
    "points",
    "occurred_micros",
    "original_transaction_id",
    "applications",
    "batch_id",
]


@dataclass(frozen=True)
class StoredTransaction:
    member_id: str
    transaction_id: str
    kind: int
    amount_minor: int
    points: int
    occurred_micros: int
    applications: str


async def fetch_transactions(
    connection: Connection, program_id: str, members: Sequence[str], transaction_ids: Sequence[str]
) -> dict[tuple[str, str], StoredTransaction]:
    rows = await connection.fetch(
        "SELECT t.member_id, t.transaction_id, t.kind, t.amount_minor, t.points, t.occurred_micros, t.applications "
        "FROM transactions t JOIN unnest($2::text::text[], $3::text::text[]) AS k(member_id, transaction_id) "
        "USING (member_id, transaction_id) WHERE t.program_id = $1 AND t.member_id = ANY($2::text::text[])",
        program_id,
        text_array(members),
        text_array(transaction_ids),
    )
    return {
        (row["member_id"], row["transaction_id"]): StoredTransaction(**dict(row)) for row in rows
    }


async def insert_purchases(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    batch_id: str,
    members: Sequence[str],
    transaction_ids: Sequence[str],
    amounts_minor: Sequence[int],
    points: Sequence[int] | npt.NDArray[np.int64],
    occurred_micros: Sequence[int],
    applications: Sequence[str],
) -> None:
    """A batch's purchases, one COPY."""
    await pg_copy.copy_columns(
        connection,
        "transactions",
        [
            pg_copy.same_text("program_id", program_id),
            pg_copy.text("member_id", members),
            pg_copy.text("transaction_id", transaction_ids),
            pg_copy.smallint("kind", PURCHASE),
            pg_copy.bigint("amount_minor", amounts_minor),
            pg_copy.bigint("points", points),
            pg_copy.bigint("occurred_micros", occurred_micros),
            pg_copy.text("applications", applications),
            pg_copy.same_text("batch_id", batch_id),
        ],
        row_count=len(members),
    )


async def insert_transaction(connection: asyncpg.Connection, record: tuple) -> bool:  # type: ignore[type-arg]
    """One row; False if the member's transaction id was recorded before."""
    placeholders = ", ".join(f"${i}" for i in range(1, len(_TRANSACTION_COLUMNS) + 1))
    return bool(
        await connection.fetchval(
            f"INSERT INTO transactions ({', '.join(_TRANSACTION_COLUMNS)}) VALUES ({placeholders}) "
            "ON CONFLICT DO NOTHING RETURNING true",
            *record,
        )
    )


async def delete_purchases(
    connection: asyncpg.Connection, program_id: str, keys: list[tuple[str, str]]
) -> list[StoredTransaction]:
    """Delete the members' purchases of these (member, transaction id) pairs; returns them."""
    if not keys:
        return []
    rows = await connection.fetch(
        "DELETE FROM transactions t USING unnest($2::text::text[], $3::text::text[]) AS k(member_id, transaction_id) "
        "WHERE t.program_id = $1 AND t.member_id = ANY($2::text::text[]) "
        "AND t.member_id = k.member_id AND t.transaction_id = k.transaction_id AND t.kind = $4 "
        "RETURNING t.member_id, t.transaction_id, t.kind, t.amount_minor, t.points, t.occurred_micros, t.applications",
        program_id,
        text_array([member for member, _ in keys]),
        text_array([transaction for _, transaction in keys]),
        PURCHASE,
    )
    if rows:
        # Their lines go with them (a purchase id recorded again stores its own).
        await connection.execute(
            "DELETE FROM purchase_lines t USING unnest($2::text::text[], $3::text::text[]) "
            "AS k(member_id, transaction_id) WHERE t.program_id = $1 "
            "AND t.member_id = ANY($2::text::text[]) AND t.member_id = k.member_id "
            "AND t.transaction_id = k.transaction_id",
            program_id,
            text_array([row["member_id"] for row in rows]),
            text_array([row["transaction_id"] for row in rows]),
        )
    return [StoredTransaction(**dict(row)) for row in rows]


async def uncount_purchases(
    connection: asyncpg.Connection, program_id: str, counts: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """Take purchases and spend off the members' counts, as count_purchases added them; returns
    each member's (purchases, spend) after. A subtraction, not a recount: it commutes with the
    batches counting meanwhile."""
    members = sorted(counts)
    rows = await connection.fetch(
        "UPDATE members m SET purchase_count = greatest(m.purchase_count - t.purchases, 0), "
        "spend_minor = greatest(m.spend_minor - t.spend, 0) "
        "FROM unnest($2::text::text[], $3::text::bigint[], $4::text::bigint[]) AS t(member_id, purchases, spend) "
        "WHERE m.program_id = $1 AND m.member_id = ANY($2::text::text[]) AND m.member_id = t.member_id "
        "RETURNING m.member_id, m.purchase_count, m.spend_minor",
        program_id,
        text_array(members),
        int_array([counts[m][0] for m in members]),
        int_array([counts[m][1] for m in members]),
    )
    return {row[0]: (row[1], row[2]) for row in rows}


async def lock_refunded(
    connection: asyncpg.Connection, program_id: str, member_id: str, transaction_id: str
) -> int:
    """What the member's returns of the purchase refunded so far (minor units), its row locked
    until the transaction ends: the returns of one purchase are counted one after the other."""
    refunded: int = await connection.fetchval(
        "SELECT coalesce(sum(-r.amount_minor), 0) FROM (SELECT 1 FROM transactions "
        "WHERE program_id = $1 AND member_id = $2 AND transaction_id = $3 FOR UPDATE) p, "
        "transactions r WHERE r.program_id = $1 AND r.member_id = $2 AND r.kind = $4 "
        "AND r.original_transaction_id = $3",
        program_id,
        member_id,
        transaction_id,
        RETURN,
    )
    return refunded


async def keeps_a_purchase(connection: Connection, program_id: str, member_id: str) -> bool:
    """Whether the member has a purchase its returns did not refund in full."""
    return bool(
        await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM transactions p WHERE p.program_id = $1 "
            "AND p.member_id = $2 AND p.kind = $3 AND p.amount_minor > coalesce((SELECT "
            "sum(-r.amount_minor) FROM transactions r WHERE r.program_id = $1 AND r.member_id = $2 "
            "AND r.kind = $4 AND r.original_transaction_id = p.transaction_id), -1))",
            program_id,
            member_id,
            PURCHASE,
            RETURN,
        )
    )


async def uncount_cap_points(
    connection: asyncpg.Connection,
    program_id: str,
    used: list[tuple[str, str, int, int, int, int]],
) -> None:
    """Take points off the cap counters and history: (member, rule id, day key, week key, month
    key, points) each comes off every period of the counter that is still that key's, and off
    the history of the others."""
    if not used:
        return
    columns = list(zip(*used, strict=True))

    def off(period: str) -> str:
        return (
            f"{period}_points = greatest(c.{period}_points - coalesce((SELECT sum(u.points) FROM u "
            f"WHERE u.member_id = c.member_id AND u.rule_id = c.rule_id AND u.{period}_key = c.{period}_key), 0), 0)"
        )

    arguments = (
        program_id,
        text_array(list(columns[0])),
        text_array(list(columns[1])),
        *(int_array(list(column)) for column in columns[2:]),
    )
    used_rows = (
        "WITH u AS (SELECT * FROM unnest($2::text::text[], $3::text::text[], $4::text::bigint[], "
        "$5::text::bigint[], $6::text::bigint[], $7::text::bigint[]) "
        "AS u(member_id, rule_id, day_key, week_key, month_key, points)) "
    )
    await connection.execute(
        used_rows + f"UPDATE cap_counters c SET {off('day')}, {off('week')}, {off('month')}, "
        "version = c.version + 1 "
        "WHERE c.program_id = $1 AND c.member_id = ANY($2::text::text[]) "
        "AND (c.member_id, c.rule_id) IN (SELECT member_id, rule_id FROM u)",
        *arguments,
    )
    # A period is in its counter or in the history, never both: it comes off where it is.
    await connection.execute(
        used_rows + ", p AS (SELECT member_id, rule_id, period, period_key, sum(points) AS points "
        "FROM (SELECT member_id, rule_id, 0 AS period, day_key AS period_key, points FROM u "
        "UNION ALL SELECT member_id, rule_id, 1, week_key, points FROM u "
        "UNION ALL SELECT member_id, rule_id, 2, month_key, points FROM u) e "
        "GROUP BY member_id, rule_id, period, period_key) "
        "UPDATE cap_history h SET points = greatest(h.points - p.points, 0) FROM p "
        "WHERE h.program_id = $1 AND h.member_id = ANY($2::text::text[]) "
        "AND h.member_id = p.member_id AND h.rule_id = p.rule_id AND h.period = p.period "
        "AND h.period_key = p.period_key",
        *arguments,
    )


async def count_purchases(
    connection: asyncpg.Connection, program_id: str, counts: dict[str, tuple[int, int]]
) -> dict[str, tuple[str, int, int]]:
    """Add purchases and spend to the members' counts (opening unknown members); returns each
    member's (tier, purchases, spend) after the addition. Members are locked in order, so concurrent
    batches do not deadlock."""
    members = sorted(counts)
    rows = await connection.fetch(
        "INSERT INTO members AS m (program_id, member_id, purchase_count, spend_minor) "
        "SELECT $1, t.member_id, t.purchases, t.spend FROM unnest($2::text::text[], $3::text::bigint[], $4::text::bigint[]) "
        "AS t(member_id, purchases, spend) ORDER BY t.member_id "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET purchase_count = m.purchase_count + EXCLUDED.purchase_count, "
        "spend_minor = m.spend_minor + EXCLUDED.spend_minor "
        "RETURNING member_id, tier_code, purchase_count, spend_minor",
        program_id,
        text_array(members),
        int_array([counts[m][0] for m in members]),
        int_array([counts[m][1] for m in members]),
    )
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


async def fetch_tiers(
    connection: Connection, program_id: str, members: list[str]
) -> dict[str, str]:
    query = (
        "SELECT m.member_id, m.tier_code FROM unnest($2::text::text[]) AS k(member_id) CROSS JOIN LATERAL "
        "(SELECT * FROM members m WHERE m.program_id = $1 AND m.member_id = k.member_id OFFSET 0) m"
    )
    rows = await _index_lookups(connection, len(members), query, program_id, text_array(members))
    return {row[0]: row[1] for row in rows}


async def _index_lookups(
    connection: Connection, elements: int, query: str, *arguments: object
) -> list[asyncpg.Record]:
    """Rows of a query that probes an index once per array element: a LATERAL subquery ending in
    OFFSET 0, which keeps the planner from flattening it into a join.

    A table growing from empty has statistics that make a sequential scan per element look cheap
    (the pool plans every run anew: services/shared/database.py); one index lookup per element is
    what these reads need, at any size. In a transaction the planner is told so. Flattened, the
    lookup became a hash join over all of the program's rows whenever the statistics still saw a
    small program: 68 ms instead of 10 for 2,500 counters among 90,000, and growing with them.
    """
    if isinstance(connection, asyncpg.Pool) or elements <= SMALL_WRITE_ROWS_MAX:
        return await connection.fetch(query, *arguments)
    await connection.execute("SET LOCAL enable_seqscan = off")
    rows = await connection.fetch(query, *arguments)
    await connection.execute("SET LOCAL enable_seqscan = on")
    return rows


class CountersMoved(Exception):
    """A concurrent transaction changed cap counters this one read: run it again."""


async def fetch_counters(
    connection: Connection,
    program_id: str,
    rule_id: str,
    members: list[str],
    wanted: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The members' cap counters of one rule, shaped as ledger_core.new_cap_counters, and each
    row's version (-1 for a member without one), for store_counters. With `wanted` (member
    indexes), only those members' rows are read; the others are left as if they had none, so
    their counters must not change."""
    counters = ledger_core.new_cap_counters(len(members))
    versions = np.full(len(members), -1, dtype=np.int64)
    if wanted is not None:
        if not len(wanted):
            return counters, versions
        members = [members[index] for index in wanted.tolist()]
    # One row of arrays (the members' positions, then the counter columns) rather than a row per
    # member: asyncpg decodes integer arrays in C, and numpy places them at once.
    query = (
        "SELECT array_agg(k.position - 1), array_agg(day_key), array_agg(day_points), "
        "array_agg(week_key), array_agg(week_points), array_agg(month_key), array_agg(month_points), "
        "array_agg(version) "
        "FROM unnest($3::text::text[]) WITH ORDINALITY AS k(member_id, position) CROSS JOIN LATERAL "
        "(SELECT * FROM cap_counters c WHERE c.program_id = $1 AND c.member_id = k.member_id "
        "AND c.rule_id = $2 OFFSET 0) c"
    )
    rows = await _index_lookups(
        connection, len(members), query, program_id, rule_id, text_array(members)
    )
    if not rows or rows[0][0] is None:
        return counters, versions
    positions, *columns = (np.array(column, dtype=np.int64) for column in rows[0])
    if wanted is not None:
        positions = wanted[positions]
    for period in range(3):
        counters[period, positions, 0] = columns[2 * period]
        counters[period, positions, 1] = columns[2 * period + 1]
    versions[positions] = columns[6]
    return counters, versions


async def fetch_cap_history(
    connection: Connection,
    program_id: str,
    rule_id: str,
    members: list[str],
    periods: list[int],
    keys: list[int],
) -> npt.NDArray[np.int64]:
    """What the history holds of each (member, period, period key): 0 where it holds nothing."""
    query = (
        "SELECT array_agg(w.position - 1), array_agg(h.points) FROM unnest($3::text::text[], "
        "$4::text::smallint[], $5::text::bigint[]) WITH ORDINALITY AS w(member_id, period, period_key, position) "
        "CROSS JOIN LATERAL (SELECT h.points FROM cap_history h WHERE h.program_id = $1 "
        "AND h.member_id = w.member_id AND h.rule_id = $2 AND h.period = w.period "
        "AND h.period_key = w.period_key OFFSET 0) h"
    )
    rows = await _index_lookups(
        connection,
        len(members),
        query,
        program_id,
        rule_id,
        text_array(members),
        int_array(periods),
        int_array(keys),
    )
    used = np.zeros(len(members), dtype=np.int64)
    if rows and rows[0][0] is not None:
        used[np.array(rows[0][0], dtype=np.int64)] = np.array(rows[0][1], dtype=np.int64)
    return used


async def add_cap_history(
    connection: asyncpg.Connection,
    program_id: str,
    rule_id: str,
    members: list[str],
    periods: list[int],
    keys: list[int],
    points: list[int],
) -> None:
    """Add points to the history of distinct (member, period, period key)s."""
    if not members:
        return
    # In key order, so concurrent batches lock rows in the same order.
    await connection.execute(
        "INSERT INTO cap_history AS h (program_id, member_id, rule_id, period, period_key, points) "
        "SELECT $1, m, $2, p, k, n FROM unnest($3::text::text[], $4::text::smallint[], "
        "$5::text::bigint[], $6::text::bigint[]) AS t(m, p, k, n) ORDER BY m, p, k "
        "ON CONFLICT (program_id, member_id, rule_id, period, period_key) "
        "DO UPDATE SET points = h.points + EXCLUDED.points",
        program_id,
        rule_id,
        text_array(members),
        int_array(periods),
        int_array(keys),
        int_array(points),
    )


async def prune_cap_history(connection: Connection, first_keys: tuple[int, int, int]) -> int:
    """Delete the history of periods before `first_keys` (day, week, month), in every program;
    returns the rows deleted. The primary key leads with the member, so this reads the table
    through: a job's statement, run seldom, not a request's."""
    status = await connection.execute(
        "DELETE FROM cap_history WHERE (period = 0 AND period_key < $1) "
        "OR (period = 1 AND period_key < $2) OR (period = 2 AND period_key < $3)",
        *first_keys,
    )
    return int(status.split()[-1])


async def store_counters(
    connection: asyncpg.Connection,
    program_id: str,
    rule_id: str,
    members: list[str],
    before: np.ndarray,
    after: np.ndarray,
    versions: np.ndarray,
    touched: np.ndarray | None = None,
) -> None:
    """Write the counters that changed, and those of the `touched` members (whose late purchases
    read their history), each only if its version is still the one read: else CountersMoved.

    The counters are read without a lock, as most batches share no member; the version check is
    what keeps two concurrent batches from both spending a member's last room, of its current
    period or, for the touched members, of an earlier one.
    """
    written = (before != after).any(axis=(0, 2))
    if touched is not None:
        written[touched] = True
    # In member order, so concurrent batches lock rows in the same order.
    chosen = np.array(sorted(np.flatnonzero(written).tolist(), key=members.__getitem__))
    if not len(chosen):
        return
    stored = versions[chosen] >= 0
    for indexes, on_conflict in (
        (chosen[stored], _COUNTERS_REPLACED),
        # A batch inserting the same member's row meanwhile: its insert must find no row.
        (chosen[~stored], "DO NOTHING"),
    ):
        if not len(indexes):
            continue
        picked = indexes.tolist()
        status = await _unless_deadlocked(
            connection,
            "INSERT INTO cap_counters AS c (program_id, member_id, rule_id, day_key, day_points, "
            "week_key, week_points, month_key, month_points, version) "
            "SELECT $1, m, $2, dk, dp, wk, wp, mk, mp, v FROM unnest($3::text::text[], "
            "$4::text::bigint[], $5::text::bigint[], $6::text::bigint[], $7::text::bigint[], "
            "$8::text::bigint[], $9::text::bigint[], $10::text::bigint[]) "
            f"AS t(m, dk, dp, wk, wp, mk, mp, v) ON CONFLICT (program_id, member_id, rule_id) {on_conflict}",
            program_id,
            rule_id,
            text_array([members[index] for index in picked]),
            *(
                int_array(after[period, picked, part].tolist())
                for period in range(3)
                for part in range(2)
            ),
            int_array((np.maximum(versions[indexes], 0) + 1).tolist()),
        )
        if int(status.rsplit(" ", 1)[-1]) != len(picked):
            raise CountersMoved


async def _unless_deadlocked(connection: asyncpg.Connection, query: str, *arguments: object) -> str:
    try:
        return await connection.execute(query, *arguments)  # type: ignore[no-any-return]
    except asyncpg.DeadlockDetectedError:
        raise CountersMoved from None


_COUNTERS_REPLACED = (
    "DO UPDATE SET day_key = EXCLUDED.day_key, day_points = EXCLUDED.day_points, "
    "week_key = EXCLUDED.week_key, week_points = EXCLUDED.week_points, "
    "month_key = EXCLUDED.month_key, month_points = EXCLUDED.month_points, "
    "version = EXCLUDED.version WHERE c.version = EXCLUDED.version - 1"
)


async def insert_archive(
    connection: asyncpg.Connection,
    program_id: str,
    *,
    first: dt.datetime,
    last: dt.datetime,
    count: int,
    columns: bytes,
) -> int:
    """Returns the row's archive_seq."""
    seq: int = await connection.fetchval(
        "INSERT INTO purchase_archive (program_id, first_occurred_at, last_occurred_at, transaction_count, columns) "
        "VALUES ($1, $2, $3, $4, $5) RETURNING archive_seq",
        program_id,
        first,
        last,
        count,
        columns,
    )
    return seq


async def fetch_archive_row(
    connection: asyncpg.Connection, program_id: str, archive_seq: int
) -> bytes | None:
    """One row's columns, locked until the transaction ends."""
    columns = await connection.fetchval(
        "SELECT columns FROM purchase_archive WHERE program_id = $1 AND archive_seq = $2 FOR UPDATE",
        program_id,
        archive_seq,
    )
    return None if columns is None else bytes(columns)


async def replace_archive_row(
    connection: asyncpg.Connection,
    program_id: str,
    archive_seq: int,
    *,
    first: dt.datetime,
    last: dt.datetime,
    count: int,
    columns: bytes,
) -> None:
    await connection.execute(
        "UPDATE purchase_archive SET first_occurred_at = $3, last_occurred_at = $4, "
        "transaction_count = $5, columns = $6 WHERE program_id = $1 AND archive_seq = $2",
        program_id,
        archive_seq,
        first,
        last,
        count,
        columns,
    )


async def delete_archive_row(
    connection: asyncpg.Connection, program_id: str, archive_seq: int
) -> None:
    await connection.execute(
        "DELETE FROM purchase_archive WHERE program_id = $1 AND archive_seq = $2",
        program_id,
        archive_seq,
    )


async def fetch_archive(
    connection: Connection, program_id: str, start: dt.datetime, end: dt.datetime
) -> list[bytes]:
    rows = await connection.fetch(
        "SELECT columns FROM purchase_archive WHERE program_id = $1 AND last_occurred_at >= $2 "
        "AND first_occurred_at < $3 ORDER BY archive_seq",
        program_id,
        start,
        end,
    )
    return [bytes(row["columns"]) for row in rows]


@dataclass(frozen=True)
class StoredBatch:
    request_hash: bytes
    state: int
    ledger_request: bytes | None
    plan: str | None
    response: bytes


BATCH_ACCRUED, BATCH_POSTED = 1, 2


async def fetch_batch(connection: Connection, program_id: str, batch_id: str) -> StoredBatch | None:
    row = await connection.fetchrow(
        "SELECT request_hash, state, ledger_request, plan::text AS plan, response FROM ingest_batches "
        "WHERE program_id = $1 AND batch_id = $2",
        program_id,
        batch_id,
    )
    if row is None:
        return None
    return StoredBatch(
        bytes(row["request_hash"]),
        row["state"],
        None if row["ledger_request"] is None else bytes(row["ledger_request"]),
        row["plan"],
        bytes(row["response"]),
    )


async def insert_batch(
    connection: asyncpg.Connection,
    program_id: str,
    batch_id: str,
    *,
    request_hash: bytes,
    state: int,
    ledger_request: bytes | None,
    plan: str | None,
    response: bytes,
) -> bool:
    """False if the batch id was taken meanwhile (a concurrent first attempt)."""
    return bool(
        await connection.fetchval(
            "INSERT INTO ingest_batches (program_id, batch_id, request_hash, state, ledger_request, plan, response) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING RETURNING true",
            program_id,
            batch_id,
            request_hash,
            state,
            ledger_request,
            plan,
            response,
        )
    )


async def finish_batch(
    connection: Connection, program_id: str, batch_id: str, response: bytes
) -> bool:
    """Store the batch's response (state 2); False if another finisher stored one first. In a
    transaction, the row stays locked until it ends: a concurrent finish waits, then finds it
    finished."""
    return bool(
        await connection.fetchval(
            "UPDATE ingest_batches SET state = 2, response = $3, ledger_request = NULL, plan = NULL, "
            "updated_at = now() WHERE program_id = $1 AND batch_id = $2 AND state = 1 RETURNING true",
            program_id,
            batch_id,
            response,
        )
    )


async def unposted_purchases(
    connection: Connection,
    program_id: str,
    members: Sequence[str],
    transaction_ids: Sequence[str],
    *,
    batch_id: str,
) -> list[tuple[str, str, str]]:
    """Those of these (member, transaction id) purchases that a batch other than `batch_id`
    accrued and has not posted (still in state 1): (batch id, member, transaction id) each, the
    oldest batch's first. One statement: the purchases' batches first (transactions and
    ingest_batches are not colocated under Citus: citus.sql)."""
    rows = await connection.fetch(
        "WITH d AS (SELECT t.batch_id, t.member_id, t.transaction_id FROM transactions t "
        "JOIN unnest($2::text::text[], $3::text::text[]) AS k(member_id, transaction_id) "
        "USING (member_id, transaction_id) WHERE t.program_id = $1 "
        "AND t.member_id = ANY($2::text::text[]) AND t.batch_id NOT IN ('', $4)) "
        "SELECT d.batch_id, d.member_id, d.transaction_id FROM d JOIN (SELECT i.batch_id, "
        "i.updated_at FROM ingest_batches i WHERE i.program_id = $1 AND i.state = 1 "
        "AND i.batch_id IN (SELECT batch_id FROM d)) u USING (batch_id) "
        "ORDER BY u.updated_at, d.batch_id",
        program_id,
        text_array(members),
        text_array(transaction_ids),
        batch_id,
    )
    return [(row[0], row[1], row[2]) for row in rows]


async def unposted_batches(
    connection: Connection, older_than_s: float, limit: int
) -> list[tuple[str, str]]:
    rows = await connection.fetch(
        "SELECT program_id, batch_id FROM ingest_batches WHERE state = 1 "
        "AND updated_at < now() - make_interval(secs => $1) ORDER BY updated_at LIMIT $2",
        older_than_s,
        limit,
    )
    return [(row["program_id"], row["batch_id"]) for row in rows]


# An identity event's birthday replaces the one held unless that came from a later event.
_BIRTHDAY_NEWER = "(m.birthday_as_of IS NULL OR m.birthday_as_of <= EXCLUDED.birthday_as_of)"


async def member_enrolled(
    connection: Connection,
    program_id: str,
    member_id: str,
    *,
    tier_code: str,
    birthday: tuple[int, int] | None,
    enrolled_at: dt.datetime,
) -> None:
    # The enrolment's birthday gives way to one a later update already set.
    await connection.execute(
        "INSERT INTO members AS m (program_id, member_id, tier_code, birthday_month, birthday_day, "
        "enrolled_at, birthday_as_of) VALUES ($1, $2, $3, $4, $5, $6, $6) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET "
        "tier_code = CASE WHEN m.tier_code = '' THEN EXCLUDED.tier_code ELSE m.tier_code END, "
        f"birthday_month = CASE WHEN {_BIRTHDAY_NEWER} THEN EXCLUDED.birthday_month "
        "ELSE m.birthday_month END, "
        f"birthday_day = CASE WHEN {_BIRTHDAY_NEWER} THEN EXCLUDED.birthday_day "
        "ELSE m.birthday_day END, "
        f"birthday_as_of = CASE WHEN {_BIRTHDAY_NEWER} THEN EXCLUDED.birthday_as_of "
        "ELSE m.birthday_as_of END, "
        "enrolled_at = EXCLUDED.enrolled_at",
        program_id,
        member_id,
        tier_code,
        birthday[0] if birthday else None,
        birthday[1] if birthday else None,
        enrolled_at,
    )


async def member_merged(
    connection: Connection, program_id: str, member_id: str, survivor_id: str
) -> str:
    """Record the merge under the final survivor, which it returns: merged_into never names a
    member merged since, so nothing walks a chain when reading it. The members merged into
    `member_id` before are repointed too, and a merge recorded after its survivor's own (A into
    B after B into C, as JetStream may redeliver) lands as A into C; a redelivery changes
    nothing. The survivor's row is locked first (made if campaign has not heard of it), so the
    record of its own merge, which locks the same row, runs wholly before or after this one."""
    final = await connection.fetchval(
        "INSERT INTO members AS m (program_id, member_id) VALUES ($1, $2) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET merged_into = m.merged_into "
        "RETURNING coalesce(m.merged_into, m.member_id)",
        program_id,
        survivor_id,
    )
    await connection.execute(
        "INSERT INTO members AS m (program_id, member_id, merged_into) VALUES ($1, $2, $3) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET merged_into = EXCLUDED.merged_into",
        program_id,
        member_id,
        final,
    )
    # Through members_merged_into (migration 016).
    await connection.execute(
        "UPDATE members SET merged_into = $3 WHERE program_id = $1 AND merged_into = $2",
        program_id,
        member_id,
        final,
    )
    return str(final)


async def fetch_merged(
    connection: Connection, program_id: str, members: list[str]
) -> dict[str, str]:
    """The merged ones among `members`, each with the survivor it went into (through the small
    partial index of merged members)."""
    rows = await connection.fetch(
        "SELECT member_id, merged_into FROM members WHERE program_id = $1 "
        "AND merged_into IS NOT NULL AND member_id = ANY($2::text::text[])",
        program_id,
        text_array(members),
    )
    return {row["member_id"]: row["merged_into"] for row in rows}


async def merge_family(connection: Connection, program_id: str, member_id: str) -> list[str]:
    """The other members of `member_id`'s merges: its final survivor (itself if not merged) and
    the members merged into that one, by member id. merged_into names the final survivor
    (member_merged), so nothing walks a chain; read through members_merged_into (migration 016)."""
    survivor = (await fetch_merged(connection, program_id, [member_id])).get(member_id, member_id)
    rows = await connection.fetch(
        "SELECT member_id FROM members WHERE program_id = $1 AND merged_into = $2 "
        "AND member_id <> $3",
        program_id,
        survivor,
        member_id,
    )
    family = {row["member_id"] for row in rows}
    if survivor != member_id:
        family.add(survivor)
    return sorted(family)


async def member_erased(
    connection: Connection, program_id: str, member_id: str, *, at: dt.datetime
) -> None:
    """An erased member: its birthday forgotten for good, held as of 'infinity', so no identity
    event older than the erasure (a redelivery, or the copy without personal data that the
    erasure publishes in place of the original) sets it again, and no birthday bonus is given;
    and the erasure's time, which refuses its purchases where unknown members are refused
    (enrolment.py). A redelivery keeps the first time."""
    await connection.execute(
        "INSERT INTO members AS m (program_id, member_id, birthday_as_of, erased_at) "
        "VALUES ($1, $2, 'infinity', $3) ON CONFLICT (program_id, member_id) DO UPDATE SET "
        "birthday_month = NULL, birthday_day = NULL, birthday_as_of = 'infinity', "
        "erased_at = coalesce(m.erased_at, EXCLUDED.erased_at)",
        program_id,
        member_id,
        at,
    )


@dataclass(frozen=True)
class Enrolment:
    """What campaign has consumed of a member's enrolment and erasure."""

    enrolled: bool
    erased: bool


async def fetch_enrolments(
    connection: Connection, program_id: str, members: list[str]
) -> dict[str, Enrolment]:
    """The members of `members` campaign holds a row for (enrolled, bought or earned before)."""
    rows = await connection.fetch(
        "SELECT member_id, enrolled_at IS NOT NULL AS enrolled, erased_at IS NOT NULL AS erased "
        "FROM members WHERE program_id = $1 AND member_id = ANY($2::text::text[])",
        program_id,
        text_array(members),
    )
    return {row["member_id"]: Enrolment(row["enrolled"], row["erased"]) for row in rows}


async def set_birthday(
    connection: Connection,
    program_id: str,
    member_id: str,
    birthday: tuple[int, int] | None,
    *,
    as_of: dt.datetime,
) -> None:
    """The member's birthday as of `as_of`, unless campaign holds one from a later event."""
    await connection.execute(
        "INSERT INTO members AS m (program_id, member_id, birthday_month, birthday_day, "
        "birthday_as_of) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET birthday_month = EXCLUDED.birthday_month, "
        "birthday_day = EXCLUDED.birthday_day, birthday_as_of = EXCLUDED.birthday_as_of "
        f"WHERE {_BIRTHDAY_NEWER}",
        program_id,
        member_id,
        birthday[0] if birthday else None,
        birthday[1] if birthday else None,
        as_of,
    )


async def lock_member_tier(connection: Connection, program_id: str, member_id: str) -> None:
    """Serialise, per member, reading the ledger's tier and writing it until the transaction
    ends: two replicas handling two changes of one member each read the ledger and then write,
    and one that stalled in between would write the older tier last. An advisory lock rather
    than the member's row, so that purchases updating the row's counts never wait for a ledger
    call; only the tier consumer writes the tier."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('campaign.tier:' || $1 || ':' || $2, 0))",
        program_id,
        member_id,
    )


async def set_tier(connection: Connection, program_id: str, member_id: str, tier_code: str) -> None:
    await connection.execute(
        "INSERT INTO members AS m (program_id, member_id, tier_code) VALUES ($1, $2, $3) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET tier_code = EXCLUDED.tier_code",
        program_id,
        member_id,
        tier_code,
    )


async def recount_purchases(connection: asyncpg.Connection, program_id: str) -> None:
    """Every member's purchase count and spend, from the recorded purchases net of their returns
    (when milestones are configured, after a time without: the counts are only kept up to date
    while they are). A purchase its returns refunded in full is not counted, and the spend is
    what the purchases kept, as record_return leaves them."""
    await connection.execute(
        "UPDATE members SET purchase_count = 0, spend_minor = 0 WHERE program_id = $1", program_id
    )
    await connection.execute(
        "INSERT INTO members AS m (program_id, member_id, purchase_count, spend_minor) "
        "SELECT p.program_id, p.member_id, "
        "count(*) FILTER (WHERE r.refunded IS NULL OR p.amount_minor > r.refunded), "
        "sum(greatest(p.amount_minor - coalesce(r.refunded, 0), 0)) FROM transactions p "
        "LEFT JOIN (SELECT member_id, original_transaction_id, sum(-amount_minor) AS refunded "
        "FROM transactions WHERE program_id = $1 AND kind = $3 "
        "GROUP BY member_id, original_transaction_id) r "
        "ON r.member_id = p.member_id AND r.original_transaction_id = p.transaction_id "
        "WHERE p.program_id = $1 AND p.kind = $2 GROUP BY p.program_id, p.member_id "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET purchase_count = EXCLUDED.purchase_count, "
        "spend_minor = EXCLUDED.spend_minor",
        program_id,
        PURCHASE,
        RETURN,
    )


@dataclass(frozen=True)
class StoredLines:
    """A purchase's lines with their points, and what returns by line took of each so far."""

    skus: list[str]
    quantities: list[int]
    amounts_minor: list[int]
    points: list[int]
    returned_quantities: list[int]
    returned_amounts_minor: list[int]
    returned_points: list[int]
    # Each line's category ('' for none); none at all for purchases stored before campaign
    # migration 028.
    categories: list[str] = field(default_factory=list)


async def insert_purchase_lines(
    connection: asyncpg.Connection,
    program_id: str,
    *,
    members: Sequence[str],
    transaction_ids: Sequence[str],
    skus: Sequence[str],
    quantities: Sequence[int],
    amounts_minor: Sequence[int],
    points: Sequence[int],
    categories: Sequence[str],
) -> None:
    """The lines of purchases (given line by line, each line naming its purchase, a purchase's
    lines in order), one row per purchase, in one statement. A purchase id recorded again
    after a refusal replaces its lines."""
    await connection.execute(
        "INSERT INTO purchase_lines (program_id, member_id, transaction_id, skus, quantities, "
        "amounts_minor, points, returned_quantities, returned_amounts_minor, returned_points, "
        "categories) "
        "SELECT $1, l.member_id, l.transaction_id, array_agg(l.sku ORDER BY l.n), "
        "array_agg(l.quantity ORDER BY l.n), array_agg(l.amount ORDER BY l.n), "
        "array_agg(l.points ORDER BY l.n), array_agg(0::bigint ORDER BY l.n), "
        "array_agg(0::bigint ORDER BY l.n), array_agg(0::bigint ORDER BY l.n), "
        "array_agg(l.category ORDER BY l.n) "
        "FROM unnest($2::text::text[], $3::text::text[], $4::text::text[], $5::text::bigint[], "
        "$6::text::bigint[], $7::text::bigint[], $8::text::text[]) WITH ORDINALITY "
        "AS l(member_id, transaction_id, sku, quantity, amount, points, category, n) "
        "GROUP BY l.member_id, l.transaction_id "
        "ON CONFLICT (program_id, member_id, transaction_id) DO UPDATE SET skus = EXCLUDED.skus, "
        "categories = EXCLUDED.categories, "
        "quantities = EXCLUDED.quantities, amounts_minor = EXCLUDED.amounts_minor, "
        "points = EXCLUDED.points, returned_quantities = EXCLUDED.returned_quantities, "
        "returned_amounts_minor = EXCLUDED.returned_amounts_minor, "
        "returned_points = EXCLUDED.returned_points",
        program_id,
        text_array(members),
        text_array(transaction_ids),
        text_array(skus),
        int_array(quantities),
        int_array(amounts_minor),
        int_array(points),
        text_array(categories),
    )


async def fetch_purchase_lines(
    connection: asyncpg.Connection, program_id: str, member_id: str, transaction_id: str
) -> StoredLines | None:
    """The purchase's lines, None if it was recorded without line detail (or before migration
    022). Read under the purchase's row lock (lock_refunded), so returns of it take turns."""
    row = await connection.fetchrow(
        "SELECT skus, quantities, amounts_minor, points, returned_quantities, "
        "returned_amounts_minor, returned_points, coalesce(categories, '{}') AS categories "
        "FROM purchase_lines "
        "WHERE program_id = $1 AND member_id = $2 AND transaction_id = $3",
        program_id,
        member_id,
        transaction_id,
    )
    return None if row is None else StoredLines(**{k: list(v) for k, v in dict(row).items()})


async def save_returned_lines(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    transaction_id: str,
    lines: StoredLines,
) -> None:
    """What returns by line took of the purchase's lines so far."""
    await connection.execute(
        "UPDATE purchase_lines SET returned_quantities = $4::text::bigint[], "
        "returned_amounts_minor = $5::text::bigint[], returned_points = $6::text::bigint[] "
        "WHERE program_id = $1 AND member_id = $2 AND transaction_id = $3",
        program_id,
        member_id,
        transaction_id,
        int_array(lines.returned_quantities),
        int_array(lines.returned_amounts_minor),
        int_array(lines.returned_points),
    )
