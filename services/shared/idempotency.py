"""Idempotent mutations: a retry, a redelivery or a duplicate returns the first result.

The key is bound to a hash of the request (without the key itself), so reusing a key for a
different request is refused instead of silently answered with someone else's result. The first
response is stored in the same transaction as the state change it reports.

A key may name a person (`enrol:<POS customer id>`), so an erasure forgets it (`forget_keys`):
the row stays, under the key's SHA-256 (as identity's import keeps its keys) instead of the key.
The binding stays too: `once`, `stored_response` and `claim_key` find a key under either form,
so a retry after the erasure is answered from the row (with what the erasure left of its
response) and never runs again: a retried enrolment does not re-create the erased member. The
bulk `claim_many` looks up the key itself only; no service forgets keys it binds.
"""

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from google.protobuf.message import Message

from services.shared.database import Writes, write
from services.shared.errors import IdempotencyConflict, InvalidArgument

ResponseT = TypeVar("ResponseT", bound=Message)

IDEMPOTENCY_KEY_LENGTH_MAX = 200


def request_hash(request: Message) -> bytes:
    unkeyed = type(request)()
    unkeyed.CopyFrom(request)
    if "idempotency_key" in unkeyed.DESCRIPTOR.fields_by_name:
        unkeyed.ClearField("idempotency_key")  # type: ignore[arg-type]
    return hashlib.sha256(unkeyed.SerializeToString(deterministic=True)).digest()


FORGOTTEN_KEY_PREFIX = "erased:"

# Bind (program, key) to a method and request hash unless the key is bound already, under
# either form. Not proof against a retry racing the erasure that forgets its key: one that
# reads before the erasure commits and waits for the key's row lock runs as new afterwards.
_BIND = (
    "INSERT INTO idempotency_keys (program_id, idempotency_key, method, request_hash) "
    "SELECT $1::text, $2::text, $3::text, $4::bytea WHERE NOT EXISTS (SELECT 1 FROM "
    "idempotency_keys WHERE program_id = $1 AND idempotency_key = $5) "
    "ON CONFLICT DO NOTHING RETURNING true"
)
# The row binding (program, key), under the key or its forgotten form.
_BOUND = (
    "SELECT method, request_hash, response FROM idempotency_keys "
    "WHERE program_id = $1 AND idempotency_key = ANY(ARRAY[$2::text, $3::text]) "
    "ORDER BY idempotency_key = $2 DESC LIMIT 1"
)


def forgotten_key(key: str) -> str:
    """The form a key is kept in once forgotten: its SHA-256, which no longer shows the key."""
    return FORGOTTEN_KEY_PREFIX + hashlib.sha256(key.encode()).hexdigest()


async def forget_keys(
    connection: asyncpg.Connection, *, program_id: str, keys: Sequence[str]
) -> int:
    """Keep the rows of the keys (of an erased member) under their forgotten form, inside the
    caller's transaction; returns how many were forgotten. The rows are moved, not updated:
    the key is the table's distribution column under Citus. A row taken already under a key's
    forgotten form (a client sent one as its key) is left as it is, and the key's own row goes:
    a retry then meets that row, whose request differs, and is refused, never run again."""
    rows = await connection.fetch(
        "DELETE FROM idempotency_keys WHERE program_id = $1 AND idempotency_key = ANY($2::text[]) "
        "RETURNING idempotency_key, method, request_hash, response, created_at",
        program_id,
        list(keys),
    )
    await connection.execute(
        "INSERT INTO idempotency_keys "
        "(program_id, idempotency_key, method, request_hash, response, created_at) "
        "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bytea[], $5::bytea[], "
        "$6::timestamptz[]) ON CONFLICT DO NOTHING",
        program_id,
        [forgotten_key(row["idempotency_key"]) for row in rows],
        [row["method"] for row in rows],
        [row["request_hash"] for row in rows],
        [row["response"] for row in rows],
        [row["created_at"] for row in rows],
    )
    return len(rows)


def check_idempotency_key(key: str) -> None:
    if not key:
        raise InvalidArgument("idempotency_key", "is required for every change")
    if len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
        raise InvalidArgument(
            "idempotency_key", f"is longer than {IDEMPOTENCY_KEY_LENGTH_MAX} characters"
        )
    if "\x00" in key:
        # PostgreSQL cannot store NUL in text: the key's insert would fail, naming no field.
        raise InvalidArgument("idempotency_key", "must not contain NUL characters")


async def once(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    key: str,
    method: str,
    request: Message,
    response_type: type[ResponseT],
    work: Callable[[], Awaitable[ResponseT]],
) -> ResponseT:
    """Run `work` once per (program, key) inside the caller's transaction; replay it afterwards."""
    check_idempotency_key(key)
    digest = request_hash(request)
    # A concurrent first attempt holds the row lock; this waits for it to commit or roll back.
    inserted = await connection.fetchval(_BIND, program_id, key, method, digest, forgotten_key(key))
    if inserted:
        response = await work()
        await connection.execute(
            "UPDATE idempotency_keys SET response = $3 WHERE program_id = $1 AND idempotency_key = $2",
            program_id,
            key,
            response.SerializeToString(),
        )
        return response
    row = await connection.fetchrow(_BOUND, program_id, key, forgotten_key(key))
    if row["method"] != method or bytes(row["request_hash"]) != digest:
        raise IdempotencyConflict(key)
    return response_type.FromString(row["response"])


