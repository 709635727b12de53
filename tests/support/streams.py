"""JetStream from a test's side: wait for a service's durable consumer to catch up, read what a
service published."""

import asyncio

import nats
import nats.js.errors

from loyalty.events.v1 import events_pb2


async def consumed(  # type: ignore[no-untyped-def]
    servers,
    namespace: str,
    stream: str,
    durable: str,
    *,
    delivered_at_least: int = 0,
    timeout_s: float = 30.0,
) -> None:
    """Wait until the durable consumer of `stream` (a service's: "ledger", "identity", ...) has
    handled (acked) everything in it, and has been delivered at least `delivered_at_least`
    messages (for a message a service's outbox relay may not have published yet). A consumer
    its service has not created yet counts as behind."""
    client = await nats.connect(servers.nats_url)
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                info = await client.jetstream().consumer_info(
                    f"{namespace}_{stream}".upper(), durable
                )
            except nats.js.errors.NotFoundError:
                info = None
            if (
                info is not None
                and info.num_pending == 0
                and info.num_ack_pending == 0
                and info.delivered.stream_seq >= delivered_at_least
            ):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{durable} did not catch up with {stream}")
    finally:
        await client.close()


async def published(servers, namespace: str, subject: str) -> list[events_pb2.Event]:  # type: ignore[no-untyped-def]
    """Every event published so far on `subject` ("ledger.points_posted", "rewards.code_used",
    ...), in order, from the stream of the service the subject starts with. Counted first, so a
    subject with nothing on it answers at once instead of waiting out a fetch."""
    stream = f"{namespace}_{subject.split('.')[0]}".upper()
    client = await nats.connect(servers.nats_url)
    try:
        info = await client.jetstream().stream_info(
            stream, subjects_filter=f"{namespace}.{subject}"
        )
        count = (info.state.subjects or {}).get(f"{namespace}.{subject}", 0)
        if not count:
            return []
        subscription = await client.jetstream().pull_subscribe(
            f"{namespace}.{subject}", stream=stream
        )
        messages = await subscription.fetch(count, timeout=5)
        return [events_pb2.Event.FromString(m.data) for m in messages]
    finally:
        await client.close()
