import asyncio
import contextlib

import pytest
from nats.aio.msg import Msg

from services.shared.errors import Unavailable
from services.shared.jetstream import (
    DEAD_LETTER_STREAM,
    HEADER_MSG_ID,
    ConsumerSpec,
    JetStream,
    PullConsumer,
    StreamSpec,
)
from tests.conftest import Servers


@pytest.fixture
async def jetstream(servers: Servers, nats_namespace: str):
    connection = await JetStream.connect(
        servers.nats_url, namespace=nats_namespace, client_name="test"
    )
    await connection.declare_stream(StreamSpec(name="ledger"))
    await connection.declare_stream(DEAD_LETTER_STREAM)
    yield connection
    await connection.close()


async def test_declarations_are_idempotent(jetstream: JetStream) -> None:
    await jetstream.declare_stream(StreamSpec(name="ledger"))
    await jetstream.declare_stream(StreamSpec(name="ledger", duplicate_window_s=60))
    spec = ConsumerSpec(
        stream="ledger", durable="rewards", filter_subjects=("ledger.tier_changed",)
    )
    await jetstream.declare_consumer(spec)
    await jetstream.declare_consumer(spec)
    info = await jetstream.context.stream_info(jetstream.namespace.stream("ledger"))
    assert info.config.duplicate_window == 60


async def test_the_same_message_id_is_stored_once(jetstream: JetStream) -> None:
    subject = jetstream.namespace.subject("ledger.points_posted")
    first = await jetstream.publish(subject, b"a", msg_id="event-1")
    again = await jetstream.publish(subject, b"a", msg_id="event-1")
    other = await jetstream.publish(subject, b"b", msg_id="event-2")
    assert (first.duplicate, again.duplicate, other.duplicate) == (None, True, None)
    info = await jetstream.context.stream_info(jetstream.namespace.stream("ledger"))
    assert info.state.messages == 2


async def test_a_publish_the_leader_never_answered_is_sent_again(
    jetstream: JetStream, caplog: pytest.LogCaptureFixture
) -> None:
    """A stream leader that dies holding a publish never answers it: the publish is sent again
    within its timeout, with the same msg_id, rather than waiting the whole timeout for a reply
    that cannot come. Here a plain subscriber plays a leader that swallows the first attempt."""
    subject = jetstream.namespace.subject("elsewhere.points_posted")
    attempts: list[str] = []

    async def leader(message: Msg) -> None:
        attempts.append((message.headers or {})[HEADER_MSG_ID])
        if len(attempts) > 1:
            await message.respond(b'{"stream": "ELSEWHERE", "seq": 7}')

    subscription = await jetstream.client.subscribe(subject, cb=leader)
    try:
        with caplog.at_level("INFO", logger="services.shared.jetstream"):
            acknowledged = await jetstream.publish(subject, b"lost", msg_id="lost")
    finally:
        await subscription.unsubscribe()
    assert (acknowledged.stream, acknowledged.seq) == ("ELSEWHERE", 7)
    assert attempts == ["lost", "lost"]
    assert "publish of lost acknowledged after 1 retries" in caplog.text


async def run_until(consumer: PullConsumer, done: asyncio.Event, *, timeout_s: float = 20) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await asyncio.wait_for(done.wait(), timeout_s)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 5)


