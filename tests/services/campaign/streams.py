"""JetStream from a test's side: publish as a channel would, wait for a durable consumer to catch
up, read what a service published."""

import asyncio
import uuid

import nats

from loyalty.events.v1 import events_pb2
from tests.support.streams import consumed, published

__all__ = ["campaign_events", "consumed", "eventually", "publish"]


async def publish(servers, namespace: str, subject: str, event: events_pb2.Event) -> None:  # type: ignore[no-untyped-def]
    client = await nats.connect(servers.nats_url)
    try:
        # A message id of its own each time: JetStream keeps every copy, so each is delivered.
        await client.jetstream().publish(
            f"{namespace}.{subject}",
            event.SerializeToString(),
            headers={"Nats-Msg-Id": uuid.uuid4().hex},
        )
    finally:
        await client.close()


async def campaign_events(servers, namespace: str, subject: str) -> list[events_pb2.Event]:  # type: ignore[no-untyped-def]
    """Every event published so far on campaign.<subject>."""
    return await published(servers, namespace, subject)


async def eventually(check, *, timeout_s: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.1)
