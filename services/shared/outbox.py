"""The transactional outbox and its relay to JetStream.

`enqueue` writes an event on the caller's connection, inside the caller's transaction, so the
state change and its announcement commit or vanish together. The relay publishes pending rows in
order with the event id as `Nats-Msg-Id` and marks them published. If it dies between publishing
and marking, the next run publishes again; JetStream's duplicate window and the consumers'
de-duplication by event id make that harmless.

Events with a member's personal data name the member in their row, so an erasure can blank them
and have the relay delete what it published of them (services/shared/outbox_erasure.py).
"""

import asyncio
import contextlib
import logging
import time
import uuid
import zlib
from typing import TYPE_CHECKING

import asyncpg
import nats.errors
import nats.js.errors
from google.protobuf.timestamp_pb2 import Timestamp

from services.shared.database import Writes, connection_lost
from services.shared.jetstream import JetStream
from services.shared.logs import request_id_var
from services.shared.metrics import Metrics
from services.shared.outbox_erasure import (
    PersonalPublish,
    StreamEraser,
    personal_publish,
    prune_personal_messages,
    record_personal_publishes,
)
from services.shared.personal_data import personal_member

if TYPE_CHECKING:
    from loyalty.events.v1 import events_pb2

logger = logging.getLogger(__name__)

RELAY_BATCH_SIZE_MAX = 500
# Publishes awaiting their acks at once: one round trip to JetStream each, awaited one by one,
# capped the relay near 3,000 events/s.
RELAY_PUBLISHES_IN_FLIGHT = 128
RELAY_POLL_INTERVAL_S = 1.0
RELAY_BACKOFF_FIRST_S = 0.05
RELAY_BACKOFF_MAX_S = 2.0
# Published rows are kept a while for audit and debugging, then purged.
PUBLISHED_RETENTION = "1 day"
PURGE_INTERVAL_S = 600.0
# How often the relay looks for deletions from JetStream that erasures asked for.
ERASE_INTERVAL_S = 1.0

_NATS_ERRORS = (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError, OSError)


# The oldest waiting event is the first by seq: one probe of the outbox_unpublished index.
_BACKLOG_SQL = (
    "SELECT count(*) AS events, coalesce(extract(epoch FROM now() - (SELECT created_at FROM outbox"
    " WHERE published_at IS NULL ORDER BY seq LIMIT 1)), 0)::float8 AS age_s"
    " FROM outbox WHERE published_at IS NULL"
)


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