async def test_pulls_bounded_batches_and_acks_each_message(jetstream: JetStream) -> None:
    subject = jetstream.namespace.subject("ledger.points_posted")
    for index in range(25):
        await jetstream.publish(subject, str(index).encode(), msg_id=f"m{index}")
    seen: list[int] = []
    done = asyncio.Event()

    async def handle(message) -> None:
        seen.append(int(message.data))
        if len(seen) == 25:
            done.set()

    spec = ConsumerSpec(
        stream="ledger", durable="batches", filter_subjects=("ledger.>",), batch_size_max=10
    )
    await run_until(PullConsumer(jetstream, spec, handle), done)
    assert seen == list(range(25))
    info = await jetstream.context.consumer_info(jetstream.namespace.stream("ledger"), "batches")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_a_message_that_keeps_failing_goes_to_the_dead_letter_subject(
    jetstream: JetStream,
) -> None:
    subject = jetstream.namespace.subject("ledger.points_posted")
    await jetstream.publish(subject, b"poison", msg_id="poison")
    await jetstream.publish(subject, b"fine", msg_id="fine")
    attempts: dict[bytes, int] = {}
    handled: list[bytes] = []
    dead_lettered = asyncio.Event()

    async def handle(message) -> None:
        attempts[message.data] = attempts.get(message.data, 0) + 1
        if message.data == b"poison":
            if attempts[b"poison"] == 3:
                dead_lettered.set()
            raise ValueError("cannot handle this")
        handled.append(message.data)

    spec = ConsumerSpec(
        stream="ledger", durable="poisoned", filter_subjects=("ledger.>",), deliveries_max=3
    )
    await run_until(PullConsumer(jetstream, spec, handle), dead_lettered)
    await asyncio.sleep(0.3)
    assert handled == [b"fine"]
    assert attempts[b"poison"] == 3
    dead_letters = await jetstream.context.pull_subscribe(
        jetstream.namespace.subject("dead_letter.>"),
        stream=jetstream.namespace.stream("dead_letter"),
    )
    [message] = await dead_letters.fetch(1, timeout=5)
    assert message.data == b"poison"
    assert message.headers["Loyalty-Original-Subject"] == subject
    assert "cannot handle this" in message.headers["Loyalty-Error"]


async def test_an_idle_consumer_keeps_pulling_without_failing(jetstream: JetStream) -> None:
    handled = asyncio.Event()

    async def handle(message) -> None:
        handled.set()

    spec = ConsumerSpec(
        stream="ledger", durable="idle", filter_subjects=("ledger.>",), batch_size_max=50
    )
    stop = asyncio.Event()
    task = asyncio.create_task(PullConsumer(jetstream, spec, handle).run(stop))
    await asyncio.sleep(2.5)  # several empty pulls
    assert not task.done()
    await jetstream.publish(jetstream.namespace.subject("ledger.late"), b"late", msg_id="late")
    await asyncio.wait_for(handled.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_a_dependency_outage_longer_than_the_delivery_limit_loses_no_message(
    jetstream: JetStream,
) -> None:
    """The database restarting or the ledger down for longer than `deliveries_max` tries: the
    message waits for it and is handled once it is back, never dead-lettered."""
    subject = jetstream.namespace.subject("ledger.points_posted")
    await jetstream.publish(subject, b"first", msg_id="first")
    await jetstream.publish(subject, b"second", msg_id="second")
    outage = [
        ConnectionRefusedError(111, "Connect call failed"),
        Unavailable("the ledger is unavailable"),
        ConnectionRefusedError(111, "Connect call failed"),
        Unavailable("the ledger is unavailable"),
    ]
    attempts: list[bytes] = []
    handled: list[bytes] = []
    done = asyncio.Event()

    async def handle(message) -> None:
        attempts.append(message.data)
        if outage:
            raise outage.pop(0)
        handled.append(message.data)
        if len(handled) == 2:
            done.set()

    spec = ConsumerSpec(
        stream="ledger", durable="outage", filter_subjects=("ledger.>",), deliveries_max=2
    )
    await run_until(PullConsumer(jetstream, spec, handle), done)
    assert handled == [b"first", b"second"]
    assert attempts == [b"first"] * 5 + [b"second"]
    info = await jetstream.context.consumer_info(jetstream.namespace.stream("ledger"), "outage")
    assert info.num_ack_pending == 0 and info.num_pending == 0 and info.num_redelivered == 0
    dead_letters = await jetstream.context.stream_info(jetstream.namespace.stream("dead_letter"))
    assert dead_letters.state.messages == 0
