"""The outbox relay: events from a service's outbox table to JetStream, events/s.

`ops.outbox_relay` drains EVENTS events written to an outbox through OutboxRelay.publish_pending
(read, publish with Nats-Msg-Id, await the acks, mark published), the way a service's relay
does; its baseline, `baseline.jetstream_publish`, publishes the same payloads straight to the
same stream with the same client and as many publishes in flight, with no database. The ratio is
what the outbox costs over JetStream itself.
"""

import asyncio
import secrets
import statistics
import time

import asyncpg

from bench.harness import Figure, Reporter
from bench.infra import fresh_database, servers
from loyalty.events.v1 import events_pb2
from services.shared.database import create_pool
from services.shared.jetstream import JetStream, StreamSpec
from services.shared.metrics import Metrics
from services.shared.outbox import RELAY_PUBLISHES_IN_FLIGHT, Outbox, OutboxRelay
from services.shared.server import apply_plumbing_migrations

EVENTS = 20_000
REPEATS = 3
SCHEMA = "relayed"


def run(reporter: Reporter) -> None:
    if reporter.wants("ops.outbox_relay", "baseline.jetstream_publish"):
        asyncio.run(_relay(reporter))


async def _relay(reporter: Reporter) -> None:
    with servers() as (server_url, nats_url):
        async with fresh_database(server_url) as database_url:
            pool = await create_pool(database_url, schema=SCHEMA, size_max=4)
            jetstream = await JetStream.connect(
                nats_url, namespace=f"bench_{secrets.token_hex(3)}", client_name="bench-relay"
            )
            stream = jetstream.namespace.stream(SCHEMA)
            try:
                async with pool.acquire() as connection:
                    await apply_plumbing_migrations(connection, SCHEMA)
                await jetstream.declare_stream(StreamSpec(name=SCHEMA))
                await _measure(reporter, pool, jetstream)
            finally:
                await jetstream.context.delete_stream(stream)
                await jetstream.close()
                await pool.close()


async def _measure(reporter: Reporter, pool: asyncpg.Pool, jetstream: JetStream) -> None:
    outbox = Outbox(schema=SCHEMA, producer="bench", jetstream_namespace=jetstream.namespace.name)
    relay = OutboxRelay(
        pool=pool, jetstream=jetstream, schema=SCHEMA, metrics=Metrics.create(), service="bench"
    )
    subject = f"{SCHEMA}.points_posted"

    def events() -> list[events_pb2.Event]:
        return [
            events_pb2.Event(
                program_id="bench",
                points_posted=events_pb2.PointsPosted(batch_id=f"b{i}", item_count=1),
            )
            for i in range(EVENTS)
        ]

    async def relayed() -> float:
        async with pool.acquire() as connection, connection.transaction():
            await outbox.enqueue_many(connection, subject, events())
        started = time.perf_counter()
        published = 0
        while published < EVENTS:
            published += await relay.publish_pending()
        return EVENTS / (time.perf_counter() - started)

    async def direct() -> float:
        payloads = [event.SerializeToString() for event in events()]
        full_subject = jetstream.namespace.subject(subject)
        started = time.perf_counter()
        for start in range(0, EVENTS, RELAY_PUBLISHES_IN_FLIGHT):
            await asyncio.gather(
                *(
                    jetstream.publish(full_subject, payload, msg_id=secrets.token_hex(8))
                    for payload in payloads[start : start + RELAY_PUBLISHES_IN_FLIGHT]
                )
            )
        return EVENTS / (time.perf_counter() - started)

    reporter.progress("ops.outbox_relay: warm-up")
    await relayed()
    relay_rates, direct_rates = [], []
    for repeat in range(REPEATS):
        # Alternating, so both see the machine as it is at the time.
        relay_rates.append(await relayed())
        direct_rates.append(await direct())
        reporter.progress(
            f"ops.outbox_relay: run {repeat + 1}: {relay_rates[-1]:,.0f} events/s vs "
            f"JetStream publish {direct_rates[-1]:,.0f}/s"
        )
    params = {"events": EVENTS, "publishes_in_flight": RELAY_PUBLISHES_IN_FLIGHT}
    baseline = Figure(
        "baseline.jetstream_publish", statistics.median(direct_rates), "events/s", params
    )
    reporter.emit(baseline)
    reporter.emit(
        Figure("ops.outbox_relay", statistics.median(relay_rates), "events/s", params),
        baseline=baseline,
    )
