"""Campaign's SQL for rule versions (asyncpg)."""

import datetime as dt
from dataclasses import dataclass

import asyncpg

from loyalty.campaign.v1 import rules_pb2
from services.shared.timestamps import timestamp

DRAFT, ACTIVE, SUPERSEDED, ARCHIVED = (
    rules_pb2.RULE_STATUS_DRAFT,
    rules_pb2.RULE_STATUS_ACTIVE,
    rules_pb2.RULE_STATUS_SUPERSEDED,
    rules_pb2.RULE_STATUS_ARCHIVED,
)
_COLUMNS = "rule_id, version, status, definition, created_at, activated_at"


@dataclass(frozen=True)
class StoredRule:
    rule: rules_pb2.Rule

    @property
    def status(self) -> int:
        return int(self.rule.status)


def _rule(row: asyncpg.Record) -> StoredRule:
    rule = rules_pb2.Rule.FromString(row["definition"])
    rule.status = row["status"]
    rule.create_time.CopyFrom(timestamp(row["created_at"]))
    if row["activated_at"] is not None:
        rule.activate_time.CopyFrom(timestamp(row["activated_at"]))
    return StoredRule(rule)


def definition_of(rule: rules_pb2.Rule) -> bytes:
    stored = rules_pb2.Rule()
    stored.CopyFrom(rule)
    for name in ("status", "create_time", "activate_time"):
        stored.ClearField(name)  # type: ignore[arg-type]
    return stored.SerializeToString(deterministic=True)


async def insert_version(
    connection: asyncpg.Connection, program_id: str, rule: rules_pb2.Rule, *, kind: str
) -> StoredRule | None:
    """Insert a new draft version; None if that version exists already."""
    activity_kind = rule.engagement.activity_kind if kind == "engagement" else 0
    row = await connection.fetchrow(
        "INSERT INTO rules (program_id, rule_id, version, kind, activity_kind, status, priority, definition) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING "
        f"RETURNING {_COLUMNS}",
        program_id,
        rule.rule_id,
        rule.version,
        kind,
        activity_kind,
        DRAFT,
        rule.priority,
        definition_of(rule),
    )
    return None if row is None else _rule(row)


async def versions(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    rule_id: str,
    *,
    lock: bool = False,
) -> list[StoredRule]:
    """Every version of a rule, oldest first; with `lock`, the rows are locked for a change."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM rules WHERE program_id = $1 AND rule_id = $2 ORDER BY version"
        + (" FOR UPDATE" if lock else ""),
        program_id,
        rule_id,
    )
    return [_rule(row) for row in rows]


async def set_status(
    connection: asyncpg.Connection,
    program_id: str,
    rule_id: str,
    version: int,
    status: int,
    *,
    activated_at: dt.datetime | None = None,
) -> None:
    await connection.execute(
        "UPDATE rules SET status = $4, activated_at = coalesce($5, activated_at) "
        "WHERE program_id = $1 AND rule_id = $2 AND version = $3",
        program_id,
        rule_id,
        version,
        status,
        activated_at,
    )


async def active_rules(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    kind: str,
    activity_kind: int = 0,
) -> list[rules_pb2.Rule]:
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM rules WHERE program_id = $1 AND kind = $2 AND status = 2 "
        "AND ($3 = 0 OR activity_kind = $3) ORDER BY priority, rule_id",
        program_id,
        kind,
        activity_kind,
    )
    return [_rule(row).rule for row in rows]


async def fetch_version(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, rule_id: str, version: int
) -> StoredRule | None:
    row = await connection.fetchrow(
        f"SELECT {_COLUMNS} FROM rules WHERE program_id = $1 AND rule_id = $2 AND version = $3",
        program_id,
        rule_id,
        version,
    )
    return None if row is None else _rule(row)


async def list_rules(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    *,
    status: int,
    all_versions: bool,
    after: tuple[int, str, int] | None,
    limit: int,
) -> list[StoredRule]:
    """Rules by priority, id and version. Without all_versions, each rule's current version (the
    live one, else the latest); status 0 means all but archived."""
    current = (
        ""
        if all_versions
        else "AND version = (SELECT coalesce(max(version) FILTER (WHERE status = 2), max(version)) "
        "FROM rules r2 WHERE r2.program_id = rules.program_id AND r2.rule_id = rules.rule_id) "
    )
    rows = await connection.fetch(
        f"SELECT {_COLUMNS}, priority FROM rules WHERE program_id = $1 {current}"
        "AND (CASE WHEN $2 = 0 THEN status <> 4 ELSE status = $2 END) "
        "AND ($3::int IS NULL OR (priority, rule_id, version) > ($3, $4, $5)) "
        "ORDER BY priority, rule_id, version LIMIT $6",
        program_id,
        status,
        after[0] if after else None,
        after[1] if after else "",
        after[2] if after else 0,
        limit,
    )
    return [_rule(row) for row in rows]
