"""An erased member's personal data leaves the outbox and JetStream, on the real servers: rows
are blanked (an unsent one is still sent, without it), published messages are replaced by
copies without it (same event id) and deleted by sequence, also when the relay read a row just
before the erasure blanked it, and a deletion NATS refuses is tried again later."""

import asyncio

import asyncpg
import nats
import nats.js.errors
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.shared.database import create_pool
from services.shared.jetstream import DEAD_LETTER_STREAM, JetStream, StreamSpec
from services.shared.metrics import Metrics
from services.shared.outbox_erasure import ERASED_COPY_SUFFIX, StreamEraser, forget_member_events
from services.shared.personal_data import personal_member, without_personal_data
from tests.conftest import Servers
from tests.services.shared.test_outbox import SCHEMA, relayed_outbox

PROGRAM = "acme"
BIRTHDAY = common_pb2.LocalDate(year=1987, month=6, day=5)


def enrolment(member_id: str) -> events_pb2.Event:
    return events_pb2.Event(
        program_id=PROGRAM,
        member_enrolled=events_pb2.MemberEnrolled(
            member_id=member_id, entry_tier_code="member", birthday=BIRTHDAY, locale="nl-NL"
        ),
    )


def posting(member_id: str) -> events_pb2.Event:
    return events_pb2.Event(
        program_id=PROGRAM,
        points_posted=events_pb2.PointsPosted(batch_id="b1", member_ids=[member_id]),
    )


@pytest.fixture
async def relayed(servers: Servers, database_url: str, nats_namespace: str):  # type: ignore[no-untyped-def]
    pool = await create_pool(database_url, schema=SCHEMA, size_max=4)
    jetstream = await JetStream.connect(
        servers.nats_url, namespace=nats_namespace, client_name="erasure-test"
    )
    client = await nats.connect(servers.nats_url)
    try:
        outbox, relay = await relayed_outbox(pool, jetstream)
        yield pool, jetstream, client, outbox, relay
    finally:
        await client.close()
        await jetstream.close()
        await pool.close()


async def stream_events(client: nats.NATS, stream: str) -> dict[int, events_pb2.Event]:
    """Every message the stream holds, read directly by sequence."""
    manager = client.jetstream()
    state = (await manager.stream_info(stream)).state
    held = {}
    for seq in range(state.first_seq, state.last_seq + 1):
        try:
            message = await manager.get_msg(stream, seq)
        except nats.js.errors.NotFoundError:
            continue
        held[seq] = events_pb2.Event.FromString(message.data or b"")
    return held


def with_birthday(events: dict[int, events_pb2.Event]) -> list[str]:
    return [e.member_enrolled.member_id for e in events.values() if personal_member(e)]


async def outbox_rows(pool: asyncpg.Pool) -> list[events_pb2.Event]:
    rows = await pool.fetch("SELECT payload FROM outbox ORDER BY seq")
    return [events_pb2.Event.FromString(row["payload"]) for row in rows]


async def erase(pool: asyncpg.Pool, *member_ids: str) -> int:
    async with pool.acquire() as connection, connection.transaction():
        return await forget_member_events(connection, PROGRAM, member_ids)


async def test_a_published_enrolment_is_replaced_by_one_without_the_birthday(relayed) -> None:
    pool, jetstream, client, outbox, relay = relayed
    stream = jetstream.namespace.stream(SCHEMA)
    async with pool.acquire() as connection, connection.transaction():
        await outbox.enqueue(connection, f"{SCHEMA}.member_enrolled", enrolment("m1"))
        await outbox.enqueue(connection, f"{SCHEMA}.member_enrolled", enrolment("m2"))
        await outbox.enqueue_all(connection, [(f"{SCHEMA}.points_posted", posting("m1"))])
    # A consumer that has read nothing yet, as one that lags behind would be.
    consumer = await client.jetstream().pull_subscribe(
        f"{jetstream.namespace.name}.{SCHEMA}.member_enrolled", durable="lagging", stream=stream
    )
    assert await relay.publish_pending() == 3
    # Only the enrolments are tracked; the posting carries nothing personal.
    tracked = await pool.fetch(
        "SELECT member_id, stream, stream_seq FROM outbox_personal_messages ORDER BY stream_seq"
    )
    assert [(r["member_id"], r["stream"]) for r in tracked] == [("m1", stream), ("m2", stream)]
    assert await pool.fetchval("SELECT count(*) FROM outbox WHERE personal_member_id IS NULL") == 1
    original = (await stream_events(client, stream))[tracked[0]["stream_seq"]]
    assert original.member_enrolled.birthday == BIRTHDAY

    assert await erase(pool, "m1") == 1
    assert await erase(pool, "m1") == 0  # idempotent: nothing left to blank or to ask for
    kept = {e.member_enrolled.member_id: e for e in await outbox_rows(pool) if e.member_enrolled}
    assert not kept["m1"].member_enrolled.HasField("birthday")
    assert kept["m1"].member_enrolled.locale == "" and kept["m1"].event_id == original.event_id
    assert kept["m2"].member_enrolled.birthday == BIRTHDAY  # somebody else's stays

    assert await relay.eraser.erase_due() == 1
    held = await stream_events(client, stream)
    assert tracked[0]["stream_seq"] not in held
    assert with_birthday(held) == ["m2"]
    [copy] = [e for e in held.values() if e.event_id == original.event_id]
    assert copy.member_enrolled.member_id == "m1" and copy.member_enrolled.entry_tier_code
    assert await pool.fetchval("SELECT count(*) FROM stream_erasures") == 0
    assert relay.metrics.stream_erasures.labels("t", "deleted")._value.get() == 1
    # The lagging consumer still learns of the enrolment, from the copy, without the birthday.
    received = [events_pb2.Event.FromString(m.data) for m in await consumer.fetch(10, timeout=5)]
    assert [
        (e.member_enrolled.member_id, e.member_enrolled.HasField("birthday")) for e in received
    ] == [
        ("m2", True),
        ("m1", False),
    ]
    assert received[1].event_id == original.event_id
    # Nothing more to do: the copy carries no personal data.
    assert await relay.eraser.erase_due() == 0


