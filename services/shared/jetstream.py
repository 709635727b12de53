"""NATS JetStream: idempotent declarations, de-duplicated publishing, and pulled consumption.

Subjects and stream names carry a namespace (`loyalty` in production, a per-run name in tests) so
that several deployments or test runs can share one NATS server without seeing each other's data.

In a JetStream cluster the client is given every server (`nats://a:4222,nats://b:4222`) and fails
over between them; streams are replicated as the deployment says (`stream_replicas`). While a
stream elects a new leader a publish finds nobody to answer it, so a publish is retried with the
same Nats-Msg-Id until the stream acknowledges it: a copy the old leader had already stored is
recognised by the new one as a duplicate.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from google.protobuf.message import DecodeError
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from loyalty.events.v1 import events_pb2
from services.shared.database import connection_lost
from services.shared.errors import Unavailable
from services.shared.logs import request_id_var
from services.shared.metrics import Metrics

logger = logging.getLogger(__name__)

HEADER_MSG_ID = "Nats-Msg-Id"
PUBLISH_TIMEOUT_S = 5.0
FETCH_WAIT_S = 1.0
FETCH_WAIT_MIN_MS = 10
FETCH_WAIT_MAX_MS = 30_000
# Go's client waits 250 ms before retrying a publish nobody answered (a leader election).
PUBLISH_RETRY_WAIT_S = 0.25
# A publish the stream's leader received and then died with is never answered: past this wait an
# attempt is taken for lost and sent again (same msg_id, so stored once) to the new leader, instead
# of waiting out the whole publish timeout on a reply that cannot come.
PUBLISH_ATTEMPT_TIMEOUT_S = 2.0
# NATS replicates a stream on at most 5 servers.
STREAM_REPLICAS_MAX = 5
# What a publish may meet while a stream changes leader or the client changes server: nobody
# answering (503), the stream answering 503 while it catches up, no answer in time, a reconnect.
_PUBLISH_TRANSIENT_ERRORS = (
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    nats.errors.TimeoutError,
    asyncio.TimeoutError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
)
# A handler whose dependency is down (the database, another service) tries the same message again
# after these delays, doubling: the message is not at fault. Past the longest wait it counts as a
# failed delivery after all, so a message that always makes a dependency fail (a bug behind an
# UNAVAILABLE) still reaches the dead letters instead of blocking the consumer for good.
DEPENDENCY_RETRY_FIRST_S = 0.2
DEPENDENCY_RETRY_MAX_S = 5.0
DEPENDENCY_WAIT_MAX_S = 120.0
# How long a service's stream keeps its messages; the outbox keeps where it stored personal data
# as long (services/shared/outbox_erasure.py).
STREAM_MAX_AGE_S = 30 * 24 * 3600.0


@dataclass(frozen=True)
class StreamSpec:
    """A stream by its short name (`ledger`); it holds `<namespace>.<name>.>`."""

    name: str
    # Publishes with the same Nats-Msg-Id inside this window are stored once.
    duplicate_window_s: float = 600.0
    max_age_s: float = STREAM_MAX_AGE_S
    # None: as many as the deployment's `stream_replicas` (NATS_STREAM_REPLICAS).
    replicas: int | None = None


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    # Subjects relative to the namespace, e.g. ("ledger.tier_changed",).
    filter_subjects: tuple[str, ...]
    deliveries_max: int = 5
    ack_wait_s: float = 30.0
    batch_size_max: int = 100
    ack_pending_max: int = 1000


class Namespace:
    def __init__(self, name: str) -> None:
        if not name or not name.replace("_", "").isalnum():
            raise ValueError(f"a NATS namespace is letters, digits and '_', got {name!r}")
        self.name = name

    def subject(self, relative: str) -> str:
        return f"{self.name}.{relative}"

    def stream(self, short_name: str) -> str:
        return f"{self.name}_{short_name}".upper()

    def dead_letter_subject(self, consumer: ConsumerSpec) -> str:
        return self.subject(f"dead_letter.{consumer.stream}.{consumer.durable}")


# Every deployment declares the dead-letter stream, whichever service starts first.
DEAD_LETTER_STREAM = StreamSpec(name="dead_letter", max_age_s=90 * 24 * 3600.0)


def server_urls(url: str) -> list[str]:
    """The servers of a NATS URL list (`nats://a:4222,nats://b:4222`); nats-py wants a list."""
    urls = [part.strip() for part in url.split(",") if part.strip()]
    if not urls:
        raise ValueError(f"expected one or more comma-separated NATS URLs, got {url!r}")
    return urls


class JetStream:
    def __init__(
        self,
        client: Client,
        namespace: Namespace,
        *,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
        stream_replicas: int = 1,
        fetch_wait_s: float = FETCH_WAIT_S,
        metrics: Metrics | None = None,
        service: str = "",
    ) -> None:
        if not 1 <= stream_replicas <= STREAM_REPLICAS_MAX:
            raise ValueError(f"stream replicas must be 1 to {STREAM_REPLICAS_MAX}")
        self.client = client
        self.context: JetStreamContext = client.jetstream(timeout=publish_timeout_s)
        self.namespace = namespace
        self.publish_timeout_s = publish_timeout_s
        self.stream_replicas = stream_replicas
        self.fetch_wait_s = fetch_wait_s
        # Where the consumers of a service process report what they handle and their lag.
        self.metrics = metrics
        self.service = service

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        namespace: str,
        client_name: str,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
        stream_replicas: int = 1,
        fetch_wait_s: float = FETCH_WAIT_S,
        metrics: Metrics | None = None,
        service: str = "",
    ) -> "JetStream":
        """Connect to `url`, one server or a comma-separated list of a cluster's servers."""

        async def on_disconnected() -> None:
            if not client.is_draining and not client.is_closed:
                logger.warning("NATS disconnected; reconnecting")

        async def on_reconnected() -> None:
            logger.info("NATS reconnected")

        async def on_error(error: Exception) -> None:
            logger.warning("NATS error: %s", error)

        client = Client()
        await client.connect(
            server_urls(url),
            name=client_name,
            max_reconnect_attempts=-1,
            # Annotated int in nats-py, but it is a sleep in seconds; half a second recovers faster.
            reconnect_time_wait=0.5,  # type: ignore[arg-type]
            connect_timeout=5,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            error_cb=on_error,
        )
        return cls(
            client,
            Namespace(namespace),
            publish_timeout_s=publish_timeout_s,
            stream_replicas=stream_replicas,
            fetch_wait_s=fetch_wait_s,
            metrics=metrics,
            service=service,
        )

    async def declare_stream(self, spec: StreamSpec) -> None:
        config = api.StreamConfig(
            name=self.namespace.stream(spec.name),
            subjects=[self.namespace.subject(f"{spec.name}.>")],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=spec.duplicate_window_s,
            max_age=spec.max_age_s,
            num_replicas=spec.replicas or self.stream_replicas,
        )
        try:
            await self.context.add_stream(config)
        except nats.js.errors.BadRequestError:
            # It exists with other settings: bring it in line with the code.
            await self.context.update_stream(config)

    async def declare_consumer(self, spec: ConsumerSpec) -> None:
        config = api.ConsumerConfig(
            durable_name=spec.durable,
            name=spec.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=spec.ack_wait_s,
            max_deliver=spec.deliveries_max,
            max_ack_pending=spec.ack_pending_max,
            filter_subjects=[self.namespace.subject(s) for s in spec.filter_subjects],
        )
        await self.context.add_consumer(self.namespace.stream(spec.stream), config=config)

    async def publish(self, subject: str, payload: bytes, *, msg_id: str) -> api.PubAck:
        """Publish and wait for the stream's ack; the same msg_id twice is stored once.

        A failure a leader election or a reconnect explains is retried with the same msg_id until
        the stream acknowledges, for up to `publish_timeout_s` in all; then the last error is
        raised and the caller (the outbox relay) retries later, again with the same msg_id.
        """
        deadline = time.monotonic() + self.publish_timeout_s
        failures: list[str] = []
        while True:
            remaining_s = deadline - time.monotonic()
            try:
                acknowledged = await self.context.publish(
                    subject,
                    payload,
                    timeout=max(min(remaining_s, PUBLISH_ATTEMPT_TIMEOUT_S), PUBLISH_RETRY_WAIT_S),
                    headers={HEADER_MSG_ID: msg_id},
                )
            except _PUBLISH_TRANSIENT_ERRORS as error:
                if deadline - time.monotonic() <= PUBLISH_RETRY_WAIT_S:
                    raise
                failures.append(type(error).__name__)
                await asyncio.sleep(PUBLISH_RETRY_WAIT_S)
                continue
            if failures:
                logger.info(
                    "publish of %s acknowledged after %d retries (%s)",
                    msg_id,
                    len(failures),
                    ", ".join(sorted(set(failures))),
                )
            return acknowledged

    async def close(self) -> None:
        if not self.client.is_closed:
            await self.client.drain()


