"""Idempotent mutations: a retry, a redelivery or a duplicate returns the first result.

The key is bound to a hash of the request (without the key itself), so reusing a key for a
different request is refused instead of silently answered with someone else's result. The first
response is stored in the same transaction as the state change it reports.

A key may name a person (`enrol:<POS customer id>`), so an erasure forgets it (`forget_keys`):
the row stays, under the key's forgotten form (`Forgetting`: an HMAC-SHA256 under a secret kept
out of the database, as a short key's plain SHA-256 is found by trying every value) instead of
the key. The binding stays too: `once`, `stored_response` and `claim_key`, given the service's
`Forgetting`, find a key under any of its forms, so a retry after the erasure is answered from
the row (with what the erasure left of its response) and never runs again: a retried enrolment
does not re-create the erased member. A key that names a person in every case (an erasure's
own) may be stored forgotten from the start (`forget_now`). The bulk `claim_many`, given the
service's `Forgetting`, finds a key under its forgotten forms too (campaign forgets the keys of
an erased member's purchases).
"""

import contextlib
import hashlib
import hmac
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from google.protobuf.message import Message

from services.shared import call_budget
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


# Forgotten forms: v1, the key's plain SHA-256 (erasures before the keyed hash; found by lookups
# and re-keyed by `rekey_legacy_keys`), and v2, an HMAC-SHA256 of that SHA-256 under the secret.
# Hashing the SHA-256 rather than the key lets a v1 row be re-keyed without knowing its key.
LEGACY_FORGOTTEN_KEY_PREFIX = "erased:"
FORGOTTEN_KEY_PREFIX = "forgotten:v2:"
FORGOTTEN_KEY_SECRET_LENGTH_MIN = 32
# For local runs and tests only; a deployment sets its own (from a secret store), as anyone who
# knows the secret can try every short key against the table again.
LOCAL_FORGOTTEN_KEY_SECRET = "local-runs-only-forgotten-key-secret-0000"

# Bind (program, key) to a method and request hash unless the key is bound already, under
# any form. Not proof against a retry racing the erasure that forgets its key: one that
# reads before the erasure commits and waits for the key's row lock runs as new afterwards.
_BIND = (
    "INSERT INTO idempotency_keys (program_id, idempotency_key, method, request_hash) "
    "SELECT $1::text, $2::text, $3::text, $4::bytea WHERE NOT EXISTS (SELECT 1 FROM "
    "idempotency_keys WHERE program_id = $1 AND idempotency_key = ANY($5::text[])) "
    "ON CONFLICT DO NOTHING RETURNING true"
)
# The row binding (program, key) under one of its forms, the first form found first.
_BOUND = (
    "SELECT method, request_hash, response FROM idempotency_keys "
    "WHERE program_id = $1 AND idempotency_key = ANY($2::text[]) "
    "ORDER BY array_position($2::text[], idempotency_key) LIMIT 1"
)


def legacy_forgotten_key(key: str) -> str:
    """The form erasures kept a key in before the keyed hash: its unkeyed SHA-256."""
    return LEGACY_FORGOTTEN_KEY_PREFIX + hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Forgetting:
    """How a service keeps the keys it forgets: under an HMAC-SHA256 with `secret`, a service
    setting never stored in the database, so a stolen table does not give a short key (a till's
    `consent:<POS id>`) away to anyone trying every value. The secret must stay the same: a
    retry is recognised by hashing its key again. `previous_secrets` (once rotated) are still
    looked up, never written."""

    secret: bytes
    previous_secrets: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        for secret in (self.secret, *self.previous_secrets):
            if len(secret) < FORGOTTEN_KEY_SECRET_LENGTH_MIN:
                raise ValueError(
                    f"a forgotten-key secret needs {FORGOTTEN_KEY_SECRET_LENGTH_MIN} bytes or more"
                )

    def key(self, key: str) -> str:
        """The form a key is kept in once forgotten."""
        return _keyed(self.secret, hashlib.sha256(key.encode()).digest())

    def forms(self, key: str) -> list[str]:
        """Every form a forgotten key may be kept in, the current one first."""
        return [*self.keyed_forms(key), legacy_forgotten_key(key)]

    def keyed_forms(self, key: str) -> list[str]:
        """The keyed forms of a key, under the secret and then each previous one: every form of
        something kept only since the keyed hash (never in the legacy unkeyed form)."""
        digest = hashlib.sha256(key.encode()).digest()
        return [_keyed(secret, digest) for secret in (self.secret, *self.previous_secrets)]

    def rekeyed(self, legacy: str) -> str:
        """The current form of a key kept in the legacy form (its SHA-256), without the key."""
        digest = bytes.fromhex(legacy.removeprefix(LEGACY_FORGOTTEN_KEY_PREFIX))
        return _keyed(self.secret, digest)


