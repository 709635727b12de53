"""An erased member's idempotency keys in campaign, kept only under their keyed hash from then on
(identity's `member_erased`), as identity keeps them: a till key may name the person
(`pos:<e-mail>:<receipt>`), and a short one is found from its plain SHA-256 by trying every
value. The rows stay, still bound, so a retry (found under the key's forgotten forms) is answered
from its record and never runs again.

The keys are those of the member's RecordPurchase, RecordReturn and RecordActivity calls: their
stored answers name the member, and `purchase_answer_keys` (campaign migration 026) names the
key each purchase was recorded under, which moves to the same hash so that a duplicate under a
new key still finds the first answer. Keys of other calls (rules, ingest batches) are the
operator's, not the member's.
"""

from collections.abc import Callable

import asyncpg

from loyalty.campaign.v1 import campaign_pb2
from services.shared.idempotency import FORGOTTEN_KEY_PREFIX, Forgetting, forget_keys

# The member each method's stored answer was given for.
_MEMBER_OF: dict[str, Callable[[bytes], str]] = {
    "RecordPurchase": lambda raw: campaign_pb2.RecordPurchaseResponse.FromString(raw).member_id,
    "RecordReturn": lambda raw: campaign_pb2.RecordReturnResponse.FromString(raw).member_id,
    "RecordActivity": lambda raw: (
        campaign_pb2.RecordActivityResponse.FromString(raw).activity.member_id
    ),
}


def _answered_for(method: str, response: bytes) -> str:
    member_of = _MEMBER_OF[method]
    return member_of(response)


async def member_keys(connection: asyncpg.Connection, program_id: str, member_id: str) -> list[str]:
    """The member's keys still kept as sent: those whose stored answer names the member (the
    bytes of its id are a cheap filter before the answer is read; this reads the program's keys
    of those methods, which an erasure, being rare, can afford), and the keys its purchases were
    recorded under."""
    rows = await connection.fetch(
        "SELECT idempotency_key, method, response FROM idempotency_keys WHERE program_id = $1 "
        "AND method = ANY($2::text[]) AND response IS NOT NULL "
        "AND position($3::bytea IN response) > 0 AND NOT starts_with(idempotency_key, $4)",
        program_id,
        list(_MEMBER_OF),
        member_id.encode(),
        FORGOTTEN_KEY_PREFIX,
    )
    keys = {
        row["idempotency_key"]
        for row in rows
        if _answered_for(row["method"], bytes(row["response"])) == member_id
    }
    answer_keys = await connection.fetch(
        "SELECT idempotency_key FROM purchase_answer_keys WHERE program_id = $1 "
        "AND member_id = $2 AND NOT starts_with(idempotency_key, $3)",
        program_id,
        member_id,
        FORGOTTEN_KEY_PREFIX,
    )
    keys.update(row["idempotency_key"] for row in answer_keys)
    return sorted(keys)


async def forget_member_keys(
    connection: asyncpg.Connection, program_id: str, member_id: str, forgetting: Forgetting
) -> int:
    """Keep the erased member's keys only under their forgotten form, in `idempotency_keys` and
    `purchase_answer_keys`, inside the caller's transaction; returns how many. A redelivered
    `member_erased` finds none left as sent, and changes nothing."""
    keys = await member_keys(connection, program_id, member_id)
    if not keys:
        return 0
    await forget_keys(connection, program_id=program_id, keys=keys, forgetting=forgetting)
    await connection.execute(
        "UPDATE purchase_answer_keys AS a SET idempotency_key = f.forgotten "
        "FROM unnest($3::text[], $4::text[]) AS f(sent, forgotten) "
        "WHERE a.program_id = $1 AND a.member_id = $2 AND a.idempotency_key = f.sent",
        program_id,
        member_id,
        keys,
        [forgetting.key(key) for key in keys],
    )
    return len(keys)
