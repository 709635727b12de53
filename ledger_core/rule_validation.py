"""Checks a rule set before compilation; each failure names the rule (or the set) and the field."""

import zoneinfo
from collections.abc import Callable

from ledger_core import limits
from ledger_core.errors import RuleError, RuleSetError
from ledger_core.rule_model import (
    MINUTES_PER_DAY,
    EarningRule,
    RoundingMode,
    RuleKind,
    RuleSet,
    TimeWindow,
    days_since_epoch,
)

DATE_DAYS_MAX = limits.TIMESTAMP_SECONDS_MAX // 86_400
# Fields each kind may set; the others must keep their defaults, so a typo is not ignored.
FIELDS_OF_KIND = {
    RuleKind.RATE: {"points_per_unit", "unit_minor", "rounding"},
    RuleKind.MULTIPLIER: {"multiplier_basis_points"},
    RuleKind.BONUS: {"bonus_points"},
    RuleKind.EXCLUSION: set(),
}
KIND_DEFAULTS = {
    "points_per_unit": 0,
    "unit_minor": 100,
    "rounding": RoundingMode.FLOOR,
    "multiplier_basis_points": limits.BASIS_POINTS_ONE,
    "bonus_points": 0,
}


def validate_rule_set(rule_set: RuleSet) -> None:
    _validate_set_fields(rule_set)
    seen: set[str] = set()
    for rule in rule_set.rules:
        if not isinstance(rule.rule_id, str) or not rule.rule_id:
            raise RuleError(str(rule.rule_id), "rule_id", "must be a non-empty string")
        if rule.rule_id in seen:
            raise RuleError(rule.rule_id, "rule_id", "appears twice in the rule set")
        seen.add(rule.rule_id)
        _validate_rule(rule, tier_count=rule_set.tier_count)


def _validate_set_fields(rule_set: RuleSet) -> None:
    set_id = rule_set.rule_set_id

    def fail(field: str, message: str) -> RuleSetError:
        return RuleSetError(set_id, field, message)

    try:
        zoneinfo.ZoneInfo(rule_set.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise fail("time_zone", f"unknown time zone {rule_set.time_zone!r}") from error
    if not _is_int(rule_set.tier_count) or not 1 <= rule_set.tier_count <= limits.TIERS_MAX:
        raise fail("tier_count", f"must be 1 to {limits.TIERS_MAX}")
    if len(rule_set.rules) > limits.RULES_PER_SET_MAX:
        raise fail("rules", f"at most {limits.RULES_PER_SET_MAX} rules")
    for name in (
        "points_max_per_transaction",
        "points_max_per_member_day",
        "points_max_per_member_week",
        "points_max_per_member_month",
    ):
        value = getattr(rule_set, name)
        if value is not None and not _is_points(value):
            raise fail(name, "must be None or 0 to 2**63 - 1 points")


def _validate_rule(rule: EarningRule, *, tier_count: int) -> None:
    def fail(field: str, message: str) -> RuleError:
        return RuleError(rule.rule_id, field, message)

    if not isinstance(rule.kind, RuleKind):
        raise fail("kind", "must be a RuleKind")
    for name, default in KIND_DEFAULTS.items():
        if name not in FIELDS_OF_KIND[rule.kind] and getattr(rule, name) != default:
            raise fail(name, f"not used by a {rule.kind.name} rule; leave the default")
    if rule.kind == RuleKind.RATE:
        if not _is_points(rule.points_per_unit):
            raise fail("points_per_unit", "must be 0 to 2**63 - 1")
        if not _is_int(rule.unit_minor) or not 1 <= rule.unit_minor <= limits.UNIT_MINOR_MAX:
            raise fail("unit_minor", f"must be 1 to {limits.UNIT_MINOR_MAX}")
        if not isinstance(rule.rounding, RoundingMode):
            raise fail("rounding", "must be a RoundingMode")
    multiplier = rule.multiplier_basis_points
    if not _is_int(multiplier) or not (
        limits.BASIS_POINTS_ONE <= multiplier <= limits.MULTIPLIER_BASIS_POINTS_MAX
    ):
        raise fail(
            "multiplier_basis_points",
            f"must be {limits.BASIS_POINTS_ONE} (1x) to {limits.MULTIPLIER_BASIS_POINTS_MAX}",
        )
    if not _is_points(rule.bonus_points):
        raise fail("bonus_points", "must be 0 to 2**63 - 1")
    if rule.points_max_per_transaction is not None and not _is_points(
        rule.points_max_per_transaction
    ):
        raise fail("points_max_per_transaction", "must be None or 0 to 2**63 - 1")
    _validate_conditions(rule, tier_count=tier_count)


def _validate_conditions(rule: EarningRule, *, tier_count: int) -> None:
    def fail(field: str, message: str) -> RuleError:
        return RuleError(rule.rule_id, field, message)

    conditions = rule.conditions
    ranges = {
        "tiers": (0, tier_count - 1),
        "categories": (0, limits.DIMENSION_ID_MAX),
        "channels": (0, limits.DIMENSION_ID_MAX),
        "stores": (0, limits.DIMENSION_ID_MAX),
        "skus": (0, limits.INT64_MAX),
    }
    for name, (low, high) in ranges.items():
        values = getattr(conditions, name)
        if not isinstance(values, frozenset):
            raise fail(f"conditions.{name}", "must be a frozenset")
        bad = [v for v in values if not _is_int(v) or not low <= v <= high]
        if bad:
            raise fail(f"conditions.{name}", f"{bad[0]!r} is outside {low} to {high}")
    if not _is_points(conditions.spend_min_minor):
        raise fail("conditions.spend_min_minor", "must be 0 to 2**63 - 1")
    if conditions.window is not None:
        _validate_window(conditions.window, fail)


def _validate_window(window: TimeWindow, fail: Callable[[str, str], RuleError]) -> None:
    for name in ("first_date", "last_date"):
        day = getattr(window, name)
        if day is not None and not 0 <= days_since_epoch(day) <= DATE_DAYS_MAX:
            raise fail(f"conditions.window.{name}", "must be 1970-01-01 to 2099-12-31")
    if window.first_date and window.last_date and window.first_date > window.last_date:
        raise fail("conditions.window.last_date", "is before first_date")
    if not isinstance(window.weekdays, frozenset) or not window.weekdays <= set(range(7)):
        raise fail("conditions.window.weekdays", "must be a frozenset of 0 (Monday) to 6")
    start, end = window.start_minute_of_day, window.end_minute_of_day
    if not _is_int(start) or not 0 <= start < MINUTES_PER_DAY:
        raise fail("conditions.window.start_minute_of_day", "must be 0 to 1439")
    if not _is_int(end) or not 0 < end <= MINUTES_PER_DAY or end == start:
        raise fail("conditions.window.end_minute_of_day", "must be 1 to 1440, not the start")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_points(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= limits.INT64_MAX
