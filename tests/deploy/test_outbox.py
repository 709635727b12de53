"""The outbox across a NATS outage: state commits on, every event arrives exactly once."""

import asyncio
import uuid

import grpc
import nats
import nats.errors
import pytest

from deploy.local.cluster import LocalCluster, free_endpoints
from loyalty.events.v1 import events_pb2
from tests.conftest import ARTIFACTS, Servers
from tests.support import calls
from tests.support.tcp_proxy import TcpProxy

PROGRAMS = 60


class DeduplicatingConsumer:
    """What every consumer does: apply an event's effect once per event id, however delivered."""

    def __init__(self) -> None:
        self.effects: dict[str, int] = {}
        self.program_ids: list[str] = []
        self.deliveries = 0

    def deliver(self, event: events_pb2.Event) -> None:
        self.deliveries += 1
        if event.event_id in self.effects:
            return
        self.effects[event.event_id] = 1
        self.program_ids.append(event.program_created.program_id)


@pytest.fixture
async def proxy(servers: Servers):
    host, port = servers.nats_url.removeprefix("nats://").rsplit(":", 1)
    tcp_proxy = TcpProxy(target_host=host, target_port=int(port))
    await tcp_proxy.start()
    yield tcp_proxy
    await tcp_proxy.cut()


async def test_events_written_while_nats_is_away_arrive_exactly_once(
    servers: Servers, database_url: str, nats_namespace: str, proxy: TcpProxy, request
) -> None:
    identity = LocalCluster(
        database_url=database_url,
        nats_url=f"nats://127.0.0.1:{proxy.port}",
        namespace=nats_namespace,
        endpoints=free_endpoints(),
        log_dir=ARTIFACTS / "logs" / f"{request.node.name}-{uuid.uuid4().hex[:6]}",
        # Shorter than the outage, so publishes time out and are retried, not merely buffered.
        extra_env={"IDENTITY_NATS_PUBLISH_TIMEOUT_MS": "300"},
    )
    await asyncio.to_thread(identity.start, "identity")
    client = await nats.connect(servers.nats_url)
    ids = [f"p{index:03d}" for index in range(PROGRAMS)]
    try:
        async with grpc.aio.insecure_channel(
            identity.endpoints["identity"].grpc_address
        ) as channel:
            await asyncio.gather(*(calls.create_program(channel, i) for i in ids[:20]))
            await proxy.cut()
            # State changes commit while the relay cannot reach NATS.
            await asyncio.gather(*(calls.create_program(channel, i) for i in ids[20:40]))
            await asyncio.sleep(2.0)
            await proxy.restore()
            await asyncio.gather(*(calls.create_program(channel, i) for i in ids[40:]))

        stream = f"{nats_namespace}_identity".upper()
        consumer = DeduplicatingConsumer()
        subscription = await client.jetstream().pull_subscribe(
            f"{nats_namespace}.identity.program_created", stream=stream
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(consumer.effects) < PROGRAMS and loop.time() < deadline:
            try:
                messages = await subscription.fetch(100, timeout=1)
            except nats.errors.TimeoutError:
                continue
            for message in messages:
                consumer.deliver(events_pb2.Event.FromString(message.data))
                await message.ack()

        assert sorted(consumer.program_ids) == ids
        assert set(consumer.effects.values()) == {1}
        # A publish repeated around the outage is stored once (Nats-Msg-Id = event id).
        info = await client.jetstream().stream_info(stream)
        assert info.state.messages == PROGRAMS
        assert consumer.deliveries == PROGRAMS
    finally:
        await client.close()
        await asyncio.to_thread(identity.stop)
    log = (identity.log_dir / "identity.log").read_text()
    assert "outbox relay could not publish" in log
