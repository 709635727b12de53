"""Quiet hours and the local days of the frequency cap at clock changes: pure time arithmetic
(services/campaign/notifications.py), no servers."""

import datetime as dt
import zoneinfo

import pytest

from loyalty.campaign.v1 import engagement_pb2, rules_pb2
from services.campaign.notifications import quiet_until, wall_clock_instant

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
LORD_HOWE = zoneinfo.ZoneInfo("Australia/Lord_Howe")  # half an hour forward and back


def quiet(start: tuple[int, int], end: tuple[int, int]) -> engagement_pb2.NotificationPolicy:
    return engagement_pb2.NotificationPolicy(
        quiet_hours_start=rules_pb2.LocalTime(hour=start[0], minute=start[1]),
        quiet_hours_end=rules_pb2.LocalTime(hour=end[0], minute=end[1]),
    )


def local(zone: zoneinfo.ZoneInfo, *fields: int, fold: int = 0) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=zone, fold=fold)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("zone", "day", "end", "expected"),
    [
        # 29 March 2026, Amsterdam: 02:00 -> 03:00. The first instant after the gap is 03:00.
        (AMSTERDAM, dt.date(2026, 3, 29), dt.time(2, 30), (2026, 3, 29, 3, 0)),
        (AMSTERDAM, dt.date(2026, 3, 29), dt.time(2, 0), (2026, 3, 29, 3, 0)),
        (AMSTERDAM, dt.date(2026, 3, 29), dt.time(2, 59), (2026, 3, 29, 3, 0)),
        (AMSTERDAM, dt.date(2026, 3, 29), dt.time(3, 0), (2026, 3, 29, 3, 0)),
        (AMSTERDAM, dt.date(2026, 3, 29), dt.time(1, 59), (2026, 3, 29, 1, 59)),
        # 4 October 2026, Lord Howe: 02:00 -> 02:30.
        (LORD_HOWE, dt.date(2026, 10, 4), dt.time(2, 15), (2026, 10, 4, 2, 30)),
        (LORD_HOWE, dt.date(2026, 10, 4), dt.time(2, 45), (2026, 10, 4, 2, 45)),
    ],
)
def test_a_time_the_clocks_jump_over_is_the_first_instant_after_the_jump(
    zone: zoneinfo.ZoneInfo, day: dt.date, end: dt.time, expected: tuple[int, ...]
) -> None:
    instant = wall_clock_instant(day, end, zone)
    assert instant == local(zone, *expected).astimezone(dt.UTC)
    assert instant.tzinfo == dt.UTC


def test_a_repeated_time_is_its_first_occurrence() -> None:
    # 25 October 2026, Amsterdam: 03:00 -> 02:00; 02:30 is 00:30 UTC (summer time) first.
    instant = wall_clock_instant(dt.date(2026, 10, 25), dt.time(2, 30), AMSTERDAM)
    assert instant == dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)


def test_quiet_hours_ending_in_the_spring_forward_gap_end_when_the_clocks_jump() -> None:
    policy = quiet((22, 0), (2, 30))
    held = local(AMSTERDAM, 2026, 3, 28, 23, 15).astimezone(dt.UTC)
    assert quiet_until(policy, held, AMSTERDAM) == local(AMSTERDAM, 2026, 3, 29, 3, 0).astimezone(
        dt.UTC
    )
    # One a minute before the jump too.
    late = local(AMSTERDAM, 2026, 3, 29, 1, 59).astimezone(dt.UTC)
    assert quiet_until(policy, late, AMSTERDAM) == dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)
    # After the jump it is 03:00 or later: not quiet any more.
    assert quiet_until(policy, dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC), AMSTERDAM) is None


def test_quiet_hours_ending_in_the_lord_howe_gap_end_at_half_past_two() -> None:
    policy = quiet((21, 0), (2, 15))
    held = local(LORD_HOWE, 2026, 10, 3, 22, 0).astimezone(dt.UTC)
    assert quiet_until(policy, held, LORD_HOWE) == local(LORD_HOWE, 2026, 10, 4, 2, 30).astimezone(
        dt.UTC
    )


def test_quiet_hours_ending_in_the_repeated_hour_follow_the_clock() -> None:
    # Decided: quiet hours are the clock's. What is held from the evening is released at the
    # end's first occurrence (summer time); a fact in the repeated hour's second pass, when the
    # clock shows a quiet time again, waits for the end's second occurrence.
    policy = quiet((22, 0), (2, 30))
    evening = local(AMSTERDAM, 2026, 10, 24, 23, 0).astimezone(dt.UTC)
    first_end = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)  # 02:30 summer time
    assert quiet_until(policy, evening, AMSTERDAM) == first_end
    between = local(AMSTERDAM, 2026, 10, 25, 2, 45).astimezone(dt.UTC)  # summer time
    assert quiet_until(policy, between, AMSTERDAM) is None
    second_pass = local(AMSTERDAM, 2026, 10, 25, 2, 10, fold=1).astimezone(dt.UTC)
    assert quiet_until(policy, second_pass, AMSTERDAM) == dt.datetime(
        2026, 10, 25, 1, 30, tzinfo=dt.UTC
    )
    # Lord Howe goes back half an hour (02:00 -> 01:30) on 5 April 2026.
    lord_howe = quiet((22, 0), (1, 45))
    evening = local(LORD_HOWE, 2026, 4, 4, 23, 0).astimezone(dt.UTC)
    assert quiet_until(lord_howe, evening, LORD_HOWE) == local(
        LORD_HOWE, 2026, 4, 5, 1, 45
    ).astimezone(dt.UTC)
