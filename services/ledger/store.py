"""SQL of member accounts, program accounts, postings, lots and holds (asyncpg, no rules)."""

import dataclasses
import datetime as dt
from typing import TypeAlias

import asyncpg

from services.shared.database import Writes, write

PROGRAM_ACCOUNT_STRIPES = 16
# Writes that may be sent now or together with others (services/shared/database.py: Writes).
Target: TypeAlias = asyncpg.Connection | Writes


@dataclasses.dataclass
class Account:
    program_id: str
    member_id: str
    vested: int
    pending: int
    held: int
    debt: int
    lifetime_earned: int
    qualifying: int
    tier_code: str
    tier_since: dt.datetime
    next_vest_at: dt.datetime | None
    last_activity_at: dt.datetime
    # The survivor's id once this member was merged into another; postings are then refused.
    closed_into: str | None = None
    # Points a refund wrote off (WRITE_OFF policy) because they were held, at most `held`: a
    # voided hold's points pay them back first (migration 017).
    held_write_off: int = 0

    @property
    def balance(self) -> int:
        """The ledger balance: what the postings of this account sum to."""
        return self.vested + self.pending + self.held - self.debt


@dataclasses.dataclass
class Lot:
    lot_id: int
    posting_id: int
    amount: int
    remaining: int
    vested: bool
    earned_at: dt.datetime
    vests_at: dt.datetime
    expires_at: dt.datetime | None
    source_reference: str


@dataclasses.dataclass(frozen=True)
class Posting:
    program_id: str
    member_id: str
    posting_id: int
    kind: int
    amount: int
    counter_kind: int
    counter_member_id: str
    source_reference: str
    reason: bytes
    qualifying: bool
    qualifying_amount: int
    batch_id: str
    item_key: str | None
    hold_id: str
    reversed_posting_id: int | None
    available_after: int
    occurred_at: dt.datetime
    posted_at: dt.datetime


@dataclasses.dataclass
class Hold:
    program_id: str
    member_id: str
    hold_id: str
    amount: int
    status: int
    reference: str
    created_at: dt.datetime
    expires_at: dt.datetime
    closed_at: dt.datetime | None
    void_reason: int
    posting_id: int | None
    void_note: str
    # Of a voided hold's points, those that paid debt or a write-off instead (migration 020).
    debt_paid_points: int = 0


_ACCOUNT_FIELDS = [f.name for f in dataclasses.fields(Account)]
_LOT_FIELDS = [f.name for f in dataclasses.fields(Lot)]
_POSTING_FIELDS = [f.name for f in dataclasses.fields(Posting)]
_HOLD_FIELDS = [f.name for f in dataclasses.fields(Hold)]
# PostgreSQL types of the columns written through unnest() arrays.
_ACCOUNT_TYPES = {
    "vested": "bigint",
    "pending": "bigint",
    "held": "bigint",
    "debt": "bigint",
    "lifetime_earned": "bigint",
    "qualifying": "bigint",
    "tier_code": "text",
    "tier_since": "timestamptz",
    "next_vest_at": "timestamptz",
    "last_activity_at": "timestamptz",
    "closed_into": "text",
    "held_write_off": "bigint",
}
_POSTING_TYPES = [
    "text",  # program_id
    "text",  # member_id
    "bigint",  # posting_id
    "smallint",  # kind
    "bigint",  # amount
    "smallint",  # counter_kind
    "text",  # counter_member_id
    "text",  # source_reference
    "bytea",  # reason
    "boolean",  # qualifying
    "bigint",  # qualifying_amount
    "text",  # batch_id
    "text",  # item_key
    "text",  # hold_id
    "bigint",  # reversed_posting_id
    "bigint",  # available_after
    "timestamptz",  # occurred_at
    "timestamptz",  # posted_at
]
_LOT_TYPES = [
    "bigint",  # lot_id
    "bigint",  # posting_id
    "bigint",  # amount
    "bigint",  # remaining
    "boolean",  # vested
    "timestamptz",  # earned_at
    "timestamptz",  # vests_at
    "timestamptz",  # expires_at
    "text",  # source_reference
]


