"""The outbox relay across a database outage: it waits, then publishes what was written."""

import asyncio
import contextlib
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import nats
import nats.js.errors
import pytest

from loyalty.events.v1 import events_pb2
from services.shared.database import create_pool
from services.shared.jetstream import JetStream, StreamSpec
from services.shared.metrics import Metrics
from services.shared.outbox import RELAY_POLL_INTERVAL_S, Outbox, OutboxRelay
from services.shared.server import apply_plumbing_migrations
from tests.conftest import Servers
from tests.support.tcp_proxy import TcpProxy

SCHEMA = "relayed"


@pytest.fixture
async def proxy(database_url: str):
    parts = urlsplit(database_url)
    tcp_proxy = TcpProxy(target_host=parts.hostname or "127.0.0.1", target_port=parts.port or 5432)
    await tcp_proxy.start()
    yield tcp_proxy
    await tcp_proxy.cut()


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}"))


async def stored_messages(client: nats.NATS, stream: str) -> int:
    return (await client.jetstream().stream_info(stream)).state.messages


async def eventually_stored(client: nats.NATS, stream: str, count: int) -> None:
    deadline = asyncio.get_running_loop().time() + 15
    while await stored_messages(client, stream) < count:
        assert asyncio.get_running_loop().time() < deadline, "events were not published"
        await asyncio.sleep(0.05)


async def relayed_outbox(pool: asyncpg.Pool, jetstream: JetStream) -> tuple[Outbox, OutboxRelay]:
    """The outbox of SCHEMA, migrated, and its relay to a stream of its own."""
    async with pool.acquire() as connection:
        await apply_plumbing_migrations(connection, SCHEMA)
    await jetstream.declare_stream(StreamSpec(name=SCHEMA))
    outbox = Outbox(schema=SCHEMA, producer="test", jetstream_namespace=jetstream.namespace.name)
    relay = OutboxRelay(
        pool=pool, jetstream=jetstream, schema=SCHEMA, metrics=Metrics.create(), service="t"
    )
    return outbox, relay


async def test_the_relay_rides_out_a_database_outage(
    servers: Servers, database_url: str, nats_namespace: str, proxy: TcpProxy
) -> None:
    pool = await create_pool(through(database_url, proxy.port), schema=SCHEMA, size_max=4)
    jetstream = await JetStream.connect(
        servers.nats_url, namespace=nats_namespace, client_name="relay-test"
    )
    client = await nats.connect(servers.nats_url)
    stop = asyncio.Event()
    try:
        outbox, relay = await relayed_outbox(pool, jetstream)
        stream = jetstream.namespace.stream(SCHEMA)

        async def write(count: int) -> None:
            async with pool.acquire() as connection, connection.transaction():
                for _ in range(count):
                    await outbox.enqueue(
                        connection,
                        f"{SCHEMA}.program_created",
                        events_pb2.Event(program_id="p"),
                    )

        relaying = asyncio.create_task(relay.run(stop))
        await write(3)
        await eventually_stored(client, stream, 3)

        # The relay's next poll waits on a lock, so the outage catches it in mid-query.
        admin = await asyncpg.connect(database_url)
        try:
            locked = admin.transaction()
            await locked.start()
            await admin.execute(f"LOCK TABLE {SCHEMA}.outbox IN ACCESS EXCLUSIVE MODE")
            await asyncio.sleep(RELAY_POLL_INTERVAL_S + 0.3)
            # PostgreSQL goes away: every connection drops, new ones are refused.
            await proxy.cut()
            await locked.rollback()
        finally:
            await admin.close()
        await asyncio.sleep(1.0)
        assert not relaying.done(), relaying
        await proxy.restore()

        await write(2)
        await eventually_stored(client, stream, 5)
        assert not relaying.done()
        assert await stored_messages(client, stream) == 5
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(relaying, 5)
        await client.close()
        await jetstream.close()
        await pool.close()


async def test_a_publish_failing_amid_a_window_leaves_nothing_lost_or_doubled(
    servers: Servers, database_url: str, nats_namespace: str
) -> None:
    """The relay sends its publishes before awaiting their acks: an event no stream takes yet
    fails while the later ones are stored. The events before the failure are marked published;
    the retry sends the rest again, and the stream keeps each once."""
    pool = await create_pool(database_url, schema=SCHEMA, size_max=2)
    jetstream = await JetStream.connect(
        servers.nats_url,
        namespace=nats_namespace,
        client_name="relay-window-test",
        # The event no stream takes fails only when its ack times out; the others' acks must come
        # within it on a loaded machine too (0.6 s was missed once in CI).
        publish_timeout_s=2.0,
    )
    client = await nats.connect(servers.nats_url)
    try:
        outbox, relay = await relayed_outbox(pool, jetstream)
        subjects = [f"{SCHEMA}.earned"] * 3 + ["elsewhere.earned"] + [f"{SCHEMA}.earned"] * 3
        async with pool.acquire() as connection, connection.transaction():
            await outbox.enqueue_all(
                connection, [(subject, events_pb2.Event(program_id="p")) for subject in subjects]
            )

        with pytest.raises(nats.js.errors.NoStreamResponseError):
            await relay.publish_pending()
        async with pool.acquire() as connection:
            waiting = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
        assert waiting == 4  # the failed event and the three after it
        # Those three were in flight with it, and stored.
        assert await stored_messages(client, jetstream.namespace.stream(SCHEMA)) == 6

        await jetstream.declare_stream(StreamSpec(name="elsewhere"))
        assert await relay.publish_pending() == 4
        assert await stored_messages(client, jetstream.namespace.stream(SCHEMA)) == 6
        assert await stored_messages(client, jetstream.namespace.stream("elsewhere")) == 1
        assert await relay.publish_pending() == 0
    finally:
        await client.close()
        await jetstream.close()
        await pool.close()