def _keyed(secret: bytes, digest: bytes) -> str:
    return FORGOTTEN_KEY_PREFIX + hmac.new(secret, digest, hashlib.sha256).hexdigest()


def _forms(key: str, forgetting: "Forgetting | None") -> list[str]:
    """The key, then its forgotten forms when the service forgets keys."""
    return [key] if forgetting is None else [key, *forgetting.forms(key)]


async def forget_keys(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    keys: Sequence[str],
    forgetting: Forgetting,
) -> int:
    """Keep the rows of the keys (of an erased member) under their forgotten form, inside the
    caller's transaction; returns how many were forgotten. A row taken already under a key's
    forgotten form (a client sent one as its key) is left as it is, and the key's own row goes:
    a retry then meets that row, whose request differs, and is refused, never run again."""
    return await _move(connection, program_id, keys, forgetting.key)


# A legacy forgotten form as `forget_keys` wrote it (a client's own key may start the same).
_LEGACY_FORM = "^" + LEGACY_FORGOTTEN_KEY_PREFIX + "[0-9a-f]{64}$"


async def rekey_legacy_keys(
    connection: asyncpg.Connection, *, forgetting: Forgetting, limit: int
) -> int:
    """Move up to `limit` rows kept under the legacy forgotten form (a plain SHA-256, from which
    a short key is found by trying every value) to the keyed form, each program's in the
    caller's transaction; returns how many moved. Nothing writes the legacy form any more, so
    once this finds none it need not run again. Scans the table: run it in the background."""
    rows = await connection.fetch(
        "SELECT program_id, idempotency_key FROM idempotency_keys WHERE idempotency_key ~ $1 "
        "LIMIT $2",
        _LEGACY_FORM,
        limit,
    )
    by_program: dict[str, list[str]] = {}
    for row in rows:
        by_program.setdefault(row["program_id"], []).append(row["idempotency_key"])
    moved = 0
    for program_id, keys in by_program.items():
        moved += await _move(connection, program_id, keys, forgetting.rekeyed)
    return moved


async def _move(
    connection: asyncpg.Connection,
    program_id: str,
    keys: Sequence[str],
    new_key: Callable[[str], str],
) -> int:
    """Move the rows of the keys to `new_key(key)`. Moved, not updated: the key is the table's
    distribution column under Citus. A row taken already under the new key stays as it is."""
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
        [new_key(row["idempotency_key"]) for row in rows],
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
    forgetting: Forgetting | None = None,
    forget_now: bool = False,
) -> ResponseT:
    """Run `work` once per (program, key) inside the caller's transaction; replay it afterwards.
    With `forgetting` (a service that forgets keys) the key is found under its forgotten forms
    too; with `forget_now` as well, it is stored forgotten from the start (an erasure's key)."""
    check_idempotency_key(key)
    digest = request_hash(request)
    forms = _forms(key, forgetting)
    stored = forgetting.key(key) if forget_now and forgetting is not None else key
    # A concurrent first attempt holds the row lock; this waits for it to commit or roll back.
    inserted = await connection.fetchval(_BIND, program_id, stored, method, digest, forms)
    if inserted:
        response = await work()
        await connection.execute(
            "UPDATE idempotency_keys SET response = $3 WHERE program_id = $1 AND idempotency_key = $2",
            program_id,
            stored,
            response.SerializeToString(),
        )
        return response
    row = await connection.fetchrow(_BOUND, program_id, forms)
    if row["method"] != method or bytes(row["request_hash"]) != digest:
        raise IdempotencyConflict(key)
    return response_type.FromString(row["response"])


async def _lock_session(connection: asyncpg.Connection, lock: str) -> None:
    """Take the session lock named `lock`, waiting as long as the current call may rather than
    the pool's statement timeout: a retry that comes while a run of minutes goes on waits for
    its answer (up to its own deadline)."""
    remaining_s = call_budget.remaining_s()
    if remaining_s is not None:
        timeout_ms = max(1, math.ceil(remaining_s * 1000))  # 0 would mean no timeout at all
        await connection.execute(f"SET statement_timeout = {timeout_ms}")
    try:
        await connection.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", lock)
    finally:
        if remaining_s is not None:
            # A connection this fails on is reset by the pool (RESET ALL) when released.
            with contextlib.suppress(Exception):
                await connection.execute("RESET statement_timeout")


