"""The rewards service's SQL (asyncpg)."""

import datetime

import asyncpg

from loyalty.rewards.v1 import rewards_pb2
from services.rewards.code_store import partner_code_usable
from services.shared.timestamps import from_epoch_seconds

_SELECT_REWARD = (
    "SELECT definition, status, stock_unlimited, stock_available, stock_reserved, stock_redeemed, "
    "extract(epoch FROM created_at)::float8 AS created, extract(epoch FROM updated_at)::float8 AS updated "
    "FROM rewards"
)


# Active and inside its validity window now, as domain.is_available decides in Python.
_ON_OFFER = (
    "(status = 2 AND (valid_from IS NULL OR valid_from <= now()) "
    "AND (valid_until IS NULL OR valid_until > now()))"
)


def _instant(reward: rewards_pb2.Reward, field: str) -> datetime.datetime | None:
    if not reward.HasField(field):
        return None
    return getattr(reward, field).ToDatetime(tzinfo=datetime.UTC)


async def insert_reward(connection: asyncpg.Connection, reward: rewards_pb2.Reward) -> bool:
    """False when the id is taken in the program."""
    definition = rewards_pb2.Reward()
    definition.CopyFrom(reward)
    for derived in ("stock", "status", "create_time", "update_time"):
        definition.ClearField(derived)
    inserted = await connection.fetchval(
        "INSERT INTO rewards (program_id, reward_id, kind, status, points_price, valid_from, valid_until, "
        "stock_unlimited, stock_available, per_member_limit, definition) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING true",
        reward.program_id,
        reward.reward_id,
        reward.kind,
        reward.status,
        reward.points_price,
        _instant(reward, "valid_from"),
        _instant(reward, "valid_until"),
        reward.stock.unlimited,
        0 if reward.stock.unlimited else reward.stock.available,
        reward.per_member_limit,
        definition.SerializeToString(deterministic=True),
    )
    return bool(inserted)


def _reward(row: asyncpg.Record) -> rewards_pb2.Reward:
    reward = rewards_pb2.Reward.FromString(row["definition"])
    reward.status = row["status"]
    reward.stock.CopyFrom(
        rewards_pb2.Stock(
            unlimited=row["stock_unlimited"],
            available=row["stock_available"],
            reserved=row["stock_reserved"],
            redeemed=row["stock_redeemed"],
        )
    )
    reward.create_time.CopyFrom(from_epoch_seconds(row["created"]))
    reward.update_time.CopyFrom(from_epoch_seconds(row["updated"]))
    return reward


async def fetch_reward(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, reward_id: str
) -> rewards_pb2.Reward | None:
    row = await connection.fetchrow(
        f"{_SELECT_REWARD} WHERE program_id = $1 AND reward_id = $2", program_id, reward_id
    )
    return None if row is None else _reward(row)


def stored_definition(reward: rewards_pb2.Reward) -> bytes:
    """The reward as its `definition` column holds it: without the fields kept in columns."""
    definition = rewards_pb2.Reward()
    definition.CopyFrom(reward)
    for derived in ("stock", "status", "create_time", "update_time"):
        definition.ClearField(derived)  # type: ignore[arg-type]
    return definition.SerializeToString(deterministic=True)


async def lock_reward(
    connection: asyncpg.Connection, program_id: str, reward_id: str
) -> rewards_pb2.Reward | None:
    row = await connection.fetchrow(
        f"{_SELECT_REWARD} WHERE program_id = $1 AND reward_id = $2 FOR UPDATE",
        program_id,
        reward_id,
    )
    return None if row is None else _reward(row)


async def update_reward(connection: asyncpg.Connection, reward: rewards_pb2.Reward) -> None:
    await connection.execute(
        "UPDATE rewards SET kind = $3, status = $4, points_price = $5, valid_from = $6, "
        "valid_until = $7, per_member_limit = $8, definition = $9, updated_at = now() "
        "WHERE program_id = $1 AND reward_id = $2",
        reward.program_id,
        reward.reward_id,
        reward.kind,
        reward.status,
        reward.points_price,
        _instant(reward, "valid_from"),
        _instant(reward, "valid_until"),
        reward.per_member_limit,
        stored_definition(reward),
    )


async def set_status(
    connection: asyncpg.Connection, program_id: str, reward_id: str, status: int
) -> None:
    await connection.execute(
        "UPDATE rewards SET status = $3, updated_at = now() WHERE program_id = $1 AND reward_id = $2",
        program_id,
        reward_id,
        status,
    )


async def adjust_stock(
    connection: asyncpg.Connection, program_id: str, reward_id: str, delta: int, reason: str
) -> rewards_pb2.Stock | None:
    """Change the available units and record the change with its reason; None when they would
    go below zero."""
    row = await connection.fetchrow(
        "UPDATE rewards SET stock_available = stock_available + $3, updated_at = now() "
        "WHERE program_id = $1 AND reward_id = $2 AND stock_available + $3 >= 0 "
        "RETURNING stock_unlimited, stock_available, stock_reserved, stock_redeemed",
        program_id,
        reward_id,
        delta,
    )
    if row is None:
        return None
    await connection.execute(
        "INSERT INTO stock_adjustments (program_id, reward_id, delta, available_after, reason) "
        "VALUES ($1, $2, $3, $4, $5)",
        program_id,
        reward_id,
        delta,
        row["stock_available"],
        reason,
    )
    return rewards_pb2.Stock(
        unlimited=row["stock_unlimited"],
        available=row["stock_available"],
        reserved=row["stock_reserved"],
        redeemed=row["stock_redeemed"],
    )


