import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from loyalty.campaign.v1 import rules_pb2 as _rules_pb2
from loyalty.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActivityOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_OUTCOME_UNSPECIFIED: _ClassVar[ActivityOutcome]
    ACTIVITY_OUTCOME_REWARDED: _ClassVar[ActivityOutcome]
    ACTIVITY_OUTCOME_PENDING: _ClassVar[ActivityOutcome]
    ACTIVITY_OUTCOME_CAPPED: _ClassVar[ActivityOutcome]
    ACTIVITY_OUTCOME_NO_RULE: _ClassVar[ActivityOutcome]
    ACTIVITY_OUTCOME_REJECTED: _ClassVar[ActivityOutcome]

class MilestoneKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MILESTONE_KIND_UNSPECIFIED: _ClassVar[MilestoneKind]
    MILESTONE_KIND_NTH_PURCHASE: _ClassVar[MilestoneKind]
    MILESTONE_KIND_SPEND_THRESHOLD: _ClassVar[MilestoneKind]

class TopMembersBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TOP_MEMBERS_BASIS_UNSPECIFIED: _ClassVar[TopMembersBasis]
    TOP_MEMBERS_BASIS_SPEND: _ClassVar[TopMembersBasis]
    TOP_MEMBERS_BASIS_PURCHASES: _ClassVar[TopMembersBasis]
    TOP_MEMBERS_BASIS_ACTIVITIES: _ClassVar[TopMembersBasis]

class MissionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSION_STATUS_UNSPECIFIED: _ClassVar[MissionStatus]
    MISSION_STATUS_DRAFT: _ClassVar[MissionStatus]
    MISSION_STATUS_ACTIVE: _ClassVar[MissionStatus]
    MISSION_STATUS_ARCHIVED: _ClassVar[MissionStatus]

class MissionProgressState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MISSION_PROGRESS_STATE_UNSPECIFIED: _ClassVar[MissionProgressState]
    MISSION_PROGRESS_STATE_NOT_STARTED: _ClassVar[MissionProgressState]
    MISSION_PROGRESS_STATE_IN_PROGRESS: _ClassVar[MissionProgressState]
    MISSION_PROGRESS_STATE_COMPLETED: _ClassVar[MissionProgressState]
    MISSION_PROGRESS_STATE_EXPIRED: _ClassVar[MissionProgressState]

class NotificationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_STATUS_UNSPECIFIED: _ClassVar[NotificationStatus]
    NOTIFICATION_STATUS_PUBLISHED: _ClassVar[NotificationStatus]
    NOTIFICATION_STATUS_SUPPRESSED_NO_CONSENT: _ClassVar[NotificationStatus]
    NOTIFICATION_STATUS_SUPPRESSED_FREQUENCY_CAP: _ClassVar[NotificationStatus]
    NOTIFICATION_STATUS_DEFERRED_QUIET_HOURS: _ClassVar[NotificationStatus]
    NOTIFICATION_STATUS_SUPPRESSED_DISABLED: _ClassVar[NotificationStatus]
ACTIVITY_OUTCOME_UNSPECIFIED: ActivityOutcome
ACTIVITY_OUTCOME_REWARDED: ActivityOutcome
ACTIVITY_OUTCOME_PENDING: ActivityOutcome
ACTIVITY_OUTCOME_CAPPED: ActivityOutcome
ACTIVITY_OUTCOME_NO_RULE: ActivityOutcome
ACTIVITY_OUTCOME_REJECTED: ActivityOutcome
MILESTONE_KIND_UNSPECIFIED: MilestoneKind
MILESTONE_KIND_NTH_PURCHASE: MilestoneKind
MILESTONE_KIND_SPEND_THRESHOLD: MilestoneKind
TOP_MEMBERS_BASIS_UNSPECIFIED: TopMembersBasis
TOP_MEMBERS_BASIS_SPEND: TopMembersBasis
TOP_MEMBERS_BASIS_PURCHASES: TopMembersBasis
TOP_MEMBERS_BASIS_ACTIVITIES: TopMembersBasis
MISSION_STATUS_UNSPECIFIED: MissionStatus
MISSION_STATUS_DRAFT: MissionStatus
MISSION_STATUS_ACTIVE: MissionStatus
MISSION_STATUS_ARCHIVED: MissionStatus
MISSION_PROGRESS_STATE_UNSPECIFIED: MissionProgressState
MISSION_PROGRESS_STATE_NOT_STARTED: MissionProgressState
MISSION_PROGRESS_STATE_IN_PROGRESS: MissionProgressState
MISSION_PROGRESS_STATE_COMPLETED: MissionProgressState
MISSION_PROGRESS_STATE_EXPIRED: MissionProgressState
NOTIFICATION_STATUS_UNSPECIFIED: NotificationStatus
NOTIFICATION_STATUS_PUBLISHED: NotificationStatus
NOTIFICATION_STATUS_SUPPRESSED_NO_CONSENT: NotificationStatus
NOTIFICATION_STATUS_SUPPRESSED_FREQUENCY_CAP: NotificationStatus
NOTIFICATION_STATUS_DEFERRED_QUIET_HOURS: NotificationStatus
NOTIFICATION_STATUS_SUPPRESSED_DISABLED: NotificationStatus

