"""Recompute balances from history and report every difference; the liability of a program.

Nothing here trusts the stored counters: each account's balance is summed from its postings, its
vested and pending points from its lots, its held points from its open holds, and each program
account from the postings it is the other side of. A clean ledger has no difference and a
program sum of zero.

What migrations 017 to 021 keep beside the balances cannot all be summed again from postings (a
write-off of held points is an adjustment like any other), so their bounds are checked instead,
each difference giving the most the value may be: a write-off of held points is at most the
points held (017); a lot a transfer credited names a lot of its origin member with the same
purchase (018, followed by refunds); a reversal's count of a credit's expired points is at most
the credit (019); only a voided hold pays debt, at most its points (020); and a spend owes of
a refund's write-off at most the points it spent (021).
"""

from dataclasses import dataclass

import asyncpg

# Member accounts checked per query, so verify of a large program runs in bounded memory.
VERIFY_CHUNK = 10_000


@dataclass(frozen=True)
class Difference:
    account_id: str
    field: str
    stored: int
    recomputed: int


@dataclass(frozen=True)
class VerifyResult:
    accounts_checked: int
    # At most the differences_max asked for; differences_found counts them all.
    differences: list[Difference]
    program_sum: int
    differences_found: int


_MEMBER_CHECK = """
WITH accounts AS (
    SELECT * FROM member_accounts
    WHERE program_id = $1 AND ($2::text[] IS NULL OR member_id = ANY($2)) AND member_id > $3
    ORDER BY member_id LIMIT $4
)
SELECT a.member_id, a.vested, a.pending, a.held, a.debt, a.held_write_off,
    (SELECT coalesce(sum(amount), 0) FROM postings p
        WHERE p.program_id = a.program_id AND p.member_id = a.member_id) AS posted,
    (SELECT coalesce(sum(remaining) FILTER (WHERE vested), 0) FROM lots l
        WHERE l.program_id = a.program_id AND l.member_id = a.member_id) AS lots_vested,
    (SELECT coalesce(sum(remaining) FILTER (WHERE NOT vested), 0) FROM lots l
        WHERE l.program_id = a.program_id AND l.member_id = a.member_id) AS lots_pending,
    (SELECT coalesce(sum(amount), 0) FROM holds h
        WHERE h.program_id = a.program_id AND h.member_id = a.member_id AND h.status = 1) AS holds_open
FROM accounts a ORDER BY a.member_id
"""

# Rows of the members out of their bounds (field, stored, the most it may be), each member's
# rows on its own shard. A voided hold is status 3 (operations.VOIDED).
_HOLD_BOUNDS = """
SELECT member_id, 'hold:' || hold_id || '.debt_paid_points' AS field, debt_paid_points AS stored,
    CASE WHEN status = 3 THEN amount ELSE 0 END AS bound
FROM holds WHERE program_id = $1 AND member_id = ANY($2::text[])
    AND debt_paid_points > CASE WHEN status = 3 THEN amount ELSE 0 END
"""
_REVERSAL_BOUNDS = """
SELECT r.member_id, 'posting:' || r.posting_id || '.reversed_expired_points' AS field,
    r.expired_points AS stored, greatest(coalesce(p.amount, 0), 0) AS bound
FROM reversed_expired_points r LEFT JOIN postings p ON p.program_id = r.program_id
    AND p.member_id = r.member_id AND p.posting_id = r.posting_id
WHERE r.program_id = $1 AND r.member_id = ANY($2::text[])
    AND r.expired_points > greatest(coalesce(p.amount, 0), 0)
"""

# A spend owes of a refund's write-off at most the points it spent (migration 021; a redeem's
# and a hold commit's postings are negative).
_SPENT_WRITE_OFF_BOUNDS = """
SELECT w.member_id, 'posting:' || w.posting_id || '.written_off_points' AS field,
    w.written_off_points AS stored, greatest(-coalesce(p.amount, 0), 0) AS bound
FROM spent_write_offs w LEFT JOIN postings p ON p.program_id = w.program_id
    AND p.member_id = w.member_id AND p.posting_id = w.posting_id
WHERE w.program_id = $1 AND w.member_id = ANY($2::text[])
    AND w.written_off_points > greatest(-coalesce(p.amount, 0), 0)
"""

