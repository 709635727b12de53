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

class ConditionJoin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONDITION_JOIN_UNSPECIFIED: _ClassVar[ConditionJoin]
    CONDITION_JOIN_ALL: _ClassVar[ConditionJoin]
    CONDITION_JOIN_ANY: _ClassVar[ConditionJoin]
CONDITION_JOIN_UNSPECIFIED: ConditionJoin
CONDITION_JOIN_ALL: ConditionJoin
CONDITION_JOIN_ANY: ConditionJoin

class TierCondition(_message.Message):
    __slots__ = ("tier_codes",)
    TIER_CODES_FIELD_NUMBER: _ClassVar[int]
    tier_codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tier_codes: _Optional[_Iterable[str]] = ...) -> None: ...

class RecencyCondition(_message.Message):
    __slots__ = ("days_since_purchase_min", "days_since_purchase_max")
    DAYS_SINCE_PURCHASE_MIN_FIELD_NUMBER: _ClassVar[int]
    DAYS_SINCE_PURCHASE_MAX_FIELD_NUMBER: _ClassVar[int]
    days_since_purchase_min: int
    days_since_purchase_max: int
    def __init__(self, days_since_purchase_min: _Optional[int] = ..., days_since_purchase_max: _Optional[int] = ...) -> None: ...

class FrequencyCondition(_message.Message):
    __slots__ = ("window_days", "purchases_min", "purchases_max")
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    PURCHASES_MIN_FIELD_NUMBER: _ClassVar[int]
    PURCHASES_MAX_FIELD_NUMBER: _ClassVar[int]
    window_days: int
    purchases_min: int
    purchases_max: int
    def __init__(self, window_days: _Optional[int] = ..., purchases_min: _Optional[int] = ..., purchases_max: _Optional[int] = ...) -> None: ...

class MonetaryCondition(_message.Message):
    __slots__ = ("window_days", "spend_min", "spend_max")
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    SPEND_MIN_FIELD_NUMBER: _ClassVar[int]
    SPEND_MAX_FIELD_NUMBER: _ClassVar[int]
    window_days: int
    spend_min: _common_pb2.Money
    spend_max: _common_pb2.Money
    def __init__(self, window_days: _Optional[int] = ..., spend_min: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., spend_max: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class EngagementCondition(_message.Message):
    __slots__ = ("activity_kind", "window_days", "activities_min")
    ACTIVITY_KIND_FIELD_NUMBER: _ClassVar[int]
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    ACTIVITIES_MIN_FIELD_NUMBER: _ClassVar[int]
    activity_kind: _common_pb2.ActivityKind
    window_days: int
    activities_min: int
    def __init__(self, activity_kind: _Optional[_Union[_common_pb2.ActivityKind, str]] = ..., window_days: _Optional[int] = ..., activities_min: _Optional[int] = ...) -> None: ...

class ConsentCondition(_message.Message):
    __slots__ = ("channel", "granted")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.ConsentChannel
    granted: bool
    def __init__(self, channel: _Optional[_Union[_common_pb2.ConsentChannel, str]] = ..., granted: _Optional[bool] = ...) -> None: ...

class EnrollmentCondition(_message.Message):
    __slots__ = ("channels", "enrolled_days_min", "enrolled_days_max")
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_DAYS_MIN_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_DAYS_MAX_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    enrolled_days_min: int
    enrolled_days_max: int
    def __init__(self, channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ..., enrolled_days_min: _Optional[int] = ..., enrolled_days_max: _Optional[int] = ...) -> None: ...

class SegmentCondition(_message.Message):
    __slots__ = ("tier", "recency", "frequency", "monetary", "engagement", "consent", "enrollment", "negate")
    TIER_FIELD_NUMBER: _ClassVar[int]
    RECENCY_FIELD_NUMBER: _ClassVar[int]
    FREQUENCY_FIELD_NUMBER: _ClassVar[int]
    MONETARY_FIELD_NUMBER: _ClassVar[int]
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_FIELD_NUMBER: _ClassVar[int]
    NEGATE_FIELD_NUMBER: _ClassVar[int]
    tier: TierCondition
    recency: RecencyCondition
    frequency: FrequencyCondition
    monetary: MonetaryCondition
    engagement: EngagementCondition
    consent: ConsentCondition
    enrollment: EnrollmentCondition
    negate: bool
    def __init__(self, tier: _Optional[_Union[TierCondition, _Mapping]] = ..., recency: _Optional[_Union[RecencyCondition, _Mapping]] = ..., frequency: _Optional[_Union[FrequencyCondition, _Mapping]] = ..., monetary: _Optional[_Union[MonetaryCondition, _Mapping]] = ..., engagement: _Optional[_Union[EngagementCondition, _Mapping]] = ..., consent: _Optional[_Union[ConsentCondition, _Mapping]] = ..., enrollment: _Optional[_Union[EnrollmentCondition, _Mapping]] = ..., negate: _Optional[bool] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("segment_id", "program_id", "name", "description", "join", "conditions", "member_count", "computed_at", "refresh_interval_seconds", "create_time", "update_time")
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    CONDITIONS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    REFRESH_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    segment_id: str
    program_id: str
    name: str
    description: str
    join: ConditionJoin
    conditions: _containers.RepeatedCompositeFieldContainer[SegmentCondition]
    member_count: int
    computed_at: _timestamp_pb2.Timestamp
    refresh_interval_seconds: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, segment_id: _Optional[str] = ..., program_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., join: _Optional[_Union[ConditionJoin, str]] = ..., conditions: _Optional[_Iterable[_Union[SegmentCondition, _Mapping]]] = ..., member_count: _Optional[int] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refresh_interval_seconds: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