class Activity(_message.Message):
    __slots__ = ("activity_id", "member_id", "kind", "channel", "reference", "url", "sku", "store_id", "referred_member_id", "occurred_at", "verification_state", "outcome", "points", "rule_ids", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRED_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_STATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    member_id: str
    kind: _common_pb2.ActivityKind
    channel: _common_pb2.Channel
    reference: str
    url: str
    sku: str
    store_id: str
    referred_member_id: str
    occurred_at: _timestamp_pb2.Timestamp
    verification_state: _common_pb2.VerificationState
    outcome: ActivityOutcome
    points: int
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, activity_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.ActivityKind, str]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., reference: _Optional[str] = ..., url: _Optional[str] = ..., sku: _Optional[str] = ..., store_id: _Optional[str] = ..., referred_member_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., verification_state: _Optional[_Union[_common_pb2.VerificationState, str]] = ..., outcome: _Optional[_Union[ActivityOutcome, str]] = ..., points: _Optional[int] = ..., rule_ids: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Milestone(_message.Message):
    __slots__ = ("code", "kind", "threshold", "points", "badge_code")
    CODE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BADGE_CODE_FIELD_NUMBER: _ClassVar[int]
    code: str
    kind: MilestoneKind
    threshold: int
    points: int
    badge_code: str
    def __init__(self, code: _Optional[str] = ..., kind: _Optional[_Union[MilestoneKind, str]] = ..., threshold: _Optional[int] = ..., points: _Optional[int] = ..., badge_code: _Optional[str] = ...) -> None: ...

class TopMembersOfMonth(_message.Message):
    __slots__ = ("count", "points", "basis", "settle_delay_hours")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BASIS_FIELD_NUMBER: _ClassVar[int]
    SETTLE_DELAY_HOURS_FIELD_NUMBER: _ClassVar[int]
    count: int
    points: int
    basis: TopMembersBasis
    settle_delay_hours: int
    def __init__(self, count: _Optional[int] = ..., points: _Optional[int] = ..., basis: _Optional[_Union[TopMembersBasis, str]] = ..., settle_delay_hours: _Optional[int] = ...) -> None: ...