# The members' moved lots with their own lot's purchase (NULL if the lot is missing).
_MOVED_LOTS = """
SELECT m.member_id, m.lot_id, m.origin_member_id, m.origin_lot_id, l.source_reference
FROM moved_lots m LEFT JOIN lots l ON l.program_id = m.program_id
    AND l.member_id = m.member_id AND l.lot_id = m.lot_id
WHERE m.program_id = $1 AND m.member_id = ANY($2::text[])
"""

# The origin lots named, on their own members' shards.
_ORIGIN_LOTS = """
SELECT o.member_id, o.lot_id, o.source_reference FROM lots o
JOIN unnest($2::text[], $3::bigint[]) AS k(member_id, lot_id) USING (member_id, lot_id)
WHERE o.program_id = $1 AND o.member_id = ANY($2::text[])
"""


async def verify(
    connection: asyncpg.Connection,
    program_id: str,
    *,
    member_ids: list[str] | None,
    differences_max: int,
) -> VerifyResult:
    differences: list[Difference] = []
    checked = 0
    after = ""
    while True:
        rows = await connection.fetch(_MEMBER_CHECK, program_id, member_ids, after, VERIFY_CHUNK)
        for row in rows:
            account = f"member:{row['member_id']}"
            balance = row["vested"] + row["pending"] + row["held"] - row["debt"]
            for field, stored, recomputed in (
                ("balance", balance, row["posted"]),
                ("vested", row["vested"], row["lots_vested"]),
                ("pending", row["pending"], row["lots_pending"]),
                ("held", row["held"], row["holds_open"]),
                # Of the points held (by its open holds), at most all.
                (
                    "held_write_off",
                    row["held_write_off"],
                    min(row["held_write_off"], row["holds_open"]),
                ),
            ):
                if stored != recomputed:
                    # PostgreSQL sums bigints as numeric; the response's fields are int64.
                    differences.append(Difference(account, field, int(stored), int(recomputed)))
        differences += await _bound_differences(
            connection, program_id, [row["member_id"] for row in rows]
        )
        checked += len(rows)
        if len(rows) < VERIFY_CHUNK:
            break
        after = rows[-1]["member_id"]
    if member_ids is None:
        differences += await _program_account_differences(connection, program_id)
    program_sum = await connection.fetchval(
        "SELECT (SELECT coalesce(sum(vested + pending + held - debt), 0) FROM member_accounts WHERE program_id = $1)"
        " + (SELECT coalesce(sum(balance), 0) FROM program_accounts WHERE program_id = $1)",
        program_id,
    )
    if member_ids is None and program_sum != 0:
        differences.append(Difference(f"program:{program_id}", "sum", int(program_sum), 0))
    return VerifyResult(
        checked, differences[:differences_max], int(program_sum), differences_found=len(differences)
    )


async def _bound_differences(
    connection: asyncpg.Connection, program_id: str, member_ids: list[str]
) -> list[Difference]:
    """The members' holds, reversal counts, spends' write-offs and moved lots out of their
    bounds."""
    if not member_ids:
        return []
    found = [
        Difference(
            f"member:{row['member_id']}", row["field"], int(row["stored"]), int(row["bound"])
        )
        for query in (_HOLD_BOUNDS, _REVERSAL_BOUNDS, _SPENT_WRITE_OFF_BOUNDS)
        for row in await connection.fetch(query, program_id, member_ids)
    ]
    moved = await connection.fetch(_MOVED_LOTS, program_id, member_ids)
    if not moved:
        return found
    origins = {
        (row["member_id"], row["lot_id"]): row["source_reference"]
        for row in await connection.fetch(
            _ORIGIN_LOTS,
            program_id,
            [row["origin_member_id"] for row in moved],
            [row["origin_lot_id"] for row in moved],
        )
    }
    for row in moved:
        # The points keep their purchase through every move: a lot that is missing, or whose
        # origin is missing or of another purchase, misleads a refund's count of expired points.
        origin = origins.get((row["origin_member_id"], row["origin_lot_id"]))
        if row["source_reference"] is None or origin != row["source_reference"]:
            found.append(
                Difference(
                    f"member:{row['member_id']}",
                    f"lot:{row['lot_id']}.origin_lot_id",
                    int(row["origin_lot_id"]),
                    0,
                )
            )
    return found


