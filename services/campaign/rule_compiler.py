"""Earning rules (protos) mapped to ledger_core's rule model and compiled, once per version.

One proto rule becomes up to three ledger_core rule sets, each compiled once:

- `windows`: one BONUS rule of 1 point per time window, so a transaction earning anything from it
  falls in one of the rule's windows ("any matching window suffices");
- `lines`, evaluated per line: the RATE (the base, under the rule's conditions), one MULTIPLIER per
  combination of multipliers of different dimensions, matching only where no other multiplier
  does (so matching multipliers of different dimensions multiply, rounded once: 2x gold and 1.5x
  shoes give 3x the base) and one EXCLUSION per excluded dimension;
- `totals`, evaluated per transaction on the sum of its lines' points: that sum carried at 1 point
  per unit, the fixed bonus under the rule's conditions, the per-transaction cap and the member
  caps per day, week and month. Only rules with a bonus or a cap have it.

Values are mapped to small ids local to the rule (1..n for the values it mentions, 0 for every
other), so a compiled version never depends on anything but its own definition and the program's
time zone and rounding default.
"""

import datetime as dt
import itertools
from dataclasses import dataclass, field

import ledger_core
from loyalty.campaign.v1 import rules_pb2
from loyalty.common.v1 import common_pb2
from services.campaign.instants import bound_micros
from services.campaign.rules import minute_of_day
from services.shared.errors import InvalidArgument

ROUNDING = {
    common_pb2.ROUNDING_MODE_FLOOR: ledger_core.RoundingMode.FLOOR,
    common_pb2.ROUNDING_MODE_HALF_UP: ledger_core.RoundingMode.HALF_UP,
    common_pb2.ROUNDING_MODE_HALF_EVEN: ledger_core.RoundingMode.HALF_EVEN,
}
RULES_PER_SET_MAX = 64
# The fields of ledger_core.Conditions a multiplier can target.
DIMENSIONS = ("tiers", "categories", "skus", "channels", "stores")
CHANNELS = frozenset(common_pb2.Channel.values())
BASIS_POINTS_ONE = 10_000
EXTRA_BASIS_POINTS_MAX = ledger_core.limits.MULTIPLIER_BASIS_POINTS_MAX - BASIS_POINTS_ONE
# The lines set's rule indexes: the RATE rule is always first.
RATE_INDEX = 0


@dataclass(frozen=True)
class Dictionary:
    """Local ids of the values a rule mentions: 1..n; any other value is 0."""

    ids: dict[str, int] = field(default_factory=dict)

    def id(self, value: str) -> int:
        return self.ids.setdefault(value, len(self.ids) + 1)

    def lookup(self, values: list[str]) -> list[int]:
        return [self.ids.get(value, 0) for value in values]


@dataclass(frozen=True, eq=False)
class CompiledEarningRule:
    ref: str  # "rule_id@version", what accruals record
    rule_id: str
    version: int
    name: str
    priority: int
    stacking_mode: int
    qualifying: bool
    # The rule's period [start, end) in unix microseconds, to the microsecond purchases carry
    # (a bound's nanoseconds round up: a purchase at its microsecond is not before it).
    start_micros: int | None
    end_micros: int | None
    spend_min_minor: int
    tiers: Dictionary
    categories: Dictionary
    skus: Dictionary
    stores: Dictionary
    windows: ledger_core.CompiledRuleSet | None
    lines: ledger_core.CompiledRuleSet | None
    totals: ledger_core.CompiledRuleSet | None
    totals_uncapped: ledger_core.CompiledRuleSet | None
    # The bonus only applies to transactions with a line in the rule's categories.
    bonus_needs_category: bool
    member_caps: bool
    fixed_bonus_points: int
    # Only members of one of these segments earn under the rule; empty means all members.
    segment_ids: tuple[str, ...] = ()

    @property
    def tier_count(self) -> int:
        return len(self.tiers.ids) + 1


def rule_ref(rule_id: str, version: int) -> str:
    return f"{rule_id}@{version}"


