"""PointsPosted says when each member's latest earn of the batch happened
(earned_occurred_at_unix_micros): campaign's notifier tells members of points for recent
purchases only, not for an import of purchases of long ago."""

import datetime as dt

from loyalty.common.v1 import common_pb2
from tests.conftest import Servers
from tests.services.ledger.support import batch, post, ts
from tests.services.ledger.test_posted_events import posted_events

EARN, ADJUST = common_pb2.POSTING_KIND_EARN, common_pb2.POSTING_KIND_ADJUST


def micros(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


async def test_each_member_s_latest_earn_time_is_announced(
    service,
    servers: Servers,
    nats_namespace: str,
) -> None:
    running, ledger = service
    long_ago = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    later = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    before = dt.datetime.now(dt.UTC)
    # A single Earn of long ago.
    await ledger.earn("solo", 10, occurred_at=ts(long_ago))
    # A batch: two earns of one member (the later counts), one earn at 0 (now), an adjustment.
    [response] = await post(
        ledger,
        batch(
            "b1",
            [
                ("ann", 40, EARN, "i1"),
                ("ann", 5, EARN, "i2"),
                ("bob", 10, EARN, "i3"),
                ("cat", 3, ADJUST, "i4"),
            ],
            occurred_at_unix_micros=[micros(long_ago), micros(later), 0, 0],
        ),
    )
    assert response.posted_count == 4
    single, posted = await posted_events(running, servers, nats_namespace)
    assert list(single.earned_occurred_at_unix_micros) == [micros(long_ago)]
    times = dict(zip(posted.member_ids, posted.earned_occurred_at_unix_micros, strict=True))
    assert times["ann"] == micros(later)
    # 0 is now; a member the batch earned nothing has 0.
    assert times["bob"] >= micros(before)
    assert times["cat"] == 0
