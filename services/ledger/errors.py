"""The ledger's typed errors."""

from services.shared.errors import FailedPrecondition, NotFound, ServiceError


class LedgerError(ServiceError):
    pass


class ProgramNotFound(NotFound, LedgerError):
    reason = "PROGRAM_NOT_FOUND"

    def __init__(self, program_id: str) -> None:
        super().__init__(
            f"program {program_id!r} is not configured in the ledger", field="program_id"
        )
        self.program_id = program_id


class EntryTierMissing(FailedPrecondition, LedgerError):
    reason = "ENTRY_TIER_MISSING"

    def __init__(self, code: str) -> None:
        super().__init__(
            f"the tiers do not include the program's entry tier {code!r}", field="tiers"
        )
