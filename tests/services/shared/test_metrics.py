"""The metrics the alert rules stand on: outbox backlog and age, consumer outcomes and lag."""

import asyncio
import contextlib
import time
from collections.abc import Callable

from loyalty.events.v1 import events_pb2
from services.shared.database import create_pool
from services.shared.jetstream import ConsumerSpec, JetStream, PullConsumer, StreamSpec
from services.shared.metrics import Metrics
from services.shared.outbox import Outbox, OutboxRelay
from services.shared.server import apply_plumbing_migrations
from tests.conftest import Servers

SCHEMA = "metered"


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def eventually(condition: Callable[[], bool], *, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_outbox_backlog_grows_while_jetstream_refuses_and_drains_to_zero(
    servers: Servers, database_url: str, nats_namespace: str
) -> None:
    pool = await create_pool(database_url, schema=SCHEMA, size_max=4)
    jetstream = await JetStream.connect(
        servers.nats_url, namespace=nats_namespace, client_name="test", publish_timeout_s=0.5
    )
    metrics = Metrics.create()
    stop = asyncio.Event()
    try:
        async with pool.acquire() as connection:
            await apply_plumbing_migrations(connection, SCHEMA)
            outbox = Outbox(schema=SCHEMA, producer=SCHEMA, jetstream_namespace=nats_namespace)
            for index in range(3):
                await outbox.enqueue(
                    connection, f"{SCHEMA}.happened", events_pb2.Event(program_id=f"p{index}")
                )
        relay = OutboxRelay(
            pool=pool, jetstream=jetstream, schema=SCHEMA, metrics=metrics, service=SCHEMA
        )
        # Exported at zero from the start, so increase() sees the first failure.
        assert sample(metrics, "loyalty_outbox_publish_failures_total", service=SCHEMA) == 0
        task = asyncio.create_task(relay.run(stop))
        # No stream holds the subject yet: every publish is refused and the events wait.
        await eventually(
            lambda: sample(metrics, "loyalty_outbox_backlog_events", service=SCHEMA) == 3
        )
        assert sample(metrics, "loyalty_outbox_publish_failures_total", service=SCHEMA)
        # Each failed round refreshes the age of the oldest waiting event.
        await eventually(
            lambda: (
                (sample(metrics, "loyalty_outbox_oldest_pending_age_seconds", service=SCHEMA) or 0)
                > 0.5
            )
        )

        await jetstream.declare_stream(StreamSpec(name=SCHEMA))
        await eventually(
            lambda: sample(metrics, "loyalty_outbox_published_events_total", service=SCHEMA) == 3
        )
        # Never below zero: the backlog counted after marking is what is really left.
        assert sample(metrics, "loyalty_outbox_backlog_events", service=SCHEMA) == 0
        assert sample(metrics, "loyalty_outbox_oldest_pending_age_seconds", service=SCHEMA) == 0
        stop.set()
        await asyncio.wait_for(task, 10)
    finally:
        stop.set()
        await jetstream.close()
        await pool.close()


async def test_consumers_count_outcomes_and_report_their_lag(
    servers: Servers, nats_namespace: str
) -> None:
    metrics = Metrics.create()
    jetstream = await JetStream.connect(
        servers.nats_url,
        namespace=nats_namespace,
        client_name="test",
        metrics=metrics,
        service="svc",
    )
    await jetstream.declare_stream(StreamSpec(name="ledger"))
    subject = jetstream.namespace.subject("ledger.points_posted")
    for index in range(25):
        await jetstream.publish(subject, str(index).encode(), msg_id=f"m{index}")
    lag_seen_in_second_batch: list[float | None] = []
    handled: list[int] = []
    done = asyncio.Event()

    async def handle(message) -> None:
        value = int(message.data)
        if value == 3 and handled.count(3) == 0:
            handled.append(value)
            raise ValueError("the first delivery of 3 fails")
        handled.append(value)
        if value == 10:
            lag_seen_in_second_batch.append(
                sample(metrics, "loyalty_consumer_pending_messages", service="svc", consumer="lag")
            )
        if len(set(handled)) == 25:
            done.set()

    spec = ConsumerSpec(
        stream="ledger", durable="lag", filter_subjects=("ledger.>",), batch_size_max=10
    )
    stop = asyncio.Event()
    task = asyncio.create_task(PullConsumer(jetstream, spec, handle).run(stop))
    try:
        await asyncio.wait_for(done.wait(), 20)
        # After the first batch of 10, 15 were still waiting in the stream.
        assert lag_seen_in_second_batch == [15]
        await eventually(
            lambda: (
                sample(metrics, "loyalty_consumer_pending_messages", service="svc", consumer="lag")
                == 0
            )
        )

        def outcomes() -> dict[str, float | None]:
            return {
                outcome: sample(
                    metrics,
                    "loyalty_consumer_messages_total",
                    service="svc",
                    consumer="lag",
                    outcome=outcome,
                )
                for outcome in ("acked", "retried", "dead_lettered")
            }

        # The last message is acked just after its handler returns.
        await eventually(lambda: outcomes()["acked"] == 25)
        # dead_lettered is exported at zero, so the first dead letter is seen by the alert.
        assert outcomes() == {"acked": 25, "retried": 1, "dead_lettered": 0}
    finally:
        stop.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 5)
        await jetstream.close()
