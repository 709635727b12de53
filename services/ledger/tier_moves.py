"""Moving accounts off the tier codes SetTierDefinitions removes, inside its transaction.

The accounts are moved set-based: one statement locks the open accounts holding a mapped code
(in member order, as postings lock them, against deadlocks), moves them, writes their tier
history and keeps them in a temporary table; the TierChanged events are then read from it and
written to the outbox in chunks, so memory stays bounded however many accounts move. Accounts
closed by a merge stay as they are, as tier evaluation leaves them.
"""

import datetime as dt

import asyncpg

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.ledger import events
from services.ledger.domain import TierMove
from services.shared.outbox import Outbox

# Events built and written to the outbox per statement.
EVENTS_CHUNK = 10_000

_CREATE_MOVES = (
    "CREATE TEMPORARY TABLE tier_moves (member_id text PRIMARY KEY, from_code text NOT NULL,"
    " to_code text NOT NULL, direction smallint NOT NULL, qualifying bigint NOT NULL)"
    " ON COMMIT DROP"
)

# A renamed tier (lateral) keeps the account's tier_since: its standing did not change.
_MOVE = (
    "WITH mapping AS (SELECT * FROM unnest($2::text[], $3::text[], $4::smallint[])"
    "  AS m (from_code, to_code, direction)),"
    " locked AS MATERIALIZED (SELECT member_id, tier_code FROM member_accounts WHERE program_id = $1"
    "  AND tier_code = ANY($2::text[]) AND closed_into IS NULL ORDER BY member_id FOR UPDATE),"
    " moved AS (UPDATE member_accounts AS a SET tier_code = m.to_code,"
    "  tier_since = CASE WHEN m.direction = $7 THEN a.tier_since ELSE $5 END"
    "  FROM locked AS l JOIN mapping AS m ON m.from_code = l.tier_code"
    "  WHERE a.program_id = $1 AND a.member_id = l.member_id"
    "  RETURNING a.member_id, m.from_code, m.to_code, m.direction, a.qualifying),"
    " history AS (INSERT INTO tier_changes (program_id, member_id, from_tier_code, to_tier_code,"
    "  direction, reason, qualifying_amount, changed_at)"
    "  SELECT $1, member_id, from_code, to_code, direction, $6, qualifying, $5 FROM moved)"
    " INSERT INTO tier_moves SELECT member_id, from_code, to_code, direction, qualifying FROM moved"
)


async def move_accounts(
    connection: asyncpg.Connection,
    outbox: Outbox,
    program_id: str,
    moves: list[TierMove],
    now: dt.datetime,
) -> int:
    """Move the open accounts holding each move's code to its tier; returns how many moved."""
    if not moves:
        return 0
    await connection.execute(_CREATE_MOVES)
    status = await connection.execute(
        _MOVE,
        program_id,
        [move.from_code for move in moves],
        [move.to_code for move in moves],
        [move.direction for move in moves],
        now,
        common_pb2.TIER_CHANGE_REASON_DEFINITIONS_CHANGED,
        common_pb2.TIER_CHANGE_DIRECTION_LATERAL,
    )
    moved = int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
    after = ""
    while True:
        rows = await connection.fetch(
            "SELECT member_id, from_code, to_code, direction, qualifying FROM tier_moves"
            " WHERE member_id > $1 ORDER BY member_id LIMIT $2",
            after,
            EVENTS_CHUNK,
        )
        if not rows:
            break
        await outbox.enqueue_all(connection, [_announce(program_id, row) for row in rows])
        after = rows[-1]["member_id"]
    return moved


def _announce(program_id: str, row: asyncpg.Record) -> tuple[str, events_pb2.Event]:
    return events.TIER_CHANGED, events_pb2.Event(
        program_id=program_id,
        tier_changed=events_pb2.TierChanged(
            member_id=row["member_id"],
            from_tier_code=row["from_code"],
            to_tier_code=row["to_code"],
            direction=row["direction"],
            reason=common_pb2.TIER_CHANGE_REASON_DEFINITIONS_CHANGED,
            qualifying_amount=row["qualifying"],
        ),
    )