async def stored_response(
    connection: asyncpg.Connection | asyncpg.Pool,
    *,
    program_id: str,
    key: str,
    method: str,
    request: Message,
    response_type: type[ResponseT],
) -> ResponseT | None:
    """The response `once` stored for (program, key), for a method that checks its request, or
    asks another service, before `once`: a retry is answered from its record first, so neither a
    rule added since it was stored nor a service out of reach now refuses it. None when the key
    holds no response yet; a different request with the key is refused, as `once` refuses it."""
    check_idempotency_key(key)
    row = await connection.fetchrow(_BOUND, program_id, key, forgotten_key(key))
    if row is None:
        return None
    if row["method"] != method or bytes(row["request_hash"]) != request_hash(request):
        raise IdempotencyConflict(key)
    if row["response"] is None:
        return None
    return response_type.FromString(row["response"])


async def claim_key(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    key: str,
    method: str,
    request: Message,
) -> bool:
    """For a mutation that spans several transactions and keeps its own record of progress
    (a redemption): bind (program, key) to `method` and the request inside the caller's first
    transaction. True the first time; False for a retry of the same request, whose record the
    caller then finds by the key; a different request with the key is refused."""
    check_idempotency_key(key)
    digest = request_hash(request)
    inserted = await connection.fetchval(_BIND, program_id, key, method, digest, forgotten_key(key))
    if inserted:
        return True
    row = await connection.fetchrow(_BOUND, program_id, key, forgotten_key(key))
    if row["method"] != method or bytes(row["request_hash"]) != digest:
        raise IdempotencyConflict(key)
    return False


@dataclass(frozen=True)
class Claimed:
    """Another request's hold on a key: the method and request hash it was bound to, and the
    response it stored."""

    method: str
    request_hash: bytes
    response: bytes | None


async def claim_many(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    method: str,
    requests: list[tuple[str, bytes]],
) -> dict[str, Claimed]:
    """`once` for many requests written together (distinct keys, already checked): bind each
    (key, request hash) to `method` inside the caller's transaction, in key order (so two such
    callers never deadlock). Returns the keys that were already bound, with what they hold; the
    others are now this transaction's, to answer with `record_responses` or give up with
    `release`."""
    keys = [key for key, _ in requests]
    inserted = await connection.fetch(
        "INSERT INTO idempotency_keys (program_id, idempotency_key, method, request_hash) "
        "SELECT $1, k, $2, h FROM unnest($3::text[], $4::bytea[]) AS t(k, h) ORDER BY k "
        "ON CONFLICT DO NOTHING RETURNING idempotency_key",
        program_id,
        method,
        keys,
        [digest for _, digest in requests],
    )
    if len(inserted) == len(keys):
        return {}
    # Read in a new statement: one that committed while the insert waited for it is seen now.
    mine = {row["idempotency_key"] for row in inserted}
    rows = await connection.fetch(
        "SELECT idempotency_key, method, request_hash, response FROM idempotency_keys "
        "WHERE program_id = $1 AND idempotency_key = ANY($2::text[])",
        program_id,
        [key for key in keys if key not in mine],
    )
    return {
        row["idempotency_key"]: Claimed(
            row["method"],
            bytes(row["request_hash"]),
            None if row["response"] is None else bytes(row["response"]),
        )
        for row in rows
    }


def replay(
    claimed: Claimed, *, key: str, method: str, request: Message, response_type: type[ResponseT]
) -> ResponseT:
    """The first response of a request bound by `claim_many`, or the refusal of a reused key."""
    if claimed.method != method or claimed.request_hash != request_hash(request):
        raise IdempotencyConflict(key)
    assert claimed.response is not None, "a key bound by once/claim_many holds its response"
    return response_type.FromString(claimed.response)


async def claim_each(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    method: str,
    requests: Sequence[tuple[str, Message]],
    response_type: type[ResponseT],
) -> tuple[list[int], list[ResponseT | IdempotencyConflict | None]]:
    """`claim_many` for (key, request) pairs of a group: the indexes of the fresh requests (their
    keys now this transaction's), and for each other request its first response replayed, or the
    refusal of its reused key."""
    claimed = await claim_many(
        connection,
        program_id=program_id,
        method=method,
        requests=[(key, request_hash(request)) for key, request in requests],
    )
    fresh: list[int] = []
    answers: list[ResponseT | IdempotencyConflict | None] = [None] * len(requests)
    for index, (key, request) in enumerate(requests):
        prior = claimed.get(key)
        if prior is None:
            fresh.append(index)
            continue
        try:
            answers[index] = replay(
                prior, key=key, method=method, request=request, response_type=response_type
            )
        except IdempotencyConflict as error:
            answers[index] = error
    return fresh, answers


async def record_responses(
    target: "asyncpg.Connection | Writes",
    *,
    program_id: str,
    responses: dict[str, Message],
    released: list[str],
) -> None:
    """Store the responses of keys claimed by `claim_many`, and give up the `released` keys of
    requests that failed (their retry then runs afresh, as after a rolled-back `once`)."""
    if responses:
        await write(
            target,
            "UPDATE idempotency_keys SET response = t.r FROM unnest($2::text[], $3::bytea[]) AS t(k, r) "
            "WHERE program_id = $1 AND idempotency_key = ANY($2::text[]) AND idempotency_key = t.k",
            program_id,
            list(responses),
            [response.SerializeToString() for response in responses.values()],
        )
    if released:
        await write(
            target,
            "DELETE FROM idempotency_keys WHERE program_id = $1 AND idempotency_key = ANY($2::text[])",
            program_id,
            released,
        )