def stripe_of(member_id: str) -> int:
    # Stable across processes (unlike hash()), so one member always lands on the same stripe.
    return sum(member_id.encode()) % PROGRAM_ACCOUNT_STRIPES


async def lock_account(
    connection: asyncpg.Connection, program_id: str, member_id: str
) -> tuple[Account, dt.datetime | None] | None:
    """The account, locked, and the earliest expiry of its lots (so a refresh is only paid when due)."""
    row = await connection.fetchrow(
        f"SELECT {', '.join(_ACCOUNT_FIELDS)}, (SELECT expires_at FROM lots l WHERE l.program_id = $1 "
        "AND l.member_id = $2 AND l.remaining > 0 AND l.expires_at IS NOT NULL ORDER BY expires_at LIMIT 1) "
        "AS first_expiry FROM member_accounts WHERE program_id = $1 AND member_id = $2 FOR UPDATE",
        program_id,
        member_id,
    )
    if row is None:
        return None
    values = dict(row)
    first_expiry = values.pop("first_expiry")
    return Account(**values), first_expiry


async def read_account(
    pool: asyncpg.Pool | asyncpg.Connection, program_id: str, member_id: str
) -> Account | None:
    row = await pool.fetchrow(
        f"SELECT {', '.join(_ACCOUNT_FIELDS)} FROM member_accounts WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )
    return None if row is None else Account(**dict(row))


def fresh_account(program_id: str, member_id: str, *, tier_code: str, now: dt.datetime) -> Account:
    """The account open_account writes: nothing on it, in `tier_code` since `now`."""
    return Account(
        program_id=program_id,
        member_id=member_id,
        vested=0,
        pending=0,
        held=0,
        debt=0,
        lifetime_earned=0,
        qualifying=0,
        tier_code=tier_code,
        tier_since=now,
        next_vest_at=None,
        last_activity_at=now,
    )


async def open_account(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    *,
    tier_code: str,
    now: dt.datetime,
) -> bool:
    """Open the account if it does not exist; True when it was opened now."""
    opened = await connection.fetchval(
        "INSERT INTO member_accounts (program_id, member_id, tier_code, tier_since, last_activity_at) "
        "VALUES ($1, $2, $3, $4, $4) ON CONFLICT DO NOTHING RETURNING true",
        program_id,
        member_id,
        tier_code,
        now,
    )
    return bool(opened)


async def open_and_lock_accounts(
    connection: asyncpg.Connection,
    program_id: str,
    member_ids: list[str],
    *,
    tier_code: str,
    now: dt.datetime,
) -> dict[str, tuple[Account, int]]:
    """Open the accounts that do not exist and lock them all, in member order (so two callers
    never deadlock on each other), in one statement; each with a posting id drawn for it (the
    caller posts one posting per member).

    The no-op update on conflict is what locks an existing row, and it returns the row's latest
    committed version even when another transaction changed it after this statement began (what
    that transaction did to other tables is only seen by the caller's next statements)."""
    rows = await connection.fetch(
        "INSERT INTO member_accounts AS a (program_id, member_id, tier_code, tier_since, last_activity_at) "
        "SELECT $1, m, $2, $3, $3 FROM unnest($4::text[]) AS m ORDER BY m "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET tier_code = a.tier_code "
        f"RETURNING {', '.join('a.' + f for f in _ACCOUNT_FIELDS)}, nextval('posting_ids') AS posting_id",
        program_id,
        tier_code,
        now,
        sorted(set(member_ids)),
    )
    accounts = {}
    for row in rows:
        values = dict(row)
        posting_id = values.pop("posting_id")
        accounts[values["member_id"]] = (Account(**values), posting_id)
    return accounts


async def save_accounts(target: Target, accounts: list[Account]) -> None:
    """Write accounts back, in member order, one statement for all of them."""
    if not accounts:
        return
    accounts = sorted(accounts, key=lambda account: account.member_id)
    fields = _ACCOUNT_FIELDS[2:]
    await write(
        target,
        f"UPDATE member_accounts AS a SET {', '.join(f'{name} = t.{name}' for name in fields)} "
        f"FROM unnest($2::text[], {', '.join(f'${i}::{_ACCOUNT_TYPES[name]}[]' for i, name in enumerate(fields, start=3))}) "
        f"AS t(member_id, {', '.join(fields)}) "
        "WHERE a.program_id = $1 AND a.member_id = ANY($2::text[]) AND a.member_id = t.member_id",
        accounts[0].program_id,
        [account.member_id for account in accounts],
        *([getattr(account, name) for account in accounts] for name in fields),
    )


async def next_ids(connection: asyncpg.Connection, sequence: str, count: int) -> list[int]:
    rows = await connection.fetch(
        f"SELECT nextval('{sequence}') FROM generate_series(1, $1)", count
    )
    return [row[0] for row in rows]


def _unnest(types: list[str], first: int = 1) -> str:
    return ", ".join(f"${index}::{kind}[]" for index, kind in enumerate(types, start=first))


async def insert_postings(target: Target, postings: list[Posting]) -> None:
    """Insert postings, of any members, in one statement (one array per column)."""
    await write(
        target,
        f"INSERT INTO postings ({', '.join(_POSTING_FIELDS)}) SELECT * FROM unnest({_unnest(_POSTING_TYPES)})",
        *([getattr(posting, name) for posting in postings] for name in _POSTING_FIELDS),
    )


async def move_program_accounts(
    target: Target, program_id: str, deltas: dict[tuple[int, int], int]
) -> None:
    """Add deltas to program accounts, by (kind, stripe); in a fixed order against deadlocks."""
    items = sorted((key, delta) for key, delta in deltas.items() if delta)
    if not items:
        return
    await write(
        target,
        "INSERT INTO program_accounts (program_id, kind, stripe, balance) "
        "SELECT $1, k, s, d FROM unnest($2::smallint[], $3::smallint[], $4::bigint[]) AS t(k, s, d) "
        "ON CONFLICT (program_id, kind, stripe) DO UPDATE SET balance = program_accounts.balance + EXCLUDED.balance",
        program_id,
        [kind for (kind, _), _ in items],
        [stripe for (_, stripe), _ in items],
        [delta for _, delta in items],
    )


async def insert_lots(target: Target, program_id: str, lots: list[tuple[str, Lot]]) -> None:
    """Insert (member_id, lot) pairs of one program in one statement."""
    await write(
        target,
        f"INSERT INTO lots (program_id, member_id, {', '.join(_LOT_FIELDS)}) "
        f"SELECT $1, * FROM unnest($2::text[], {_unnest(_LOT_TYPES, 3)})",
        program_id,
        [member_id for member_id, _ in lots],
        *([getattr(lot, name) for _, lot in lots] for name in _LOT_FIELDS),
    )


async def lock_spendable_lots(
    connection: asyncpg.Connection, program_id: str, member_id: str, *, include_pending: bool
) -> list[Lot]:
    """The member's lots with points left, FIFO (earliest expiry first), locked."""
    rows = await connection.fetch(
        f"SELECT {', '.join(_LOT_FIELDS)} FROM lots WHERE program_id = $1 AND member_id = $2 "
        f"AND remaining > 0 {'' if include_pending else 'AND vested'} "
        "ORDER BY expires_at NULLS LAST, lot_id FOR UPDATE",
        program_id,
        member_id,
    )
    return [Lot(**dict(row)) for row in rows]


async def lock_lots_by_id(
    connection: asyncpg.Connection, program_id: str, member_id: str, lot_ids: list[int]
) -> list[Lot]:
    rows = await connection.fetch(
        f"SELECT {', '.join(_LOT_FIELDS)} FROM lots WHERE program_id = $1 AND member_id = $2 "
        "AND lot_id = ANY($3::bigint[]) ORDER BY lot_id FOR UPDATE",
        program_id,
        member_id,
        lot_ids,
    )
    return [Lot(**dict(row)) for row in rows]


async def lots_of_postings(
    connection: asyncpg.Connection, program_id: str, member_id: str, posting_ids: list[int]
) -> list[Lot]:
    rows = await connection.fetch(
        f"SELECT {', '.join(_LOT_FIELDS)} FROM lots WHERE program_id = $1 AND member_id = $2 "
        "AND lot_id = ANY($3::bigint[]) ORDER BY lot_id FOR UPDATE",
        program_id,
        member_id,
        posting_ids,
    )
    return [Lot(**dict(row)) for row in rows]


async def set_lot_remaining(
    connection: asyncpg.Connection, program_id: str, member_id: str, lots: list[Lot]
) -> None:
    await set_lots_remaining(connection, program_id, [(member_id, lot) for lot in lots])


async def set_lots_remaining(target: Target, program_id: str, lots: list[tuple[str, Lot]]) -> None:
    """Write the remaining points of (member_id, lot) pairs of one program."""
    if not lots:
        return
    await write(
        target,
        "UPDATE lots SET remaining = t.remaining FROM unnest($2::text[], $3::bigint[], $4::bigint[]) "
        "AS t(member_id, lot_id, remaining) "
        "WHERE lots.program_id = $1 AND lots.member_id = ANY($2::text[]) "
        "AND lots.member_id = t.member_id AND lots.lot_id = t.lot_id",
        program_id,
        [member_id for member_id, _ in lots],
        [lot.lot_id for _, lot in lots],
        [lot.remaining for _, lot in lots],
    )


async def record_consumptions(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    consumer: str,
    taken: dict[int, int],
) -> None:
    await connection.executemany(
        "INSERT INTO lot_consumptions (program_id, member_id, consumer, lot_id, amount) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (program_id, member_id, consumer, lot_id) DO UPDATE "
        "SET amount = lot_consumptions.amount + EXCLUDED.amount",
        [
            (program_id, member_id, consumer, lot_id, amount)
            for lot_id, amount in taken.items()
            if amount
        ],
    )


async def consumptions(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_id: str,
    consumer: str,
    *,
    after: tuple[dt.datetime, int] | None = None,
    limit: int | None = None,
) -> list[tuple[Lot, int]]:
    """What `consumer` took from each lot, in the order lots are spent (soonest expiry, then
    oldest); a page of it after the (expiry, lot) `after`, at most `limit` (all if None)."""
    after_expiry, after_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), 0)
    rows = await connection.fetch(
        f"SELECT {', '.join('l.' + f for f in _LOT_FIELDS)}, c.amount AS taken FROM lot_consumptions c "
        "JOIN lots l USING (program_id, member_id, lot_id) "
        "WHERE c.program_id = $1 AND c.member_id = $2 AND c.consumer = $3 "
        "AND (coalesce(l.expires_at, 'infinity'::timestamptz), l.lot_id) > ($4, $5) "
        "ORDER BY coalesce(l.expires_at, 'infinity'::timestamptz), l.lot_id LIMIT $6",
        program_id,
        member_id,
        consumer,
        after_expiry,
        after_id,
        limit,
    )
    return [(Lot(**{f: row[f] for f in _LOT_FIELDS}), row["taken"]) for row in rows]


