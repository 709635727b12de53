"""The SQL of redemptions, per-member counters, stock reservations and codes (asyncpg)."""

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

_STOCK_COLUMNS = "stock_unlimited, stock_available, stock_reserved, stock_redeemed"


@dataclass(frozen=True)
class RedemptionRow:
    program_id: str
    member_id: str
    redemption_id: str
    idempotency_key: str
    request_hash: bytes
    reward_id: str
    quantity: int
    points: int
    channel: int
    store_id: str
    step: str
    status: int
    hold_id: str
    posting_id: str
    stock_reserved: bool
    codes_issued: bool
    failure_code: str
    failure_reason: str
    cancel_requested: bool
    cancel_idempotency_key: str | None
    cancel_request_hash: bytes | None
    cancel_reason: str
    cancel_operator_id: str
    # The ledger's refusal of the last cancellation, which was undone (migration 007).
    cancel_refused_code: str
    cancel_refused_reason: str
    returned_points: int
    # Of the price, the points that paid the member's debt when cancelled (migration 011).
    debt_paid_points: int
    lease_owner: uuid.UUID | None
    # The reward as Redeem read it (migration 010); None for redemptions stored before.
    reward_definition: bytes | None
    created_at: datetime.datetime
    completed_at: datetime.datetime | None
    cancelled_at: datetime.datetime | None


_COLUMNS = ", ".join(RedemptionRow.__dataclass_fields__)


def _row(record: asyncpg.Record) -> RedemptionRow:
    values = dict(record)
    values["request_hash"] = bytes(values["request_hash"])
    for name in ("cancel_request_hash", "reward_definition"):
        if values[name] is not None:
            values[name] = bytes(values[name])
    return RedemptionRow(**values)


async def key_owner(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, key: str
) -> tuple[str, str] | None:
    """The (member, redemption) a Redeem idempotency key was used for."""
    row = await connection.fetchrow(
        "SELECT member_id, redemption_id FROM redemption_keys "
        "WHERE program_id = $1 AND idempotency_key = $2",
        program_id,
        key,
    )
    return None if row is None else (row["member_id"], row["redemption_id"])


async def insert(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    member_id: str,
    redemption_id: str,
    key: str,
    request_hash: bytes,
    reward_id: str,
    reward_definition: bytes,
    quantity: int,
    points: int,
    channel: int,
    store_id: str,
    status: int,
    lease_owner: uuid.UUID,
    lease_s: float,
) -> bool:
    """A new redemption at its first step; False if the key was taken meanwhile."""
    claimed = await connection.fetchval(
        "INSERT INTO redemption_keys (program_id, idempotency_key, member_id, redemption_id) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true",
        program_id,
        key,
        member_id,
        redemption_id,
    )
    if not claimed:
        return False
    await connection.execute(
        "INSERT INTO redemption_members (program_id, redemption_id, member_id) VALUES ($1, $2, $3)",
        program_id,
        redemption_id,
        member_id,
    )
    await connection.execute(
        "INSERT INTO redemptions (program_id, member_id, redemption_id, idempotency_key, "
        "request_hash, reward_id, quantity, points, channel, store_id, step, status, "
        "lease_owner, lease_until, reward_definition) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, "
        "now() + make_interval(secs => $13), $14)",
        program_id,
        member_id,
        redemption_id,
        key,
        request_hash,
        reward_id,
        quantity,
        points,
        channel,
        store_id,
        status,
        lease_owner,
        lease_s,
        reward_definition,
    )
    return True


async def member_of(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, redemption_id: str
) -> str | None:
    return await connection.fetchval(
        "SELECT member_id FROM redemption_members WHERE program_id = $1 AND redemption_id = $2",
        program_id,
        redemption_id,
    )


async def fetch(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_id: str,
    redemption_id: str,
    *,
    lock: bool = False,
) -> RedemptionRow | None:
    record = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM redemptions "
        "WHERE program_id = $1 AND member_id = $2 AND redemption_id = $3"
        + (" FOR UPDATE" if lock else ""),
        program_id,
        member_id,
        redemption_id,
    )
    return None if record is None else _row(record)


async def transition(
    connection: asyncpg.Connection,
    redemption: RedemptionRow,
    *,
    owner: uuid.UUID,
    expected: str,
    step: str,
    status: int,
    lease_s: float,
    **fields: Any,
) -> bool:
    """Move the redemption from `expected` to `step` if `owner` still holds its lease."""
    owner_parameter = 8 + len(fields)
    assignments = "".join(f", {name} = ${index}" for index, name in enumerate(fields, start=8))
    done = await connection.fetchval(
        "UPDATE redemptions SET step = $4, status = $5, "
        f"lease_until = now() + make_interval(secs => $7), updated_at = now(){assignments} "
        "WHERE program_id = $1 AND member_id = $2 AND redemption_id = $3 "
        f"AND step = $6 AND lease_owner = ${owner_parameter} RETURNING true",
        redemption.program_id,
        redemption.member_id,
        redemption.redemption_id,
        step,
        status,
        expected,
        lease_s,
        *fields.values(),
        owner,
    )
    return bool(done)


async def claim(
    connection: asyncpg.Connection | asyncpg.Pool,
    redemption: RedemptionRow,
    *,
    owner: uuid.UUID,
    lease_s: float,
) -> bool:
    """Take over an unfinished redemption whose lease expired."""
    done = await connection.fetchval(
        "UPDATE redemptions SET lease_owner = $4, lease_until = now() + make_interval(secs => $5) "
        "WHERE program_id = $1 AND member_id = $2 AND redemption_id = $3 "
        "AND step NOT IN ('committed', 'voided', 'cancelled') "
        "AND (lease_until IS NULL OR lease_until < now()) RETURNING true",
        redemption.program_id,
        redemption.member_id,
        redemption.redemption_id,
        owner,
        lease_s,
    )
    return bool(done)


