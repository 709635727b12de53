"""Typed errors that the error interceptor maps to gRPC status codes, naming the field at fault.

Each service has one base class derived from `ServiceError` and subclasses with structured fields;
the class says the status code, so no call site picks a code by hand.
"""

from typing import ClassVar

import grpc


class ServiceError(Exception):
    status: ClassVar[grpc.StatusCode] = grpc.StatusCode.INTERNAL
    # A stable machine-readable reason, e.g. "INSUFFICIENT_POINTS"; subclasses override it.
    reason: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def details(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidArgument(ServiceError):
    status = grpc.StatusCode.INVALID_ARGUMENT
    reason = "INVALID_ARGUMENT"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class NotFound(ServiceError):
    status = grpc.StatusCode.NOT_FOUND
    reason = "NOT_FOUND"


class AlreadyExists(ServiceError):
    status = grpc.StatusCode.ALREADY_EXISTS
    reason = "ALREADY_EXISTS"


class FailedPrecondition(ServiceError):
    status = grpc.StatusCode.FAILED_PRECONDITION
    reason = "FAILED_PRECONDITION"


class IdempotencyConflict(FailedPrecondition):
    """The idempotency key was used before for a different request."""

    reason = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used for a different request",
            field="idempotency_key",
        )


class ResourceExhausted(ServiceError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RESOURCE_EXHAUSTED"


class Unauthenticated(ServiceError):
    status = grpc.StatusCode.UNAUTHENTICATED
    reason = "UNAUTHENTICATED"


class PermissionDenied(ServiceError):
    status = grpc.StatusCode.PERMISSION_DENIED
    reason = "PERMISSION_DENIED"


class Unavailable(ServiceError):
    status = grpc.StatusCode.UNAVAILABLE
    reason = "UNAVAILABLE"


def require_field(value: object, field: str) -> None:
    """INVALID_ARGUMENT naming `field` when a required scalar is empty."""
    if value in ("", 0, None):
        raise InvalidArgument(field, "is required")