def compile_earning(
    rule: rules_pb2.Rule, *, time_zone: str, default_rounding: int
) -> CompiledEarningRule:
    """Map and compile one version; INVALID_ARGUMENT naming the field if the kernel refuses it."""
    earning = rule.earning
    tiers, categories, skus, stores = Dictionary(), Dictionary(), Dictionary(), Dictionary()
    conditions = ledger_core.Conditions(
        tiers=frozenset(tiers.id(code) for code in earning.tier_codes),
        categories=frozenset(categories.id(c) for c in earning.categories),
        channels=frozenset(earning.channels),
        stores=frozenset(stores.id(s) for s in earning.store_ids),
    )
    line_rules: list[ledger_core.EarningRule] = []
    if earning.HasField("rate"):
        rounding = earning.rounding_mode or default_rounding or common_pb2.ROUNDING_MODE_FLOOR
        line_rules.append(
            ledger_core.EarningRule(
                rule_id="rate",
                kind=ledger_core.RuleKind.RATE,
                conditions=conditions,
                points_per_unit=earning.rate.points,
                unit_minor=earning.rate.per_amount_minor,
                rounding=ROUNDING[rounding],
            )
        )
        # The exclusions first: a multiplier's "none of this dimension's values" needs every
        # value the rule mentions to have its id.
        exclusions = _exclusions(earning.exclusions, categories, skus, stores)
        line_rules += _multipliers(earning.multipliers, tiers, categories, skus, stores)
        line_rules += exclusions
    if len(line_rules) > RULES_PER_SET_MAX:
        raise InvalidArgument(
            "rule.earning.multipliers",
            f"{len(line_rules)} kernel rules (multiplier combinations and exclusions), "
            f"at most {RULES_PER_SET_MAX}",
        )
    caps = earning.caps
    member_caps = any(
        (
            caps.per_member_day_points_max,
            caps.per_member_week_points_max,
            caps.per_member_month_points_max,
        )
    )
    needs_totals = bool(
        earning.fixed_bonus_points or caps.per_transaction_points_max or member_caps
    )
    ref = rule_ref(rule.rule_id, rule.version)
    tier_count = len(tiers.ids) + 1

    def rule_set(
        name: str, rules: list[ledger_core.EarningRule], **limits: int | None
    ) -> ledger_core.CompiledRuleSet:
        try:
            return ledger_core.compile_rules(
                ledger_core.RuleSet(
                    rule_set_id=f"{ref}/{name}",
                    time_zone=time_zone,
                    tier_count=tier_count,
                    rules=tuple(rules),
                    **limits,  # type: ignore[arg-type]
                )
            )
        except (ledger_core.RuleError, ledger_core.RuleSetError) as error:
            raise InvalidArgument("rule.earning", f"cannot be compiled: {error}") from None

    totals = totals_uncapped = None
    if needs_totals:
        total_rules = _totals_rules(earning, conditions, stores)
        totals = rule_set(
            "totals",
            total_rules,
            points_max_per_transaction=caps.per_transaction_points_max or None,
            points_max_per_member_day=caps.per_member_day_points_max or None,
            points_max_per_member_week=caps.per_member_week_points_max or None,
            points_max_per_member_month=caps.per_member_month_points_max or None,
        )
        totals_uncapped = rule_set("totals_uncapped", total_rules)
    windows = None
    if earning.time_windows:
        windows = rule_set(
            "windows",
            [
                ledger_core.EarningRule(
                    rule_id=f"window{index}",
                    kind=ledger_core.RuleKind.BONUS,
                    conditions=ledger_core.Conditions(window=_window(window)),
                    bonus_points=1,
                )
                for index, window in enumerate(earning.time_windows)
            ],
        )
    return CompiledEarningRule(
        ref=ref,
        rule_id=rule.rule_id,
        version=rule.version,
        name=rule.name,
        priority=rule.priority,
        stacking_mode=rule.stacking_mode or rules_pb2.STACKING_MODE_STACKABLE,
        qualifying=earning.qualifying,
        start_micros=bound_micros(rule.start_time) if rule.HasField("start_time") else None,
        end_micros=bound_micros(rule.end_time) if rule.HasField("end_time") else None,
        spend_min_minor=earning.minimum_spend.amount_minor,
        tiers=tiers,
        categories=categories,
        skus=skus,
        stores=stores,
        windows=windows,
        lines=rule_set("lines", line_rules) if line_rules else None,
        totals=totals,
        totals_uncapped=totals_uncapped,
        bonus_needs_category=bool(earning.categories) and earning.fixed_bonus_points > 0,
        member_caps=member_caps,
        fixed_bonus_points=earning.fixed_bonus_points,
        segment_ids=tuple(rule.segment_ids),
    )


