"""Rules and segments against the ledger's tiers as last announced (pure; no I/O).

The ledger owns tiers and announces each change (TierDefinitionsChanged) with every mapping of a
removed code to the tier its members went to. Campaign never rewrites a rule or a segment (a rule
change is the operator's, and past accruals stay as they were), so:

- earning rules follow the mappings when compiled (`followed_rule`): a rule for 'member' after
  member -> blue matches blue's members, as the ledger moved them there. This is cheap: the
  mappings are cached with the program's tiers and a rule is compiled once per tiers version;
- segments follow them the same way (`followed_tier_codes`) when their SQL is built for a
  computation: a tier condition naming 'silver' after silver -> plus matches plus's members,
  with the same query as before (one more code in the condition's array, no cost per member).
  Segments naming a code whose mapping changed are recomputed in full (`remapped_codes`),
  since members who moved may have been evaluated before the mapping was known;
- a rule or segment code neither defined nor mapped matches nobody and is reported.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from loyalty.campaign.v1 import rules_pb2, segments_pb2
from services.campaign.rules import named_tier_codes

RULE, SEGMENT = "rule", "segment"


@dataclass(frozen=True)
class ProgramTiers:
    """The program's tiers as the ledger last announced them."""

    version: int
    codes: frozenset[str]
    # removed code -> the tier its members went to (chained by the ledger: always defined).
    mappings: dict[str, str] = field(default_factory=dict)


def rule_undefined_codes(rule: rules_pb2.Rule, tiers: ProgramTiers) -> list[str]:
    """The codes an earning rule names that the tiers neither define nor map, in order, once."""
    found: list[str] = []
    for _, code in named_tier_codes(rule):
        if code not in tiers.codes and code not in tiers.mappings and code not in found:
            found.append(code)
    return found


def segment_tier_codes(segment: segments_pb2.Segment) -> list[str]:
    """Every tier code the segment's tier conditions name, in order, once."""
    found: list[str] = []
    for condition in segment.conditions:
        if condition.WhichOneof("condition") == "tier":
            found += [code for code in condition.tier.tier_codes if code not in found]
    return found


def segment_undefined_codes(segment: segments_pb2.Segment, tiers: ProgramTiers) -> list[str]:
    """The codes the segment's tier conditions name that the tiers neither define nor map (a
    mapped code matches the tier its members went to: see `followed_tier_codes`)."""
    return [
        code
        for code in segment_tier_codes(segment)
        if code not in tiers.codes and code not in tiers.mappings
    ]


def followed_tier_codes(codes: Iterable[str], mappings: Mapping[str, str]) -> list[str]:
    """`codes` followed through the renames: each code kept (a member campaign still knows
    under the old code, its TierChanged not consumed yet, matches too) and each mapped code's
    targets added after them, in order, once."""
    followed = list(dict.fromkeys(codes))
    for code in list(followed):
        target = mappings.get(code)
        if target is not None and target not in followed:
            followed.append(target)
    return followed


def remapped_codes(before: ProgramTiers | None, after: ProgramTiers) -> set[str]:
    """The codes whose mapping `after` adds, changes or drops compared with `before`: what a
    segment naming them matches changed with the announcement itself."""
    old = before.mappings if before is not None else {}
    return {
        code
        for code in old.keys() | after.mappings.keys()
        if old.get(code) != after.mappings.get(code)
    }


def followed_rule(rule: rules_pb2.Rule, mappings: dict[str, str]) -> rules_pb2.Rule:
    """The earning rule as accrual applies it after renames: `rule` itself when it names no
    mapped code, else a copy (never stored) where

    - the tier filter keeps its codes and adds each mapped code's target, so a member campaign
      still knows under the old code (its TierChanged not consumed yet) matches too;
    - a tier multiplier on a mapped code targets the code's target instead, unless the rule has
      a multiplier of its own for that target: two would both apply to its members (the kernel
      adds matching multipliers), and the one the operator gave the target wins.
    """
    earning = rule.earning
    named = {code for _, code in named_tier_codes(rule)}
    if not named & mappings.keys():
        return rule
    followed = rules_pb2.Rule()
    followed.CopyFrom(rule)
    codes = followed_tier_codes(earning.tier_codes, mappings)
    del followed.earning.tier_codes[:]
    followed.earning.tier_codes.extend(codes)
    own = {
        m.tier_code
        for m in earning.multipliers
        if m.WhichOneof("target") == "tier_code" and m.tier_code not in mappings
    }
    for multiplier in followed.earning.multipliers:
        if multiplier.WhichOneof("target") != "tier_code":
            continue
        target = mappings.get(multiplier.tier_code)
        if target is not None and target not in own:
            multiplier.tier_code = target
            own.add(target)
    return followed


def with_tier_multipliers(
    rule: rules_pb2.Rule, multipliers: Iterable[tuple[str, int]]
) -> rules_pb2.Rule:
    """The earning rule as accrual applies it when it takes the tiers' own multipliers
    (`apply_tier_multipliers`): a copy (never stored) with a multiplier by tier for each tier
    whose multiplier is above 1x, compiled as the operator's own would be; `rule` itself
    otherwise. Validation keeps such a rule free of multipliers by tier of its own."""
    given = list(multipliers)
    if not rule.earning.apply_tier_multipliers or not given:
        return rule
    applied = rules_pb2.Rule()
    applied.CopyFrom(rule)
    applied.earning.multipliers.extend(
        rules_pb2.Multiplier(tier_code=code, multiplier_bps=bps) for code, bps in given
    )
    return applied
