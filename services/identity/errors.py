"""Identity's typed errors."""

from services.shared.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ServiceError,
    Unauthenticated,
    Unavailable,
)


class IdentityError(ServiceError):
    pass


class ProgramNotFound(NotFound, IdentityError):
    reason = "PROGRAM_NOT_FOUND"

    def __init__(self, program_id: str) -> None:
        super().__init__(f"program {program_id!r} does not exist", field="program_id")


class ProgramExists(AlreadyExists, IdentityError):
    reason = "PROGRAM_EXISTS"

    def __init__(self, program_id: str) -> None:
        super().__init__(f"program {program_id!r} already exists", field="program_id")


class InvalidToken(Exception):
    """A token failed verification (signature, key, window); the servicer says to whom it matters."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QrTokenRejected(InvalidArgument, IdentityError):
    reason = "QR_TOKEN_REJECTED"

    def __init__(self, message: str, field: str = "value") -> None:
        super().__init__(field, f"the QR token {message}")


class MemberTokenRejected(Unauthenticated, IdentityError):
    reason = "MEMBER_TOKEN_REJECTED"

    def __init__(self, message: str) -> None:
        super().__init__(f"the member token {message}", field="token")


class MemberNotFound(NotFound, IdentityError):
    reason = "MEMBER_NOT_FOUND"

    def __init__(self, member_id: str, field: str = "member_id") -> None:
        super().__init__(f"member {member_id!r} does not exist", field=field)


class MemberClosed(FailedPrecondition, IdentityError):
    """The member was merged or erased: it can no longer change."""

    reason = "MEMBER_CLOSED"

    def __init__(
        self, member_id: str, status: str, field: str = "member_id", *, survivor_member_id: str = ""
    ) -> None:
        message = f"member {member_id!r} is {status}"
        if survivor_member_id:
            message += (
                f" into {survivor_member_id!r}, which holds its identifiers and points now; "
                "act on that member"
            )
        super().__init__(message, field=field)
        self.member_status = status


class MergePending(FailedPrecondition, IdentityError):
    """A member whose points are still on their way in from an earlier merge cannot be merged:
    that merge's transfer targets it, and would find its ledger account closed."""

    reason = "MERGE_PENDING"

    def __init__(self, member_id: str, incoming_member_id: str) -> None:
        super().__init__(
            f"member {member_id!r} is still receiving the points of {incoming_member_id!r} "
            "from an earlier merge; merge it once that completes",
            field="merged_member_id",
        )


class IdentifierTaken(AlreadyExists, IdentityError):
    reason = "IDENTIFIER_TAKEN"

    def __init__(self, field: str) -> None:
        super().__init__("another member of the program holds this identifier", field=field)


class IdentifierHeld(AlreadyExists, IdentityError):
    """The member holds the identifier already (IdentifierTaken would send an operator looking
    for a duplicate member that does not exist)."""

    reason = "IDENTIFIER_HELD"

    def __init__(self, field: str) -> None:
        super().__init__("the member holds this identifier already", field=field)


class IdentifierNotFound(NotFound, IdentityError):
    reason = "IDENTIFIER_NOT_FOUND"

    def __init__(self, field: str = "value") -> None:
        super().__init__("no member of the program holds this identifier", field=field)


class IdentifierBlocked(FailedPrecondition, IdentityError):
    """The card was reported lost or stolen: it identifies no member, and only a lost one may go
    back to its own member."""

    reason = "IDENTIFIER_BLOCKED"

    def __init__(self, field: str, blocked_reason: str) -> None:
        super().__init__(
            f"the card was reported {blocked_reason} and is blocked; it identifies no member",
            field=field,
        )


class LastIdentifier(FailedPrecondition, IdentityError):
    """Removing the member's only identifier would leave nothing to recognise the member by."""

    reason = "LAST_IDENTIFIER"

    def __init__(self, field: str = "value") -> None:
        super().__init__(
            "is the member's last identifier, by which the member is recognised; add another "
            "first (a lost or stolen card can still be blocked)",
            field=field,
        )


class ApiKeyNotFound(NotFound, IdentityError):
    reason = "API_KEY_NOT_FOUND"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"API key {key_id!r} does not exist", field="key_id")


class ApiKeyRejected(Unauthenticated, IdentityError):
    reason = "API_KEY_REJECTED"

    def __init__(self, message: str) -> None:
        super().__init__(f"the API key {message}", field="secret")


class ApiKeyWrongProgram(PermissionDenied, IdentityError):
    reason = "API_KEY_WRONG_PROGRAM"

    def __init__(self) -> None:
        super().__init__("the API key belongs to another program", field="program_id")


class ApiKeySecretGone(FailedPrecondition, IdentityError):
    reason = "API_KEY_SECRET_GONE"

    def __init__(self, replay_s: int) -> None:
        super().__init__(
            f"a key's secret is shown again on retry only within {replay_s} s of its creation; "
            "revoke the key and create another",
            field="idempotency_key",
        )


class LedgerUnavailable(Unavailable, IdentityError):
    reason = "LEDGER_UNAVAILABLE"

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(
            f"the ledger could not {what} ({detail}); retry with the same idempotency key"
        )


class LedgerRefused(FailedPrecondition, IdentityError):
    reason = "LEDGER_REFUSED"

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"the ledger refused to {what}: {detail}")
