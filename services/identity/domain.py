"""Identity's pure rules: the program registry (no I/O)."""

import re
from dataclasses import dataclass, replace

from services.shared import validation
from services.shared.errors import InvalidArgument

# Matched whole (fullmatch), as `$` matches before a final newline too.
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")

# The fields UpdateProgram may change; the id and the currency are fixed for a program's life
# because balances, liabilities and past purchases are denominated in it.
UPDATABLE_PROGRAM_FIELDS = frozenset(
    {"name", "points_name", "time_zone", "entry_tier_code", "default_locale"}
)


@dataclass(frozen=True, kw_only=True)
class Program:
    program_id: str
    name: str
    points_name: str
    currency: str
    time_zone: str
    entry_tier_code: str
    default_locale: str

    def validate(self) -> "Program":
        validation.program_id(self.program_id, "program.program_id")
        validation.text(self.name, "program.name", length_max=120)
        validation.text(self.points_name, "program.points_name", length_max=40)
        validation.currency(self.currency, "program.currency")
        validation.time_zone(self.time_zone, "program.time_zone")
        validation.code(self.entry_tier_code, "program.entry_tier_code")
        if not _LOCALE.fullmatch(self.default_locale):
            raise InvalidArgument("program.default_locale", "must be a locale such as en or nl-NL")
        return self


def apply_update(current: Program, changes: Program, paths: list[str]) -> Program:
    if not paths:
        raise InvalidArgument("update_mask", "names no field to change")
    unknown = [path for path in paths if path not in UPDATABLE_PROGRAM_FIELDS]
    if unknown:
        raise InvalidArgument(
            "update_mask",
            f"cannot change {', '.join(unknown)}; changeable: {sorted(UPDATABLE_PROGRAM_FIELDS)}",
        )
    return replace(current, **{path: getattr(changes, path) for path in paths}).validate()


@dataclass(frozen=True, kw_only=True)
class LedgerTiers:
    """The program's tiers as the ledger last announced them; the ledger owns tiers."""

    version: int
    entry_tier_code: str
    tier_codes: tuple[str, ...]
    # Removed code -> the tier its members went to.
    mappings: dict[str, str]


def follow_ledger(program: Program, tiers: LedgerTiers | None) -> Program:
    """The program with an entry tier the ledger's tiers define. A code the ledger renamed or
    removed follows its mapping (configuration written before the rename still means the same
    members); one the ledger never defined is refused, since the ledger would open such
    members' accounts in another tier than the one identity announces. Before the ledger has
    announced tiers, any code is taken, as the ledger takes it then."""
    if tiers is None or program.entry_tier_code in tiers.tier_codes:
        return program
    mapped = tiers.mappings.get(program.entry_tier_code)
    if mapped is not None:
        return replace(program, entry_tier_code=mapped)
    raise InvalidArgument(
        "program.entry_tier_code",
        f"the ledger's tiers define no tier {program.entry_tier_code!r}; "
        f"its entry tier is {tiers.entry_tier_code!r}",
    )