# The hash index postings_reference (migration 008) serves the condition on the three columns
# together; the conditions on each leave out another member's postings whose columns happen to
# concatenate to the same text.
EARN_POSTINGS_OF_REFERENCE = (
    f"SELECT {', '.join(_POSTING_FIELDS)} FROM postings "
    "WHERE program_id || '/' || member_id || '/' || source_reference = $1 || '/' || $2 || '/' || $3 "
    "AND program_id = $1 AND member_id = $2 AND source_reference = $3 AND source_reference <> '' "
    "AND kind = 1 ORDER BY posting_id"
)


async def earn_postings_of_reference(
    connection: asyncpg.Connection, program_id: str, member_id: str, reference: str
) -> list[Posting]:
    rows = await connection.fetch(EARN_POSTINGS_OF_REFERENCE, program_id, member_id, reference)
    return [Posting(**dict(row)) for row in rows]


async def fetch_posting(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, member_id: str, posting_id: int
) -> Posting | None:
    row = await connection.fetchrow(
        f"SELECT {', '.join(_POSTING_FIELDS)} FROM postings WHERE program_id = $1 AND member_id = $2 AND posting_id = $3",
        program_id,
        member_id,
        posting_id,
    )
    return None if row is None else Posting(**dict(row))


async def reversals_of(
    connection: asyncpg.Connection, program_id: str, member_ids: list[str], posting_ids: list[int]
) -> int:
    """Points already taken back of these credits by reversals and refunds booked on these
    members (a positive number)."""
    return -int(
        await connection.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM postings WHERE program_id = $1 "
            "AND member_id = ANY($2::text[]) AND reversed_posting_id = ANY($3::bigint[]) AND kind = 5",
            program_id,
            member_ids,
            posting_ids,
        )
    )