class RecognitionConfig(_message.Message):
    __slots__ = ("birthday_bonus_points", "milestones", "top_members_of_month", "update_time", "signup_bonus_points")
    BIRTHDAY_BONUS_POINTS_FIELD_NUMBER: _ClassVar[int]
    MILESTONES_FIELD_NUMBER: _ClassVar[int]
    TOP_MEMBERS_OF_MONTH_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SIGNUP_BONUS_POINTS_FIELD_NUMBER: _ClassVar[int]
    birthday_bonus_points: int
    milestones: _containers.RepeatedCompositeFieldContainer[Milestone]
    top_members_of_month: TopMembersOfMonth
    update_time: _timestamp_pb2.Timestamp
    signup_bonus_points: int
    def __init__(self, birthday_bonus_points: _Optional[int] = ..., milestones: _Optional[_Iterable[_Union[Milestone, _Mapping]]] = ..., top_members_of_month: _Optional[_Union[TopMembersOfMonth, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signup_bonus_points: _Optional[int] = ...) -> None: ...

class PurchaseRequirement(_message.Message):
    __slots__ = ("channels", "category", "minimum_spend")
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_SPEND_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    category: str
    minimum_spend: _common_pb2.Money
    def __init__(self, channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ..., category: _Optional[str] = ..., minimum_spend: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class MissionStep(_message.Message):
    __slots__ = ("step_code", "description", "purchase", "activity_kind", "count")
    STEP_CODE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_KIND_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    step_code: str
    description: str
    purchase: PurchaseRequirement
    activity_kind: _common_pb2.ActivityKind
    count: int
    def __init__(self, step_code: _Optional[str] = ..., description: _Optional[str] = ..., purchase: _Optional[_Union[PurchaseRequirement, _Mapping]] = ..., activity_kind: _Optional[_Union[_common_pb2.ActivityKind, str]] = ..., count: _Optional[int] = ...) -> None: ...

class Mission(_message.Message):
    __slots__ = ("mission_id", "program_id", "name", "description", "steps", "ordered", "window_days", "reward_points", "badge_code", "badge_name", "start_time", "end_time", "status", "segment_ids")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ORDERED_FIELD_NUMBER: _ClassVar[int]
    WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    REWARD_POINTS_FIELD_NUMBER: _ClassVar[int]
    BADGE_CODE_FIELD_NUMBER: _ClassVar[int]
    BADGE_NAME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    program_id: str
    name: str
    description: str
    steps: _containers.RepeatedCompositeFieldContainer[MissionStep]
    ordered: bool
    window_days: int
    reward_points: int
    badge_code: str
    badge_name: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    status: MissionStatus
    segment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, mission_id: _Optional[str] = ..., program_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[MissionStep, _Mapping]]] = ..., ordered: _Optional[bool] = ..., window_days: _Optional[int] = ..., reward_points: _Optional[int] = ..., badge_code: _Optional[str] = ..., badge_name: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[MissionStatus, str]] = ..., segment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class StepProgress(_message.Message):
    __slots__ = ("step_code", "done_count", "required_count", "completed_at")
    STEP_CODE_FIELD_NUMBER: _ClassVar[int]
    DONE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    step_code: str
    done_count: int
    required_count: int
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, step_code: _Optional[str] = ..., done_count: _Optional[int] = ..., required_count: _Optional[int] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MissionProgress(_message.Message):
    __slots__ = ("mission_id", "member_id", "state", "steps", "started_at", "deadline_at", "completed_at", "mission")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    MISSION_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    member_id: str
    state: MissionProgressState
    steps: _containers.RepeatedCompositeFieldContainer[StepProgress]
    started_at: _timestamp_pb2.Timestamp
    deadline_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    mission: Mission
    def __init__(self, mission_id: _Optional[str] = ..., member_id: _Optional[str] = ..., state: _Optional[_Union[MissionProgressState, str]] = ..., steps: _Optional[_Iterable[_Union[StepProgress, _Mapping]]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., deadline_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mission: _Optional[_Union[Mission, _Mapping]] = ...) -> None: ...

class MemberBadge(_message.Message):
    __slots__ = ("badge_code", "name", "mission_id", "milestone_code", "awarded_at")
    BADGE_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_CODE_FIELD_NUMBER: _ClassVar[int]
    AWARDED_AT_FIELD_NUMBER: _ClassVar[int]
    badge_code: str
    name: str
    mission_id: str
    milestone_code: str
    awarded_at: _timestamp_pb2.Timestamp
    def __init__(self, badge_code: _Optional[str] = ..., name: _Optional[str] = ..., mission_id: _Optional[str] = ..., milestone_code: _Optional[str] = ..., awarded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NotificationPolicy(_message.Message):
    __slots__ = ("per_member_day_max", "per_member_week_max", "quiet_hours_start", "quiet_hours_end", "enabled_kinds", "close_to_next_tier_bps", "channel_preferences", "update_time")
    PER_MEMBER_DAY_MAX_FIELD_NUMBER: _ClassVar[int]
    PER_MEMBER_WEEK_MAX_FIELD_NUMBER: _ClassVar[int]
    QUIET_HOURS_START_FIELD_NUMBER: _ClassVar[int]
    QUIET_HOURS_END_FIELD_NUMBER: _ClassVar[int]
    ENABLED_KINDS_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TO_NEXT_TIER_BPS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    per_member_day_max: int
    per_member_week_max: int
    quiet_hours_start: _rules_pb2.LocalTime
    quiet_hours_end: _rules_pb2.LocalTime
    enabled_kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.NotificationKind]
    close_to_next_tier_bps: int
    channel_preferences: _containers.RepeatedScalarFieldContainer[_common_pb2.ConsentChannel]
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, per_member_day_max: _Optional[int] = ..., per_member_week_max: _Optional[int] = ..., quiet_hours_start: _Optional[_Union[_rules_pb2.LocalTime, _Mapping]] = ..., quiet_hours_end: _Optional[_Union[_rules_pb2.LocalTime, _Mapping]] = ..., enabled_kinds: _Optional[_Iterable[_Union[_common_pb2.NotificationKind, str]]] = ..., close_to_next_tier_bps: _Optional[int] = ..., channel_preferences: _Optional[_Iterable[_Union[_common_pb2.ConsentChannel, str]]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class NotificationIntentRecord(_message.Message):
    __slots__ = ("intent_id", "member_id", "kind", "channel", "template_data", "status", "create_time", "publish_time")
    class TemplateDataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_DATA_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PUBLISH_TIME_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    member_id: str
    kind: _common_pb2.NotificationKind
    channel: _common_pb2.ConsentChannel
    template_data: _containers.ScalarMap[str, str]
    status: NotificationStatus
    create_time: _timestamp_pb2.Timestamp
    publish_time: _timestamp_pb2.Timestamp
    def __init__(self, intent_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.NotificationKind, str]] = ..., channel: _Optional[_Union[_common_pb2.ConsentChannel, str]] = ..., template_data: _Optional[_Mapping[str, str]] = ..., status: _Optional[_Union[NotificationStatus, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., publish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
