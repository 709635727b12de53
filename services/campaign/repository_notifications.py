"""SQL of notification policies, members' consents, intents and e-mail deliveries (asyncpg)."""

import datetime as dt
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from services.campaign.notifications import SENT_STATUSES, Reach

Connection: TypeAlias = asyncpg.Connection | asyncpg.Pool

DELIVERY_PENDING = 1
DELIVERY_SENT = 2
DELIVERY_FAILED = 3
DELIVERY_SKIPPED = 4


async def upsert_policy(connection: Connection, program_id: str, definition: bytes) -> dt.datetime:
    return await connection.fetchval(
        "INSERT INTO notification_policies (program_id, definition) VALUES ($1, $2) "
        "ON CONFLICT (program_id) DO UPDATE SET definition = $2, updated_at = now() "
        "RETURNING updated_at",
        program_id,
        definition,
    )


async def fetch_policy(connection: Connection, program_id: str) -> tuple[bytes, dt.datetime] | None:
    row = await connection.fetchrow(
        "SELECT definition, updated_at FROM notification_policies WHERE program_id = $1",
        program_id,
    )
    return None if row is None else (bytes(row["definition"]), row["updated_at"])


async def fetch_policy_for_update(connection: asyncpg.Connection, program_id: str) -> bytes | None:
    """The stored policy, locked until the caller's transaction ends (a change of it waits)."""
    definition = await connection.fetchval(
        "SELECT definition FROM notification_policies WHERE program_id = $1 FOR UPDATE",
        program_id,
    )
    return None if definition is None else bytes(definition)


async def claim_monthly_summary_start(
    connection: asyncpg.Connection, program_id: str, now: dt.datetime
) -> dt.datetime:
    """The instant the monthly job first saw the program's summaries switched on: `now` if this
    is the first run that sees them, else the one recorded (replicas racing all read the first
    claim, as repository.claim_top_of_month_start). Run outside a transaction."""
    await connection.execute(
        "INSERT INTO monthly_summary_starts (program_id, since) VALUES ($1, $2) "
        "ON CONFLICT (program_id) DO NOTHING",
        program_id,
        now,
    )
    return await connection.fetchval(
        "SELECT since FROM monthly_summary_starts WHERE program_id = $1", program_id
    )


async def forget_monthly_summary_start(connection: asyncpg.Connection, program_id: str) -> None:
    await connection.execute("DELETE FROM monthly_summary_starts WHERE program_id = $1", program_id)


async def all_policies(connection: Connection) -> list[tuple[str, bytes]]:
    rows = await connection.fetch(
        "SELECT program_id, definition FROM notification_policies ORDER BY program_id"
    )
    return [(row["program_id"], bytes(row["definition"])) for row in rows]


async def ensure_member(
    connection: asyncpg.Connection, program_id: str, member_id: str, *, locale: str | None = None
) -> None:
    # A closed member's locale stays blank: an identity event redelivered after the erasure
    # (or the merge) does not bring it back.
    await connection.execute(
        "INSERT INTO notification_members (program_id, member_id, locale) "
        "VALUES ($1, $2, coalesce($3, '')) ON CONFLICT (program_id, member_id) DO UPDATE "
        "SET locale = CASE WHEN notification_members.closed THEN '' "
        "ELSE coalesce($3, notification_members.locale) END",
        program_id,
        member_id,
        locale,
    )


async def set_consent(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    *,
    channel: int,
    granted: bool,
    changed_at: dt.datetime,
) -> None:
    """Record the consent unless a later change was recorded already (events out of order)."""
    await connection.execute(
        "INSERT INTO member_consents (program_id, member_id, channel, granted, changed_at) "
        "SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM notification_members "
        "WHERE program_id = $1 AND member_id = $2 AND closed) "
        "ON CONFLICT (program_id, member_id, channel) DO UPDATE SET granted = $4, changed_at = $5 "
        "WHERE member_consents.changed_at <= $5",
        program_id,
        member_id,
        channel,
        granted,
        changed_at,
    )


