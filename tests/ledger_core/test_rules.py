"""compile_rules: every invalid rule is refused with an error naming the rule and the field."""

import dataclasses
import datetime as dt
from typing import Any

import pytest
from ledger_core_builders import bonus, multiplier, rate, rule_set

from ledger_core import (
    Conditions,
    EarningRule,
    RuleError,
    RuleKind,
    RuleSetError,
    TimeWindow,
    compile_rules,
)


def with_conditions(rule: EarningRule, **changes: Any) -> EarningRule:
    return dataclasses.replace(rule, conditions=dataclasses.replace(rule.conditions, **changes))


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (rate(unit_minor=0), "unit_minor"),
        (rate(points_per_unit=-1), "points_per_unit"),
        (multiplier("half", 5_000), "multiplier_basis_points"),
        (multiplier("huge", 10**7), "multiplier_basis_points"),
        (bonus("negative", -5), "bonus_points"),
        (dataclasses.replace(bonus("b", 5), points_per_unit=3), "points_per_unit"),
        (
            dataclasses.replace(bonus("b", 5), points_max_per_transaction=-1),
            "points_max_per_transaction",
        ),
        (with_conditions(rate(), tiers=frozenset({3})), "conditions.tiers"),
        (with_conditions(rate(), categories=frozenset({-1})), "conditions.categories"),
        (with_conditions(rate(), stores=frozenset({70_000})), "conditions.stores"),
        (with_conditions(rate(), channels={1}), "conditions.channels"),
        (with_conditions(rate(), spend_min_minor=-1), "conditions.spend_min_minor"),
        (
            with_conditions(rate(), window=TimeWindow(weekdays=frozenset({7}))),
            "conditions.window.weekdays",
        ),
        (
            with_conditions(
                rate(), window=TimeWindow(start_minute_of_day=60, end_minute_of_day=60)
            ),
            "conditions.window.end_minute_of_day",
        ),
        (
            with_conditions(
                rate(),
                window=TimeWindow(first_date=dt.date(2024, 2, 1), last_date=dt.date(2024, 1, 1)),
            ),
            "conditions.window.last_date",
        ),
        (
            with_conditions(rate(), window=TimeWindow(first_date=dt.date(1969, 12, 31))),
            "conditions.window.first_date",
        ),
        (EarningRule("", RuleKind.RATE), "rule_id"),
    ],
)
def test_invalid_rule_names_rule_and_field(rule: EarningRule, field: str) -> None:
    with pytest.raises(RuleError) as raised:
        compile_rules(rule_set(rule))
    assert raised.value.field == field
    assert raised.value.rule_id == rule.rule_id
    assert field in str(raised.value)


def test_duplicate_rule_ids_are_refused() -> None:
    with pytest.raises(RuleError) as raised:
        compile_rules(rule_set(rate("same"), bonus("same", 1)))
    assert (raised.value.rule_id, raised.value.field) == ("same", "rule_id")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"tier_count": 0}, "tier_count"),
        ({"points_max_per_member_week": -1}, "points_max_per_member_week"),
        ({"rules": tuple(bonus(f"b{n}", 1) for n in range(65))}, "rules"),
    ],
)
def test_invalid_rule_set_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleSetError) as raised:
        compile_rules(dataclasses.replace(rule_set(rate()), **changes))
    assert (raised.value.rule_set_id, raised.value.field) == ("test-v1", field)


def test_compiled_tables_hold_one_bit_per_rule() -> None:
    compiled = compile_rules(
        rule_set(rate(), multiplier("shoes", 20_000, categories=frozenset({2})), bonus("b", 1))
    )
    assert compiled.kind_bits == (0b001, 0b010, 0b100, 0)
    assert compiled.category_masks.tolist() == [0b101, 0b101, 0b111]
    assert compiled.category_default == 0b101
    assert compiled.rule_ids == ("base", "shoes", "b")


def test_a_rule_set_of_64_rules_compiles() -> None:
    rules = rule_set(*(bonus(f"b{n}", 1, categories=frozenset({n})) for n in range(64)))
    assert compile_rules(rules).kind_bits[2] == 2**64 - 1


def test_conditions_default_to_any_value() -> None:
    assert Conditions() == Conditions(tiers=frozenset(), window=None, spend_min_minor=0)
