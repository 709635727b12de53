"""A durable consumer handles each event under the request id the event carries (the call that
caused it, stamped by the outbox): its log lines, its calls to other services and the events it
writes in turn name that request, so one request can be followed past JetStream."""

import asyncio
import contextlib
import logging

import pytest

from loyalty.events.v1 import events_pb2
from services.shared.jetstream import (
    DEAD_LETTER_STREAM,
    ConsumerSpec,
    JetStream,
    PullConsumer,
    StreamSpec,
)
from services.shared.logs import request_id_var, stamp_request_ids
from tests.conftest import Servers


@pytest.fixture
async def jetstream(servers: Servers, nats_namespace: str):  # type: ignore[no-untyped-def]
    connection = await JetStream.connect(
        servers.nats_url, namespace=nats_namespace, client_name="test"
    )
    await connection.declare_stream(StreamSpec(name="ledger"))
    await connection.declare_stream(DEAD_LETTER_STREAM)
    yield connection
    await connection.close()


def event(event_id: str, request_id: str) -> bytes:
    return events_pb2.Event(event_id=event_id, request_id=request_id).SerializeToString()


async def test_each_event_is_handled_and_dead_lettered_under_its_request_id(
    jetstream: JetStream, caplog: pytest.LogCaptureFixture
) -> None:
    stamp_request_ids()
    subject = jetstream.namespace.subject("ledger.points_posted")
    await jetstream.publish(subject, event("e1", "req-41"), msg_id="e1")
    await jetstream.publish(subject, event("e2", "req-42"), msg_id="e2")
    await jetstream.publish(subject, event("e3", ""), msg_id="e3")
    await jetstream.publish(subject, b"not an event", msg_id="e4")
    seen: dict[bytes, str] = {}

    async def handle(message) -> None:  # type: ignore[no-untyped-def]
        seen[message.data] = request_id_var.get()
        if message.data == event("e2", "req-42"):
            raise ValueError("cannot handle this")

    spec = ConsumerSpec(
        stream="ledger", durable="traced", filter_subjects=("ledger.>",), deliveries_max=1
    )
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="services.shared.jetstream"):
        task = asyncio.create_task(PullConsumer(jetstream, spec, handle).run(stop))
        try:
            async with asyncio.timeout(20):
                # The dead letter's log line has nothing to wait on but a poll.
                while len(seen) < 4 or not any(  # noqa: ASYNC110
                    "dead-letter" in record.getMessage() for record in caplog.records
                ):
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task, 5)
    assert list(seen.values()) == ["req-41", "req-42", "", ""]
    [dead_letter] = [r for r in caplog.records if "dead-letter" in r.getMessage()]
    assert getattr(dead_letter, "request_id", None) == "req-42"
    # Nothing leaks to the code around the consumer.
    assert request_id_var.get() == ""
