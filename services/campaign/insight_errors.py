"""Typed errors of segments and experiments (kept apart from errors.py, which the earning half
owns)."""

import grpc

from services.campaign.errors import CampaignError
from services.shared.errors import FailedPrecondition, NotFound


class SegmentNotFound(NotFound, CampaignError):
    reason = "SEGMENT_NOT_FOUND"

    def __init__(self, segment_id: str, field: str = "segment_id") -> None:
        super().__init__(f"segment {segment_id!r} does not exist", field=field)


class SegmentExists(CampaignError):
    status = grpc.StatusCode.ALREADY_EXISTS
    reason = "SEGMENT_EXISTS"

    def __init__(self, segment_id: str) -> None:
        super().__init__(f"segment {segment_id!r} exists already", field="segment.segment_id")


class ExperimentNotFound(NotFound, CampaignError):
    reason = "EXPERIMENT_NOT_FOUND"

    def __init__(self, experiment_id: str) -> None:
        super().__init__(f"experiment {experiment_id!r} does not exist", field="experiment_id")


class ExperimentExists(CampaignError):
    status = grpc.StatusCode.ALREADY_EXISTS
    reason = "EXPERIMENT_EXISTS"

    def __init__(self, experiment_id: str) -> None:
        super().__init__(
            f"experiment {experiment_id!r} exists already", field="experiment.experiment_id"
        )


class RuleInOtherExperiment(FailedPrecondition, CampaignError):
    """A rule can be the treatment of one open experiment only, or its arms would conflict."""

    reason = "RULE_IN_OTHER_EXPERIMENT"

    def __init__(self, rule_id: str, experiment_id: str, field: str) -> None:
        super().__init__(
            f"rule {rule_id!r} is already in the arms of experiment {experiment_id!r}", field=field
        )
