"""The ledger's pure rules: program settings and tiers (no I/O)."""

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument

HOLD_TTL_SECONDS_MAX = 7 * 24 * 3600
EXPIRY_MONTHS_MAX = 120
TIERS_MAX = 20
TIER_MULTIPLIER_BPS_MAX = 100_000


class ExpiryKind(IntEnum):
    NEVER = 1
    ROLLING_MONTHS = 2
    END_OF_CALENDAR_PERIOD = 3
    INACTIVITY_MONTHS = 4


class CalendarPeriod(IntEnum):
    NONE = 0
    MONTH = 1
    QUARTER = 2
    YEAR = 3


class TierWindowKind(IntEnum):
    ROLLING_DAYS = 1
    CALENDAR_YEAR = 2


@dataclass(frozen=True, kw_only=True)
class ProgramSettings:
    program_id: str
    points_name: str
    currency: str
    time_zone: str
    return_window_days: int
    expiry_kind: int
    expiry_months: int
    expiry_period: int
    negative_balance_policy: int
    hold_ttl_seconds: int
    tier_window_kind: int
    tier_window_rolling_days: int
    tier_requalification_period: int
    qualifying_basis: int
    rounding_mode: int
    expiry_notice_days: int
    entry_tier_code: str
    unknown_member_policy: int = ledger_pb2.UNKNOWN_MEMBER_POLICY_EARN

    def validate(self) -> "ProgramSettings":
        validation.program_id(self.program_id, "config.program_id")
        validation.text(self.points_name, "config.points_name", length_max=40)
        validation.currency(self.currency, "config.currency")
        validation.time_zone(self.time_zone, "config.time_zone")
        validation.in_range(self.return_window_days, "config.return_window_days", low=0, high=365)
        self._validate_expiry()
        _require_set(
            self.negative_balance_policy,
            "config.negative_balance_policy",
            ledger_pb2.NegativeBalancePolicy.values(),
        )
        validation.in_range(
            self.hold_ttl_seconds, "config.hold_ttl_seconds", low=1, high=HOLD_TTL_SECONDS_MAX
        )
        self._validate_tier_window()
        _require_set(
            self.qualifying_basis, "config.qualifying_basis", ledger_pb2.QualifyingBasis.values()
        )
        _require_set(self.rounding_mode, "config.rounding_mode", common_pb2.RoundingMode.values())
        validation.in_range(self.expiry_notice_days, "config.expiry_notice_days", low=0, high=365)
        validation.code(self.entry_tier_code, "config.entry_tier_code")
        _require_set(
            self.unknown_member_policy,
            "config.unknown_member_policy",
            ledger_pb2.UnknownMemberPolicy.values(),
        )
        return self

    def _validate_expiry(self) -> None:
        _require_set(self.expiry_kind, "config.expiry_policy.kind", list(ExpiryKind))
        if self.expiry_kind == ExpiryKind.NEVER:
            return
        validation.in_range(
            self.expiry_months, "config.expiry_policy.months", low=1, high=EXPIRY_MONTHS_MAX
        )
        if self.expiry_kind == ExpiryKind.END_OF_CALENDAR_PERIOD:
            _require_set(self.expiry_period, "config.expiry_policy.period", list(CalendarPeriod))

    def _validate_tier_window(self) -> None:
        _require_set(self.tier_window_kind, "config.tier_window.kind", list(TierWindowKind))
        if self.tier_window_kind == TierWindowKind.ROLLING_DAYS:
            validation.in_range(
                self.tier_window_rolling_days, "config.tier_window.rolling_days", low=1, high=3660
            )
        _require_set(
            self.tier_requalification_period,
            "config.tier_window.requalification_period",
            list(CalendarPeriod),
        )


def _require_set(enum_value: int, field: str, known: Iterable[int]) -> None:
    if enum_value == 0:
        raise InvalidArgument(field, "is required")
    # An unknown value would be stored and then read by rules that know none of its meaning.
    if enum_value not in known:
        raise InvalidArgument(field, f"{enum_value} is not a known value")


@dataclass(frozen=True, kw_only=True)
class Tier:
    code: str
    name: str
    rank: int
    threshold: int
    benefits_text: str
    multiplier_bps: int


