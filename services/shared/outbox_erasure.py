"""An erased member's personal data out of the outbox and out of JetStream.

Events carrying personal data (services/shared/personal_data.py) name their member in the outbox
row. An erasure, in its own transaction (`forget_member_events`):
- blanks the personal fields of the member's outbox rows, published or not: an unsent one is
  still sent (consumers need the enrolment to open the account and pay the sign-up bonus), only
  without them;
- asks for the deletion from JetStream of the member's messages the relay published with them,
  which the relay recorded by the stream sequence of their publish acks.

The relay works the deletions off (`StreamEraser`, run from its loop): it publishes a copy
without the personal data (same event id, so a consumer that handled the original takes it for
a redelivery, and one that had not yet still learns the fact), then deletes the original by
sequence (the server overwrites it on disk). A deletion that fails stays in `stream_erasures` and
is tried again later, with a growing delay; none is lost to a crash, as the request is committed
with the erasure and removed only once done.

A relay that read a row before the erasure blanked it and marks it published after finds the row
erased when it does (its UPDATE waits for the erasure's lock) and asks for the deletion itself;
an erasure that comes after finds the sequence the relay recorded (its SELECT ... FOR UPDATE
waits for the relay's commit). Only events with personal data pay for any of this.
"""

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import nats.errors
import nats.js.errors
from google.protobuf.message import DecodeError
from nats.js import api

from loyalty.events.v1 import events_pb2
from services.shared.jetstream import STREAM_MAX_AGE_S, JetStream
from services.shared.metrics import Metrics
from services.shared.personal_data import (
    personal_member,
    scrubbed_payload,
    without_personal_data,
)

logger = logging.getLogger(__name__)

ERASURE_BATCH_SIZE_MAX = 100
ERASURE_RETRY_FIRST_S = 1.0
ERASURE_RETRY_MAX_S = 600.0
# The Nats-Msg-Id of the copy without personal data: another id than the original's, which the
# stream's duplicate window may still hold, so the copy is stored.
ERASED_COPY_SUFFIX = ":erased"


async def forget_member_events(
    connection: asyncpg.Connection, program_id: str, member_ids: Sequence[str]
) -> int:
    """Blank the members' personal data in the outbox and ask for the deletion of what was
    published of it; in the caller's (the erasure's) transaction. Returns the deletions asked
    for. Idempotent: a second run finds nothing left to blank or to ask for."""
    ids = list(member_ids)
    rows = await connection.fetch(
        "SELECT seq, payload FROM outbox WHERE personal_program_id = $1 "
        "AND personal_member_id = ANY($2::text[]) AND NOT personal_erased ORDER BY seq FOR UPDATE",
        program_id,
        ids,
    )
    if rows:
        await connection.execute(
            "UPDATE outbox SET payload = t.payload, personal_erased = true "
            "FROM unnest($1::bigint[], $2::bytea[]) AS t (seq, payload) WHERE outbox.seq = t.seq",
            [row["seq"] for row in rows],
            [scrubbed_payload(row["payload"]) for row in rows],
        )
    # After the FOR UPDATE above: a relay that was marking these rows published has committed
    # the sequences it recorded, and this statement sees them.
    return int(
        await connection.fetchval(
            "WITH published AS (DELETE FROM outbox_personal_messages WHERE program_id = $1 "
            "AND member_id = ANY($2::text[]) RETURNING program_id, member_id, stream, stream_seq), "
            "asked AS (INSERT INTO stream_erasures (stream, stream_seq, program_id, member_id) "
            "SELECT stream, stream_seq, program_id, member_id FROM published "
            "ON CONFLICT (stream, stream_seq) DO NOTHING RETURNING 1) "
            "SELECT count(*) FROM asked",
            program_id,
            ids,
        )
    )


@dataclass(frozen=True)
class PersonalPublish:
    """An outbox row with personal data the relay published, and where the stream stored it."""

    seq: int
    program_id: str
    member_id: str
    stream: str
    stream_seq: int


def personal_publish(row: asyncpg.Record, ack: api.PubAck) -> PersonalPublish | None:
    if row["personal_member_id"] is None:
        return None
    return PersonalPublish(
        seq=row["seq"],
        program_id=row["personal_program_id"],
        member_id=row["personal_member_id"],
        stream=ack.stream,
        stream_seq=ack.seq,
    )


async def record_personal_publishes(
    connection: asyncpg.Connection, published: Sequence[PersonalPublish]
) -> None:
    """Where the stream stored events with personal data, in the relay's transaction, after it
    marked them published. A row an erasure blanked meanwhile (the relay read it before, or an
    earlier attempt stored the original under the same Nats-Msg-Id) is deleted from the stream
    at once; the others are kept for an erasure to come."""
    if not published:
        return
    await connection.execute(
        "WITH p AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], "
        "$5::bigint[]) AS p (seq, program_id, member_id, stream, stream_seq)), "
        "rows AS (SELECT p.*, o.personal_erased FROM p JOIN outbox o ON o.seq = p.seq), "
        "kept AS (INSERT INTO outbox_personal_messages (program_id, member_id, stream, stream_seq) "
        "SELECT program_id, member_id, stream, stream_seq FROM rows WHERE NOT personal_erased "
        "ON CONFLICT (stream, stream_seq) DO NOTHING) "
        "INSERT INTO stream_erasures (stream, stream_seq, program_id, member_id) "
        "SELECT stream, stream_seq, program_id, member_id FROM rows WHERE personal_erased "
        "ON CONFLICT (stream, stream_seq) DO NOTHING",
        [p.seq for p in published],
        [p.program_id for p in published],
        [p.member_id for p in published],
        [p.stream for p in published],
        [p.stream_seq for p in published],
    )


