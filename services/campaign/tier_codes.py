"""Rules and segments against the ledger's tiers as last announced (pure; no I/O).

The ledger owns tiers and announces each change (TierDefinitionsChanged) with every mapping of a
removed code to the tier its members went to. Campaign never rewrites a rule or a segment (a rule
change is the operator's, and past accruals stay as they were), so:

- earning rules follow the mappings when compiled (`followed_rule`): a rule for 'member' after
  member -> blue matches blue's members, as the ledger moved them there. This is cheap: the
  mappings are cached with the program's tiers and a rule is compiled once per tiers version;
- a rule code neither defined nor mapped matches nobody and is reported;
- segments are evaluated in SQL by the refresh job, which does not follow mappings: a segment
  code the tiers do not define is reported whether mapped or not.
"""

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
    """The codes the segment's tier conditions name that the tiers do not define (mapped ones
    too: segment evaluation does not follow mappings)."""
    return [code for code in segment_tier_codes(segment) if code not in tiers.codes]


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
    codes = list(earning.tier_codes)
    for code in earning.tier_codes:
        target = mappings.get(code)
        if target is not None and target not in codes:
            codes.append(target)
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
