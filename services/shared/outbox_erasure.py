"""An erased member's personal data out of the outbox and out of JetStream.

Events carrying personal data (services/shared/personal_data.py) name their member in the outbox
row. An erasure of the service's own events (identity's EraseMember for its enrolments and
updates; campaign's consumer of `member_erased` for its notification intents), in its own
transaction (`forget_member_events`):
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

The dead-letter stream holds whole copies of messages that failed every delivery (for 90 days),
an enrolment with its birthday too: an erasure also asks the relay to look through it
(`dead_letter_sweeps`) and replace the member's by copies without the personal data, keeping
their headers (the original subject, the error) for whoever looks into the failure.

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
from services.shared.jetstream import (
    DEAD_LETTER_STREAM,
    HEADER_MSG_ID,
    PUBLISH_TIMEOUT_S,
    STREAM_MAX_AGE_S,
    JetStream,
)
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
    await _ask_for_dead_letter_sweeps(connection, program_id, ids)
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


async def _ask_for_dead_letter_sweeps(
    connection: asyncpg.Connection, program_id: str, member_ids: list[str]
) -> None:
    await connection.execute(
        "INSERT INTO dead_letter_sweeps (program_id, member_id) SELECT $1, m FROM unnest($2::text[]) AS m",
        program_id,
        member_ids,
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
                    await _postpone(
                        connection,
                        table="stream_erasures",
                        where="stream = $1 AND stream_seq = $2",
                        keys=(row["stream"], row["stream_seq"]),
                        attempt_count=row["attempt_count"],
                        error=repr(error),
                    )
                    continue
                self.metrics.stream_erasures.labels(self.service, outcome).inc()
                await connection.execute(
                    "DELETE FROM stream_erasures WHERE stream = $1 AND stream_seq = $2",
                    row["stream"],
                    row["stream_seq"],
                )
                done += 1
            done += await self._sweep_due(connection)
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
        return "deleted" if await self._delete(stream, stream_seq) else "gone"

    async def _delete(self, stream: str, stream_seq: int) -> bool:
        """Delete the message (NATS overwrites it); False if the stream did not hold it."""
        try:
            await self.jetstream.context.delete_msg(stream, stream_seq)
        except nats.js.errors.APIError:
            # NATS answers a deletion of a message it does not hold with a 500, whose code
            # (10057) names any failed deletion: gone only if the stream says it is.
            if await self._holds(stream, stream_seq):
                raise
            return False
        return True

    async def _sweep_due(self, connection: asyncpg.Connection) -> int:
        """Look through the dead letters once for all the erased members whose sweep is due;
        returns how many of their messages were replaced."""
        due = await connection.fetch(
            "SELECT sweep_id, program_id, member_id, attempt_count FROM dead_letter_sweeps "
            "WHERE next_attempt_at <= now() ORDER BY next_attempt_at "
            "LIMIT $1 FOR UPDATE SKIP LOCKED",
            ERASURE_BATCH_SIZE_MAX,
        )
        if not due:
            return 0
        try:
            replaced = await self._sweep_dead_letters(
                {(r["program_id"], r["member_id"]) for r in due}
            )
        except _NATS_ERRORS as error:
            self.metrics.stream_erasures.labels(self.service, "failed").inc()
            logger.warning("could not look through the dead letters, trying again later: %r", error)
            for row in due:
                await _postpone(
                    connection,
                    table="dead_letter_sweeps",
                    where="sweep_id = $1",
                    keys=(row["sweep_id"],),
                    attempt_count=row["attempt_count"],
                    error=repr(error),
                )
            return 0
        self.metrics.stream_erasures.labels(self.service, "deleted").inc(replaced)
        await connection.execute(
            "DELETE FROM dead_letter_sweeps WHERE sweep_id = ANY($1::bigint[])",
            [row["sweep_id"] for row in due],
        )
        return replaced

    async def _sweep_dead_letters(self, members: set[tuple[str, str]]) -> int:
        context = self.jetstream.context
        stream = self.jetstream.namespace.stream(DEAD_LETTER_STREAM.name)
        subject = self.jetstream.namespace.subject(f"{DEAD_LETTER_STREAM.name}.>")
        replaced, seq = 0, 0
        while True:
            try:
                stored = await context.get_msg(stream, seq + 1, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                return replaced  # no more dead letters (or no dead-letter stream yet)
            seq = stored.seq or seq + 1
            try:
                event = events_pb2.Event.FromString(stored.data or b"")
            except DecodeError:
                continue
            if (event.program_id, personal_member(event)) not in members:
                continue
            # The copy lands after the last one looked at, and has nothing personal to find.
            headers = {**(stored.headers or {})}
            headers[HEADER_MSG_ID] = f"{event.event_id}{ERASED_COPY_SUFFIX}"
            await context.publish(
                stored.subject or subject,
                without_personal_data(event).SerializeToString(),
                timeout=PUBLISH_TIMEOUT_S,
                headers=headers,
            )
            await self._delete(stream, seq)
            replaced += 1

    async def _holds(self, stream: str, stream_seq: int) -> bool:
        try:
            await self.jetstream.context.get_msg(stream, stream_seq)
        except nats.js.errors.NotFoundError:
            return False
        return True


async def _postpone(
    connection: asyncpg.Connection,
    *,
    table: str,
    where: str,
    keys: tuple[object, ...],
    attempt_count: int,
    error: str,
) -> None:
    """Try the row again later, waiting twice as long each time."""
    delay_s = min(ERASURE_RETRY_FIRST_S * 2**attempt_count, ERASURE_RETRY_MAX_S)
    await connection.execute(
        f"UPDATE {table} SET attempt_count = attempt_count + 1, last_error = ${len(keys) + 1}, "
        f"next_attempt_at = now() + ${len(keys) + 2}::interval WHERE {where}",
        *keys,
        error[:1000],
        dt.timedelta(seconds=delay_s),
    )