async def close_member(connection: asyncpg.Connection, program_id: str, member_id: str) -> None:
    """Erased or merged away: no consent, no locale, never notified again."""
    await connection.execute(
        "INSERT INTO notification_members (program_id, member_id, closed) VALUES ($1, $2, true) "
        "ON CONFLICT (program_id, member_id) DO UPDATE SET closed = true, locale = ''",
        program_id,
        member_id,
    )
    await connection.execute(
        "DELETE FROM member_consents WHERE program_id = $1 AND member_id = $2",
        program_id,
        member_id,
    )


async def lock_reach(
    connection: asyncpg.Connection, program_id: str, members: list[str]
) -> dict[str, Reach]:
    """What campaign knows of each member, their rows locked in one order (the frequency cap
    holds when several jobs notify the same member at once). Unknown members are left out."""
    rows = await connection.fetch(
        "SELECT member_id, locale, closed FROM notification_members "
        "WHERE program_id = $1 AND member_id = ANY($2) ORDER BY member_id FOR UPDATE",
        program_id,
        sorted(set(members)),
    )
    consents = await connection.fetch(
        "SELECT member_id, channel FROM member_consents "
        "WHERE program_id = $1 AND member_id = ANY($2) AND granted",
        program_id,
        [row["member_id"] for row in rows],
    )
    channels: dict[str, set[int]] = defaultdict(set)
    for consent in consents:
        channels[consent["member_id"]].add(consent["channel"])
    return {
        row["member_id"]: Reach(
            channels=frozenset(channels[row["member_id"]]),
            closed=row["closed"],
            locale=row["locale"],
        )
        for row in rows
    }


async def decided_causes(
    connection: asyncpg.Connection, program_id: str, members: list[str], causes: list[str]
) -> set[tuple[str, str]]:
    rows = await connection.fetch(
        "SELECT i.member_id, i.cause FROM notification_intents i "
        "JOIN unnest($2::text[], $3::text[]) AS k (m, c) ON i.member_id = k.m AND i.cause = k.c "
        "WHERE i.program_id = $1 AND i.member_id = ANY($2::text[])",
        program_id,
        members,
        causes,
    )
    return {(row["member_id"], row["cause"]) for row in rows}


async def sent_since(
    connection: asyncpg.Connection,
    program_id: str,
    members: list[str],
    since: dt.datetime,
    *,
    excluding: list[uuid.UUID] | None = None,
) -> dict[str, list[dt.datetime]]:
    """When each member's published (or deferred) intents since `since` go out (publish_at: the
    fact's instant, or the end of the quiet hours a held one waits for), which the frequency cap
    counts by; `excluding` leaves out intents being decided again (held ones at release)."""
    rows = await connection.fetch(
        "SELECT member_id, publish_at FROM notification_intents WHERE program_id = $1 "
        "AND member_id = ANY($2) AND publish_at >= $3 AND status = ANY($4) "
        "AND NOT intent_id = ANY($5)",
        program_id,
        sorted(set(members)),
        since,
        list(SENT_STATUSES),
        excluding or [],
    )
    sent: dict[str, list[dt.datetime]] = defaultdict(list)
    for row in rows:
        sent[row["member_id"]].append(row["publish_at"])
    return sent


async def held_members(
    connection: Connection, *, now: dt.datetime, limit: int
) -> list[tuple[str, str]]:
    """(program, member) with held intents due by `now`, the longest waiting first."""
    rows = await connection.fetch(
        "SELECT program_id, member_id FROM notification_intents WHERE held AND publish_at <= $1 "
        "GROUP BY program_id, member_id ORDER BY min(publish_at) LIMIT $2",
        now,
        limit,
    )
    return [(row["program_id"], row["member_id"]) for row in rows]