async def expired_of_lots(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    lot_ids: list[int],
    *,
    now: dt.datetime,
    unwritten_expiries: list[int],
) -> int:
    """Points of these lots of the member that expired: taken by expiry postings, which record
    what they took from each lot as spends do; `unwritten_expiries` are the ids of expiry
    postings of the caller's open book, whose takes are recorded but which are not written yet.

    The takes are found among all of the member's, so they are looked for only when one of the
    lots is past its expiry or has none (inactivity expires those): a refund in the return
    window reads two lots by key, however long the member's history."""
    may_have_expired = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM lots WHERE program_id = $1 AND member_id = $2 "
        "AND lot_id = ANY($3::bigint[]) AND (expires_at IS NULL OR expires_at <= $4))",
        program_id,
        member_id,
        lot_ids,
        now,
    )
    if not may_have_expired:
        return 0
    return int(
        await connection.fetchval(
            "SELECT coalesce(sum(c.amount), 0) FROM lot_consumptions c "
            "WHERE c.program_id = $1 AND c.member_id = $2 AND c.lot_id = ANY($3::bigint[]) "
            "AND (c.consumer = ANY($4::text[]) OR EXISTS (SELECT 1 FROM postings p "
            "WHERE p.program_id = c.program_id AND p.member_id = c.member_id AND p.kind = 4 "
            "AND p.posting_id = CASE WHEN c.consumer ~ '^p[0-9]+$' "
            "THEN substr(c.consumer, 2)::bigint END))",
            program_id,
            member_id,
            lot_ids,
            [f"p{posting_id}" for posting_id in unwritten_expiries],
        )
    )


