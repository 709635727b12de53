"""Earning rules as plain data, and their compilation into the dense tables the kernel reads.

A `RuleSet` holds up to 64 `EarningRule`s in priority order. Each rule has `Conditions` (all must
hold; an empty set means "any value") and one kind:

- RATE: points per currency unit, `points_per_unit / unit_minor` points per minor unit, rounded
  with the rule's `rounding`. The first matching RATE rule in rule order sets the base.
- MULTIPLIER: `multiplier_basis_points` (20,000 = double points) of the base points.
- BONUS: a fixed number of points per matching transaction.
- EXCLUSION: a matching transaction earns nothing.

The stacking order (the reference and the kernel implement exactly this):

1. Match. Every rule's conditions are tested: tier of the member, category, SKU, channel, store,
   the local time window in the program's time zone, and the minimum spend on |amount|.
2. Exclusions. Any matching EXCLUSION rule: the transaction earns 0 and consumes no cap.
3. Base. The first matching RATE rule: base = round(|amount| x points_per_unit / unit_minor);
   no RATE rule matches: base = 0.
4. Multipliers, additive: each matching MULTIPLIER adds
   round(base x (multiplier_basis_points - 10,000) / 10,000), rounded like the base. Two double
   points multipliers give triple points, not quadruple.
5. Fixed bonuses: each matching BONUS adds its `bonus_points`.
   Steps 3 to 5 cap each rule's own contribution at its `points_max_per_transaction`.
6. Transaction cap: the sum is cut to the rule set's `points_max_per_transaction`.
7. Member caps (purchases only): the points are cut to the room left in the member's current
   local day, ISO week (Monday first) and calendar month of the program's time zone, and the room
   is consumed. The caps apply to the rule set's total points of a member, not per rule.
8. Attribution: points a cap removed come off the contributions in reverse stacking order (last
   bonus first, then multipliers from last to first, the base last). Contributions of 0 are left
   out of the attribution.
9. Returns (amount < 0) are computed as a purchase of |amount| through steps 1 to 6 and negated;
   they neither consume nor give back member cap room (the ledger reverses original purchases pro
   rata; these negative points are for return lines the kernel sees on their own).

Rounding modes apply to non-negative values, so a return rounds exactly like its purchase.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledger_core import limits
from ledger_core.errors import RuleError, RuleSetError
from ledger_core.rule_model import (
    MINUTES_PER_DAY,
    Conditions,
    EarningRule,
    RoundingMode,
    RuleKind,
    RuleSet,
    TimeWindow,
    days_since_epoch,
)
from ledger_core.rule_validation import validate_rule_set

UInt64Array = npt.NDArray[np.uint64]
Int64Array = npt.NDArray[np.int64]
NO_LIMIT = -1
Rules = tuple[EarningRule, ...]
ValuesOf = Callable[[Conditions], frozenset[int]]
Accepts = Callable[[EarningRule, int], bool]  # how the kernel's tables say "no cap"


@dataclass(frozen=True, eq=False)
class CompiledRuleSet:
    """A rule set as the kernel reads it: bit r of every mask stands for rule r.

    For each dimension, `<dimension>_masks[value]` holds the rules that accept the value; values
    past the table (mentioned by no rule) get `<dimension>_default`, the rules without a condition
    on that dimension. SKUs, which are sparse, use sorted `sku_keys` and a binary search.
    """

    source: RuleSet
    rule_ids: tuple[str, ...]
    tier_masks: UInt64Array
    category_masks: UInt64Array
    category_default: int
    channel_masks: UInt64Array
    channel_default: int
    store_masks: UInt64Array
    store_default: int
    sku_keys: Int64Array
    sku_masks: UInt64Array
    sku_default: int
    weekday_masks: UInt64Array
    minute_masks: UInt64Array
    # Index 0 is every day before day_base, the last index every day from day_base + size on.
    day_masks: UInt64Array
    day_base: int
    spend_thresholds_minor: Int64Array
    spend_masks: UInt64Array
    kind_bits: tuple[int, int, int, int]
    rule_points_per_unit: Int64Array
    rule_unit_minor: Int64Array
    rule_rounding: Int64Array
    rule_extra_basis_points: Int64Array
    rule_bonus_points: Int64Array
    rule_points_max: Int64Array
    points_max_per_transaction: int
    points_max_per_member_day: int
    points_max_per_member_week: int
    points_max_per_member_month: int
    has_window: bool
    # Some window has hours, not whole days: the kernel then needs the minute of the day.
    has_minute_window: bool


def compile_rules(rule_set: RuleSet) -> CompiledRuleSet:
    """Validate `rule_set` (raising RuleError / RuleSetError) and build the kernel's tables."""
    validate_rule_set(rule_set)
    rules = rule_set.rules
    category_masks, category_default = _dense_masks(rules, lambda c: c.categories)
    channel_masks, channel_default = _dense_masks(rules, lambda c: c.channels)
    store_masks, store_default = _dense_masks(rules, lambda c: c.stores)
    sku_keys, sku_masks, sku_default = _sparse_masks(rules, lambda c: c.skus)
    day_masks, day_base = _day_masks(rules)
    spend_thresholds, spend_masks = _spend_masks(rules)
    windows = [rule.conditions.window for rule in rules]
    minute_masks = _masks_over(range(MINUTES_PER_DAY), rules, _minute_accepts)
    return CompiledRuleSet(
        source=rule_set,
        rule_ids=tuple(rule.rule_id for rule in rules),
        tier_masks=_masks_over(range(rule_set.tier_count), rules, _tier_accepts),
        category_masks=category_masks,
        category_default=category_default,
        channel_masks=channel_masks,
        channel_default=channel_default,
        store_masks=store_masks,
        store_default=store_default,
        sku_keys=sku_keys,
        sku_masks=sku_masks,
        sku_default=sku_default,
        weekday_masks=_masks_over(range(7), rules, _weekday_accepts),
        minute_masks=minute_masks,
        day_masks=day_masks,
        day_base=day_base,
        spend_thresholds_minor=spend_thresholds,
        spend_masks=spend_masks,
        kind_bits=_kind_bits(rules),
        rule_points_per_unit=_column(rules, lambda r: r.points_per_unit),
        rule_unit_minor=_column(rules, lambda r: r.unit_minor),
        rule_rounding=_column(rules, lambda r: int(r.rounding)),
        rule_extra_basis_points=_column(
            rules, lambda r: r.multiplier_basis_points - limits.BASIS_POINTS_ONE
        ),
        rule_bonus_points=_column(rules, lambda r: r.bonus_points),
        rule_points_max=_column(rules, lambda r: _or_max(r.points_max_per_transaction)),
        points_max_per_transaction=_or_max(rule_set.points_max_per_transaction),
        points_max_per_member_day=_or_no_limit(rule_set.points_max_per_member_day),
        points_max_per_member_week=_or_no_limit(rule_set.points_max_per_member_week),
        points_max_per_member_month=_or_no_limit(rule_set.points_max_per_member_month),
        has_window=any(w is not None and w != TimeWindow() for w in windows),
        has_minute_window=bool((minute_masks != _bits(True for _ in rules)).any()),
    )


