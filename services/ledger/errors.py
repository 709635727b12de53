"""The ledger's typed errors."""

from services.shared.errors import (
    FailedPrecondition,
    IdempotencyConflict,
    InvalidArgument,
    NotFound,
    ServiceError,
)


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
            f"the tiers do not include the program's entry tier {code!r}; to rename or drop "
            "it, map it to the new lowest tier in tier_code_mappings",
            field="tiers",
        )


class EntryTierNotLowest(InvalidArgument, LedgerError):
    """`field` is the entry tier's tiers[i].rank (SetTierDefinitions) or config.entry_tier_code
    (ConfigureProgram)."""

    reason = "ENTRY_TIER_NOT_LOWEST"

    def __init__(self, *, field: str, code: str, lowest: str) -> None:
        super().__init__(
            field, f"the program's entry tier {code!r} must rank lowest; {lowest!r} ranks below it"
        )


class TierStillHeld(InvalidArgument, LedgerError):
    """SetTierDefinitions drops a tier that open accounts hold, without mapping it."""

    reason = "TIER_STILL_HELD"

    def __init__(self, code: str, accounts_count: int) -> None:
        super().__init__(
            "tier_code_mappings",
            f"{accounts_count} accounts hold tier {code!r}, which tiers no longer define; "
            f"map {code!r} to one of the new tiers",
        )
        self.code = code
        self.accounts_count = accounts_count


class EntryTierUndefined(InvalidArgument, LedgerError):
    """ConfigureProgram named an entry tier that the program's tiers do not include."""

    reason = "ENTRY_TIER_UNDEFINED"

    def __init__(self, code: str) -> None:
        super().__init__(
            "config.entry_tier_code", f"the program's tiers do not include a tier {code!r}"
        )


class MemberNotFound(NotFound, LedgerError):
    reason = "MEMBER_NOT_FOUND"

    def __init__(self, member_id: str, *, field: str = "member_id") -> None:
        super().__init__(f"member {member_id!r} has no account in this program", field=field)
        self.member_id = member_id


class PostingNotFound(NotFound, LedgerError):
    """No such posting of this member: another member's posting answers the same."""

    reason = "POSTING_NOT_FOUND"

    def __init__(self, posting_id: str) -> None:
        super().__init__(f"posting {posting_id} of this member does not exist", field="posting_id")


class InsufficientPoints(FailedPrecondition, LedgerError):
    reason = "INSUFFICIENT_POINTS"

    def __init__(self, *, available: int, asked: int) -> None:
        super().__init__(f"{available} points available, {asked} asked", field="points")
        self.available = available
        self.asked = asked


class HoldNotFound(NotFound, LedgerError):
    reason = "HOLD_NOT_FOUND"

    def __init__(self, hold_id: str) -> None:
        super().__init__(f"hold {hold_id!r} does not exist", field="hold_id")


class HoldClosed(FailedPrecondition, LedgerError):
    reason = "HOLD_CLOSED"

    def __init__(self, hold_id: str, state: str) -> None:
        super().__init__(f"hold {hold_id!r} is {state}", field="hold_id")


class NothingToReverse(NotFound, LedgerError):
    reason = "NOTHING_TO_REVERSE"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class RefundExceedsPurchase(FailedPrecondition, LedgerError):
    reason = "REFUND_EXCEEDS_PURCHASE"

    def __init__(self, *, refunded_minor: int, original_minor: int) -> None:
        super().__init__(
            f"refunds would total {refunded_minor}, more than the purchase's {original_minor}",
            field="refund.refunded_amount",
        )


class RefundOfAnotherAmount(InvalidArgument, LedgerError):
    reason = "REFUND_OF_ANOTHER_AMOUNT"

    def __init__(self, *, given_minor: int, first_minor: int) -> None:
        super().__init__(
            "refund.original_amount.amount_minor",
            f"{given_minor} differs from the purchase amount {first_minor} given with its "
            "first refund",
        )


class BatchIdReused(FailedPrecondition, LedgerError):
    """A PostBatch batch id (the batch's idempotency key) sent before with other content: the
    reason of any reused key, on the field the client sent it in."""

    reason = IdempotencyConflict.reason

    def __init__(self, batch_id: str) -> None:
        super().__init__(
            f"batch id {batch_id!r} was already used for a different batch", field="batch_id"
        )


class OpenHolds(FailedPrecondition, LedgerError):
    reason = "OPEN_HOLDS"

    def __init__(self, member_id: str) -> None:
        super().__init__(
            f"member {member_id!r} has open holds; commit or void them first",
            field="source_member_id",
        )


class MemberClosed(FailedPrecondition, LedgerError):
    reason = "MEMBER_CLOSED"

    def __init__(self, member_id: str, survivor_id: str, *, field: str = "member_id") -> None:
        super().__init__(
            f"member {member_id!r} was merged into {survivor_id!r}; post to the survivor",
            field=field,
        )
        self.member_id = member_id
        self.survivor_id = survivor_id
