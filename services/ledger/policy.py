"""When points vest and expire, and how fractions round: pure date and integer arithmetic.

Calendar rules use the program's time zone: "the end of the year" is midnight of 1 January where
the program lives, whatever the server's zone, and a month later than 31 January is the end of
February (local midnight on 1 March), as it is for expiry by inactivity.
"""

import calendar
import datetime as dt
import math
from zoneinfo import ZoneInfo

from services.ledger.domain import CalendarPeriod, ExpiryKind, ProgramSettings, TierWindowKind
from services.shared.local_days import local_days_later

ROUNDING_FLOOR = 1
ROUNDING_HALF_UP = 2
ROUNDING_HALF_EVEN = 3
# The balance's expiring_30_days_points: lots expiring within this many local days.
EXPIRING_SOON_DAYS = 30


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same wall-clock time `months` later, clamped to the end of shorter months."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def months_after(moment: dt.datetime, months: int) -> dt.datetime:
    """The same wall-clock time `months` later; when the later month lacks the day (31 January
    plus a month), the end of that month: the following local midnight (1 March). So a later
    instant never ends earlier (30 January at 23:00 and 31 January at 10:00 both end then, where
    clamping to the day would end the second first). Keeps `moment`'s tzinfo and fold."""
    later = add_months(moment, months)
    if later.day >= moment.day:
        return later
    following = later.date() + dt.timedelta(days=1)
    return later.replace(
        year=following.year,
        month=following.month,
        day=following.day,
        hour=0,
        minute=0,
        second=0,
        microsecond=0,
    )


def end_of_period(moment: dt.datetime, period: int) -> dt.datetime:
    """Local midnight that ends the calendar period containing `moment` (tz-aware, local)."""
    if period == CalendarPeriod.MONTH:
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        return add_months(start, 1)
    if period == CalendarPeriod.QUARTER:
        first_month = (moment.month - 1) // 3 * 3 + 1
        start = moment.replace(month=first_month, day=1, hour=0, minute=0, second=0, microsecond=0)
        return add_months(start, 3)
    if period == CalendarPeriod.YEAR:
        return moment.replace(
            year=moment.year + 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0
        )
    raise ValueError(f"unknown calendar period {period}")


def lot_expires_at(settings: ProgramSettings, earned_at: dt.datetime) -> dt.datetime | None:
    """When a lot earned at `earned_at` (UTC) expires; None when it only expires by inactivity."""
    zone = ZoneInfo(settings.time_zone)
    local = earned_at.astimezone(zone)
    if settings.expiry_kind == ExpiryKind.ROLLING_MONTHS:
        expires_local = months_after(local, settings.expiry_months)
    elif settings.expiry_kind == ExpiryKind.END_OF_CALENDAR_PERIOD:
        expires_local = end_of_period(
            add_months(local, settings.expiry_months), settings.expiry_period
        )
    else:
        return None
    # Rebuilt from wall-clock fields so a DST change in between keeps the local time.
    naive = expires_local.replace(tzinfo=None)
    return naive.replace(tzinfo=zone).astimezone(dt.UTC)