async def lock_held(
    connection: asyncpg.Connection, program_id: str, member_id: str, *, now: dt.datetime
) -> list[asyncpg.Record]:
    """The member's held intents due by `now`, locked, in the order they are released (call
    with the member's row locked: another replica finds them released and does nothing)."""
    return await connection.fetch(
        "SELECT * FROM notification_intents WHERE program_id = $1 AND member_id = $2 AND held "
        "AND publish_at <= $3 ORDER BY publish_at, created_at, intent_id FOR UPDATE",
        program_id,
        member_id,
        now,
    )


async def release(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    intent_id: uuid.UUID,
    *,
    status: int,
    publish_at: dt.datetime | None,
) -> None:
    await connection.execute(
        "UPDATE notification_intents SET held = false, status = $4, publish_at = $5 "
        "WHERE program_id = $1 AND member_id = $2 AND intent_id = $3",
        program_id,
        member_id,
        intent_id,
        status,
        publish_at,
    )


@dataclass(frozen=True)
class IntentRow:
    member_id: str
    intent_id: uuid.UUID
    cause: str
    kind: int
    channel: int
    status: int
    template_data: dict[str, str]
    created_at: dt.datetime
    publish_at: dt.datetime | None
    # Deferred by quiet hours: published at publish_at by the release job, not now.
    held: bool = False


async def insert_intents(
    connection: asyncpg.Connection, program_id: str, rows: list[IntentRow]
) -> None:
    await connection.executemany(
        "INSERT INTO notification_intents (program_id, member_id, intent_id, cause, kind, "
        "channel, status, template_data, created_at, publish_at, held) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)",
        [
            (
                program_id,
                row.member_id,
                row.intent_id,
                row.cause,
                row.kind,
                row.channel,
                row.status,
                json.dumps(row.template_data, sort_keys=True),
                row.created_at,
                row.publish_at,
                row.held,
            )
            for row in rows
        ],
    )


