"""PointsExpiring of lots as read from JetStream: `days_ahead` is how many days ahead of the
expiry the notice is (Amsterdam's calendar days), whatever the program's notice period.

Lots come near their expiry within the notice period when they were earned with a short expiry,
or when the notice period was lengthened; the job runs on a clock the test sets."""

import datetime as dt
from zoneinfo import ZoneInfo

from services.ledger.jobs import EXPIRY_NOTICES
from tests.conftest import Servers
from tests.services.ledger.support import ts
from tests.services.ledger.test_inactivity import clocked_jobs, expiring_events

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


async def test_a_notice_says_how_many_days_ahead_of_the_expiry_it_is(
    service, servers: Servers, nats_namespace: str
) -> None:
    running, ledger = service
    now = dt.datetime.now(dt.UTC)
    noon = dt.datetime.combine(now.astimezone(AMSTERDAM).date(), dt.time(12), tzinfo=AMSTERDAM)
    # Expiring at noon 5 and 12 local days from the notice (the notice period is 30 days), and
    # one 40 days ahead, out of it.
    await ledger.earn("ann", 60, expires_at=ts(noon + dt.timedelta(days=5)))
    await ledger.earn("ann", 15, expires_at=ts(noon + dt.timedelta(days=12)))
    await ledger.earn("bob", 7, expires_at=ts(noon + dt.timedelta(days=40)))
    clock = [(noon + dt.timedelta(hours=1)).astimezone(dt.UTC)]
    jobs = clocked_jobs(running, clock)
    noticed = await jobs.run_locked(EXPIRY_NOTICES, program_id="acme")
    assert (noticed.processed, noticed.points) == (1, 75)
    await running.relay.flush(timeout_s=10)
    [event] = [event.points_expiring for event in await expiring_events(servers, nats_namespace)]
    assert (event.member_id, event.points) == ("ann", 75)
    # When the first of them expires, and how many days ahead of it the notice is.
    assert event.expires_at.ToDatetime(tzinfo=dt.UTC) == noon + dt.timedelta(days=5)
    assert event.days_ahead == 5