async def test_an_unsent_enrolment_is_still_sent_without_the_birthday(relayed) -> None:
    pool, jetstream, client, outbox, relay = relayed
    stream = jetstream.namespace.stream(SCHEMA)
    async with pool.acquire() as connection, connection.transaction():
        # As identity's import writes them.
        await outbox.enqueue_many(
            connection, f"{SCHEMA}.member_enrolled", [enrolment("m1"), enrolment("m2")]
        )
    await erase(pool, "m1")
    assert await relay.publish_pending() == 2
    held = await stream_events(client, stream)
    assert len(held) == 2 and with_birthday(held) == ["m2"]
    # The relay asked for nothing to be kept of m1; the check of what it sent finds it clean.
    assert await pool.fetchval("SELECT array_agg(member_id) FROM outbox_personal_messages") == [
        "m2"
    ]
    await relay.eraser.erase_due()
    assert len(await stream_events(client, stream)) == 2
    assert await pool.fetchval("SELECT count(*) FROM stream_erasures") == 0


async def test_a_row_the_relay_read_before_the_erasure_blanked_it_is_deleted_after(
    relayed,
) -> None:
    pool, jetstream, client, outbox, relay = relayed
    stream = jetstream.namespace.stream(SCHEMA)
    async with pool.acquire() as connection, connection.transaction():
        await outbox.enqueue(connection, f"{SCHEMA}.member_enrolled", enrolment("m1"))
    async with pool.acquire() as erasing, erasing.transaction():
        # Blanked, not committed yet: the relay reads the row as it was and publishes it.
        await forget_member_events(erasing, PROGRAM, ["m1"])
        publishing = asyncio.ensure_future(relay.publish_pending())
        for _ in range(200):
            if (await client.jetstream().stream_info(stream)).state.messages:
                break
            await asyncio.sleep(0.02)
        assert with_birthday(await stream_events(client, stream)) == ["m1"]
        # Its UPDATE marking the row published waits for the erasure's lock.
        await asyncio.sleep(0.2)
        assert not publishing.done()
    assert await publishing == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox_personal_messages") == 0
    assert await pool.fetchval("SELECT count(*) FROM stream_erasures") == 1
    assert await relay.eraser.erase_due() == 1
    held = await stream_events(client, stream)
    assert len(held) == 1 and with_birthday(held) == []


async def test_a_deletion_nats_refuses_is_tried_again_later_and_counted(
    relayed, servers: Servers
) -> None:
    pool, jetstream, client, outbox, relay = relayed
    stream = jetstream.namespace.stream(SCHEMA)
    async with pool.acquire() as connection, connection.transaction():
        await outbox.enqueue(connection, f"{SCHEMA}.member_enrolled", enrolment("m1"))
    await relay.publish_pending()
    await erase(pool, "m1")
    # A relay whose NATS connection is gone.
    gone = await JetStream.connect(
        servers.nats_url, namespace=jetstream.namespace.name, client_name="gone"
    )
    await gone.client.close()
    metrics = Metrics.create()
    failing = StreamEraser(pool=pool, jetstream=gone, metrics=metrics, service="t")
    assert await failing.erase_due() == 0
    # The deletion, and the look through the dead letters.
    assert metrics.stream_erasures.labels("t", "failed")._value.get() == 2
    assert await pool.fetchval("SELECT attempt_count FROM dead_letter_sweeps") == 1
    assert metrics.stream_erasures_pending.labels("t")._value.get() == 1
    waiting = await pool.fetchrow("SELECT attempt_count, last_error FROM stream_erasures")
    assert waiting["attempt_count"] == 1 and waiting["last_error"]
    # Not due again at once.
    assert await relay.eraser.erase_due() == 0
    assert with_birthday(await stream_events(client, stream)) == ["m1"]
    await pool.execute("UPDATE stream_erasures SET next_attempt_at = now()")
    assert await relay.eraser.erase_due() == 1
    assert with_birthday(await stream_events(client, stream)) == []
    assert relay.metrics.stream_erasures_pending.labels("t")._value.get() == 0