def _multipliers(
    multipliers: "list[rules_pb2.Multiplier]",
    tiers: Dictionary,
    categories: Dictionary,
    skus: Dictionary,
    stores: Dictionary,
) -> list[ledger_core.EarningRule]:
    """One kernel MULTIPLIER per combination of multipliers of different dimensions.

    The kernel adds each matching multiplier's extra (bps - 10,000) of the base, each rounded. So
    that a line matching several multipliers gets their product rounded once, each combination is
    one rule holding the whole product, that matches only where the other dimensions match none of
    their multipliers: a value of a dimension is one of its multipliers' or "none of them", and
    every choice with at least one multiplier is a rule. A product that is not a whole basis point
    is taken down to one; one past the kernel's 100x is split into several rules.
    """
    if not multipliers:
        return []
    by_dimension: dict[str, list[tuple[ledger_core.Conditions, int]]] = {}
    for multiplier in multipliers:
        target = multiplier.WhichOneof("target")
        assert target is not None
        value = getattr(multiplier, target)
        condition = _condition(target, value, tiers, categories, skus, stores)
        by_dimension.setdefault(target, []).append((condition, multiplier.multiplier_bps))
    domains = {
        "tier_code": _local_ids(tiers),
        "category": _local_ids(categories),
        "sku": _local_ids(skus),
        "store_id": _local_ids(stores),
        "channel": frozenset(CHANNELS),
    }
    choices = []
    for target, chosen in by_dimension.items():
        none = _none_of(domains[target], chosen)
        # Multipliers on every channel leave no "none of them" (an empty set would mean any).
        choices.append([*chosen, (none, BASIS_POINTS_ONE)] if none is not None else chosen)
    rules: list[ledger_core.EarningRule] = []
    for combination in itertools.product(*choices):
        factors = [bps for _, bps in combination]
        product = 1
        for bps in factors:
            product *= bps
        extra = product // BASIS_POINTS_ONE ** (len(factors) - 1) - BASIS_POINTS_ONE
        conditions = _merged([condition for condition, _ in combination])
        # A product past the kernel's largest multiplier takes several rules (each rounded).
        while extra > 0:
            piece = min(extra, EXTRA_BASIS_POINTS_MAX)
            rules.append(
                ledger_core.EarningRule(
                    rule_id=f"multiplier{len(rules)}",
                    kind=ledger_core.RuleKind.MULTIPLIER,
                    conditions=conditions,
                    multiplier_basis_points=BASIS_POINTS_ONE + piece,
                )
            )
            extra -= piece
    return rules


def _local_ids(dictionary: Dictionary) -> frozenset[int]:
    return frozenset(range(len(dictionary.ids) + 1))


def _none_of(
    domain: frozenset[int], chosen: list[tuple[ledger_core.Conditions, int]]
) -> ledger_core.Conditions | None:
    """The condition of a dimension's values that no multiplier of `chosen` (all of it) names;
    None if they name every value."""
    name = _dimension_of(chosen[0][0])
    left = domain.difference(*(getattr(condition, name) for condition, _ in chosen))
    return ledger_core.Conditions(**{name: left}) if left else None  # type: ignore[arg-type]


def _dimension_of(condition: ledger_core.Conditions) -> str:
    return next(name for name in DIMENSIONS if getattr(condition, name))


def _condition(
    target: str,
    value: object,
    tiers: Dictionary,
    categories: Dictionary,
    skus: Dictionary,
    stores: Dictionary,
) -> ledger_core.Conditions:
    if target == "channel":
        assert isinstance(value, int)
        return ledger_core.Conditions(channels=frozenset({value}))
    assert isinstance(value, str)
    if target == "tier_code":
        return ledger_core.Conditions(tiers=frozenset({tiers.id(value)}))
    if target == "category":
        return ledger_core.Conditions(categories=frozenset({categories.id(value)}))
    if target == "sku":
        return ledger_core.Conditions(skus=frozenset({skus.id(value)}))
    return ledger_core.Conditions(stores=frozenset({stores.id(value)}))