async def once_spanning(
    pool: asyncpg.Pool,
    *,
    program_id: str,
    key: str,
    method: str,
    request: Message,
    response_type: type[ResponseT],
    work: Callable[[], Awaitable[ResponseT]],
) -> ResponseT:
    """`once` for work that commits transactions of its own and may take minutes (a ledger job
    over a whole program), which no transaction should stay open around: an idle one is ended by
    the server (`idle_in_transaction_session_timeout`). Calls with one key take turns on a
    session lock of the key, which the server releases if the process dies. The first binds the
    key, runs `work` and stores its response; a retry waits for it and gets that response; the
    same key with another request is refused. A run that failed gives its key up, and one cut
    off by a crash leaves it bound without a response: either way the next call with the key
    runs `work` again, so it must be safe to repeat (do what is due)."""
    check_idempotency_key(key)
    async with pool.acquire() as connection:
        lock = f"idempotency:{program_id}:{key}"
        await _lock_session(connection, lock)
        try:
            if not await claim_key(
                connection, program_id=program_id, key=key, method=method, request=request
            ):
                stored = await stored_response(
                    connection,
                    program_id=program_id,
                    key=key,
                    method=method,
                    request=request,
                    response_type=response_type,
                )
                if stored is not None:
                    return stored
            try:
                response = await work()
            except BaseException:
                # Best effort: a key left bound without a response runs `work` again too.
                with contextlib.suppress(Exception):
                    await record_responses(
                        connection, program_id=program_id, responses={}, released=[key]
                    )
                raise
            await record_responses(
                connection, program_id=program_id, responses={key: response}, released=[]
            )
            return response
        finally:
            # A connection broken meanwhile lost the lock with it; the pool discards it.
            with contextlib.suppress(Exception):
                await connection.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", lock)


async def bind(
    connection: asyncpg.Connection | asyncpg.Pool,
    *,
    program_id: str,
    key: str,
    method: str,
    request: Message,
    forgetting: Forgetting | None = None,
    forget_now: bool = False,
) -> None:
    """Bind (program, key) to `request` with nothing to replay: `once` for a call whose whole
    work is the binding (the gateway's key claims). One statement on its own, where `once` takes
    a transaction and a second write for the response: the claim is on the path of every change
    made through the gateway. A different request with the key is refused as `once` refuses it."""
    check_idempotency_key(key)
    digest = request_hash(request)
    forms = _forms(key, forgetting)
    stored = forgetting.key(key) if forget_now and forgetting is not None else key
    # A concurrent first binding holds the row lock: this waits for it to commit or roll back.
    if await connection.fetchval(_BIND, program_id, stored, method, digest, forms):
        return
    row = await connection.fetchrow(_BOUND, program_id, forms)
    if row is None:
        # Found under a form that was just changed (an erasure forgetting it): bind anew.
        return await bind(
            connection,
            program_id=program_id,
            key=key,
            method=method,
            request=request,
            forgetting=forgetting,
            forget_now=forget_now,
        )
    if row["method"] != method or bytes(row["request_hash"]) != digest:
        raise IdempotencyConflict(key)


async def stored_response(
    connection: asyncpg.Connection | asyncpg.Pool,
    *,
    program_id: str,
    key: str,
    method: str,
    request: Message,
    response_type: type[ResponseT],
    forgetting: Forgetting | None = None,
) -> ResponseT | None:
    """The response `once` stored for (program, key), for a method that checks its request, or
    asks another service, before `once`: a retry is answered from its record first, so neither a
    rule added since it was stored nor a service out of reach now refuses it. None when the key
    holds no response yet; a different request with the key is refused, as `once` refuses it."""
    check_idempotency_key(key)
    row = await connection.fetchrow(_BOUND, program_id, _forms(key, forgetting))
    if row is None:
        return None
    if row["method"] != method or bytes(row["request_hash"]) != request_hash(request):
        raise IdempotencyConflict(key)
    if row["response"] is None:
        return None
    return response_type.FromString(row["response"])


async def recorded_response(
    connection: asyncpg.Connection | asyncpg.Pool,
    *,
    program_id: str,
    key: str,
    method: str,
    response_type: type[ResponseT],
    request_of: Callable[[ResponseT], Message],
    forgetting: Forgetting | None = None,
) -> ResponseT | None:
    """The response `once` stored for (program, key) if it answered the request `request_of`
    makes of it: for a caller that knows all of its retry but a field the first response
    names (the gateway, which finds the member a QR token names by resolving the token, and the
    token may have expired since). None when the key holds no response, or that of another
    request: the caller then makes its call, which refuses a reused key. With `forgetting`, the
    key is found under its forgotten forms too."""
    check_idempotency_key(key)
    row = await connection.fetchrow(_BOUND, program_id, _forms(key, forgetting))
    if row is None or row["response"] is None or row["method"] != method:
        return None
    response = response_type.FromString(row["response"])
    if request_hash(request_of(response)) != bytes(row["request_hash"]):
        return None
    return response