async def restored_of(
    connection: asyncpg.Connection, program_id: str, member_ids: list[str], posting_id: int
) -> int:
    """Points of a spend already given back by reversals booked on these members (the
    spender's, and its survivors after a merge)."""
    return int(
        await connection.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM postings WHERE program_id = $1 "
            "AND member_id = ANY($2::text[]) AND reversed_posting_id = $3 AND kind = 5 "
            "AND amount > 0",
            program_id,
            member_ids,
            posting_id,
        )
    )


async def postings_page(
    connection: asyncpg.Pool,
    program_id: str,
    member_id: str,
    *,
    before_id: int,
    limit: int,
    kinds: list[int] | None = None,
    posted_from: dt.datetime | None = None,
    posted_before: dt.datetime | None = None,
) -> list[Posting]:
    """A member's postings before `before_id`, newest first; of the given kinds (all if none)
    posted in [posted_from, posted_before). The filters ride on the walk down the member's key."""
    rows = await connection.fetch(
        f"SELECT {', '.join(_POSTING_FIELDS)} FROM postings WHERE program_id = $1 AND member_id = $2 "
        "AND posting_id < $3 AND (cardinality($5::smallint[]) = 0 OR kind = ANY($5::smallint[])) "
        "AND ($6::timestamptz IS NULL OR posted_at >= $6) AND ($7::timestamptz IS NULL OR posted_at < $7) "
        "ORDER BY posting_id DESC LIMIT $4",
        program_id,
        member_id,
        before_id,
        limit,
        kinds or [],
        posted_from,
        posted_before,
    )
    return [Posting(**dict(row)) for row in rows]


# Never-expiring lots sort last, as they are spent last.
_EXPIRY_ORDER = "coalesce(expires_at, 'infinity'::timestamptz)"