class Outbox:
    def __init__(self, *, schema: str, producer: str, jetstream_namespace: str) -> None:
        self.schema = schema
        self.producer = producer
        self.namespace = jetstream_namespace

    def _stamp(self, event: "events_pb2.Event", occurred_at: Timestamp, request_id: str) -> None:
        """What every enqueued event carries: an id, when it happened, who produced it for which
        request; what the caller already set stays."""
        if not event.event_id:
            event.event_id = str(uuid.uuid4())
        if not event.HasField("occurred_at"):
            event.occurred_at.CopyFrom(occurred_at)
        event.producer = self.producer
        if not event.request_id:
            event.request_id = request_id

    async def enqueue(
        self, connection: asyncpg.Connection, subject: str, event: "events_pb2.Event"
    ) -> str:
        """Write `event` for publishing on `<namespace>.<subject>`; returns its event id."""
        self._stamp(event, _now(), request_id_var.get())
        member_id = personal_member(event)
        # One round trip: the row, and the wake-up the relay gets when the transaction commits.
        await connection.execute(
            "WITH event AS (INSERT INTO outbox (event_id, subject, payload, personal_program_id, "
            "personal_member_id) VALUES ($1, $2, $3, $5, $6)) SELECT pg_notify($4, '')",
            uuid.UUID(event.event_id),
            f"{self.namespace}.{subject}",
            event.SerializeToString(),
            notify_channel(self.schema),
            None if member_id is None else event.program_id,
            member_id,
        )
        return event.event_id

    async def enqueue_all(
        self,
        target: "asyncpg.Connection | Writes",
        events: "list[tuple[str, events_pb2.Event]]",
    ) -> None:
        """`enqueue` for (subject, event) pairs in one statement, in the order given, now or with
        other `Writes`; each event keeps the request id set on it, else takes the current one."""
        if not events:
            return
        occurred_at, request_id = _now(), request_id_var.get()
        for _, event in events:
            self._stamp(event, occurred_at, request_id)
        writes = target if isinstance(target, Writes) else Writes()
        members = [personal_member(event) for _, event in events]
        if any(members):
            writes.add(
                "INSERT INTO outbox (event_id, subject, payload, personal_program_id, "
                "personal_member_id) SELECT id, subject, payload, program_id, member_id "
                "FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[], $5::text[]) "
                "WITH ORDINALITY AS e (id, subject, payload, program_id, member_id, n) ORDER BY n",
                [uuid.UUID(event.event_id) for _, event in events],
                [f"{self.namespace}.{subject}" for subject, _ in events],
                [event.SerializeToString() for _, event in events],
                [
                    None if m is None else e.program_id
                    for m, (_, e) in zip(members, events, strict=True)
                ],
                members,
            )
        else:
            # Postings and the other events without personal data: the statement as ever.
            writes.add(
                "INSERT INTO outbox (event_id, subject, payload) "
                "SELECT id, subject, payload FROM unnest($1::uuid[], $2::text[], $3::bytea[]) "
                "WITH ORDINALITY AS e (id, subject, payload, n) ORDER BY n",
                [uuid.UUID(event.event_id) for _, event in events],
                [f"{self.namespace}.{subject}" for subject, _ in events],
                [event.SerializeToString() for _, event in events],
            )
        # The relay's wake-up, delivered when the transaction commits.
        writes.select("pg_notify($1, '')", notify_channel(self.schema))
        if writes is not target:
            await writes.run(target)  # type: ignore[arg-type]

    async def enqueue_many(
        self, connection: asyncpg.Connection, subject: str, events: "list[events_pb2.Event]"
    ) -> None:
        """`enqueue` for many events of one subject in one statement (bulk imports)."""
        if not events:
            return
        occurred_at, request_id = _now(), request_id_var.get()
        for event in events:
            self._stamp(event, occurred_at, request_id)
        members = [personal_member(event) for event in events]
        await connection.execute(
            "WITH events AS (INSERT INTO outbox (event_id, subject, payload, personal_program_id, "
            "personal_member_id) SELECT id, $2, payload, program_id, member_id "
            "FROM unnest($1::uuid[], $3::bytea[], $5::text[], $6::text[]) "
            "AS e (id, payload, program_id, member_id)) SELECT pg_notify($4, '')",
            [uuid.UUID(event.event_id) for event in events],
            f"{self.namespace}.{subject}",
            [event.SerializeToString() for event in events],
            notify_channel(self.schema),
            [None if m is None else e.program_id for m, e in zip(members, events, strict=True)],
            members,
        )


def _now() -> Timestamp:
    timestamp = Timestamp()
    timestamp.GetCurrentTime()
    return timestamp


