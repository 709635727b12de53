"""The rewards service's SQL (asyncpg)."""

import datetime

import asyncpg

from loyalty.rewards.v1 import rewards_pb2
from services.shared.timestamps import from_epoch_seconds

_SELECT_REWARD = (
    "SELECT definition, status, stock_unlimited, stock_available, stock_reserved, stock_redeemed, "
    "extract(epoch FROM created_at)::float8 AS created, extract(epoch FROM updated_at)::float8 AS updated "
    "FROM rewards"
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