async def lots_page(
    connection: asyncpg.Pool,
    program_id: str,
    member_id: str,
    *,
    after: tuple[dt.datetime, int] | None,
    limit: int,
    include_spent: bool,
) -> list[Lot]:
    """A page of lots in the order they are spent: soonest expiry first, then oldest."""
    after_expiry, after_id = after or (dt.datetime.min.replace(tzinfo=dt.UTC), 0)
    rows = await connection.fetch(
        f"SELECT {', '.join(_LOT_FIELDS)} FROM lots WHERE program_id = $1 AND member_id = $2 "
        f"AND ({_EXPIRY_ORDER}, lot_id) > ($3, $4) {'' if include_spent else 'AND remaining > 0'} "
        f"ORDER BY {_EXPIRY_ORDER}, lot_id LIMIT $5",
        program_id,
        member_id,
        after_expiry,
        after_id,
        limit,
    )
    return [Lot(**dict(row)) for row in rows]


async def expiring_soon_many(
    connection: asyncpg.Connection, program_id: str, member_ids: list[str], *, until: dt.datetime
) -> dict[str, tuple[int, dt.datetime | None]]:
    """`expiring_soon` for many members in one round trip."""
    rows = await connection.fetch(
        "SELECT m, (SELECT coalesce(sum(remaining), 0) FROM lots WHERE program_id = $1 AND member_id = m "
        "  AND remaining > 0 AND expires_at < $3) AS soon, "
        "(SELECT expires_at FROM lots WHERE program_id = $1 AND member_id = m AND remaining > 0 "
        "  AND expires_at IS NOT NULL ORDER BY expires_at LIMIT 1) AS first "
        "FROM unnest($2::text[]) AS m",
        program_id,
        member_ids,
        until,
    )
    return {row["m"]: (int(row["soon"]), row["first"]) for row in rows}


async def expiring_soon(
    connection: asyncpg.Pool | asyncpg.Connection,
    program_id: str,
    member_id: str,
    *,
    until: dt.datetime,
) -> tuple[int, dt.datetime | None]:
    """Points in lots expiring before `until`, and the earliest expiry (via the FIFO index)."""
    # Both read only the lots they need through the FIFO index, in one round trip.
    row = await connection.fetchrow(
        "SELECT (SELECT coalesce(sum(remaining), 0) FROM lots WHERE program_id = $1 AND member_id = $2 "
        "  AND remaining > 0 AND expires_at < $3) AS soon, "
        "(SELECT expires_at FROM lots WHERE program_id = $1 AND member_id = $2 AND remaining > 0 "
        "  AND expires_at IS NOT NULL ORDER BY expires_at LIMIT 1) AS first",
        program_id,
        member_id,
        until,
    )
    return int(row["soon"]), row["first"]


async def insert_hold(connection: asyncpg.Connection, hold: Hold) -> None:
    await connection.execute(
        f"INSERT INTO holds ({', '.join(_HOLD_FIELDS)}) VALUES ({', '.join(f'${i}' for i in range(1, len(_HOLD_FIELDS) + 1))})",
        *dataclasses.astuple(hold),
    )
    await connection.execute(
        "INSERT INTO hold_members (program_id, hold_id, member_id) VALUES ($1, $2, $3)",
        hold.program_id,
        hold.hold_id,
        hold.member_id,
    )


async def hold_member(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, hold_id: str
) -> str | None:
    return await connection.fetchval(
        "SELECT member_id FROM hold_members WHERE program_id = $1 AND hold_id = $2",
        program_id,
        hold_id,
    )


async def fetch_hold(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_id: str,
    hold_id: str,
    *,
    lock: bool = False,
) -> Hold | None:
    row = await connection.fetchrow(
        f"SELECT {', '.join(_HOLD_FIELDS)} FROM holds WHERE program_id = $1 AND member_id = $2 AND hold_id = $3"
        f"{' FOR UPDATE' if lock else ''}",
        program_id,
        member_id,
        hold_id,
    )
    return None if row is None else Hold(**dict(row))