class OutboxRelay:
    """Publishes the outbox of one schema; with several replicas, one relays at a time, in order."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        jetstream: JetStream,
        schema: str,
        metrics: Metrics,
        service: str,
    ) -> None:
        self.pool = pool
        self.jetstream = jetstream
        self.schema = schema
        self.metrics = metrics
        self.service = service
        metrics.expect_outbox(service)
        self._wake = asyncio.Event()
        self._listener_lost = False
        self._lock_key = zlib.crc32(f"loyalty.outbox.{schema}".encode()) - 2**31
        self.eraser = StreamEraser(pool=pool, jetstream=jetstream, metrics=metrics, service=service)

    async def run(self, stop: asyncio.Event) -> None:
        listener: asyncpg.Connection | None = None
        backoff_s = RELAY_BACKOFF_FIRST_S
        purged_at = erased_at = 0.0
        try:
            while not stop.is_set():
                try:
                    if listener is None or self._listener_lost:
                        # The first time, and after the database dropped the connection.
                        listener = await self._listen(listener)
                    published = await self.publish_pending()
                    if time.monotonic() - erased_at > ERASE_INTERVAL_S:
                        await self.eraser.erase_due()
                        erased_at = time.monotonic()
                    if time.monotonic() - purged_at > PURGE_INTERVAL_S:
                        await self._purge()
                        purged_at = time.monotonic()
                    backoff_s = RELAY_BACKOFF_FIRST_S
                except Exception as error:
                    # NATS or the database out of reach: the events wait in the outbox.
                    if not (isinstance(error, _NATS_ERRORS) or connection_lost(error)):
                        raise
                    self.metrics.outbox_publish_failures.labels(self.service).inc()
                    logger.warning("outbox relay could not publish, retrying: %r", error)
                    # While JetStream is away the backlog grows: that is when alerts need it.
                    await self._observe_backlog()
                    await _wait(stop, backoff_s)
                    backoff_s = min(backoff_s * 2, RELAY_BACKOFF_MAX_S)
                    continue
                if published == RELAY_BATCH_SIZE_MAX:
                    continue
                self._wake.clear()
                waits = [
                    asyncio.ensure_future(self._wake.wait()),
                    asyncio.ensure_future(stop.wait()),
                ]
                await asyncio.wait(
                    waits, timeout=RELAY_POLL_INTERVAL_S, return_when=asyncio.FIRST_COMPLETED
                )
                for waiting in waits:
                    waiting.cancel()
        finally:
            if listener is not None:
                await self._unlisten(listener)

    async def _listen(self, previous: asyncpg.Connection | None) -> asyncpg.Connection:
        """A connection that LISTENs for the wake-ups of commits with events."""
        if previous is not None:
            await self._unlisten(previous)
        listener = await self.pool.acquire()
        self._listener_lost = False
        try:
            listener.add_termination_listener(self._on_listener_lost)
            await listener.add_listener(notify_channel(self.schema), self._on_notify)
        except BaseException:
            await self.pool.release(listener)
            raise
        return listener

    async def _unlisten(self, listener: asyncpg.Connection) -> None:
        # The connection may be gone with the database; the pool replaces it.
        with contextlib.suppress(Exception):
            await listener.remove_listener(notify_channel(self.schema), self._on_notify)
        with contextlib.suppress(Exception):
            await self.pool.release(listener)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    def _on_listener_lost(self, *_: object) -> None:
        self._listener_lost = True
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of pending events in order; returns how many were published.

        Up to RELAY_PUBLISHES_IN_FLIGHT publishes are sent before their acks are awaited, in the
        outbox's order on one connection, so the stream stores them in that order. If a publish
        fails (say the stream is electing a new leader), the events before it are still marked
        published and the error is raised: the retry starts at the first event not marked, with
        the same Nats-Msg-Id, and the stream drops those of its later events it had stored
        already (only then can two events be stored out of order, which consumers allow for:
        a redelivery reorders them too).
        """
        failure: Exception | None = None
        async with self.pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval(
                "SELECT pg_try_advisory_xact_lock($1)", self._lock_key
            ):
                return 0
            rows = await connection.fetch(
                "SELECT seq, event_id, subject, payload, personal_program_id, personal_member_id "
                "FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1",
                RELAY_BATCH_SIZE_MAX,
            )
            published = 0
            personal: list[PersonalPublish] = []
            for start in range(0, len(rows), RELAY_PUBLISHES_IN_FLIGHT):
                outcomes = await asyncio.gather(
                    *(
                        self.jetstream.publish(
                            row["subject"], row["payload"], msg_id=str(row["event_id"])
                        )
                        for row in rows[start : start + RELAY_PUBLISHES_IN_FLIGHT]
                    ),
                    return_exceptions=True,
                )
                for outcome in outcomes:
                    if isinstance(outcome, _NATS_ERRORS):
                        failure = outcome
                        break
                    if isinstance(outcome, BaseException):
                        raise outcome
                    if (stored := personal_publish(rows[published], outcome)) is not None:
                        personal.append(stored)
                    published += 1
                if failure is not None:
                    break
            if published:
                await connection.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                    [row["seq"] for row in rows[:published]],
                )
                # After the UPDATE: it waited for an erasure blanking these rows, if one was.
                await record_personal_publishes(connection, personal)
            # After the UPDATE above, in the same transaction: what is still waiting.
            backlog = await connection.fetchrow(_BACKLOG_SQL)
        self.metrics.outbox_published.labels(self.service).inc(published)
        self._set_backlog(backlog)
        if failure is not None:
            raise failure
        return published

    def _set_backlog(self, backlog: asyncpg.Record) -> None:
        self.metrics.outbox_backlog.labels(self.service).set(backlog["events"])
        self.metrics.outbox_oldest_pending_age.labels(self.service).set(backlog["age_s"])

    async def _observe_backlog(self) -> None:
        try:
            self._set_backlog(await self.pool.fetchrow(_BACKLOG_SQL))
        except (OSError, asyncpg.PostgresError) as error:
            logger.warning("outbox backlog unknown: %r", error)

    async def flush(self, *, timeout_s: float) -> bool:
        """Publish everything pending (at shutdown); False if the deadline passed first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if await self.publish_pending() == 0 and await self._backlog() == 0:
                    return True
            except Exception as error:
                if not (isinstance(error, _NATS_ERRORS) or connection_lost(error)):
                    raise
                logger.warning("outbox flush could not publish: %r", error)
                await asyncio.sleep(0.1)
        return False

    async def _backlog(self) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

    async def _purge(self) -> None:
        await self.pool.execute(
            f"DELETE FROM outbox WHERE published_at < now() - interval '{PUBLISHED_RETENTION}'"
        )
        await prune_personal_messages(self.pool)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