async def _program_account_differences(
    connection: asyncpg.Connection, program_id: str
) -> list[Difference]:
    rows = await connection.fetch(
        "WITH stored AS (SELECT kind, sum(balance) AS balance FROM program_accounts WHERE program_id = $1 GROUP BY kind),"
        " recomputed AS (SELECT counter_kind AS kind, -sum(amount) AS balance FROM postings"
        "   WHERE program_id = $1 AND counter_kind <> 0 GROUP BY counter_kind)"
        " SELECT kind, coalesce(s.balance, 0) AS stored, coalesce(r.balance, 0) AS recomputed"
        " FROM stored s FULL JOIN recomputed r USING (kind) WHERE coalesce(s.balance, 0) <> coalesce(r.balance, 0)",
        program_id,
    )
    return [
        Difference(
            f"program:{program_id}:{row['kind']}",
            "balance",
            int(row["stored"]),
            int(row["recomputed"]),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Liability:
    outstanding: int
    pending: int
    vested: int
    held: int
    debt: int
    member_count: int
    program_accounts: dict[int, int]
    by_expiry_month: list[tuple[int, int, int, int]]  # year, month (0, 0 = never), pending, vested


async def liability(
    connection: asyncpg.Connection, program_id: str, *, time_zone: str
) -> Liability:
    totals = await connection.fetchrow(
        "SELECT count(*) AS members, coalesce(sum(vested), 0) AS vested, coalesce(sum(pending), 0) AS pending,"
        " coalesce(sum(held), 0) AS held, coalesce(sum(debt), 0) AS debt FROM member_accounts WHERE program_id = $1",
        program_id,
    )
    accounts = await connection.fetch(
        "SELECT kind, sum(balance) AS balance FROM program_accounts WHERE program_id = $1 GROUP BY kind",
        program_id,
    )
    # A lot's expiry month is the local month of the last instant its points can be spent: points
    # expiring at local midnight on the 1st (the end of a month, quarter or year) are the month
    # before's, not the month whose first instant ends them.
    months = await connection.fetch(
        "SELECT coalesce(extract(year FROM (expires_at - interval '1 microsecond') AT TIME ZONE $2)::int, 0) AS year,"
        " coalesce(extract(month FROM (expires_at - interval '1 microsecond') AT TIME ZONE $2)::int, 0) AS month,"
        " sum(remaining) FILTER (WHERE NOT vested) AS pending, sum(remaining) FILTER (WHERE vested) AS vested"
        " FROM lots WHERE program_id = $1 AND remaining > 0 GROUP BY 1, 2 ORDER BY 1 = 0, 1, 2",
        program_id,
        time_zone,
    )
    outstanding = totals["vested"] + totals["pending"] + totals["held"] - totals["debt"]
    return Liability(
        outstanding=int(outstanding),
        pending=int(totals["pending"]),
        vested=int(totals["vested"]),
        held=int(totals["held"]),
        debt=int(totals["debt"]),
        member_count=int(totals["members"]),
        program_accounts={row["kind"]: int(row["balance"]) for row in accounts},
        by_expiry_month=[
            (row["year"], row["month"], int(row["pending"] or 0), int(row["vested"] or 0))
            for row in months
        ],
    )