def wall_clock_instant(wall: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant from which the local clock in `zone` has reached the naive `wall`: the
    instant it shows it (in a repeated hour, the pass `wall.fold` names), or for a time the clocks
    skip (02:30 when they go from 02:00 to 03:00) the instant of the jump. Python reads a skipped
    time with the offset before the jump, an hour (or the jump's length) late."""
    instant = wall.replace(tzinfo=zone).astimezone(dt.UTC)
    if instant.astimezone(zone).replace(tzinfo=None, fold=0) == wall.replace(fold=0):
        return instant
    # Read with the offset after the jump the time falls before it, with the offset before it
    # after: the jump lies between. Zones change their offsets on whole seconds.
    low = math.floor(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = math.ceil(instant.timestamp())
    after = dt.datetime.fromtimestamp(high, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if dt.datetime.fromtimestamp(middle, zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return dt.datetime.fromtimestamp(high, dt.UTC)


def inactivity_cutoff(settings: ProgramSettings, now: dt.datetime) -> dt.datetime | None:
    """Members last active before this have all their points expire; None if not that policy."""
    if settings.expiry_kind != ExpiryKind.INACTIVITY_MONTHS:
        return None
    zone = ZoneInfo(settings.time_zone)
    local = now.astimezone(zone).replace(tzinfo=None)
    return add_months(local, -settings.expiry_months).replace(tzinfo=zone).astimezone(dt.UTC)


def expiry_notice_horizon(settings: ProgramSettings, now: dt.datetime) -> dt.datetime:
    """Lots expiring before this (UTC) are announced "expiring in N days" now: those whose
    expiry's local date is at most N calendar days after today's, in the program's time zone.

    Counted in calendar days, not 24-hour ones: across a change of the clocks, `now + N days`
    is an hour off and moves an expiry just after local midnight onto the notice day before
    (or after). The notice goes out from local midnight of the expiry's date minus N days.
    """
    zone = ZoneInfo(settings.time_zone)
    last = now.astimezone(zone).date() + dt.timedelta(days=settings.expiry_notice_days)
    following = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return following.astimezone(dt.UTC)


def expiry_notice_days_ahead(
    settings: ProgramSettings, now: dt.datetime, expires_at: dt.datetime
) -> int:
    """How many days ahead of `expires_at` a notice sent `now` is: calendar days in the program's
    time zone, as `expiry_notice_horizon` counts them. The notice period is when notices may
    start; a lot earned with a shorter expiry, or a period lengthened, is noticed nearer to it."""
    zone = ZoneInfo(settings.time_zone)
    return (expires_at.astimezone(zone).date() - now.astimezone(zone).date()).days


def lot_vests_at(settings: ProgramSettings, earned_at: dt.datetime) -> dt.datetime:
    """Earned points stay pending through the return window: until the same wall-clock time
    `return_window_days` local days later, in the program's time zone, so a change of the clocks
    in between neither shortens nor lengthens it by an hour. (A time the clocks skip reads with
    the offset before the jump, and a repeated one keeps the earning's fold, as expiries do.)"""
    if not settings.return_window_days:
        return earned_at
    return local_days_later(earned_at, settings.return_window_days, ZoneInfo(settings.time_zone))


def expiring_soon_until(settings: ProgramSettings, now: dt.datetime) -> dt.datetime:
    """The end of the balance's "expiring in 30 days" (exclusive): the same local time 30 local
    days after `now`, in the program's time zone, so that a lot expiring at 12:30 local time in
    30 days' time is counted or not whether or not the clocks change in between."""
    return local_days_later(now, EXPIRING_SOON_DAYS, ZoneInfo(settings.time_zone))


def divide_rounded(numerator: int, denominator: int, *, mode: int) -> int:
    """numerator / denominator rounded as the program says; exact for any size of integer."""
    assert denominator > 0
    quotient, remainder = divmod(numerator, denominator)
    if mode == ROUNDING_FLOOR or remainder == 0:
        return quotient
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and (mode == ROUNDING_HALF_UP or quotient % 2)):
        return quotient + 1
    return quotient


def pro_rata_reversal(
    *, original_points: int, original_amount_minor: int, refunded_total_minor: int, mode: int
) -> int:
    """Points that a cumulative refund of `refunded_total_minor` takes back, in total."""
    return divide_rounded(original_points * refunded_total_minor, original_amount_minor, mode=mode)


def qualifying_window_start(settings: ProgramSettings, now: dt.datetime) -> dt.date:
    """The first local day whose qualifying amount still counts towards a tier."""
    local_today = now.astimezone(ZoneInfo(settings.time_zone)).date()
    if settings.tier_window_kind == TierWindowKind.CALENDAR_YEAR:
        return local_today.replace(month=1, day=1)
    return local_today - dt.timedelta(days=settings.tier_window_rolling_days - 1)


def previous_window_start(settings: ProgramSettings, now: dt.datetime) -> dt.date | None:
    """The first local day of the calendar-year window that ended last (1 January of last year);
    None for a rolling window, which never ends and is judged as it stands."""
    if settings.tier_window_kind != TierWindowKind.CALENDAR_YEAR:
        return None
    start = qualifying_window_start(settings, now)
    return start.replace(year=start.year - 1)


def local_day(settings: ProgramSettings, moment: dt.datetime) -> dt.date:
    return moment.astimezone(ZoneInfo(settings.time_zone)).date()