async def save_hold(connection: asyncpg.Connection, hold: Hold) -> None:
    await connection.execute(
        "UPDATE holds SET status = $4, closed_at = $5, void_reason = $6, posting_id = $7, "
        "void_note = $8, debt_paid_points = $9 "
        "WHERE program_id = $1 AND member_id = $2 AND hold_id = $3",
        hold.program_id,
        hold.member_id,
        hold.hold_id,
        hold.status,
        hold.closed_at,
        hold.void_reason,
        hold.posting_id,
        hold.void_note,
        hold.debt_paid_points,
    )


async def lock_refund(
    connection: asyncpg.Connection, program_id: str, member_id: str, reference: str
) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT original_amount_minor, refunded_amount_minor, reversed_points, expired_points "
        "FROM refunds "
        "WHERE program_id = $1 AND member_id = $2 AND original_reference = $3 FOR UPDATE",
        program_id,
        member_id,
        reference,
    )


async def save_refund(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    reference: str,
    *,
    original_amount_minor: int,
    refunded_amount_minor: int,
    reversed_points: int,
    expired_points: int,
) -> None:
    """`reversed_points`: taken back by the refunds so far; `expired_points`: counted as taken
    back, as they had expired (migration 016)."""
    await connection.execute(
        "INSERT INTO refunds (program_id, member_id, original_reference, original_amount_minor, "
        "refunded_amount_minor, reversed_points, expired_points) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (program_id, member_id, original_reference) DO UPDATE SET "
        "refunded_amount_minor = EXCLUDED.refunded_amount_minor, "
        "reversed_points = EXCLUDED.reversed_points, expired_points = EXCLUDED.expired_points",
        program_id,
        member_id,
        reference,
        original_amount_minor,
        refunded_amount_minor,
        reversed_points,
        expired_points,
    )


async def add_qualifying_days(
    target: Target, program_id: str, days: dict[tuple[str, dt.date], int]
) -> None:
    """Append amounts of (member, local day); a day's amount is the sum of its rows (migration 007)."""
    items = [(key, amount) for key, amount in days.items() if amount]
    if not items:
        return
    await write(
        target,
        "INSERT INTO qualifying_days (program_id, member_id, day, amount) "
        "SELECT $1, m, d, a FROM unnest($2::text[], $3::date[], $4::bigint[]) AS t(m, d, a)",
        program_id,
        [member for (member, _), _ in items],
        [day for (_, day), _ in items],
        [amount for _, amount in items],
    )


async def qualifying_by_day(
    connection: asyncpg.Connection, program_id: str, member_id: str, *, since: dt.date
) -> list[tuple[dt.date, int]]:
    """A member's qualifying amount of each local day from `since`: its appended rows and its
    account's day bucket (migrations 006 and 007). The rows are indexed by program and day only
    (the bulk writes stay cheap), so this reads the program's rows of those days: for merges."""
    rows = await connection.fetch(
        "SELECT day, sum(amount)::bigint AS amount FROM ("
        " SELECT day, amount FROM qualifying_days"
        " WHERE program_id = $1 AND day >= $3 AND member_id = $2"
        " UNION ALL SELECT qualifying_day, qualifying_day_amount FROM member_accounts"
        " WHERE program_id = $1 AND member_id = $2 AND qualifying_day >= $3"
        ") AS t GROUP BY day HAVING sum(amount) <> 0 ORDER BY day",
        program_id,
        member_id,
        since,
    )
    return [(row["day"], row["amount"]) for row in rows]


async def insert_tier_change(
    target: Target,
    program_id: str,
    member_id: str,
    *,
    from_tier: str,
    to_tier: str,
    direction: int,
    reason: int,
    qualifying_amount: int,
    changed_at: dt.datetime,
    operator_id: str = "",
    note: str = "",
) -> None:
    await write(
        target,
        "INSERT INTO tier_changes (program_id, member_id, from_tier_code, to_tier_code, direction, reason, "
        "qualifying_amount, operator_id, note, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        program_id,
        member_id,
        from_tier,
        to_tier,
        direction,
        reason,
        qualifying_amount,
        operator_id,
        note,
        changed_at,
    )
