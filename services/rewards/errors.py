"""The rewards service's typed errors."""

from services.shared.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    ServiceError,
    Unavailable,
)


class RewardsError(ServiceError):
    pass


class RewardNotFound(NotFound, RewardsError):
    reason = "REWARD_NOT_FOUND"

    def __init__(self, reward_id: str, field: str = "reward_id") -> None:
        super().__init__(f"reward {reward_id!r} does not exist", field=field)


class RewardExists(AlreadyExists, RewardsError):
    reason = "REWARD_EXISTS"

    def __init__(self, reward_id: str) -> None:
        super().__init__(f"reward {reward_id!r} already exists", field="reward.reward_id")


class RewardArchived(FailedPrecondition, RewardsError):
    reason = "REWARD_ARCHIVED"

    def __init__(self, reward_id: str) -> None:
        super().__init__(f"reward {reward_id!r} is archived", field="reward_id")


class RedemptionNotFound(NotFound, RewardsError):
    reason = "REDEMPTION_NOT_FOUND"

    def __init__(self, redemption_id: str) -> None:
        super().__init__(f"redemption {redemption_id!r} does not exist", field="redemption_id")


class MemberNotFound(NotFound, RewardsError):
    reason = "MEMBER_NOT_FOUND"

    def __init__(self, member_id: str) -> None:
        super().__init__(f"member {member_id!r} has no points account", field="member_id")


class StockUnlimited(FailedPrecondition, RewardsError):
    reason = "STOCK_UNLIMITED"

    def __init__(self, reward_id: str) -> None:
        super().__init__(f"reward {reward_id!r} has unlimited stock", field="reward_id")


class InsufficientStock(FailedPrecondition, RewardsError):
    reason = "INSUFFICIENT_STOCK"

    def __init__(self, *, available: int, delta: int) -> None:
        super().__init__(f"{available} units available, cannot change by {delta}", field="delta")


class NotPartnerPool(FailedPrecondition, RewardsError):
    reason = "NOT_A_PARTNER_POOL"

    def __init__(self, reward_id: str) -> None:
        super().__init__(
            f"reward {reward_id!r} does not take its codes from a partner pool", field="reward_id"
        )


class PerkCodeTaken(AlreadyExists, RewardsError):
    reason = "PERK_CODE_TAKEN"

    def __init__(self, perk_code: str, tier_code: str, field: str) -> None:
        super().__init__(f"perk {perk_code!r} belongs to tier {tier_code!r}", field=field)


class CodeNotUsable(FailedPrecondition, RewardsError):
    """The code cannot be used; `reason` says why (CODE_USED, CODE_EXPIRED, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, field="code")
        self.reason = reason  # type: ignore[misc]


class RedemptionRefused(FailedPrecondition, RewardsError):
    """A redemption that cannot go ahead, or that failed; `reason` is the machine-readable why:
    INSUFFICIENT_POINTS, OUT_OF_STOCK, MEMBER_LIMIT_REACHED, NOT_ELIGIBLE, REWARD_NOT_ACTIVE,
    REWARD_NOT_AVAILABLE, STORE_NOT_ACCEPTED, CODES_EXHAUSTED, HOLD_EXPIRED, REDEMPTION_FAILED."""

    def __init__(self, reason: str, message: str, *, field: str = "") -> None:
        super().__init__(message, field=field)
        self.reason = reason  # type: ignore[misc]


class CancellationRefused(FailedPrecondition, RewardsError):
    """CODE_ALREADY_USED, PARTNER_CODE_ISSUED, CODE_EXPIRED (domain.cancel_refusal),
    REDEMPTION_FAILED, REDEMPTION_CANCELLED, LEDGER_REFUSED (the ledger refused for good to
    return the points: the cancellation was undone)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, field="redemption_id")
        self.reason = reason  # type: ignore[misc]


class RedemptionInProgress(Unavailable, RewardsError):
    reason = "REDEMPTION_IN_PROGRESS"

    def __init__(self, redemption_id: str) -> None:
        super().__init__(
            f"redemption {redemption_id!r} is still in progress; retry with the same key"
        )


class ProgramNotConfigured(FailedPrecondition, RewardsError):
    """The ledger does not know the program, so its currency is unknown."""

    reason = "PROGRAM_NOT_CONFIGURED"

    def __init__(self, program_id: str) -> None:
        super().__init__(
            f"program {program_id!r} is not configured in the ledger (currency)", field="program_id"
        )


class LedgerUnavailable(Unavailable, RewardsError):
    reason = "LEDGER_UNAVAILABLE"

    def __init__(self, detail: str) -> None:
        super().__init__(f"the ledger is unavailable ({detail}); retry with the same key")


class CampaignUnavailable(Unavailable, RewardsError):
    reason = "CAMPAIGN_UNAVAILABLE"

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"segment membership cannot be checked ({detail}); retry with the same key"
        )
