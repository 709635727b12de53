"""The campaign service's typed errors."""

import grpc

from services.shared.errors import (
    FailedPrecondition,
    NotFound,
    ResourceExhausted,
    ServiceError,
    Unavailable,
)


class CampaignError(ServiceError):
    pass


class RecognitionNotConfigured(NotFound, CampaignError):
    reason = "RECOGNITION_NOT_CONFIGURED"

    def __init__(self, program_id: str) -> None:
        super().__init__(
            f"program {program_id!r} has no recognition configured", field="program_id"
        )


class ProgramNotConfigured(FailedPrecondition, CampaignError):
    """The ledger does not know the program, so its currency and time zone are unknown."""

    reason = "PROGRAM_NOT_CONFIGURED"

    def __init__(self, program_id: str) -> None:
        super().__init__(
            f"program {program_id!r} is not configured in the ledger (currency, time zone)",
            field="program_id",
        )


class RuleNotFound(NotFound, CampaignError):
    reason = "RULE_NOT_FOUND"

    def __init__(self, rule_id: str, version: int = 0, field: str = "rule_id") -> None:
        what = f"rule {rule_id!r}" + (f" version {version}" if version else "")
        super().__init__(f"{what} does not exist", field=field)


class RuleExists(CampaignError):
    status = grpc.StatusCode.ALREADY_EXISTS
    reason = "RULE_EXISTS"

    def __init__(self, rule_id: str) -> None:
        super().__init__(f"rule {rule_id!r} exists already", field="rule.rule_id")


class RuleVersionConflict(CampaignError):
    """UpdateRule was based on a version that is not the latest any more."""

    status = grpc.StatusCode.ABORTED
    reason = "RULE_VERSION_CONFLICT"

    def __init__(self, rule_id: str, base_version: int, latest: int) -> None:
        super().__init__(
            f"rule {rule_id!r} is at version {latest}, the change is based on {base_version}",
            field="base_version",
        )


class RuleArchived(FailedPrecondition, CampaignError):
    reason = "RULE_ARCHIVED"

    def __init__(self, rule_id: str) -> None:
        super().__init__(f"rule {rule_id!r} is archived", field="rule_id")


class BatchTooLarge(ResourceExhausted, CampaignError):
    reason = "BATCH_TOO_LARGE"

    def __init__(self, size: int, size_max: int) -> None:
        super().__init__(
            f"{size} transactions, at most {size_max} per batch", field="transaction_ids"
        )


class PurchaseNotFound(NotFound, CampaignError):
    reason = "PURCHASE_NOT_FOUND"

    def __init__(self, transaction_id: str) -> None:
        super().__init__(
            f"no purchase {transaction_id!r} of this member was recorded",
            field="original_transaction_id",
        )


class PurchaseNotPosted(FailedPrecondition, CampaignError):
    """The returned purchase's ingest batch has not posted its points yet: nothing in the ledger
    to take back. RecordReturn finishes the batch and records the return again."""

    reason = "PURCHASE_NOT_POSTED"

    def __init__(self, transaction_id: str, batch_id: str) -> None:
        super().__init__(
            f"purchase {transaction_id!r} is not posted yet (ingest batch {batch_id!r}); "
            "send the return again once the batch is",
            field="original_transaction_id",
        )
        self.batch_id = batch_id


class ActivityNotFound(NotFound, CampaignError):
    reason = "ACTIVITY_NOT_FOUND"

    def __init__(self, activity_id: str) -> None:
        super().__init__(f"activity {activity_id!r} was not recorded", field="activity_id")


class ActivityNotPending(FailedPrecondition, CampaignError):
    reason = "ACTIVITY_NOT_PENDING"

    def __init__(self, activity_id: str) -> None:
        super().__init__(
            f"activity {activity_id!r} does not wait for verification", field="activity_id"
        )


class LedgerUnavailable(Unavailable, CampaignError):
    """The ledger could not be reached or failed; a retry with the same key is safe."""

    reason = "LEDGER_UNAVAILABLE"

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"the ledger could not {what}: {detail}")


class MemberMerged(FailedPrecondition, CampaignError):
    """The member was merged into another: its purchases are refused, as the ledger refuses its
    points."""

    reason = "MEMBER_CLOSED"

    def __init__(self, member_id: str, detail: str) -> None:
        super().__init__(f"member {member_id!r} was {detail}", field="member_id")


class MemberNotEnrolled(FailedPrecondition, CampaignError):
    """The program refuses purchases and activities of members identity has not enrolled
    (UNKNOWN_MEMBER_POLICY_REFUSE), and this one is not enrolled, or was erased."""

    reason = "MEMBER_NOT_ENROLLED"

    def __init__(self, member_id: str, detail: str) -> None:
        super().__init__(
            f"member {member_id!r} {detail}, and the program refuses purchases and activities of "
            "members identity has not enrolled",
            field="member_id",
        )


class LedgerRefused(FailedPrecondition, CampaignError):
    reason = "LEDGER_REFUSED"

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"the ledger refused to {what}: {detail}")


class ConcurrentChange(CampaignError):
    """A concurrent request recorded some of the same transactions first; send it again."""

    status = grpc.StatusCode.ABORTED
    reason = "CONCURRENT_CHANGE"

    def __init__(
        self,
        field: str,
        message: str = "a concurrent request recorded some of these transactions first",
    ) -> None:
        super().__init__(f"{message}; send it again", field=field)


class MissionNotFound(NotFound, CampaignError):
    reason = "MISSION_NOT_FOUND"

    def __init__(self, mission_id: str) -> None:
        super().__init__(f"mission {mission_id!r} does not exist", field="mission_id")


class MissionArchived(FailedPrecondition, CampaignError):
    """An archived mission cannot be activated again."""

    reason = "MISSION_ARCHIVED"

    def __init__(self, mission_id: str) -> None:
        super().__init__(f"mission {mission_id!r} is archived", field="mission_id")


class MissionExists(CampaignError):
    status = grpc.StatusCode.ALREADY_EXISTS
    reason = "MISSION_EXISTS"

    def __init__(self, mission_id: str) -> None:
        super().__init__(f"mission {mission_id!r} exists already", field="mission.mission_id")


class NotificationPolicyNotConfigured(NotFound, CampaignError):
    reason = "NOTIFICATION_POLICY_NOT_CONFIGURED"

    def __init__(self, program_id: str) -> None:
        super().__init__(
            f"program {program_id!r} has no notification policy configured", field="program_id"
        )
