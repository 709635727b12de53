"""A code "valid for N days" is valid until the same local time N calendar days after it was
issued, in the program's time zone (the test program's is Europe/Amsterdam), across a change of
the clocks too."""

import datetime as dt
from zoneinfo import ZoneInfo

from services.shared.local_days import local_days_later
from tests.services.rewards.conftest import reward

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def days_past_the_next_change_of_the_clocks(now: dt.datetime) -> int:
    """A number of days from `now` that takes Amsterdam's clocks over their next change (the
    last Sunday of March or of October) and two days on."""
    offset = now.astimezone(AMSTERDAM).utcoffset()
    for days in range(1, 370):
        if (now + dt.timedelta(days=days)).astimezone(AMSTERDAM).utcoffset() != offset:
            return days + 2
    raise AssertionError("Amsterdam changes its clocks twice a year")


async def test_days_of_validity_end_at_the_issuing_local_time_across_a_change_of_the_clocks(
    platform,
) -> None:
    """Issued at 10:15 with N days that cross the change, a code is valid until 10:15 N days
    on: N x 24 hours ended it at 09:15 or 11:15 local time."""
    await platform.ledger.earn("m1", 1_000)
    before = dt.datetime.now(dt.UTC)
    days = days_past_the_next_change_of_the_clocks(before)
    coffee = await platform.create(reward(code_validity_days=days))
    [issued] = (await platform.redeem("m1", coffee.reward_id)).codes
    after = dt.datetime.now(dt.UTC)
    expires = issued.expires_at.ToDatetime(dt.UTC)
    earliest = local_days_later(before, days, AMSTERDAM)
    latest = local_days_later(after, days, AMSTERDAM)
    assert earliest <= expires <= latest, (before, after, days, expires)
    # N x 24 hours is an hour off that across the change.
    assert abs(expires - (before + dt.timedelta(days=days))) > dt.timedelta(minutes=30)
