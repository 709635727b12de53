"""The transactional outbox and its relay to JetStream.

`enqueue` writes an event on the caller's connection, inside the caller's transaction, so the
state change and its announcement commit or vanish together. The relay publishes pending rows in
order with the event id as `Nats-Msg-Id` and marks them published. If it dies between publishing
and marking, the next run publishes again; JetStream's duplicate window and the consumers'
de-duplication by event id make that harmless.
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

from services.shared.jetstream import JetStream
from services.shared.logs import request_id_var
from services.shared.metrics import Metrics

if TYPE_CHECKING:
    from loyalty.events.v1 import events_pb2

logger = logging.getLogger(__name__)

RELAY_BATCH_SIZE_MAX = 500
RELAY_POLL_INTERVAL_S = 1.0
RELAY_BACKOFF_MAX_S = 2.0
# Published rows are kept a while for audit and debugging, then purged.
PUBLISHED_RETENTION = "1 day"
PURGE_INTERVAL_S = 600.0

_NATS_ERRORS = (nats.errors.Error, nats.js.errors.Error, asyncio.TimeoutError, OSError)


def notify_channel(schema: str) -> str:
    return f"{schema}_outbox"


class Outbox:
    def __init__(self, *, schema: str, producer: str, jetstream_namespace: str) -> None:
        self.schema = schema
        self.producer = producer
        self.namespace = jetstream_namespace

    async def enqueue(
        self, connection: asyncpg.Connection, subject: str, event: "events_pb2.Event"
    ) -> str:
        """Write `event` for publishing on `<namespace>.<subject>`; returns its event id."""
        if not event.event_id:
            event.event_id = str(uuid.uuid4())
        if not event.HasField("occurred_at"):
            event.occurred_at.CopyFrom(_now())
        event.producer = self.producer
        if not event.request_id:
            event.request_id = request_id_var.get()
        # One round trip: the row, and the wake-up the relay gets when the transaction commits.
        await connection.execute(
            "WITH event AS (INSERT INTO outbox (event_id, subject, payload) VALUES ($1, $2, $3)) "
            "SELECT pg_notify($4, '')",
            uuid.UUID(event.event_id),
            f"{self.namespace}.{subject}",
            event.SerializeToString(),
            notify_channel(self.schema),
        )
        return event.event_id


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
        self._wake = asyncio.Event()
        self._lock_key = zlib.crc32(f"loyalty.outbox.{schema}".encode()) - 2**31

    async def run(self, stop: asyncio.Event) -> None:
        listener = await self.pool.acquire()
        channel = notify_channel(self.schema)
        await listener.add_listener(channel, self._on_notify)
        backoff_s = 0.05
        purged_at = 0.0
        try:
            while not stop.is_set():
                try:
                    published = await self.publish_pending()
                    backoff_s = 0.05
                except _NATS_ERRORS as error:
                    self.metrics.outbox_publish_failures.labels(self.service).inc()
                    logger.warning("outbox relay could not publish, retrying: %r", error)
                    await _wait(stop, backoff_s)
                    backoff_s = min(backoff_s * 2, RELAY_BACKOFF_MAX_S)
                    continue
                if time.monotonic() - purged_at > PURGE_INTERVAL_S:
                    await self._purge()
                    purged_at = time.monotonic()
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
            with contextlib.suppress(Exception):
                await listener.remove_listener(channel, self._on_notify)
            await self.pool.release(listener)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of pending events in order; returns how many were published."""
        async with self.pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval(
                "SELECT pg_try_advisory_xact_lock($1)", self._lock_key
            ):
                return 0
            rows = await connection.fetch(
                "SELECT seq, event_id, subject, payload FROM outbox WHERE published_at IS NULL "
                "ORDER BY seq LIMIT $1",
                RELAY_BATCH_SIZE_MAX,
            )
            for row in rows:
                await self.jetstream.publish(
                    row["subject"], row["payload"], msg_id=str(row["event_id"])
                )
            if rows:
                await connection.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                    [row["seq"] for row in rows],
                )
            backlog = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
        self.metrics.outbox_published.labels(self.service).inc(len(rows))
        self.metrics.outbox_backlog.labels(self.service).set(backlog - len(rows))
        return len(rows)

    async def flush(self, *, timeout_s: float) -> bool:
        """Publish everything pending (at shutdown); False if the deadline passed first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if await self.publish_pending() == 0 and await self._backlog() == 0:
                    return True
            except _NATS_ERRORS as error:
                logger.warning("outbox flush could not publish: %r", error)
                await asyncio.sleep(0.1)
        return False

    async def _backlog(self) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")

    async def _purge(self) -> None:
        await self.pool.execute(
            f"DELETE FROM outbox WHERE published_at < now() - interval '{PUBLISHED_RETENTION}'"
        )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