def validate_tiers(tiers: list[Tier]) -> list[Tier]:
    """Codes and ranks unique; a higher rank never has a lower threshold. Sorted by rank."""
    if not tiers:
        raise InvalidArgument("tiers", "at least one tier (the entry tier) is required")
    if len(tiers) > TIERS_MAX:
        raise InvalidArgument("tiers", f"at most {TIERS_MAX} tiers")
    for index, tier in enumerate(tiers):
        validation.code(tier.code, f"tiers[{index}].code")
        validation.text(tier.name, f"tiers[{index}].name", length_max=80)
        validation.text(tier.benefits_text, f"tiers[{index}].benefits_text", required=False)
        validation.in_range(tier.threshold, f"tiers[{index}].threshold", low=0, high=2**62)
        validation.in_range(
            tier.multiplier_bps,
            f"tiers[{index}].multiplier_bps",
            low=0,
            high=TIER_MULTIPLIER_BPS_MAX,
        )
    if len({t.code for t in tiers}) != len(tiers):
        raise InvalidArgument("tiers", "tier codes must be unique")
    if len({t.rank for t in tiers}) != len(tiers):
        raise InvalidArgument("tiers", "tier ranks must be unique")
    ordered = sorted(tiers, key=lambda t: t.rank)
    for lower, higher in itertools.pairwise(ordered):
        if higher.threshold <= lower.threshold:
            raise InvalidArgument(
                "tiers",
                f"tier {higher.code!r} ranks above {lower.code!r} so needs a higher threshold",
            )
    if ordered[0].threshold != 0:
        raise InvalidArgument("tiers", f"the lowest tier {ordered[0].code!r} must have threshold 0")
    return ordered


TIER_CODE_MAPPINGS_MAX = 100


@dataclass(frozen=True, kw_only=True)
class TierMove:
    """Where SetTierDefinitions moves the accounts holding a removed tier code, and how that
    reads in their tier history (a common_pb2.TierChangeDirection)."""

    from_code: str
    to_code: str
    direction: int
    # The removed tier's threshold (0 for a code no current tier defines), kept with the
    # mapping so an account found late on the removed code moves the same way.
    from_threshold: int


@dataclass(frozen=True, kw_only=True)
class TierMapping:
    """A recorded mapping of a removed code: where accounts still holding it belong."""

    to_code: str
    from_threshold: int


def validate_tier_mappings(mappings: list[tuple[str, str]], tiers: list[Tier]) -> dict[str, str]:
    """Removed code -> new code: each maps a code the new `tiers` do not define, once, to one
    they define. A code no current tier defines may be mapped too: accounts may still hold one
    that an earlier change removed without moving them."""
    if len(mappings) > TIER_CODE_MAPPINGS_MAX:
        raise InvalidArgument("tier_code_mappings", f"at most {TIER_CODE_MAPPINGS_MAX} mappings")
    codes = {t.code for t in tiers}
    mapped: dict[str, str] = {}
    for index, (from_code, to_code) in enumerate(mappings):
        field = f"tier_code_mappings[{index}]"
        validation.code(from_code, f"{field}.from_tier_code")
        validation.code(to_code, f"{field}.to_tier_code")
        if from_code in codes:
            raise InvalidArgument(
                f"{field}.from_tier_code",
                f"tier {from_code!r} stays in tiers; only a removed tier is mapped",
            )
        if from_code in mapped:
            raise InvalidArgument(f"{field}.from_tier_code", f"tier {from_code!r} is mapped twice")
        if to_code not in codes:
            raise InvalidArgument(
                f"{field}.to_tier_code", f"tiers define no tier {to_code!r} to map {from_code!r} to"
            )
        mapped[from_code] = to_code
    return mapped


def unmapped_removals(current: list[Tier], tiers: list[Tier], mapped: dict[str, str]) -> list[str]:
    """The current tiers' codes that `tiers` drop without a mapping, by rank."""
    kept = {t.code for t in tiers}
    return [t.code for t in current if t.code not in kept and t.code not in mapped]


def tier_moves(current: list[Tier], tiers: list[Tier], mapped: dict[str, str]) -> list[TierMove]:
    """The moves of `mapped`, each an upgrade or a downgrade by the thresholds of the tier left
    (a code no current tier defines is evaluated as the lowest, threshold 0) and the tier
    reached; lateral when they are equal, as for a renamed tier."""
    before = {t.code: t.threshold for t in current}
    after = {t.code: t.threshold for t in tiers}
    moves = []
    for from_code, to_code in mapped.items():
        old, new = before.get(from_code, 0), after[to_code]
        direction = direction_between(old, new)
        moves.append(
            TierMove(from_code=from_code, to_code=to_code, direction=direction, from_threshold=old)
        )
    return moves


def direction_between(from_threshold: int, to_threshold: int) -> int:
    """Up, down or lateral (a common_pb2.TierChangeDirection) by the thresholds of the tier
    left and the tier reached."""
    if to_threshold > from_threshold:
        return common_pb2.TIER_CHANGE_DIRECTION_UPGRADE
    if to_threshold < from_threshold:
        return common_pb2.TIER_CHANGE_DIRECTION_DOWNGRADE
    return common_pb2.TIER_CHANGE_DIRECTION_LATERAL
