"""Checks of common fields at the boundary; each failure names the field."""

import datetime as dt
import re
import zoneinfo

from google.protobuf.timestamp_pb2 import Timestamp

from services.shared.errors import InvalidArgument

# Checked with fullmatch: `$` also matches before a final newline, so with match "acme\n" was a
# program id of its own and "EUR\n" a currency PostgreSQL's char(3) then refused (INTERNAL).
_PROGRAM_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL = re.compile(r"^[0-9]{1,19}$")
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
TEXT_LENGTH_MAX = 1000
# An instant a client sends and a service stores must come before this. The last instant of 9999
# (a "never" some clients send) is datetime.max, which asyncpg stores as PostgreSQL's infinity
# and reads back without a time zone, so every later use that compares it with an aware time
# failed.
STORED_INSTANT_BEFORE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def program_id(value: str, field: str = "program_id") -> str:
    if not value:
        raise InvalidArgument(field, "is required")
    if not _PROGRAM_ID.fullmatch(value):
        raise InvalidArgument(field, "must be 1-63 lowercase letters, digits, '-' or '_'")
    return value


def code(value: str, field: str) -> str:
    if not _CODE.fullmatch(value):
        raise InvalidArgument(field, "must be 1-63 lowercase letters, digits, '.', '-' or '_'")
    return value


def currency(value: str, field: str = "currency") -> str:
    if not _CURRENCY.fullmatch(value):
        raise InvalidArgument(field, "must be an ISO 4217 code such as EUR")
    return value


def time_zone(value: str, field: str = "time_zone") -> str:
    if not value:
        raise InvalidArgument(field, "is required (an IANA name such as Europe/Amsterdam)")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument(field, f"{value!r} is not an IANA time zone") from None
    return value


def text(
    value: str, field: str, *, required: bool = True, length_max: int = TEXT_LENGTH_MAX
) -> str:
    if required and not value.strip():
        raise InvalidArgument(field, "is required")
    if "\x00" in value:
        # PostgreSQL cannot store NUL in text; refuse it here, naming the field.
        raise InvalidArgument(field, "must not contain NUL characters")
    if len(value) > length_max:
        raise InvalidArgument(field, f"is longer than {length_max} characters")
    return value


def in_range(value: int, field: str, *, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidArgument(field, f"must be between {low} and {high}, got {value}")
    return value


def decimal_id(value: str, field: str, *, what: str, high: int = INT64_MAX) -> int:
    """An id sent as decimal text (ASCII digits only: str.isdigit admits '²' and other scripts'
    digits), no larger than the column that stores it."""
    if not _DECIMAL.fullmatch(value) or int(value) > high:
        raise InvalidArgument(field, f"{value[:40]!r} is not {what} (decimal digits up to {high})")
    return int(value)


def page_size(value: int, *, default: int = 50, maximum: int = 500) -> int:
    if value < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return default if value == 0 else min(value, maximum)


# How far ahead of the server's clock a client's occurred_at may be, by default and at most (the
# services' <PREFIX>_OCCURRED_AT_AHEAD_MAX_MS): a till's clock a few minutes fast still posts,
# while a clock an hour or a year ahead (a daylight saving or time zone slip, a wrong year) is
# refused instead of pending, vesting, qualifying and expiring by a time that has not come.
OCCURRED_AT_AHEAD_MAX_MS = 15 * 60_000
OCCURRED_AT_AHEAD_LIMIT_MS = 24 * 3_600_000


def ahead_text(ahead_max_ms: int) -> str:
    """The allowance as a message says it: "15 minutes", "90 seconds"."""
    if ahead_max_ms % 60_000 == 0:
        minutes = ahead_max_ms // 60_000
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{ahead_max_ms / 1000:g} seconds"


def future_text(ahead_max_ms: int) -> str:
    return f"must not be more than {ahead_text(ahead_max_ms)} after the server's time"


def not_in_future(micros: int, field: str, *, now_micros: int, ahead_max_ms: int) -> int:
    """An instant a client's clock gave (microseconds since the Unix epoch), at most
    `ahead_max_ms` after the server's `now_micros`; later is INVALID_ARGUMENT on `field`."""
    if micros > now_micros + ahead_max_ms * 1000:
        raise InvalidArgument(field, future_text(ahead_max_ms))
    return micros


# The first second a Timestamp may hold (0001-01-01T00:00:00Z): before it, or with nanos outside
# 0 to 999,999,999, it is no date (ToDatetime raises), which was INTERNAL.
TIMESTAMP_SECONDS_MIN = -62_135_596_800
NANOS_PER_SECOND = 1_000_000_000


# The last second a Timestamp may hold (9999-12-31T23:59:59Z).
TIMESTAMP_SECONDS_MAX = 253_402_300_799


def read_instant(stamp: Timestamp, field: str) -> dt.datetime:
    """An instant a client sends to be read, not stored (a report's bound), as an aware UTC
    datetime: any date a Timestamp holds; one that is no date is INVALID_ARGUMENT on `field`."""
    if (
        not TIMESTAMP_SECONDS_MIN <= stamp.seconds <= TIMESTAMP_SECONDS_MAX
        or not 0 <= stamp.nanos < NANOS_PER_SECOND
    ):
        raise InvalidArgument(field, "is not a valid timestamp")
    return stamp.ToDatetime(tzinfo=dt.UTC)


def stored_instant(stamp: Timestamp, field: str, *, unset: str) -> None:
    """Refuse an instant that is no date, or from 2100 on; `unset` says what leaving the field
    unset means."""
    if stamp.seconds < TIMESTAMP_SECONDS_MIN or not 0 <= stamp.nanos < NANOS_PER_SECOND:
        raise InvalidArgument(field, f"is not a valid timestamp (unset: {unset})")
    if stamp.ToMicroseconds() >= int(STORED_INSTANT_BEFORE.timestamp()) * 1_000_000:
        raise InvalidArgument(field, f"must be before 2100 (unset: {unset})")