MessageHandler = Callable[[Msg], Awaitable[None]]


class PullConsumer:
    """Pulls bounded batches from a durable consumer at the service's pace, acking each message.

    A handler error makes the message come back later (nak with a growing delay); after
    `deliveries_max` failed deliveries it is copied to the dead-letter subject and terminated, so
    one poisoned message never blocks the rest. A dependency that is down (the database,
    another service answering UNAVAILABLE) is no fault of the message: the consumer waits and tries
    it again, keeping it in progress (up to DEPENDENCY_WAIT_MAX_S a delivery), so an outage never
    moves good messages to the dead letters.
    """

    def __init__(self, jetstream: JetStream, spec: ConsumerSpec, handler: MessageHandler) -> None:
        self.jetstream = jetstream
        self.spec = spec
        self.handler = handler

    async def run(self, stop: asyncio.Event) -> None:
        if self.jetstream.metrics is not None:
            self.jetstream.metrics.expect_consumer(self.jetstream.service, self.spec.durable)
        await self.jetstream.declare_consumer(self.spec)
        subscription = await self.jetstream.context.pull_subscribe_bind(
            durable=self.spec.durable, stream=self.jetstream.namespace.stream(self.spec.stream)
        )
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(
                        self.spec.batch_size_max, timeout=self.jetstream.fetch_wait_s
                    )
                except TimeoutError:
                    # nats-py raises its own TimeoutError or asyncio's, depending on the path;
                    # both are the builtin in Python 3.11. No message came: nothing is waiting.
                    self._observe_pending(0)
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                    return
                except nats.js.errors.ServiceUnavailableError:
                    # Nobody answered the pull request: the consumer is electing a leader (its
                    # old one died). Its state is replicated; ask again once one is elected.
                    logger.info("consumer %s has no leader at the moment", self.spec.durable)
                    await asyncio.sleep(0.5)
                    continue
                except nats.errors.Error as error:
                    logger.warning("fetch from %s failed: %s", self.spec.durable, error)
                    await asyncio.sleep(0.5)
                    continue
                for message in messages:
                    await self._handle(message, stop)
                if messages:
                    # The stream's messages this consumer has not been sent yet, after this batch.
                    self._observe_pending(messages[-1].metadata.num_pending)
        finally:
            await subscription.unsubscribe()

    async def _handle(self, message: Msg, stop: asyncio.Event) -> None:
        # Under the request id of the call that caused the event (the outbox stamps it): the
        # handler's log lines, its calls to other services and the events it writes in turn
        # name that request, so one request can be followed past JetStream.
        token = request_id_var.set(_request_id_of(message.data))
        try:
            await self._handle_delivery(message, stop)
        finally:
            request_id_var.reset(token)

    async def _handle_delivery(self, message: Msg, stop: asyncio.Event) -> None:
        delay_s = DEPENDENCY_RETRY_FIRST_S
        give_up_at = time.monotonic() + DEPENDENCY_WAIT_MAX_S
        while True:
            try:
                await self.handler(message)
            except Exception as error:
                if not dependency_down(error) or time.monotonic() > give_up_at:
                    await self._failed(message, error)
                    return
                if stop.is_set():
                    # Hand it back at once rather than after the ack wait.
                    with contextlib.suppress(nats.errors.Error):
                        await message.nak()
                    self._count("retried")
                    return
                logger.warning(
                    "message %s waits for a dependency (again in %.1fs): %r",
                    message.subject,
                    delay_s,
                    error,
                )
                with contextlib.suppress(nats.errors.Error):
                    await message.in_progress()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay_s)
                delay_s = min(delay_s * 2, DEPENDENCY_RETRY_MAX_S)
                continue
            await _settle(message.ack())
            self._count("acked")
            return

    async def _failed(self, message: Msg, error: Exception) -> None:
        """The message itself failed: again later, or to the dead letters after the last try."""
        delivered = message.metadata.num_delivered
        if delivered >= self.spec.deliveries_max:
            logger.error(
                "message %s failed %d times; moved to the dead-letter subject: %s",
                message.subject,
                delivered,
                error,
            )
            await self.jetstream.context.publish(
                self.jetstream.namespace.dead_letter_subject(self.spec),
                message.data,
                headers={
                    **(message.headers or {}),
                    "Loyalty-Original-Subject": message.subject,
                    "Loyalty-Error": str(error)[:500],
                },
            )
            await _settle(message.term())
            self._count("dead_lettered")
        else:
            logger.warning("message %s failed (delivery %d): %s", message.subject, delivered, error)
            await _settle(message.nak(delay=min(0.2 * 2**delivered, 30.0)))
            self._count("retried")

    def _count(self, outcome: str) -> None:
        metrics = self.jetstream.metrics
        if metrics is not None:
            metrics.consumer_messages.labels(
                self.jetstream.service, self.spec.durable, outcome
            ).inc()

    def _observe_pending(self, pending: int | None) -> None:
        metrics = self.jetstream.metrics
        if metrics is not None and pending is not None:
            metrics.consumer_pending.labels(self.jetstream.service, self.spec.durable).set(pending)


def _request_id_of(data: bytes) -> str:
    """The request id an event envelope carries; none for anything else."""
    try:
        return events_pb2.Event.FromString(data).request_id
    except DecodeError:
        return ""


async def _settle(reply: Awaitable[None]) -> None:
    """Send an ack, nak or term. If it cannot go (the client is reconnecting, or the consumer's
    leader just died), the message comes again after ack_wait: handlers are idempotent, so that
    costs a repeat and loses nothing, while stopping the consumer would stall every message."""
    try:
        await reply
    except (nats.errors.ConnectionReconnectingError, nats.errors.OutboundBufferLimitError) as error:
        logger.warning("could not settle a message, it will be redelivered: %r", error)


def dependency_down(error: BaseException) -> bool:
    """Whether a handler failed because a dependency is out of reach, not because of its message:
    a service answered UNAVAILABLE, or the database connection was lost."""
    return isinstance(error, Unavailable) or connection_lost(error)