async def stored_responses(
    connection: asyncpg.Connection | asyncpg.Pool,
    *,
    program_id: str,
    keys: Sequence[str],
    method: str,
    response_type: type[ResponseT],
) -> dict[str, ResponseT]:
    """The responses stored under `keys` for `method`, by key, for an answer another request
    repeats (a purchase sent again under a new key is answered with its first answer). Keys
    holding no response, or another method's, are left out. The keys' own forms only."""
    if not keys:
        return {}
    rows = await connection.fetch(
        "SELECT idempotency_key, response FROM idempotency_keys WHERE program_id = $1 "
        "AND idempotency_key = ANY($2::text[]) AND method = $3 AND response IS NOT NULL",
        program_id,
        list(keys),
        method,
    )
    return {row["idempotency_key"]: response_type.FromString(row["response"]) for row in rows}


async def claim_key(
    connection: asyncpg.Connection,
    *,
    program_id: str,
    key: str,
    method: str,
    request: Message,
    forgetting: Forgetting | None = None,
) -> bool:
    """For a mutation that spans several transactions and keeps its own record of progress
    (a redemption): bind (program, key) to `method` and the request inside the caller's first
    transaction. True the first time; False for a retry of the same request, whose record the
    caller then finds by the key; a different request with the key is refused."""
    check_idempotency_key(key)
    digest = request_hash(request)
    forms = _forms(key, forgetting)
    inserted = await connection.fetchval(_BIND, program_id, key, method, digest, forms)
    if inserted:
        return True
    row = await connection.fetchrow(_BOUND, program_id, forms)
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
    forgetting: Forgetting | None = None,
) -> dict[str, Claimed]:
    """`once` for many requests written together (distinct keys, already checked): bind each
    (key, request hash) to `method` inside the caller's transaction, in key order (so two such
    callers never deadlock). Returns the keys that were already bound, with what they hold; the
    others are now this transaction's, to answer with `record_responses` or give up with
    `release`. With `forgetting`, a key found under a forgotten form is bound already (as in
    `once`, not proof against a retry racing the erasure that forgets it)."""
    forgotten = (
        {}
        if forgetting is None
        else await _forgotten_claims(
            connection, program_id, [key for key, _ in requests], forgetting
        )
    )
    keys = [key for key, _ in requests if key not in forgotten]
    if not keys:
        return forgotten
    inserted = await connection.fetch(
        "INSERT INTO idempotency_keys (program_id, idempotency_key, method, request_hash) "
        "SELECT $1, k, $2, h FROM unnest($3::text[], $4::bytea[]) AS t(k, h) ORDER BY k "
        "ON CONFLICT DO NOTHING RETURNING idempotency_key",
        program_id,
        method,
        keys,
        [digest for key, digest in requests if key not in forgotten],
    )
    if len(inserted) == len(keys):
        return forgotten
    # Read in a new statement: one that committed while the insert waited for it is seen now.
    mine = {row["idempotency_key"] for row in inserted}
    rows = await connection.fetch(
        "SELECT idempotency_key, method, request_hash, response FROM idempotency_keys "
        "WHERE program_id = $1 AND idempotency_key = ANY($2::text[])",
        program_id,
        [key for key in keys if key not in mine],
    )
    return {**forgotten, **{row["idempotency_key"]: _claimed(row) for row in rows}}


def _claimed(row: asyncpg.Record) -> "Claimed":
    return Claimed(
        row["method"],
        bytes(row["request_hash"]),
        None if row["response"] is None else bytes(row["response"]),
    )


async def _forgotten_claims(
    connection: asyncpg.Connection, program_id: str, keys: Sequence[str], forgetting: Forgetting
) -> dict[str, "Claimed"]:
    """The keys bound under one of their forgotten forms, with what they hold (the first form
    found first, as `once` finds it)."""
    forms = {form: key for key in keys for form in forgetting.forms(key)}
    rows = await connection.fetch(
        "SELECT idempotency_key, method, request_hash, response FROM idempotency_keys "
        "WHERE program_id = $1 AND idempotency_key = ANY($2::text[])",
        program_id,
        list(forms),
    )
    found = {row["idempotency_key"]: row for row in rows}
    claims: dict[str, Claimed] = {}
    for form, key in forms.items():  # each key's forms in order, the current one first
        if key not in claims and form in found:
            claims[key] = _claimed(found[form])
    return claims


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
    forgetting: Forgetting | None = None,
) -> tuple[list[int], list[ResponseT | IdempotencyConflict | None]]:
    """`claim_many` for (key, request) pairs of a group: the indexes of the fresh requests (their
    keys now this transaction's), and for each other request its first response replayed, or the
    refusal of its reused key."""
    claimed = await claim_many(
        connection,
        program_id=program_id,
        method=method,
        requests=[(key, request_hash(request)) for key, request in requests],
        forgetting=forgetting,
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
