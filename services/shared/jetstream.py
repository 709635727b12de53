"""NATS JetStream: idempotent declarations, de-duplicated publishing, and pulled consumption.

Subjects and stream names carry a namespace (`loyalty` in production, a per-run name in tests) so
that several deployments or test runs can share one NATS server without seeing each other's data.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

logger = logging.getLogger(__name__)

HEADER_MSG_ID = "Nats-Msg-Id"
PUBLISH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class StreamSpec:
    """A stream by its short name (`ledger`); it holds `<namespace>.<name>.>`."""

    name: str
    # Publishes with the same Nats-Msg-Id inside this window are stored once.
    duplicate_window_s: float = 600.0
    max_age_s: float = 30 * 24 * 3600.0
    replicas: int = 1


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


class JetStream:
    def __init__(
        self, client: Client, namespace: Namespace, *, publish_timeout_s: float = PUBLISH_TIMEOUT_S
    ) -> None:
        self.client = client
        self.context: JetStreamContext = client.jetstream(timeout=publish_timeout_s)
        self.namespace = namespace

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        namespace: str,
        client_name: str,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
    ) -> "JetStream":
        async def on_disconnected() -> None:
            if not client.is_draining and not client.is_closed:
                logger.warning("NATS disconnected; reconnecting")

        async def on_reconnected() -> None:
            logger.info("NATS reconnected")

        async def on_error(error: Exception) -> None:
            logger.warning("NATS error: %s", error)

        client = Client()
        await client.connect(
            url,
            name=client_name,
            max_reconnect_attempts=-1,
            # Annotated int in nats-py, but it is a sleep in seconds; half a second recovers faster.
            reconnect_time_wait=0.5,  # type: ignore[arg-type]
            connect_timeout=5,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
            error_cb=on_error,
        )
        return cls(client, Namespace(namespace), publish_timeout_s=publish_timeout_s)

    async def declare_stream(self, spec: StreamSpec) -> None:
        config = api.StreamConfig(
            name=self.namespace.stream(spec.name),
            subjects=[self.namespace.subject(f"{spec.name}.>")],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=spec.duplicate_window_s,
            max_age=spec.max_age_s,
            num_replicas=spec.replicas,
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
        """Publish and wait for the stream's ack; the same msg_id twice is stored once."""
        return await self.context.publish(subject, payload, headers={HEADER_MSG_ID: msg_id})

    async def close(self) -> None:
        if not self.client.is_closed:
            await self.client.drain()


MessageHandler = Callable[[Msg], Awaitable[None]]


class PullConsumer:
    """Pulls bounded batches from a durable consumer at the service's pace, acking each message.

    A handler error makes the message come back later (nak with a growing delay); after
    `deliveries_max` failed deliveries it is copied to the dead-letter subject and terminated, so
    one poisoned message never blocks the rest.
    """

    def __init__(self, jetstream: JetStream, spec: ConsumerSpec, handler: MessageHandler) -> None:
        self.jetstream = jetstream
        self.spec = spec
        self.handler = handler

    async def run(self, stop: asyncio.Event) -> None:
        await self.jetstream.declare_consumer(self.spec)
        subscription = await self.jetstream.context.pull_subscribe_bind(
            durable=self.spec.durable, stream=self.jetstream.namespace.stream(self.spec.stream)
        )
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(self.spec.batch_size_max, timeout=1.0)
                except TimeoutError:
                    # nats-py raises its own TimeoutError or asyncio's, depending on the path;
                    # both are the builtin in Python 3.11. No message came: pull again.
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                    return
                except nats.errors.Error as error:
                    logger.warning("fetch from %s failed: %s", self.spec.durable, error)
                    await asyncio.sleep(0.5)
                    continue
                for message in messages:
                    await self._handle(message)
        finally:
            await subscription.unsubscribe()

    async def _handle(self, message: Msg) -> None:
        try:
            await self.handler(message)
        except Exception as error:
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
                await message.term()
            else:
                logger.warning(
                    "message %s failed (delivery %d): %s", message.subject, delivered, error
                )
                await message.nak(delay=min(0.2 * 2**delivered, 30.0))
            return
        await message.ack()
