"""Earning rules as plain data: what the campaign service maps its protos to."""

import datetime as dt
import enum
from dataclasses import dataclass, field

from ledger_core import limits

EPOCH_DATE = dt.date(1970, 1, 1)
MINUTES_PER_DAY = 1440


class RoundingMode(enum.IntEnum):
    FLOOR = 0
    HALF_UP = 1
    HALF_EVEN = 2


class RuleKind(enum.IntEnum):
    RATE = 0
    MULTIPLIER = 1
    BONUS = 2
    EXCLUSION = 3


@dataclass(frozen=True)
class TimeWindow:
    """When a rule applies, in the program's local time; each part must hold.

    Dates are inclusive, weekdays 0 (Monday) to 6 (Sunday), empty for every day. Minutes of the
    local day: from `start_minute_of_day` inclusive to `end_minute_of_day` exclusive; an end before
    the start wraps past midnight (22:00 to 02:00).
    """

    first_date: dt.date | None = None
    last_date: dt.date | None = None
    weekdays: frozenset[int] = frozenset()
    start_minute_of_day: int = 0
    end_minute_of_day: int = MINUTES_PER_DAY

    def contains(self, *, local_day: int, weekday: int, minute_of_day: int) -> bool:
        if self.first_date is not None and local_day < days_since_epoch(self.first_date):
            return False
        if self.last_date is not None and local_day > days_since_epoch(self.last_date):
            return False
        if self.weekdays and weekday not in self.weekdays:
            return False
        start, end = self.start_minute_of_day, self.end_minute_of_day
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


@dataclass(frozen=True)
class Conditions:
    """What a transaction must be for a rule to match; an empty set accepts any value."""

    tiers: frozenset[int] = frozenset()
    categories: frozenset[int] = frozenset()
    skus: frozenset[int] = frozenset()
    channels: frozenset[int] = frozenset()
    stores: frozenset[int] = frozenset()
    window: TimeWindow | None = None
    spend_min_minor: int = 0


@dataclass(frozen=True)
class EarningRule:
    rule_id: str
    kind: RuleKind
    conditions: Conditions = field(default_factory=Conditions)
    points_per_unit: int = 0
    unit_minor: int = 100
    rounding: RoundingMode = RoundingMode.FLOOR
    multiplier_basis_points: int = limits.BASIS_POINTS_ONE
    bonus_points: int = 0
    points_max_per_transaction: int | None = None


@dataclass(frozen=True)
class RuleSet:
    """The earning rules of one program version; caps of None mean no cap."""

    rule_set_id: str
    time_zone: str
    tier_count: int
    rules: tuple[EarningRule, ...]
    points_max_per_transaction: int | None = None
    points_max_per_member_day: int | None = None
    points_max_per_member_week: int | None = None
    points_max_per_member_month: int | None = None


def days_since_epoch(day: dt.date) -> int:
    return day.toordinal() - EPOCH_DATE.toordinal()