async def abandoned(pool: asyncpg.Pool, *, limit: int) -> list[RedemptionRow]:
    """Unfinished redemptions whose driver's lease expired: a crash or a lost process."""
    records = await pool.fetch(
        f"SELECT {_COLUMNS} FROM redemptions "
        "WHERE step NOT IN ('committed', 'voided', 'cancelled') AND lease_until < now() "
        "ORDER BY lease_until LIMIT $1",
        limit,
    )
    return [_row(record) for record in records]


async def list_page(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    *,
    member_id: str,
    reward_id: str,
    status: int,
    before: tuple[datetime.datetime, str] | None,
    limit: int,
) -> list[RedemptionRow]:
    """Newest first, before the (created_at, redemption_id) cursor."""
    created_at, redemption_id = before or (None, "")
    records = await connection.fetch(
        f"SELECT {_COLUMNS} FROM redemptions WHERE program_id = $1 "
        "AND ($2 = '' OR member_id = $2) AND ($3 = '' OR reward_id = $3) "
        "AND ($4 = 0 OR status = $4) "
        "AND ($5::timestamptz IS NULL OR (created_at, redemption_id) < ($5, $6)) "
        "ORDER BY created_at DESC, redemption_id DESC LIMIT $7",
        program_id,
        member_id,
        reward_id,
        status,
        created_at,
        redemption_id,
        limit,
    )
    return [_row(record) for record in records]


# -- per-member counters and stock ---------------------------------------------------------
#
# A member's counter holds what the member redeemed under its own id. A per-member limit counts
# a person once, so the counters of the members merged into it (member_merges) count too: each
# keeps its own units, and a cancellation of a merged member's redemption takes its units off
# that member's counter, which the survivor then no longer counts.


async def record_merge(
    connection: asyncpg.Connection, program_id: str, *, survivor_id: str, merged_id: str
) -> None:
    """Identity merged `merged_id` into `survivor_id`: the survivor counts its redemptions and
    those of the members merged into it before. Idempotent: a redelivery adds nothing."""
    await connection.execute(
        "INSERT INTO member_merges (program_id, member_id, merged_member_id) "
        "SELECT $1, $2, $3 UNION SELECT $1, $2, merged_member_id FROM member_merges "
        "WHERE program_id = $1 AND member_id = $3 ON CONFLICT DO NOTHING",
        program_id,
        survivor_id,
        merged_id,
    )


async def _counted_members(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, member_id: str
) -> list[str]:
    """The member and every member merged into it."""
    merged = await connection.fetch(
        "SELECT merged_member_id FROM member_merges WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )
    return [member_id, *(row["merged_member_id"] for row in merged)]


async def member_count(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, member_id: str, reward_id: str
) -> int:
    """Units of the reward the member holds, those of members merged into it included."""
    counts = await member_counts(connection, program_id, member_id, [reward_id])
    return counts.get(reward_id, 0)


async def member_counts(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_id: str,
    reward_ids: list[str],
) -> dict[str, int]:
    """Units of each reward the member holds, those of members merged into it included."""
    members = await _counted_members(connection, program_id, member_id)
    return await _units(connection, program_id, members, reward_ids)


async def _units(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_ids: list[str],
    reward_ids: list[str],
) -> dict[str, int]:
    rows = await connection.fetch(
        "SELECT reward_id, sum(redeemed_count)::bigint AS redeemed FROM member_reward_counts "
        "WHERE program_id = $1 AND member_id = ANY($2::text[]) AND reward_id = ANY($3::text[]) "
        "GROUP BY reward_id",
        program_id,
        member_ids,
        reward_ids,
    )
    return {row["reward_id"]: row["redeemed"] for row in rows}


async def count_member_units(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    reward_id: str,
    quantity: int,
    *,
    limit: int,
) -> bool:
    """Add units to the member's counter, locking its row; False past the per-member limit,
    which the units of members merged into it count toward. Read unlocked: once merged, a
    member's counter only goes down (the ledger holds no more points for it), short of a
    redemption it had under way at the merge reserving its stock just after."""
    inherited = 0
    if limit:
        merged = (await _counted_members(connection, program_id, member_id))[1:]
        if merged:
            units = await _units(connection, program_id, merged, [reward_id])
            inherited = units.get(reward_id, 0)
    done = await connection.fetchval(
        "INSERT INTO member_reward_counts AS c (program_id, member_id, reward_id, redeemed_count) "
        "SELECT $1, $2, $3, $4::integer WHERE $5 = 0 OR $4::integer + $6::bigint <= $5 "
        "ON CONFLICT (program_id, member_id, reward_id) DO UPDATE "
        "SET redeemed_count = c.redeemed_count + EXCLUDED.redeemed_count "
        "WHERE $5 = 0 OR c.redeemed_count + EXCLUDED.redeemed_count + $6 <= $5 RETURNING true",
        program_id,
        member_id,
        reward_id,
        quantity,
        limit,
        inherited,
    )
    return bool(done)


async def uncount_member_units(
    connection: asyncpg.Connection, program_id: str, member_id: str, reward_id: str, quantity: int
) -> None:
    await connection.execute(
        "UPDATE member_reward_counts SET redeemed_count = greatest(redeemed_count - $4, 0) "
        "WHERE program_id = $1 AND member_id = $2 AND reward_id = $3",
        program_id,
        member_id,
        reward_id,
        quantity,
    )
