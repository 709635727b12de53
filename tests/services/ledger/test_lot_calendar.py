"""LotCalendar gives a batch's lots the same instants as policy.py's zoneinfo arithmetic.

Pure date arithmetic, no I/O: instants are drawn around the zones' offset changes, where a
shortcut would go wrong first.
"""

import datetime as dt
import zoneinfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ledger.domain import CalendarPeriod, ExpiryKind, ProgramSettings
from services.ledger.lot_calendar import LotCalendar, Moment
from services.ledger.policy import qualifying_window_start

ZONES = (
    "Europe/Amsterdam",
    "America/New_York",
    "America/Sao_Paulo",  # southern summer time, dropped in 2019
    "Australia/Lord_Howe",  # a half-hour change
    "Pacific/Apia",  # skipped 30 December 2011 whole
    "Asia/Kolkata",
    "UTC",
)
CHANGING_IN_2026 = {"Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe"}
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
MICROS = 1_000_000


def program(
    time_zone: str, expiry_kind: int, months: int, period: int, return_days: int
) -> ProgramSettings:
    return ProgramSettings(
        program_id="p",
        points_name="points",
        currency="EUR",
        time_zone=time_zone,
        return_window_days=return_days,
        expiry_kind=expiry_kind,
        expiry_months=months,
        expiry_period=period,
        negative_balance_policy=1,
        hold_ttl_seconds=600,
        tier_window_kind=1,
        tier_window_rolling_days=365,
        tier_requalification_period=1,
        qualifying_basis=1,
        rounding_mode=1,
        expiry_notice_days=30,
        entry_tier_code="member",
    )


def transitions_of(time_zone: str, first_year: int, last_year: int) -> list[int]:
    """The unix seconds at which the zone's offset changes, found hour by hour."""
    zone = zoneinfo.ZoneInfo(time_zone)
    start = int(dt.datetime(first_year, 1, 1, tzinfo=dt.UTC).timestamp())
    end = int(dt.datetime(last_year + 1, 1, 1, tzinfo=dt.UTC).timestamp())
    found, before = [], dt.datetime.fromtimestamp(start, zone).utcoffset()
    for second in range(start, end, 1800):
        offset = dt.datetime.fromtimestamp(second, zone).utcoffset()
        if offset != before:
            found.append(second)
            before = offset
    return found


TRANSITIONS = {zone: transitions_of(zone, 2010, 2028) for zone in ZONES}


@st.composite
def instants(draw: st.DrawFn, time_zone: str) -> int:
    """Unix micros: near an offset change (either side, within two days), or anywhere."""
    changes = TRANSITIONS[time_zone]
    if changes and draw(st.booleans()):
        second = draw(st.sampled_from(changes)) + draw(st.integers(-2 * 86_400, 2 * 86_400))
        return second * MICROS + draw(st.integers(0, MICROS - 1))
    low = int(dt.datetime(2012, 1, 1, tzinfo=dt.UTC).timestamp())
    high = int(dt.datetime(2028, 1, 1, tzinfo=dt.UTC).timestamp())
    return draw(st.integers(low * MICROS, high * MICROS))


@st.composite
def cases(draw: st.DrawFn) -> tuple[ProgramSettings, list[tuple[int, int, int]]]:
    """A program and a batch of items' (occurred, vests, expires) micros, 0 for the program's."""
    time_zone = draw(st.sampled_from(ZONES))
    kind = draw(st.sampled_from(list(ExpiryKind)))
    period = (
        draw(st.sampled_from([CalendarPeriod.MONTH, CalendarPeriod.QUARTER, CalendarPeriod.YEAR]))
        if kind == ExpiryKind.END_OF_CALENDAR_PERIOD
        else CalendarPeriod.NONE
    )
    settings = program(
        time_zone, kind, draw(st.integers(1, 120)), period, draw(st.integers(0, 365))
    )
    item = st.tuples(
        st.one_of(st.just(0), instants(time_zone)),
        st.one_of(st.just(0), instants(time_zone)),
        st.one_of(st.just(0), st.just(0), instants(time_zone)),
    )
    return settings, draw(st.lists(item, min_size=1, max_size=12))


def moments_of(calendar: LotCalendar, items: list[tuple[int, int, int]]) -> list[Moment]:
    """The batch's moments, a Moment an item, to compare with Moment.of's."""
    moments = calendar.moments(*(list(column) for column in zip(*items, strict=True)))
    return [
        Moment(
            occurred, vests, None if never else expires, dt.date.fromordinal(day), window, vested
        )
        for occurred, vests, expires, never, day, window, vested in zip(
            *(column.tolist() for column in vars(moments).values()), strict=True
        )
    ]


def expected_of(
    settings: ProgramSettings, window_start: dt.date, items: list[tuple[int, int, int]]
) -> list[Moment]:
    return [Moment.of(settings, NOW, window_start, *item) for item in items]


@settings(max_examples=1000, deadline=None)
@given(cases())
def test_a_batch_of_lots_gets_the_instants_policy_gives(
    case: tuple[ProgramSettings, list[tuple[int, int, int]]],
) -> None:
    settings, items = case
    window_start = qualifying_window_start(settings, NOW)
    calendar = LotCalendar(settings, NOW, window_start)
    assert moments_of(calendar, items) == expected_of(settings, window_start, items)


@pytest.mark.parametrize("time_zone", ZONES)
def test_every_hour_around_the_offset_changes_of_a_year_matches(time_zone: str) -> None:
    """Rolling expiry lands on the local wall time of the earn, gaps and folds included."""
    settings = program(time_zone, ExpiryKind.ROLLING_MONTHS, 12, CalendarPeriod.NONE, 14)
    window_start = qualifying_window_start(settings, NOW)
    calendar = LotCalendar(settings, NOW, window_start)
    # Earned a year before each change of 2026, so the expiry falls on or around it.
    items = [
        ((second - 365 * 86_400 + shift) * MICROS + 123_456, 0, 0)
        for second in transitions_of(time_zone, 2026, 2026)
        for shift in range(-6 * 3600, 6 * 3600, 900)
    ]
    # The zones that still change their clocks do so in 2026: the test covers something.
    assert bool(items) == (time_zone in CHANGING_IN_2026)
    if items:
        assert moments_of(calendar, items) == expected_of(settings, window_start, items)


def test_instants_outside_the_calendar_years_are_still_answered() -> None:
    """Beside instants on the table, in one batch."""
    settings = program("Europe/Amsterdam", ExpiryKind.ROLLING_MONTHS, 120, CalendarPeriod.NONE, 30)
    window_start = qualifying_window_start(settings, NOW)
    calendar = LotCalendar(settings, NOW, window_start)
    items = [
        (int(when.timestamp()) * MICROS, 0, 0)
        for when in (
            dt.datetime(1999, 3, 28, 1, 30, tzinfo=dt.UTC),
            dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
            dt.datetime(2099, 6, 1, tzinfo=dt.UTC),
            dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC),
        )
    ]
    assert moments_of(calendar, items) == expected_of(settings, window_start, items)
