"""The ledger's PointsPosted events as read from JetStream, against what events.proto promises:
one event per committed batch (a single posting being a batch of one), naming the kinds of
postings in it."""

import asyncio
import datetime as dt

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from tests.conftest import Servers
from tests.services.ledger.support import batch, post, ts
from tests.support.streams import published

EARN, REDEEM, ADJUST = (
    common_pb2.POSTING_KIND_EARN,
    common_pb2.POSTING_KIND_REDEEM,
    common_pb2.POSTING_KIND_ADJUST,
)


async def ledger_events(
    running, servers: Servers, nats_namespace: str, subject: str
) -> list[events_pb2.Event]:
    """Every event of `subject` ("points_posted", ...) the ledger published, in order."""
    await running.relay.flush(timeout_s=10)
    return await published(servers, nats_namespace, f"ledger.{subject}")


async def posted_events(
    running, servers: Servers, nats_namespace: str
) -> list[events_pb2.PointsPosted]:
    """Every PointsPosted the ledger published, in order."""
    events = await ledger_events(running, servers, nats_namespace, "points_posted")
    return [event.points_posted for event in events]


async def test_a_batch_is_announced_once_with_its_kinds(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    await ledger.earn("ann", 100, vests_at=ts(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    [response] = await post(
        ledger,
        batch(
            "b1",
            [
                ("ann", 40, EARN, "i1"),
                ("bob", 10, EARN, "i2"),
                ("ann", 30, REDEEM, "i3"),
                ("bob", -4, ADJUST, "i4"),
            ],
        ),
    )
    assert response.posted_count == 4
    events = await posted_events(running, servers, nats_namespace)
    # The earn before, then the batch: its redeem and adjustment are not announced apart.
    assert [e.batch_id for e in events[1:]] == ["b1"]
    event = events[1]
    assert sorted(event.kinds) == [EARN, REDEEM, ADJUST]
    assert (event.item_count, event.posted_count) == (4, 4)
    assert (event.earned_points_total, event.redeemed_points_total) == (50, 30)
    assert event.other_points_total == -4
    assert list(zip(event.member_ids, event.available_points, strict=True)) == [
        ("ann", 110),
        ("bob", 6),
    ]


async def test_a_batch_of_earns_only_names_earn(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    await post(ledger, batch("b1", [("ann", 40, EARN, "i1"), ("bob", 10, EARN, "i2")]))
    [event] = await posted_events(running, servers, nats_namespace)
    assert (event.batch_id, list(event.kinds), event.earned_points_total) == ("b1", [EARN], 50)


async def test_a_single_posting_names_its_posting_and_every_kind_of_its_book(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    first = await ledger.earn("ann", 10, expires_at=ts(soon))
    # Past the lot's expiry (a wait, not a timed assertion).
    await asyncio.sleep((soon - dt.datetime.now(dt.UTC)).total_seconds() + 0.2)
    # The lot is due: the next earn's book expires it first, then posts the earn.
    second = await ledger.earn("ann", 5)
    events = await posted_events(running, servers, nats_namespace)
    assert [e.batch_id for e in events] == [first.posting.posting_id, second.posting.posting_id]
    assert list(events[0].kinds) == [EARN]
    assert list(events[1].kinds) == [common_pb2.POSTING_KIND_EXPIRE, EARN]
    assert (events[1].earned_points_total, events[1].other_points_total) == (5, -10)
    assert list(events[1].available_points) == [5]
    # The expiry's own event counts the balance after the whole call, the earn included.
    [expired] = await ledger_events(running, servers, nats_namespace, "points_expired")
    assert (expired.points_expired.points, expired.points_expired.available_points) == (10, 5)
