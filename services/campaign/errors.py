"""The campaign service's typed errors."""

from services.shared.errors import NotFound, ServiceError


class CampaignError(ServiceError):
    pass


class RecognitionNotConfigured(NotFound, CampaignError):
    reason = "RECOGNITION_NOT_CONFIGURED"

    def __init__(self, program_id: str) -> None:
        super().__init__(
            f"program {program_id!r} has no recognition configured", field="program_id"
        )