async def prune_personal_messages(pool: asyncpg.Pool) -> None:
    """Forget the sequences of messages the streams no longer keep (their max age passed)."""
    await pool.execute(
        "DELETE FROM outbox_personal_messages "
        "WHERE published_at < now() - make_interval(secs => $1)",
        STREAM_MAX_AGE_S,
    )


# Errors after which a deletion is tried again later: NATS away, or its API refusing for now.
_NATS_ERRORS = (nats.errors.Error, nats.js.errors.Error, TimeoutError, OSError)


class StreamEraser:
    """Deletes from JetStream the messages erasures asked for, publishing copies without the
    personal data first; run by the outbox relay of the schema."""

    def __init__(
        self, *, pool: asyncpg.Pool, jetstream: JetStream, metrics: Metrics, service: str
    ) -> None:
        self.pool = pool
        self.jetstream = jetstream
        self.metrics = metrics
        self.service = service

    async def erase_due(self) -> int:
        """Work off the deletions that are due; returns how many were done. Several replicas
        may run it at once: each takes the rows no other holds."""
        done = 0
        async with self.pool.acquire() as connection, connection.transaction():
            due = await connection.fetch(
                "SELECT stream, stream_seq, member_id, attempt_count FROM stream_erasures "
                "WHERE next_attempt_at <= now() ORDER BY next_attempt_at "
                "LIMIT $1 FOR UPDATE SKIP LOCKED",
                ERASURE_BATCH_SIZE_MAX,
            )
            for row in due:
                try:
                    outcome = await self._erase(row["stream"], row["stream_seq"], row["member_id"])
                except _NATS_ERRORS as error:
                    self.metrics.stream_erasures.labels(self.service, "failed").inc()
                    logger.warning(
                        "could not delete message %s of stream %s, trying again later: %r",
                        row["stream_seq"],
                        row["stream"],
                        error,
                    )
                    await _postpone(connection, row, repr(error))
                    continue
                self.metrics.stream_erasures.labels(self.service, outcome).inc()
                await connection.execute(
                    "DELETE FROM stream_erasures WHERE stream = $1 AND stream_seq = $2",
                    row["stream"],
                    row["stream_seq"],
                )
                done += 1
            waiting = await connection.fetchrow(
                "SELECT count(*) AS messages, coalesce(extract(epoch FROM now() - "
                "min(requested_at)), 0)::float8 AS age_s FROM stream_erasures"
            )
        self.metrics.stream_erasures_pending.labels(self.service).set(waiting["messages"])
        self.metrics.stream_erasure_oldest_age.labels(self.service).set(waiting["age_s"])
        return done

    async def _erase(self, stream: str, stream_seq: int, member_id: str) -> str:
        """Publish the member's message again without the personal data, then delete it:
        "deleted", or "gone" if the stream no longer holds it with the member's personal data."""
        context = self.jetstream.context
        try:
            stored = await context.get_msg(stream, stream_seq)
        except nats.js.errors.NotFoundError:
            return "gone"
        try:
            event = events_pb2.Event.FromString(stored.data or b"")
        except DecodeError:
            return "gone"  # not an event: the sequence names another message now
        # Published without it already (blanked before the relay sent it); or the sequence names
        # another member's message (the stream was deleted and made again): nothing to do.
        if personal_member(event) != member_id:
            return "gone"
        # Before the deletion: a crash in between leaves both, and the retry publishes the copy
        # again under the same id (stored once) before deleting the original.
        await self.jetstream.publish(
            stored.subject or "",
            without_personal_data(event).SerializeToString(),
            msg_id=f"{event.event_id}{ERASED_COPY_SUFFIX}",
        )
        try:
            await context.delete_msg(stream, stream_seq)
        except nats.js.errors.APIError:
            # NATS answers a deletion of a message it does not hold with a 500, whose code
            # (10057) names any failed deletion: gone only if the stream says it is.
            if await self._holds(stream, stream_seq):
                raise
            return "gone"
        return "deleted"

    async def _holds(self, stream: str, stream_seq: int) -> bool:
        try:
            await self.jetstream.context.get_msg(stream, stream_seq)
        except nats.js.errors.NotFoundError:
            return False
        return True


async def _postpone(connection: asyncpg.Connection, row: asyncpg.Record, error: str) -> None:
    delay_s = min(ERASURE_RETRY_FIRST_S * 2 ** row["attempt_count"], ERASURE_RETRY_MAX_S)
    await connection.execute(
        "UPDATE stream_erasures SET attempt_count = attempt_count + 1, last_error = $3, "
        "next_attempt_at = now() + $4::interval WHERE stream = $1 AND stream_seq = $2",
        row["stream"],
        row["stream_seq"],
        error[:1000],
        dt.timedelta(seconds=delay_s),
    )