def _merged(conditions: list[ledger_core.Conditions]) -> ledger_core.Conditions:
    merged: dict[str, frozenset[int]] = {}
    for condition in conditions:
        for name in DIMENSIONS:
            values = getattr(condition, name)
            if values:
                merged[name] = values
    return ledger_core.Conditions(**merged)  # type: ignore[arg-type]


def _exclusions(
    exclusions: rules_pb2.Exclusions, categories: Dictionary, skus: Dictionary, stores: Dictionary
) -> list[ledger_core.EarningRule]:
    excluded = {
        "categories": frozenset(categories.id(c) for c in exclusions.categories),
        "skus": frozenset(skus.id(s) for s in exclusions.skus),
        "stores": frozenset(stores.id(s) for s in exclusions.store_ids),
        "channels": frozenset(exclusions.channels),
    }
    return [
        ledger_core.EarningRule(
            rule_id=f"exclude_{name}",
            kind=ledger_core.RuleKind.EXCLUSION,
            conditions=ledger_core.Conditions(**{name: values}),  # type: ignore[arg-type]
        )
        for name, values in excluded.items()
        if values
    ]


def _totals_rules(
    earning: rules_pb2.EarningRule, conditions: ledger_core.Conditions, stores: Dictionary
) -> list[ledger_core.EarningRule]:
    """Carry the lines' points (amount = points, 1 point per unit), add the bonus; the rule set's
    caps then cut the sum. In this set the category column says whether the transaction has a
    line in the rule's categories (1) or not (0)."""
    rules = [
        ledger_core.EarningRule(
            rule_id="lines", kind=ledger_core.RuleKind.RATE, points_per_unit=1, unit_minor=1
        )
    ]
    if earning.fixed_bonus_points:
        rules.append(
            ledger_core.EarningRule(
                rule_id="bonus",
                kind=ledger_core.RuleKind.BONUS,
                conditions=ledger_core.Conditions(
                    tiers=conditions.tiers,
                    channels=conditions.channels,
                    stores=conditions.stores,
                    categories=frozenset({1}) if earning.categories else frozenset(),
                ),
                bonus_points=earning.fixed_bonus_points,
            )
        )
    excluded = {
        "stores": frozenset(stores.id(s) for s in earning.exclusions.store_ids),
        "channels": frozenset(earning.exclusions.channels),
    }
    rules += [
        ledger_core.EarningRule(
            rule_id=f"exclude_{name}",
            kind=ledger_core.RuleKind.EXCLUSION,
            conditions=ledger_core.Conditions(**{name: values}),  # type: ignore[arg-type]
        )
        for name, values in excluded.items()
        if values
    ]
    return rules


def _window(window: rules_pb2.TimeWindow) -> ledger_core.TimeWindow:
    def date(name: str) -> dt.date | None:
        if not window.HasField(name):
            return None
        local = getattr(window, name)
        return dt.date(local.year, local.month, local.day)

    return ledger_core.TimeWindow(
        first_date=date("start_date"),
        last_date=date("end_date"),
        weekdays=frozenset(day - 1 for day in window.weekdays),
        start_minute_of_day=minute_of_day(window, "start_time", 0),
        end_minute_of_day=minute_of_day(window, "end_time", 1440),
    )


class CompiledRules:
    """Each version compiled once per process, keyed by what its compilation depends on."""

    def __init__(self, size_max: int = 10_000) -> None:
        self._compiled: dict[tuple[object, ...], CompiledEarningRule] = {}
        self.size_max = size_max
        self.compilations = 0

    def get(
        self,
        program_id: str,
        rule: rules_pb2.Rule,
        *,
        time_zone: str,
        default_rounding: int,
        tiers_version: int = 0,
        tier_multipliers: tuple[tuple[str, int], ...] = (),
    ) -> CompiledEarningRule:
        """`tiers_version`: that of the program's tiers whose mappings `rule` follows (0 when it
        follows none), so a version is compiled again after the ledger renames tiers;
        `tier_multipliers`: the tiers' own multipliers `rule` was given (empty when it takes
        none), so it is compiled again when they change."""
        key = (
            program_id,
            rule.rule_id,
            rule.version,
            time_zone,
            default_rounding,
            tiers_version,
            tier_multipliers,
        )
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = compile_earning(rule, time_zone=time_zone, default_rounding=default_rounding)
            self.compilations += 1
            if len(self._compiled) >= self.size_max:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[key] = compiled
        return compiled
