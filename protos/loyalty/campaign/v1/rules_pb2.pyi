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

class RuleStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RULE_STATUS_UNSPECIFIED: _ClassVar[RuleStatus]
    RULE_STATUS_DRAFT: _ClassVar[RuleStatus]
    RULE_STATUS_ACTIVE: _ClassVar[RuleStatus]
    RULE_STATUS_SUPERSEDED: _ClassVar[RuleStatus]
    RULE_STATUS_ARCHIVED: _ClassVar[RuleStatus]

class StackingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STACKING_MODE_UNSPECIFIED: _ClassVar[StackingMode]
    STACKING_MODE_STACKABLE: _ClassVar[StackingMode]
    STACKING_MODE_EXCLUSIVE: _ClassVar[StackingMode]
    STACKING_MODE_BEST_OF_PRIORITY: _ClassVar[StackingMode]

class Weekday(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEEKDAY_UNSPECIFIED: _ClassVar[Weekday]
    WEEKDAY_MONDAY: _ClassVar[Weekday]
    WEEKDAY_TUESDAY: _ClassVar[Weekday]
    WEEKDAY_WEDNESDAY: _ClassVar[Weekday]
    WEEKDAY_THURSDAY: _ClassVar[Weekday]
    WEEKDAY_FRIDAY: _ClassVar[Weekday]
    WEEKDAY_SATURDAY: _ClassVar[Weekday]
    WEEKDAY_SUNDAY: _ClassVar[Weekday]
RULE_STATUS_UNSPECIFIED: RuleStatus
RULE_STATUS_DRAFT: RuleStatus
RULE_STATUS_ACTIVE: RuleStatus
RULE_STATUS_SUPERSEDED: RuleStatus
RULE_STATUS_ARCHIVED: RuleStatus
STACKING_MODE_UNSPECIFIED: StackingMode
STACKING_MODE_STACKABLE: StackingMode
STACKING_MODE_EXCLUSIVE: StackingMode
STACKING_MODE_BEST_OF_PRIORITY: StackingMode
WEEKDAY_UNSPECIFIED: Weekday
WEEKDAY_MONDAY: Weekday
WEEKDAY_TUESDAY: Weekday
WEEKDAY_WEDNESDAY: Weekday
WEEKDAY_THURSDAY: Weekday
WEEKDAY_FRIDAY: Weekday
WEEKDAY_SATURDAY: Weekday
WEEKDAY_SUNDAY: Weekday

class LocalTime(_message.Message):
    __slots__ = ("hour", "minute")
    HOUR_FIELD_NUMBER: _ClassVar[int]
    MINUTE_FIELD_NUMBER: _ClassVar[int]
    hour: int
    minute: int
    def __init__(self, hour: _Optional[int] = ..., minute: _Optional[int] = ...) -> None: ...

class EarnRate(_message.Message):
    __slots__ = ("points", "per_amount_minor")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    PER_AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    points: int
    per_amount_minor: int
    def __init__(self, points: _Optional[int] = ..., per_amount_minor: _Optional[int] = ...) -> None: ...

class Multiplier(_message.Message):
    __slots__ = ("tier_code", "category", "sku", "channel", "store_id", "multiplier_bps")
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_BPS_FIELD_NUMBER: _ClassVar[int]
    tier_code: str
    category: str
    sku: str
    channel: _common_pb2.Channel
    store_id: str
    multiplier_bps: int
    def __init__(self, tier_code: _Optional[str] = ..., category: _Optional[str] = ..., sku: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ..., multiplier_bps: _Optional[int] = ...) -> None: ...

class TimeWindow(_message.Message):
    __slots__ = ("start_date", "end_date", "weekdays", "start_time", "end_time")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    WEEKDAYS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_date: _common_pb2.LocalDate
    end_date: _common_pb2.LocalDate
    weekdays: _containers.RepeatedScalarFieldContainer[Weekday]
    start_time: LocalTime
    end_time: LocalTime
    def __init__(self, start_date: _Optional[_Union[_common_pb2.LocalDate, _Mapping]] = ..., end_date: _Optional[_Union[_common_pb2.LocalDate, _Mapping]] = ..., weekdays: _Optional[_Iterable[_Union[Weekday, str]]] = ..., start_time: _Optional[_Union[LocalTime, _Mapping]] = ..., end_time: _Optional[_Union[LocalTime, _Mapping]] = ...) -> None: ...

class Exclusions(_message.Message):
    __slots__ = ("categories", "skus", "store_ids", "channels")
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SKUS_FIELD_NUMBER: _ClassVar[int]
    STORE_IDS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedScalarFieldContainer[str]
    skus: _containers.RepeatedScalarFieldContainer[str]
    store_ids: _containers.RepeatedScalarFieldContainer[str]
    channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    def __init__(self, categories: _Optional[_Iterable[str]] = ..., skus: _Optional[_Iterable[str]] = ..., store_ids: _Optional[_Iterable[str]] = ..., channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ...) -> None: ...

class EarningCaps(_message.Message):
    __slots__ = ("per_transaction_points_max", "per_member_day_points_max", "per_member_week_points_max", "per_member_month_points_max")
    PER_TRANSACTION_POINTS_MAX_FIELD_NUMBER: _ClassVar[int]
    PER_MEMBER_DAY_POINTS_MAX_FIELD_NUMBER: _ClassVar[int]
    PER_MEMBER_WEEK_POINTS_MAX_FIELD_NUMBER: _ClassVar[int]
    PER_MEMBER_MONTH_POINTS_MAX_FIELD_NUMBER: _ClassVar[int]
    per_transaction_points_max: int
    per_member_day_points_max: int
    per_member_week_points_max: int
    per_member_month_points_max: int
    def __init__(self, per_transaction_points_max: _Optional[int] = ..., per_member_day_points_max: _Optional[int] = ..., per_member_week_points_max: _Optional[int] = ..., per_member_month_points_max: _Optional[int] = ...) -> None: ...

class EarningRule(_message.Message):
    __slots__ = ("rate", "rounding_mode", "minimum_spend", "multipliers", "time_windows", "fixed_bonus_points", "exclusions", "caps", "channels", "store_ids", "categories", "tier_codes", "qualifying", "apply_tier_multipliers")
    RATE_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_MODE_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_SPEND_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIERS_FIELD_NUMBER: _ClassVar[int]
    TIME_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    FIXED_BONUS_POINTS_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIONS_FIELD_NUMBER: _ClassVar[int]
    CAPS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    STORE_IDS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    TIER_CODES_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_FIELD_NUMBER: _ClassVar[int]
    APPLY_TIER_MULTIPLIERS_FIELD_NUMBER: _ClassVar[int]
    rate: EarnRate
    rounding_mode: _common_pb2.RoundingMode
    minimum_spend: _common_pb2.Money
    multipliers: _containers.RepeatedCompositeFieldContainer[Multiplier]
    time_windows: _containers.RepeatedCompositeFieldContainer[TimeWindow]
    fixed_bonus_points: int
    exclusions: Exclusions
    caps: EarningCaps
    channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    store_ids: _containers.RepeatedScalarFieldContainer[str]
    categories: _containers.RepeatedScalarFieldContainer[str]
    tier_codes: _containers.RepeatedScalarFieldContainer[str]
    qualifying: bool
    apply_tier_multipliers: bool
    def __init__(self, rate: _Optional[_Union[EarnRate, _Mapping]] = ..., rounding_mode: _Optional[_Union[_common_pb2.RoundingMode, str]] = ..., minimum_spend: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., multipliers: _Optional[_Iterable[_Union[Multiplier, _Mapping]]] = ..., time_windows: _Optional[_Iterable[_Union[TimeWindow, _Mapping]]] = ..., fixed_bonus_points: _Optional[int] = ..., exclusions: _Optional[_Union[Exclusions, _Mapping]] = ..., caps: _Optional[_Union[EarningCaps, _Mapping]] = ..., channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ..., store_ids: _Optional[_Iterable[str]] = ..., categories: _Optional[_Iterable[str]] = ..., tier_codes: _Optional[_Iterable[str]] = ..., qualifying: _Optional[bool] = ..., apply_tier_multipliers: _Optional[bool] = ...) -> None: ...

class ActivityCaps(_message.Message):
    __slots__ = ("per_day_count_max", "per_week_count_max", "per_month_count_max", "lifetime_count_max")
    PER_DAY_COUNT_MAX_FIELD_NUMBER: _ClassVar[int]
    PER_WEEK_COUNT_MAX_FIELD_NUMBER: _ClassVar[int]
    PER_MONTH_COUNT_MAX_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_COUNT_MAX_FIELD_NUMBER: _ClassVar[int]
    per_day_count_max: int
    per_week_count_max: int
    per_month_count_max: int
    lifetime_count_max: int
    def __init__(self, per_day_count_max: _Optional[int] = ..., per_week_count_max: _Optional[int] = ..., per_month_count_max: _Optional[int] = ..., lifetime_count_max: _Optional[int] = ...) -> None: ...

class EngagementRule(_message.Message):
    __slots__ = ("activity_kind", "points", "referred_points", "requires_first_purchase", "caps", "requires_verification", "vesting_delay_seconds", "channels", "qualifying")
    ACTIVITY_KIND_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERRED_POINTS_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_FIRST_PURCHASE_FIELD_NUMBER: _ClassVar[int]
    CAPS_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    VESTING_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_FIELD_NUMBER: _ClassVar[int]
    activity_kind: _common_pb2.ActivityKind
    points: int
    referred_points: int
    requires_first_purchase: bool
    caps: ActivityCaps
    requires_verification: bool
    vesting_delay_seconds: int
    channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    qualifying: bool
    def __init__(self, activity_kind: _Optional[_Union[_common_pb2.ActivityKind, str]] = ..., points: _Optional[int] = ..., referred_points: _Optional[int] = ..., requires_first_purchase: _Optional[bool] = ..., caps: _Optional[_Union[ActivityCaps, _Mapping]] = ..., requires_verification: _Optional[bool] = ..., vesting_delay_seconds: _Optional[int] = ..., channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ..., qualifying: _Optional[bool] = ...) -> None: ...

class Rule(_message.Message):
    __slots__ = ("rule_id", "version", "program_id", "name", "description", "status", "priority", "stacking_mode", "start_time", "end_time", "segment_ids", "campaign_id", "earning", "engagement", "created_by", "create_time", "activate_time")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    STACKING_MODE_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    EARNING_FIELD_NUMBER: _ClassVar[int]
    ENGAGEMENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ACTIVATE_TIME_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    version: int
    program_id: str
    name: str
    description: str
    status: RuleStatus
    priority: int
    stacking_mode: StackingMode
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    segment_ids: _containers.RepeatedScalarFieldContainer[str]
    campaign_id: str
    earning: EarningRule
    engagement: EngagementRule
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    activate_time: _timestamp_pb2.Timestamp
    def __init__(self, rule_id: _Optional[str] = ..., version: _Optional[int] = ..., program_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., status: _Optional[_Union[RuleStatus, str]] = ..., priority: _Optional[int] = ..., stacking_mode: _Optional[_Union[StackingMode, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., segment_ids: _Optional[_Iterable[str]] = ..., campaign_id: _Optional[str] = ..., earning: _Optional[_Union[EarningRule, _Mapping]] = ..., engagement: _Optional[_Union[EngagementRule, _Mapping]] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., activate_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RuleApplication(_message.Message):
    __slots__ = ("rule_id", "version", "name", "points", "uncapped_points", "multiplier_bps", "explanation")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    UNCAPPED_POINTS_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_BPS_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    version: int
    name: str
    points: int
    uncapped_points: int
    multiplier_bps: int
    explanation: str
    def __init__(self, rule_id: _Optional[str] = ..., version: _Optional[int] = ..., name: _Optional[str] = ..., points: _Optional[int] = ..., uncapped_points: _Optional[int] = ..., multiplier_bps: _Optional[int] = ..., explanation: _Optional[str] = ...) -> None: ...