async def list_rewards(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    *,
    kinds: list[int],
    active_only: bool,
    after: tuple[int, str] | None,
    limit: int,
    undefined_tier_codes_only: bool = False,
) -> list[rewards_pb2.Reward]:
    """Rewards cheapest first, after the (points_price, reward_id) cursor."""
    price, reward_id = after if after is not None else (-1, "")
    rows = await connection.fetch(
        f"{_SELECT_REWARD} WHERE program_id = $1 AND (points_price, reward_id) > ($2, $3) "
        "AND (cardinality($4::smallint[]) = 0 OR kind = ANY($4::smallint[])) "
        f"AND (NOT $5 OR {_ON_OFFER}) "
        "AND (NOT $7 OR EXISTS (SELECT 1 FROM undefined_tier_codes AS u "
        "WHERE u.program_id = rewards.program_id AND u.kind = 'reward' "
        "AND u.subject_id = rewards.reward_id)) "
        "ORDER BY points_price, reward_id LIMIT $6",
        program_id,
        price,
        reward_id,
        kinds,
        active_only,
        limit,
        undefined_tier_codes_only,
    )
    return [_reward(row) for row in rows]


# -- partner code pools ----------------------------------------------------------------------


async def import_partner_codes(
    connection: asyncpg.Connection,
    program_id: str,
    reward_id: str,
    codes: list[str],
    expires_at: datetime.datetime | None,
) -> int:
    """Add codes to the reward's pool; returns how many were new in the program. A code the
    program issued already (one of its own generated codes) is a duplicate too: it could never be
    issued again (see code_store.partner_code_usable)."""
    status = await connection.execute(
        "INSERT INTO partner_codes (program_id, reward_id, code, expires_at) "
        "SELECT $1, $2, code, $4 FROM unnest($3::text[]) WITH ORDINALITY AS c(code, n) "
        "WHERE NOT EXISTS (SELECT 1 FROM codes AS k WHERE k.program_id = $1 AND k.code = c.code) "
        "ORDER BY n ON CONFLICT DO NOTHING",
        program_id,
        reward_id,
        codes,
        expires_at,
    )
    return int(status.rsplit(" ", 1)[-1])


async def partner_pool_available(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    reward_id: str,
    *,
    validity_left_min: datetime.timedelta,
) -> int:
    """The codes of the pool that may be handed out now (see code_store.partner_code_usable)."""
    return await connection.fetchval(
        "SELECT count(*) FROM partner_codes WHERE program_id = $1 AND reward_id = $2 "
        f"AND redemption_id IS NULL AND {partner_code_usable('$3')}",
        program_id,
        reward_id,
        validity_left_min,
    )


# -- stock reservations ------------------------------------------------------------------


async def reserve_stock(
    connection: asyncpg.Connection, program_id: str, reward_id: str, quantity: int
) -> bool:
    """Move units from available to reserved; False when too few are left, or the reward is not
    on offer now (not active, or outside its validity: an edit made while the redemption held its
    points, or its end passing meanwhile, is not charged to the member).

    The conditional UPDATE locks the reward's row: concurrent reservations queue on it and each
    sees the stock the one before left, so the last unit goes to exactly one redemption.
    """
    done = await connection.fetchval(
        "UPDATE rewards SET "
        "stock_available = CASE WHEN stock_unlimited THEN 0 ELSE stock_available - $3 END, "
        "stock_reserved = stock_reserved + $3 "
        f"WHERE program_id = $1 AND reward_id = $2 AND {_ON_OFFER} "
        "AND (stock_unlimited OR stock_available >= $3) RETURNING true",
        program_id,
        reward_id,
        quantity,
    )
    return bool(done)


async def release_stock(
    connection: asyncpg.Connection, program_id: str, reward_id: str, quantity: int
) -> None:
    """A reservation that will not be redeemed goes back to available."""
    await connection.execute(
        "UPDATE rewards SET stock_reserved = stock_reserved - $3, "
        "stock_available = CASE WHEN stock_unlimited THEN 0 ELSE stock_available + $3 END "
        "WHERE program_id = $1 AND reward_id = $2",
        program_id,
        reward_id,
        quantity,
    )


async def redeem_stock(
    connection: asyncpg.Connection, program_id: str, reward_id: str, quantity: int
) -> None:
    await connection.execute(
        "UPDATE rewards SET stock_reserved = stock_reserved - $3, "
        "stock_redeemed = stock_redeemed + $3 WHERE program_id = $1 AND reward_id = $2",
        program_id,
        reward_id,
        quantity,
    )


async def return_stock(
    connection: asyncpg.Connection, program_id: str, reward_id: str, quantity: int
) -> None:
    """Units of a cancelled redemption go back to available."""
    await connection.execute(
        "UPDATE rewards SET stock_redeemed = stock_redeemed - $3, "
        "stock_available = CASE WHEN stock_unlimited THEN 0 ELSE stock_available + $3 END "
        "WHERE program_id = $1 AND reward_id = $2",
        program_id,
        reward_id,
        quantity,
    )