def _bits(flags: Iterable[bool]) -> int:
    return sum(1 << index for index, flag in enumerate(flags) if flag)


def _kind_bits(rules: tuple[EarningRule, ...]) -> tuple[int, int, int, int]:
    rate, multiplier, bonus, exclusion = (_bits(r.kind == kind for r in rules) for kind in RuleKind)
    return rate, multiplier, bonus, exclusion


def _masks_over(values: Iterable[int], rules: Rules, accepts: Accepts) -> UInt64Array:
    return np.array(
        [_bits(accepts(rule, value) for rule in rules) for value in values], dtype=np.uint64
    )


def _tier_accepts(rule: EarningRule, tier: int) -> bool:
    return not rule.conditions.tiers or tier in rule.conditions.tiers


def _weekday_accepts(rule: EarningRule, weekday: int) -> bool:
    window = rule.conditions.window
    return window is None or not window.weekdays or weekday in window.weekdays


def _minute_accepts(rule: EarningRule, minute: int) -> bool:
    window = rule.conditions.window
    if window is None:
        return True
    start, end = window.start_minute_of_day, window.end_minute_of_day
    return start <= minute < end if start < end else (minute >= start or minute < end)


def _mentioned(rules: Rules, values_of: ValuesOf) -> list[int]:
    return sorted(set().union(*(values_of(rule.conditions) for rule in rules)))


def _accepting(values_of: ValuesOf) -> Accepts:
    def accepts(rule: EarningRule, value: int) -> bool:
        values = values_of(rule.conditions)
        return not values or value in values

    return accepts


def _dense_masks(rules: Rules, values_of: ValuesOf) -> tuple[UInt64Array, int]:
    mentioned = _mentioned(rules, values_of)
    size = mentioned[-1] + 1 if mentioned else 0
    default = _bits(not values_of(rule.conditions) for rule in rules)
    return _masks_over(range(size), rules, _accepting(values_of)), default


def _sparse_masks(rules: Rules, values_of: ValuesOf) -> tuple[Int64Array, UInt64Array, int]:
    mentioned = _mentioned(rules, values_of)
    default = _bits(not values_of(rule.conditions) for rule in rules)
    masks = _masks_over(mentioned, rules, _accepting(values_of))
    return np.array(mentioned, dtype=np.int64), masks, default


def _date_bounds(rule: EarningRule) -> tuple[int | None, int | None]:
    window = rule.conditions.window
    if window is None:
        return None, None
    first = None if window.first_date is None else days_since_epoch(window.first_date)
    last = None if window.last_date is None else days_since_epoch(window.last_date)
    return first, last


def _day_masks(rules: tuple[EarningRule, ...]) -> tuple[UInt64Array, int]:
    # Masks change only at a first date or the day after a last date: the table spans those.
    edges: set[int] = set()
    for rule in rules:
        first, last = _date_bounds(rule)
        edges.update(e for e in (first, None if last is None else last + 1) if e is not None)
    base = min(edges) if edges else 0
    size = max(edges) - base if edges else 0

    def accepts(rule: EarningRule, day: int) -> bool:
        first, last = _date_bounds(rule)
        return (first is None or day >= first) and (last is None or day <= last)

    return _masks_over(range(base - 1, base + size + 1), rules, accepts), base


def _spend_masks(rules: tuple[EarningRule, ...]) -> tuple[Int64Array, UInt64Array]:
    thresholds = sorted({r.conditions.spend_min_minor for r in rules} - {0})
    levels = [0, *thresholds]
    masks = [_bits(r.conditions.spend_min_minor <= level for r in rules) for level in levels]
    return np.array(thresholds, dtype=np.int64), np.array(masks, dtype=np.uint64)


def _column(rules: Rules, value_of: Callable[[EarningRule], int]) -> Int64Array:
    return np.array([value_of(rule) for rule in rules], dtype=np.int64)


def _or_max(points_max: int | None) -> int:
    return limits.INT64_MAX if points_max is None else points_max


def _or_no_limit(points_max: int | None) -> int:
    return NO_LIMIT if points_max is None else points_max


__all__ = [
    "CompiledRuleSet",
    "Conditions",
    "EarningRule",
    "RoundingMode",
    "RuleError",
    "RuleKind",
    "RuleSet",
    "RuleSetError",
    "TimeWindow",
    "compile_rules",
]
