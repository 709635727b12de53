"""Identity's typed errors."""

from services.shared.errors import AlreadyExists, NotFound, ServiceError


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
