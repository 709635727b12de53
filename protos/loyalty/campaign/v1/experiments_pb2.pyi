import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from loyalty.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERIMENT_STATUS_UNSPECIFIED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_DRAFT: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_RUNNING: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_ENDED: _ClassVar[ExperimentStatus]
EXPERIMENT_STATUS_UNSPECIFIED: ExperimentStatus
EXPERIMENT_STATUS_DRAFT: ExperimentStatus
EXPERIMENT_STATUS_RUNNING: ExperimentStatus
EXPERIMENT_STATUS_ENDED: ExperimentStatus

class ExperimentArm(_message.Message):
    __slots__ = ("arm_code", "name", "allocation_bps", "control", "rule_ids", "reward_ids")
    ARM_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALLOCATION_BPS_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    REWARD_IDS_FIELD_NUMBER: _ClassVar[int]
    arm_code: str
    name: str
    allocation_bps: int
    control: bool
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    reward_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, arm_code: _Optional[str] = ..., name: _Optional[str] = ..., allocation_bps: _Optional[int] = ..., control: _Optional[bool] = ..., rule_ids: _Optional[_Iterable[str]] = ..., reward_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("experiment_id", "program_id", "name", "description", "arms", "segment_id", "start_time", "end_time", "status", "assignment_salt", "create_time")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_SALT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    program_id: str
    name: str
    description: str
    arms: _containers.RepeatedCompositeFieldContainer[ExperimentArm]
    segment_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    status: ExperimentStatus
    assignment_salt: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, experiment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., arms: _Optional[_Iterable[_Union[ExperimentArm, _Mapping]]] = ..., segment_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[ExperimentStatus, str]] = ..., assignment_salt: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HoldoutConfig(_message.Message):
    __slots__ = ("program_id", "holdout_bps", "assignment_salt", "start_time", "update_time")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_BPS_FIELD_NUMBER: _ClassVar[int]
    ASSIGNMENT_SALT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    holdout_bps: int
    assignment_salt: str
    start_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., holdout_bps: _Optional[int] = ..., assignment_salt: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ArmReport(_message.Message):
    __slots__ = ("arm_code", "control", "member_count", "participant_count", "participation_rate", "redemption_rate", "spend_per_member", "points_per_member")
    ARM_CODE_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATION_RATE_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_RATE_FIELD_NUMBER: _ClassVar[int]
    SPEND_PER_MEMBER_FIELD_NUMBER: _ClassVar[int]
    POINTS_PER_MEMBER_FIELD_NUMBER: _ClassVar[int]
    arm_code: str
    control: bool
    member_count: int
    participant_count: int
    participation_rate: float
    redemption_rate: float
    spend_per_member: _common_pb2.Money
    points_per_member: int
    def __init__(self, arm_code: _Optional[str] = ..., control: _Optional[bool] = ..., member_count: _Optional[int] = ..., participant_count: _Optional[int] = ..., participation_rate: _Optional[float] = ..., redemption_rate: _Optional[float] = ..., spend_per_member: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., points_per_member: _Optional[int] = ...) -> None: ...

class ArmUplift(_message.Message):
    __slots__ = ("arm_code", "participation_uplift_bps", "participation_uplift_lower_bps", "participation_uplift_upper_bps", "redemption_uplift_bps", "redemption_uplift_lower_bps", "redemption_uplift_upper_bps", "spend_uplift", "spend_uplift_lower", "spend_uplift_upper", "interval_available")
    ARM_CODE_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATION_UPLIFT_BPS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATION_UPLIFT_LOWER_BPS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPATION_UPLIFT_UPPER_BPS_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_UPLIFT_BPS_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_UPLIFT_LOWER_BPS_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_UPLIFT_UPPER_BPS_FIELD_NUMBER: _ClassVar[int]
    SPEND_UPLIFT_FIELD_NUMBER: _ClassVar[int]
    SPEND_UPLIFT_LOWER_FIELD_NUMBER: _ClassVar[int]
    SPEND_UPLIFT_UPPER_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    arm_code: str
    participation_uplift_bps: int
    participation_uplift_lower_bps: int
    participation_uplift_upper_bps: int
    redemption_uplift_bps: int
    redemption_uplift_lower_bps: int
    redemption_uplift_upper_bps: int
    spend_uplift: _common_pb2.Money
    spend_uplift_lower: _common_pb2.Money
    spend_uplift_upper: _common_pb2.Money
    interval_available: bool
    def __init__(self, arm_code: _Optional[str] = ..., participation_uplift_bps: _Optional[int] = ..., participation_uplift_lower_bps: _Optional[int] = ..., participation_uplift_upper_bps: _Optional[int] = ..., redemption_uplift_bps: _Optional[int] = ..., redemption_uplift_lower_bps: _Optional[int] = ..., redemption_uplift_upper_bps: _Optional[int] = ..., spend_uplift: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., spend_uplift_lower: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., spend_uplift_upper: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., interval_available: _Optional[bool] = ...) -> None: ...