async def list_intents(
    connection: Connection,
    program_id: str,
    *,
    member_id: str,
    kind: int,
    status: int,
    start: dt.datetime | None,
    end: dt.datetime | None,
    after: tuple[dt.datetime, str, uuid.UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first; `after` is the (created_at, member, intent) of the last one seen."""
    conditions = ["program_id = $1"]
    arguments: list[object] = [program_id]

    def add(condition: str, value: object) -> None:
        arguments.append(value)
        conditions.append(condition.replace("?", f"${len(arguments)}"))

    if member_id:
        add("member_id = ?", member_id)
    if kind:
        add("kind = ?", kind)
    if status:
        add("status = ?", status)
    if start is not None:
        add("created_at >= ?", start)
    if end is not None:
        add("created_at < ?", end)
    if after is not None:
        arguments += [after[0], after[1], after[2]]
        n = len(arguments)
        conditions.append(f"(created_at, member_id, intent_id) < (${n - 2}, ${n - 1}, ${n})")
    arguments.append(limit)
    return await connection.fetch(
        "SELECT * FROM notification_intents WHERE "
        + " AND ".join(conditions)
        + f" ORDER BY created_at DESC, member_id DESC, intent_id DESC LIMIT ${len(arguments)}",
        *arguments,
    )


async def member_page(
    connection: Connection, program_id: str, *, after: str, limit: int
) -> list[str]:
    rows = await connection.fetch(
        "SELECT member_id FROM notification_members WHERE program_id = $1 AND NOT closed "
        "AND member_id > $2 ORDER BY member_id LIMIT $3",
        program_id,
        after,
        limit,
    )
    return [row["member_id"] for row in rows]


@dataclass(frozen=True)
class MonthTransactions:
    """A member's purchases and returns of a month: counts, money (minor units, positive) and
    points (positive: a return's are the points it took back)."""

    purchases: int = 0
    spend_minor: int = 0
    purchase_points: int = 0
    returns: int = 0
    returned_minor: int = 0
    returned_points: int = 0


async def month_transactions(
    connection: Connection,
    program_id: str,
    members: list[str],
    *,
    start_micros: int,
    end_micros: int,
) -> dict[str, MonthTransactions]:
    """The purchases and returns of each member in [start, end), each kind summed apart (a
    return is stored with negative money and points)."""
    rows = await connection.fetch(
        "SELECT member_id, count(*) FILTER (WHERE kind = 1) AS purchases, "
        "coalesce(sum(amount_minor) FILTER (WHERE kind = 1), 0) AS spend, "
        "coalesce(sum(points) FILTER (WHERE kind = 1), 0) AS points, "
        "count(*) FILTER (WHERE kind = 2) AS returns, "
        "coalesce(-sum(amount_minor) FILTER (WHERE kind = 2), 0) AS returned, "
        "coalesce(-sum(points) FILTER (WHERE kind = 2), 0) AS returned_points FROM transactions "
        "WHERE program_id = $1 AND member_id = ANY($2) AND occurred_micros >= $3 "
        "AND occurred_micros < $4 GROUP BY member_id",
        program_id,
        members,
        start_micros,
        end_micros,
    )
    return {
        row["member_id"]: MonthTransactions(
            row["purchases"],
            row["spend"],
            row["points"],
            row["returns"],
            row["returned"],
            row["returned_points"],
        )
        for row in rows
    }


async def insert_delivery(
    connection: Connection,
    program_id: str,
    member_id: str,
    intent_id: uuid.UUID,
    *,
    deliver_after: dt.datetime,
    intent: bytes,
    intent_without_personal_data: bytes,
) -> None:
    """Record the delivery; an erased member's intent without the personal data. The member's
    row is read under a share lock: an erasure either went first, or waits and then blanks this
    row too (services/campaign/notification_erasure.py)."""
    await connection.execute(
        "WITH member AS (SELECT erased FROM notification_members WHERE program_id = $1 "
        "AND member_id = $2 FOR SHARE) "
        "INSERT INTO email_deliveries (program_id, member_id, intent_id, state, deliver_after, "
        "intent) SELECT $1, $2, $3, $4, $5, CASE WHEN coalesce((SELECT erased FROM member), "
        "false) THEN $7::bytea ELSE $6::bytea END ON CONFLICT DO NOTHING",
        program_id,
        member_id,
        intent_id,
        DELIVERY_PENDING,
        deliver_after,
        intent,
        intent_without_personal_data,
    )


async def claim_delivery(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    intent_id: uuid.UUID,
    *,
    now: dt.datetime,
    skip_locked: bool,
) -> asyncpg.Record | None:
    """The pending delivery, due by `now`, locked for sending; None if sent or not due."""
    return await connection.fetchrow(
        "SELECT * FROM email_deliveries WHERE program_id = $1 AND member_id = $2 "
        "AND intent_id = $3 AND state = $4 AND deliver_after <= $5 FOR UPDATE"
        + (" SKIP LOCKED" if skip_locked else ""),
        program_id,
        member_id,
        intent_id,
        DELIVERY_PENDING,
        now,
    )


async def finish_delivery(
    connection: asyncpg.Connection,
    program_id: str,
    member_id: str,
    intent_id: uuid.UUID,
    *,
    state: int,
    error: str = "",
    retry_at: dt.datetime | None = None,
) -> None:
    await connection.execute(
        "UPDATE email_deliveries SET state = $4, attempts = attempts + 1, last_error = $5, "
        "sent_at = CASE WHEN $4::smallint = 2 THEN now() END, "
        "deliver_after = coalesce($6, deliver_after) "
        "WHERE program_id = $1 AND member_id = $2 AND intent_id = $3",
        program_id,
        member_id,
        intent_id,
        state,
        error[:500],
        retry_at,
    )


async def due_deliveries(
    connection: Connection, *, now: dt.datetime, limit: int
) -> list[tuple[str, str, uuid.UUID]]:
    rows = await connection.fetch(
        "SELECT program_id, member_id, intent_id FROM email_deliveries "
        "WHERE state = $1 AND deliver_after <= $2 ORDER BY deliver_after LIMIT $3",
        DELIVERY_PENDING,
        now,
        limit,
    )
    return [(row["program_id"], row["member_id"], row["intent_id"]) for row in rows]