async def test_a_message_gone_from_the_stream_is_done_with(relayed) -> None:
    pool, jetstream, client, outbox, relay = relayed
    stream = jetstream.namespace.stream(SCHEMA)
    async with pool.acquire() as connection, connection.transaction():
        await outbox.enqueue(connection, f"{SCHEMA}.member_enrolled", enrolment("m1"))
    await relay.publish_pending()
    await erase(pool, "m1")
    # Aged out (or deleted by an earlier attempt that crashed before recording it).
    seq = await pool.fetchval("SELECT stream_seq FROM stream_erasures")
    await client.jetstream().delete_msg(stream, seq)
    assert await relay.eraser.erase_due() == 1
    assert relay.metrics.stream_erasures.labels("t", "gone")._value.get() == 1
    assert await stream_events(client, stream) == {}


async def test_an_erasure_retried_after_a_crash_stores_the_copy_once(relayed) -> None:
    """A relay that died between publishing the copy and deleting the original publishes the
    copy again, under the same Nats-Msg-Id, which the stream stores once."""
    pool, jetstream, client, outbox, relay = relayed
    stream = jetstream.namespace.stream(SCHEMA)
    async with pool.acquire() as connection, connection.transaction():
        await outbox.enqueue(connection, f"{SCHEMA}.member_enrolled", enrolment("m1"))
    await relay.publish_pending()
    await erase(pool, "m1")
    [(seq, original)] = (await stream_events(client, stream)).items()
    await jetstream.publish(
        f"{jetstream.namespace.name}.{SCHEMA}.member_enrolled",
        without_personal_data(original).SerializeToString(),
        msg_id=f"{original.event_id}{ERASED_COPY_SUFFIX}",
    )
    assert await relay.eraser.erase_due() == 1
    held = await stream_events(client, stream)
    assert seq not in held and len(held) == 1 and with_birthday(held) == []


async def test_a_sequence_that_names_another_members_message_now_is_left_alone(relayed) -> None:
    """The stream was deleted and made again, so its sequences start over: the deletion asked
    for m1 must not touch m2's message stored under the same sequence."""
    pool, jetstream, client, outbox, relay = relayed
    stream = jetstream.namespace.stream(SCHEMA)
    async with pool.acquire() as connection, connection.transaction():
        await outbox.enqueue(connection, f"{SCHEMA}.member_enrolled", enrolment("m1"))
    await relay.publish_pending()
    await erase(pool, "m1")
    await client.jetstream().delete_stream(stream)
    await jetstream.declare_stream(StreamSpec(name=SCHEMA))
    other = enrolment("m2")
    other.event_id = "e-m2"
    await jetstream.publish(
        f"{jetstream.namespace.name}.{SCHEMA}.member_enrolled",
        other.SerializeToString(),
        msg_id=other.event_id,
    )
    assert await relay.eraser.erase_due() == 1
    assert relay.metrics.stream_erasures.labels("t", "gone")._value.get() == 1
    assert with_birthday(await stream_events(client, stream)) == ["m2"]


async def test_an_erased_members_dead_letters_are_replaced_by_copies_without_the_birthday(
    relayed,
) -> None:
    """A consumer that failed on an enrolment every time copied it whole to the dead letters."""
    pool, jetstream, client, _, relay = relayed
    await jetstream.declare_stream(DEAD_LETTER_STREAM)
    dead_letters = jetstream.namespace.stream(DEAD_LETTER_STREAM.name)
    for member_id in ("m1", "m2"):
        failed = enrolment(member_id)
        failed.event_id = f"e-{member_id}"
        # As PullConsumer._failed copies it.
        await client.jetstream().publish(
            jetstream.namespace.subject(f"dead_letter.{SCHEMA}.some_consumer"),
            failed.SerializeToString(),
            headers={
                "Nats-Msg-Id": failed.event_id,
                "Loyalty-Original-Subject": f"{SCHEMA}.member_enrolled",
                "Loyalty-Error": "boom",
            },
        )
    await erase(pool, "m1")
    assert await relay.eraser.erase_due() == 1
    held = await stream_events(client, dead_letters)
    assert len(held) == 2 and with_birthday(held) == ["m2"]
    [(seq, copy)] = [(q, e) for q, e in held.items() if e.member_enrolled.member_id == "m1"]
    assert copy.event_id == "e-m1" and copy.member_enrolled.entry_tier_code
    headers = (await client.jetstream().get_msg(dead_letters, seq)).headers or {}
    assert headers["Loyalty-Error"] == "boom"
    assert headers["Loyalty-Original-Subject"] == f"{SCHEMA}.member_enrolled"
    assert await pool.fetchval("SELECT count(*) FROM dead_letter_sweeps") == 0
