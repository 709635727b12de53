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

class ExpiryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPIRY_KIND_UNSPECIFIED: _ClassVar[ExpiryKind]
    EXPIRY_KIND_NEVER: _ClassVar[ExpiryKind]
    EXPIRY_KIND_ROLLING_MONTHS: _ClassVar[ExpiryKind]
    EXPIRY_KIND_END_OF_CALENDAR_PERIOD: _ClassVar[ExpiryKind]
    EXPIRY_KIND_INACTIVITY_MONTHS: _ClassVar[ExpiryKind]

class CalendarPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CALENDAR_PERIOD_UNSPECIFIED: _ClassVar[CalendarPeriod]
    CALENDAR_PERIOD_MONTH: _ClassVar[CalendarPeriod]
    CALENDAR_PERIOD_QUARTER: _ClassVar[CalendarPeriod]
    CALENDAR_PERIOD_YEAR: _ClassVar[CalendarPeriod]

class NegativeBalancePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NEGATIVE_BALANCE_POLICY_UNSPECIFIED: _ClassVar[NegativeBalancePolicy]
    NEGATIVE_BALANCE_POLICY_RECORD_DEBT: _ClassVar[NegativeBalancePolicy]
    NEGATIVE_BALANCE_POLICY_WRITE_OFF: _ClassVar[NegativeBalancePolicy]

class UnknownMemberPolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNKNOWN_MEMBER_POLICY_UNSPECIFIED: _ClassVar[UnknownMemberPolicy]
    UNKNOWN_MEMBER_POLICY_EARN: _ClassVar[UnknownMemberPolicy]
    UNKNOWN_MEMBER_POLICY_REFUSE: _ClassVar[UnknownMemberPolicy]

class TierWindowKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_WINDOW_KIND_UNSPECIFIED: _ClassVar[TierWindowKind]
    TIER_WINDOW_KIND_ROLLING_DAYS: _ClassVar[TierWindowKind]
    TIER_WINDOW_KIND_CALENDAR_YEAR: _ClassVar[TierWindowKind]

class QualifyingBasis(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUALIFYING_BASIS_UNSPECIFIED: _ClassVar[QualifyingBasis]
    QUALIFYING_BASIS_POINTS: _ClassVar[QualifyingBasis]
    QUALIFYING_BASIS_SPEND: _ClassVar[QualifyingBasis]

class HoldStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATUS_UNSPECIFIED: _ClassVar[HoldStatus]
    HOLD_STATUS_HELD: _ClassVar[HoldStatus]
    HOLD_STATUS_COMMITTED: _ClassVar[HoldStatus]
    HOLD_STATUS_VOIDED: _ClassVar[HoldStatus]

class VestingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VESTING_STATE_UNSPECIFIED: _ClassVar[VestingState]
    VESTING_STATE_PENDING: _ClassVar[VestingState]
    VESTING_STATE_VESTED: _ClassVar[VestingState]

class ItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ITEM_STATUS_UNSPECIFIED: _ClassVar[ItemStatus]
    ITEM_STATUS_POSTED: _ClassVar[ItemStatus]
    ITEM_STATUS_DUPLICATE: _ClassVar[ItemStatus]
    ITEM_STATUS_REJECTED: _ClassVar[ItemStatus]

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_MEMBER: _ClassVar[RejectReason]
    REJECT_REASON_INSUFFICIENT_POINTS: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_POINTS: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_KIND: _ClassVar[RejectReason]
    REJECT_REASON_MEMBER_CLOSED: _ClassVar[RejectReason]
    REJECT_REASON_IDEMPOTENCY_CONFLICT: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_ITEM: _ClassVar[RejectReason]
    REJECT_REASON_OCCURRED_AT_IN_FUTURE: _ClassVar[RejectReason]

class MaintenanceJob(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAINTENANCE_JOB_UNSPECIFIED: _ClassVar[MaintenanceJob]
    MAINTENANCE_JOB_VESTING: _ClassVar[MaintenanceJob]
    MAINTENANCE_JOB_EXPIRY: _ClassVar[MaintenanceJob]
    MAINTENANCE_JOB_HOLD_TIMEOUTS: _ClassVar[MaintenanceJob]
    MAINTENANCE_JOB_TIER_REQUALIFICATION: _ClassVar[MaintenanceJob]
    MAINTENANCE_JOB_EXPIRY_NOTICES: _ClassVar[MaintenanceJob]
EXPIRY_KIND_UNSPECIFIED: ExpiryKind
EXPIRY_KIND_NEVER: ExpiryKind
EXPIRY_KIND_ROLLING_MONTHS: ExpiryKind
EXPIRY_KIND_END_OF_CALENDAR_PERIOD: ExpiryKind
EXPIRY_KIND_INACTIVITY_MONTHS: ExpiryKind
CALENDAR_PERIOD_UNSPECIFIED: CalendarPeriod
CALENDAR_PERIOD_MONTH: CalendarPeriod
CALENDAR_PERIOD_QUARTER: CalendarPeriod
CALENDAR_PERIOD_YEAR: CalendarPeriod
NEGATIVE_BALANCE_POLICY_UNSPECIFIED: NegativeBalancePolicy
NEGATIVE_BALANCE_POLICY_RECORD_DEBT: NegativeBalancePolicy
NEGATIVE_BALANCE_POLICY_WRITE_OFF: NegativeBalancePolicy
UNKNOWN_MEMBER_POLICY_UNSPECIFIED: UnknownMemberPolicy
UNKNOWN_MEMBER_POLICY_EARN: UnknownMemberPolicy
UNKNOWN_MEMBER_POLICY_REFUSE: UnknownMemberPolicy
TIER_WINDOW_KIND_UNSPECIFIED: TierWindowKind
TIER_WINDOW_KIND_ROLLING_DAYS: TierWindowKind
TIER_WINDOW_KIND_CALENDAR_YEAR: TierWindowKind
QUALIFYING_BASIS_UNSPECIFIED: QualifyingBasis
QUALIFYING_BASIS_POINTS: QualifyingBasis
QUALIFYING_BASIS_SPEND: QualifyingBasis
HOLD_STATUS_UNSPECIFIED: HoldStatus
HOLD_STATUS_HELD: HoldStatus
HOLD_STATUS_COMMITTED: HoldStatus
HOLD_STATUS_VOIDED: HoldStatus
VESTING_STATE_UNSPECIFIED: VestingState
VESTING_STATE_PENDING: VestingState
VESTING_STATE_VESTED: VestingState
ITEM_STATUS_UNSPECIFIED: ItemStatus
ITEM_STATUS_POSTED: ItemStatus
ITEM_STATUS_DUPLICATE: ItemStatus
ITEM_STATUS_REJECTED: ItemStatus
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_UNKNOWN_MEMBER: RejectReason
REJECT_REASON_INSUFFICIENT_POINTS: RejectReason
REJECT_REASON_INVALID_POINTS: RejectReason
REJECT_REASON_INVALID_KIND: RejectReason
REJECT_REASON_MEMBER_CLOSED: RejectReason
REJECT_REASON_IDEMPOTENCY_CONFLICT: RejectReason
REJECT_REASON_INVALID_ITEM: RejectReason
REJECT_REASON_OCCURRED_AT_IN_FUTURE: RejectReason
MAINTENANCE_JOB_UNSPECIFIED: MaintenanceJob
MAINTENANCE_JOB_VESTING: MaintenanceJob
MAINTENANCE_JOB_EXPIRY: MaintenanceJob
MAINTENANCE_JOB_HOLD_TIMEOUTS: MaintenanceJob
MAINTENANCE_JOB_TIER_REQUALIFICATION: MaintenanceJob
MAINTENANCE_JOB_EXPIRY_NOTICES: MaintenanceJob

class ExpiryPolicy(_message.Message):
    __slots__ = ("kind", "months", "period")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    kind: ExpiryKind
    months: int
    period: CalendarPeriod
    def __init__(self, kind: _Optional[_Union[ExpiryKind, str]] = ..., months: _Optional[int] = ..., period: _Optional[_Union[CalendarPeriod, str]] = ...) -> None: ...

class TierWindow(_message.Message):
    __slots__ = ("kind", "rolling_days", "requalification_period")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLLING_DAYS_FIELD_NUMBER: _ClassVar[int]
    REQUALIFICATION_PERIOD_FIELD_NUMBER: _ClassVar[int]
    kind: TierWindowKind
    rolling_days: int
    requalification_period: CalendarPeriod
    def __init__(self, kind: _Optional[_Union[TierWindowKind, str]] = ..., rolling_days: _Optional[int] = ..., requalification_period: _Optional[_Union[CalendarPeriod, str]] = ...) -> None: ...

class ProgramConfig(_message.Message):
    __slots__ = ("program_id", "points_name", "currency", "time_zone", "return_window_days", "expiry_policy", "negative_balance_policy", "hold_ttl_seconds", "tier_window", "qualifying_basis", "rounding_mode", "expiry_notice_days", "entry_tier_code", "update_time", "unknown_member_policy")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    RETURN_WINDOW_DAYS_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_POLICY_FIELD_NUMBER: _ClassVar[int]
    NEGATIVE_BALANCE_POLICY_FIELD_NUMBER: _ClassVar[int]
    HOLD_TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    TIER_WINDOW_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_BASIS_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_MODE_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_NOTICE_DAYS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UNKNOWN_MEMBER_POLICY_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    points_name: str
    currency: str
    time_zone: str
    return_window_days: int
    expiry_policy: ExpiryPolicy
    negative_balance_policy: NegativeBalancePolicy
    hold_ttl_seconds: int
    tier_window: TierWindow
    qualifying_basis: QualifyingBasis
    rounding_mode: _common_pb2.RoundingMode
    expiry_notice_days: int
    entry_tier_code: str
    update_time: _timestamp_pb2.Timestamp
    unknown_member_policy: UnknownMemberPolicy
    def __init__(self, program_id: _Optional[str] = ..., points_name: _Optional[str] = ..., currency: _Optional[str] = ..., time_zone: _Optional[str] = ..., return_window_days: _Optional[int] = ..., expiry_policy: _Optional[_Union[ExpiryPolicy, _Mapping]] = ..., negative_balance_policy: _Optional[_Union[NegativeBalancePolicy, str]] = ..., hold_ttl_seconds: _Optional[int] = ..., tier_window: _Optional[_Union[TierWindow, _Mapping]] = ..., qualifying_basis: _Optional[_Union[QualifyingBasis, str]] = ..., rounding_mode: _Optional[_Union[_common_pb2.RoundingMode, str]] = ..., expiry_notice_days: _Optional[int] = ..., entry_tier_code: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unknown_member_policy: _Optional[_Union[UnknownMemberPolicy, str]] = ...) -> None: ...

class TierDefinition(_message.Message):
    __slots__ = ("code", "name", "rank", "threshold", "benefits_text", "multiplier_bps")
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    BENEFITS_TEXT_FIELD_NUMBER: _ClassVar[int]
    MULTIPLIER_BPS_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    rank: int
    threshold: int
    benefits_text: str
    multiplier_bps: int
    def __init__(self, code: _Optional[str] = ..., name: _Optional[str] = ..., rank: _Optional[int] = ..., threshold: _Optional[int] = ..., benefits_text: _Optional[str] = ..., multiplier_bps: _Optional[int] = ...) -> None: ...

class PostingReason(_message.Message):
    __slots__ = ("rule_ids", "campaign_id", "mission_id", "experiment_id", "operator_id", "code", "note")
    RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_ID_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    rule_ids: _containers.RepeatedScalarFieldContainer[str]
    campaign_id: str
    mission_id: str
    experiment_id: str
    operator_id: str
    code: str
    note: str
    def __init__(self, rule_ids: _Optional[_Iterable[str]] = ..., campaign_id: _Optional[str] = ..., mission_id: _Optional[str] = ..., experiment_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., code: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class Posting(_message.Message):
    __slots__ = ("posting_id", "member_id", "kind", "points", "source_reference", "reason", "occurred_at", "posted_at", "batch_id", "counterparty_member_id", "hold_id", "reversed_posting_id", "qualifying", "available_points_after")
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    POSTED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    COUNTERPARTY_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REVERSED_POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_AFTER_FIELD_NUMBER: _ClassVar[int]
    posting_id: str
    member_id: str
    kind: _common_pb2.PostingKind
    points: int
    source_reference: str
    reason: PostingReason
    occurred_at: _timestamp_pb2.Timestamp
    posted_at: _timestamp_pb2.Timestamp
    batch_id: str
    counterparty_member_id: str
    hold_id: str
    reversed_posting_id: str
    qualifying: bool
    available_points_after: int
    def __init__(self, posting_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.PostingKind, str]] = ..., points: _Optional[int] = ..., source_reference: _Optional[str] = ..., reason: _Optional[_Union[PostingReason, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., posted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ..., counterparty_member_id: _Optional[str] = ..., hold_id: _Optional[str] = ..., reversed_posting_id: _Optional[str] = ..., qualifying: _Optional[bool] = ..., available_points_after: _Optional[int] = ...) -> None: ...

class Lot(_message.Message):
    __slots__ = ("lot_id", "member_id", "original_points", "remaining_points", "earned_at", "vests_at", "expires_at", "vesting_state", "source_reference", "posting_id")
    LOT_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_POINTS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_POINTS_FIELD_NUMBER: _ClassVar[int]
    EARNED_AT_FIELD_NUMBER: _ClassVar[int]
    VESTS_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    VESTING_STATE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    lot_id: str
    member_id: str
    original_points: int
    remaining_points: int
    earned_at: _timestamp_pb2.Timestamp
    vests_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    vesting_state: VestingState
    source_reference: str
    posting_id: str
    def __init__(self, lot_id: _Optional[str] = ..., member_id: _Optional[str] = ..., original_points: _Optional[int] = ..., remaining_points: _Optional[int] = ..., earned_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vests_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vesting_state: _Optional[_Union[VestingState, str]] = ..., source_reference: _Optional[str] = ..., posting_id: _Optional[str] = ...) -> None: ...

class SpendAllocation(_message.Message):
    __slots__ = ("lot_id", "points", "lot_expires_at", "lot_source_reference")
    LOT_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    LOT_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LOT_SOURCE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    lot_id: str
    points: int
    lot_expires_at: _timestamp_pb2.Timestamp
    lot_source_reference: str
    def __init__(self, lot_id: _Optional[str] = ..., points: _Optional[int] = ..., lot_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lot_source_reference: _Optional[str] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("hold_id", "member_id", "points", "status", "reference", "created_at", "expires_at", "closed_at", "void_reason", "posting_id", "void_note", "debt_paid_points")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CLOSED_AT_FIELD_NUMBER: _ClassVar[int]
    VOID_REASON_FIELD_NUMBER: _ClassVar[int]
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    VOID_NOTE_FIELD_NUMBER: _ClassVar[int]
    DEBT_PAID_POINTS_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    member_id: str
    points: int
    status: HoldStatus
    reference: str
    created_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    closed_at: _timestamp_pb2.Timestamp
    void_reason: _common_pb2.HoldVoidReason
    posting_id: str
    void_note: str
    debt_paid_points: int
    def __init__(self, hold_id: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., status: _Optional[_Union[HoldStatus, str]] = ..., reference: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., void_reason: _Optional[_Union[_common_pb2.HoldVoidReason, str]] = ..., posting_id: _Optional[str] = ..., void_note: _Optional[str] = ..., debt_paid_points: _Optional[int] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("member_id", "available_points", "pending_points", "held_points", "lifetime_earned_points", "debt_points", "tier_code", "qualifying_basis", "qualifying_amount", "next_tier_code", "to_next_tier_amount", "expiring_30_days_points", "next_expiry_at", "as_of")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_POINTS_FIELD_NUMBER: _ClassVar[int]
    HELD_POINTS_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_EARNED_POINTS_FIELD_NUMBER: _ClassVar[int]
    DEBT_POINTS_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_BASIS_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    NEXT_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    TO_NEXT_TIER_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPIRING_30_DAYS_POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_EXPIRY_AT_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    available_points: int
    pending_points: int
    held_points: int
    lifetime_earned_points: int
    debt_points: int
    tier_code: str
    qualifying_basis: QualifyingBasis
    qualifying_amount: int
    next_tier_code: str
    to_next_tier_amount: int
    expiring_30_days_points: int
    next_expiry_at: _timestamp_pb2.Timestamp
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., available_points: _Optional[int] = ..., pending_points: _Optional[int] = ..., held_points: _Optional[int] = ..., lifetime_earned_points: _Optional[int] = ..., debt_points: _Optional[int] = ..., tier_code: _Optional[str] = ..., qualifying_basis: _Optional[_Union[QualifyingBasis, str]] = ..., qualifying_amount: _Optional[int] = ..., next_tier_code: _Optional[str] = ..., to_next_tier_amount: _Optional[int] = ..., expiring_30_days_points: _Optional[int] = ..., next_expiry_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TierChange(_message.Message):
    __slots__ = ("member_id", "from_tier_code", "to_tier_code", "direction", "reason", "qualifying_amount", "operator_id", "note", "changed_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    TO_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    from_tier_code: str
    to_tier_code: str
    direction: _common_pb2.TierChangeDirection
    reason: _common_pb2.TierChangeReason
    qualifying_amount: int
    operator_id: str
    note: str
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., from_tier_code: _Optional[str] = ..., to_tier_code: _Optional[str] = ..., direction: _Optional[_Union[_common_pb2.TierChangeDirection, str]] = ..., reason: _Optional[_Union[_common_pb2.TierChangeReason, str]] = ..., qualifying_amount: _Optional[int] = ..., operator_id: _Optional[str] = ..., note: _Optional[str] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfigureProgramRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "config")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    config: ProgramConfig
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., config: _Optional[_Union[ProgramConfig, _Mapping]] = ...) -> None: ...

class ConfigureProgramResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: ProgramConfig
    def __init__(self, config: _Optional[_Union[ProgramConfig, _Mapping]] = ...) -> None: ...

class GetProgramRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class GetProgramResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: ProgramConfig
    def __init__(self, config: _Optional[_Union[ProgramConfig, _Mapping]] = ...) -> None: ...

class SetTierDefinitionsRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "tiers", "tier_code_mappings")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    tiers: _containers.RepeatedCompositeFieldContainer[TierDefinition]
    tier_code_mappings: _containers.RepeatedCompositeFieldContainer[TierCodeMapping]
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., tiers: _Optional[_Iterable[_Union[TierDefinition, _Mapping]]] = ..., tier_code_mappings: _Optional[_Iterable[_Union[TierCodeMapping, _Mapping]]] = ...) -> None: ...

class TierCodeMapping(_message.Message):
    __slots__ = ("from_tier_code", "to_tier_code")
    FROM_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    TO_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    from_tier_code: str
    to_tier_code: str
    def __init__(self, from_tier_code: _Optional[str] = ..., to_tier_code: _Optional[str] = ...) -> None: ...

class SetTierDefinitionsResponse(_message.Message):
    __slots__ = ("tiers", "moved_accounts_count", "entry_tier_code")
    TIERS_FIELD_NUMBER: _ClassVar[int]
    MOVED_ACCOUNTS_COUNT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[TierDefinition]
    moved_accounts_count: int
    entry_tier_code: str
    def __init__(self, tiers: _Optional[_Iterable[_Union[TierDefinition, _Mapping]]] = ..., moved_accounts_count: _Optional[int] = ..., entry_tier_code: _Optional[str] = ...) -> None: ...

class ListTierDefinitionsRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTierDefinitionsResponse(_message.Message):
    __slots__ = ("tiers", "next_page_token")
    TIERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[TierDefinition]
    next_page_token: str
    def __init__(self, tiers: _Optional[_Iterable[_Union[TierDefinition, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EarnRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "points", "source_reference", "reason", "occurred_at", "vests_at", "expires_at", "qualifying", "qualifying_spend")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    VESTS_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_SPEND_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    points: int
    source_reference: str
    reason: PostingReason
    occurred_at: _timestamp_pb2.Timestamp
    vests_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    qualifying: bool
    qualifying_spend: _common_pb2.Money
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., source_reference: _Optional[str] = ..., reason: _Optional[_Union[PostingReason, _Mapping]] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vests_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., qualifying: _Optional[bool] = ..., qualifying_spend: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class EarnResponse(_message.Message):
    __slots__ = ("posting", "lot", "balance")
    POSTING_FIELD_NUMBER: _ClassVar[int]
    LOT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    posting: Posting
    lot: Lot
    balance: Balance
    def __init__(self, posting: _Optional[_Union[Posting, _Mapping]] = ..., lot: _Optional[_Union[Lot, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class RedeemRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "points", "source_reference", "reason")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    points: int
    source_reference: str
    reason: PostingReason
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., source_reference: _Optional[str] = ..., reason: _Optional[_Union[PostingReason, _Mapping]] = ...) -> None: ...

class RedeemResponse(_message.Message):
    __slots__ = ("posting", "allocations", "balance")
    POSTING_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    posting: Posting
    allocations: _containers.RepeatedCompositeFieldContainer[SpendAllocation]
    balance: Balance
    def __init__(self, posting: _Optional[_Union[Posting, _Mapping]] = ..., allocations: _Optional[_Iterable[_Union[SpendAllocation, _Mapping]]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class AdjustRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "points", "reason", "qualifying")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    points: int
    reason: PostingReason
    qualifying: bool
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., reason: _Optional[_Union[PostingReason, _Mapping]] = ..., qualifying: _Optional[bool] = ...) -> None: ...

class AdjustResponse(_message.Message):
    __slots__ = ("posting", "balance")
    POSTING_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    posting: Posting
    balance: Balance
    def __init__(self, posting: _Optional[_Union[Posting, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class PurchaseRefund(_message.Message):
    __slots__ = ("original_reference", "refunded_amount", "original_amount", "refunded_points")
    ORIGINAL_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_POINTS_FIELD_NUMBER: _ClassVar[int]
    original_reference: str
    refunded_amount: _common_pb2.Money
    original_amount: _common_pb2.Money
    refunded_points: int
    def __init__(self, original_reference: _Optional[str] = ..., refunded_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., original_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., refunded_points: _Optional[int] = ...) -> None: ...

class ReverseRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "refund", "posting_id", "reason")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REFUND_FIELD_NUMBER: _ClassVar[int]
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    refund: PurchaseRefund
    posting_id: str
    reason: PostingReason
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., refund: _Optional[_Union[PurchaseRefund, _Mapping]] = ..., posting_id: _Optional[str] = ..., reason: _Optional[_Union[PostingReason, _Mapping]] = ...) -> None: ...

class ReverseResponse(_message.Message):
    __slots__ = ("postings", "reversed_points", "debt_points", "balance", "debt_paid_points")
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    REVERSED_POINTS_FIELD_NUMBER: _ClassVar[int]
    DEBT_POINTS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    DEBT_PAID_POINTS_FIELD_NUMBER: _ClassVar[int]
    postings: _containers.RepeatedCompositeFieldContainer[Posting]
    reversed_points: int
    debt_points: int
    balance: Balance
    debt_paid_points: int
    def __init__(self, postings: _Optional[_Iterable[_Union[Posting, _Mapping]]] = ..., reversed_points: _Optional[int] = ..., debt_points: _Optional[int] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ..., debt_paid_points: _Optional[int] = ...) -> None: ...

class TransferPointsRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "source_member_id", "target_member_id", "points", "transfer_all", "reason")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    TRANSFER_ALL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    source_member_id: str
    target_member_id: str
    points: int
    transfer_all: bool
    reason: PostingReason
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., source_member_id: _Optional[str] = ..., target_member_id: _Optional[str] = ..., points: _Optional[int] = ..., transfer_all: _Optional[bool] = ..., reason: _Optional[_Union[PostingReason, _Mapping]] = ...) -> None: ...

class TransferPointsResponse(_message.Message):
    __slots__ = ("transfer_id", "transferred_points", "source_balance", "target_balance")
    TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_POINTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_BALANCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_BALANCE_FIELD_NUMBER: _ClassVar[int]
    transfer_id: str
    transferred_points: int
    source_balance: Balance
    target_balance: Balance
    def __init__(self, transfer_id: _Optional[str] = ..., transferred_points: _Optional[int] = ..., source_balance: _Optional[_Union[Balance, _Mapping]] = ..., target_balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class FindRecordedAnswerRequest(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: TransferPointsRequest
    def __init__(self, transfer: _Optional[_Union[TransferPointsRequest, _Mapping]] = ...) -> None: ...

class FindRecordedAnswerResponse(_message.Message):
    __slots__ = ("transfer",)
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    transfer: TransferPointsResponse
    def __init__(self, transfer: _Optional[_Union[TransferPointsResponse, _Mapping]] = ...) -> None: ...

class PlaceHoldRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "points", "reference", "ttl_seconds")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    points: int
    reference: str
    ttl_seconds: int
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class PlaceHoldResponse(_message.Message):
    __slots__ = ("hold", "balance")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    balance: Balance
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ..., balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class CommitHoldRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "hold_id", "reason")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    hold_id: str
    reason: PostingReason
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., hold_id: _Optional[str] = ..., reason: _Optional[_Union[PostingReason, _Mapping]] = ...) -> None: ...

class CommitHoldResponse(_message.Message):
    __slots__ = ("hold", "posting", "allocations")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    POSTING_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    posting: Posting
    allocations: _containers.RepeatedCompositeFieldContainer[SpendAllocation]
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ..., posting: _Optional[_Union[Posting, _Mapping]] = ..., allocations: _Optional[_Iterable[_Union[SpendAllocation, _Mapping]]] = ...) -> None: ...

class VoidHoldRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "hold_id", "reason", "note")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    hold_id: str
    reason: _common_pb2.HoldVoidReason
    note: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., hold_id: _Optional[str] = ..., reason: _Optional[_Union[_common_pb2.HoldVoidReason, str]] = ..., note: _Optional[str] = ...) -> None: ...

class VoidHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class GetHoldRequest(_message.Message):
    __slots__ = ("program_id", "hold_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    hold_id: str
    def __init__(self, program_id: _Optional[str] = ..., hold_id: _Optional[str] = ...) -> None: ...

class GetHoldResponse(_message.Message):
    __slots__ = ("hold",)
    HOLD_FIELD_NUMBER: _ClassVar[int]
    hold: Hold
    def __init__(self, hold: _Optional[_Union[Hold, _Mapping]] = ...) -> None: ...

class PostBatchRequest(_message.Message):
    __slots__ = ("program_id", "batch_id", "member_ids", "points", "kinds", "source_references", "idempotency_keys", "occurred_at_unix_micros", "qualifying_flags", "qualifying_spends_minor", "reason_codes", "vests_at_unix_micros", "expires_at_unix_micros")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REFERENCES_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEYS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_UNIX_MICROS_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_FLAGS_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_SPENDS_MINOR_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    VESTS_AT_UNIX_MICROS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_UNIX_MICROS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    batch_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    points: _containers.RepeatedScalarFieldContainer[int]
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.PostingKind]
    source_references: _containers.RepeatedScalarFieldContainer[str]
    idempotency_keys: _containers.RepeatedScalarFieldContainer[str]
    occurred_at_unix_micros: _containers.RepeatedScalarFieldContainer[int]
    qualifying_flags: _containers.RepeatedScalarFieldContainer[bool]
    qualifying_spends_minor: _containers.RepeatedScalarFieldContainer[int]
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    vests_at_unix_micros: _containers.RepeatedScalarFieldContainer[int]
    expires_at_unix_micros: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, program_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ..., points: _Optional[_Iterable[int]] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.PostingKind, str]]] = ..., source_references: _Optional[_Iterable[str]] = ..., idempotency_keys: _Optional[_Iterable[str]] = ..., occurred_at_unix_micros: _Optional[_Iterable[int]] = ..., qualifying_flags: _Optional[_Iterable[bool]] = ..., qualifying_spends_minor: _Optional[_Iterable[int]] = ..., reason_codes: _Optional[_Iterable[str]] = ..., vests_at_unix_micros: _Optional[_Iterable[int]] = ..., expires_at_unix_micros: _Optional[_Iterable[int]] = ...) -> None: ...

class PostBatchResponse(_message.Message):
    __slots__ = ("program_id", "batch_id", "statuses", "reject_reasons", "messages", "posting_ids", "posted_count", "duplicate_count", "rejected_count", "earned_points_total", "redeemed_points_total", "adjusted_points_total", "tier_changes_count", "committed_at")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASONS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    POSTING_IDS_FIELD_NUMBER: _ClassVar[int]
    POSTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    EARNED_POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    ADJUSTED_POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TIER_CHANGES_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    batch_id: str
    statuses: _containers.RepeatedScalarFieldContainer[ItemStatus]
    reject_reasons: _containers.RepeatedScalarFieldContainer[RejectReason]
    messages: _containers.RepeatedScalarFieldContainer[str]
    posting_ids: _containers.RepeatedScalarFieldContainer[str]
    posted_count: int
    duplicate_count: int
    rejected_count: int
    earned_points_total: int
    redeemed_points_total: int
    adjusted_points_total: int
    tier_changes_count: int
    committed_at: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[ItemStatus, str]]] = ..., reject_reasons: _Optional[_Iterable[_Union[RejectReason, str]]] = ..., messages: _Optional[_Iterable[str]] = ..., posting_ids: _Optional[_Iterable[str]] = ..., posted_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., rejected_count: _Optional[int] = ..., earned_points_total: _Optional[int] = ..., redeemed_points_total: _Optional[int] = ..., adjusted_points_total: _Optional[int] = ..., tier_changes_count: _Optional[int] = ..., committed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetBalanceRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "enrolled")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    enrolled: bool
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., enrolled: _Optional[bool] = ...) -> None: ...

class GetBalanceResponse(_message.Message):
    __slots__ = ("balance",)
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    balance: Balance
    def __init__(self, balance: _Optional[_Union[Balance, _Mapping]] = ...) -> None: ...

class BatchGetBalancesRequest(_message.Message):
    __slots__ = ("program_id", "member_ids", "enrolled")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    enrolled: bool
    def __init__(self, program_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ..., enrolled: _Optional[bool] = ...) -> None: ...

class BatchGetBalancesResponse(_message.Message):
    __slots__ = ("balances",)
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    balances: _containers.RepeatedCompositeFieldContainer[Balance]
    def __init__(self, balances: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ...) -> None: ...

class ListLotsRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "include_exhausted", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXHAUSTED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    include_exhausted: bool
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., include_exhausted: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListLotsResponse(_message.Message):
    __slots__ = ("lots", "next_page_token")
    LOTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    lots: _containers.RepeatedCompositeFieldContainer[Lot]
    next_page_token: str
    def __init__(self, lots: _Optional[_Iterable[_Union[Lot, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListHistoryRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "kinds", "start_time", "end_time", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.PostingKind]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.PostingKind, str]]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListHistoryResponse(_message.Message):
    __slots__ = ("postings", "next_page_token")
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    postings: _containers.RepeatedCompositeFieldContainer[Posting]
    next_page_token: str
    def __init__(self, postings: _Optional[_Iterable[_Union[Posting, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListSpendAllocationsRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "posting_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    posting_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., posting_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSpendAllocationsResponse(_message.Message):
    __slots__ = ("allocations", "next_page_token")
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    allocations: _containers.RepeatedCompositeFieldContainer[SpendAllocation]
    next_page_token: str
    def __init__(self, allocations: _Optional[_Iterable[_Union[SpendAllocation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTierHistoryRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class GetTierHistoryResponse(_message.Message):
    __slots__ = ("tier_changes", "next_page_token")
    TIER_CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tier_changes: _containers.RepeatedCompositeFieldContainer[TierChange]
    next_page_token: str
    def __init__(self, tier_changes: _Optional[_Iterable[_Union[TierChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EvaluateTiersRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_ids", "requalify", "as_of")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    REQUALIFY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    requalify: bool
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ..., requalify: _Optional[bool] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EvaluateTiersResponse(_message.Message):
    __slots__ = ("evaluated_count", "upgraded_count", "downgraded_count", "tier_changes")
    EVALUATED_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPGRADED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DOWNGRADED_COUNT_FIELD_NUMBER: _ClassVar[int]
    TIER_CHANGES_FIELD_NUMBER: _ClassVar[int]
    evaluated_count: int
    upgraded_count: int
    downgraded_count: int
    tier_changes: _containers.RepeatedCompositeFieldContainer[TierChange]
    def __init__(self, evaluated_count: _Optional[int] = ..., upgraded_count: _Optional[int] = ..., downgraded_count: _Optional[int] = ..., tier_changes: _Optional[_Iterable[_Union[TierChange, _Mapping]]] = ...) -> None: ...

class LiabilityRow(_message.Message):
    __slots__ = ("expiry_year", "expiry_month", "pending_points", "vested_points")
    EXPIRY_YEAR_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_MONTH_FIELD_NUMBER: _ClassVar[int]
    PENDING_POINTS_FIELD_NUMBER: _ClassVar[int]
    VESTED_POINTS_FIELD_NUMBER: _ClassVar[int]
    expiry_year: int
    expiry_month: int
    pending_points: int
    vested_points: int
    def __init__(self, expiry_year: _Optional[int] = ..., expiry_month: _Optional[int] = ..., pending_points: _Optional[int] = ..., vested_points: _Optional[int] = ...) -> None: ...

class GetLiabilityReportRequest(_message.Message):
    __slots__ = ("program_id", "as_of")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetLiabilityReportResponse(_message.Message):
    __slots__ = ("program_id", "as_of", "outstanding_points", "pending_points", "vested_points", "held_points", "debt_points", "rows", "member_count", "issued_account_points", "redeemed_account_points", "expired_account_points", "adjusted_account_points", "reversed_account_points")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    OUTSTANDING_POINTS_FIELD_NUMBER: _ClassVar[int]
    PENDING_POINTS_FIELD_NUMBER: _ClassVar[int]
    VESTED_POINTS_FIELD_NUMBER: _ClassVar[int]
    HELD_POINTS_FIELD_NUMBER: _ClassVar[int]
    DEBT_POINTS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    ISSUED_ACCOUNT_POINTS_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_ACCOUNT_POINTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_ACCOUNT_POINTS_FIELD_NUMBER: _ClassVar[int]
    ADJUSTED_ACCOUNT_POINTS_FIELD_NUMBER: _ClassVar[int]
    REVERSED_ACCOUNT_POINTS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    as_of: _timestamp_pb2.Timestamp
    outstanding_points: int
    pending_points: int
    vested_points: int
    held_points: int
    debt_points: int
    rows: _containers.RepeatedCompositeFieldContainer[LiabilityRow]
    member_count: int
    issued_account_points: int
    redeemed_account_points: int
    expired_account_points: int
    adjusted_account_points: int
    reversed_account_points: int
    def __init__(self, program_id: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., outstanding_points: _Optional[int] = ..., pending_points: _Optional[int] = ..., vested_points: _Optional[int] = ..., held_points: _Optional[int] = ..., debt_points: _Optional[int] = ..., rows: _Optional[_Iterable[_Union[LiabilityRow, _Mapping]]] = ..., member_count: _Optional[int] = ..., issued_account_points: _Optional[int] = ..., redeemed_account_points: _Optional[int] = ..., expired_account_points: _Optional[int] = ..., adjusted_account_points: _Optional[int] = ..., reversed_account_points: _Optional[int] = ...) -> None: ...

class AccountDifference(_message.Message):
    __slots__ = ("account_id", "field", "stored_value", "recomputed_value")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    STORED_VALUE_FIELD_NUMBER: _ClassVar[int]
    RECOMPUTED_VALUE_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    field: str
    stored_value: int
    recomputed_value: int
    def __init__(self, account_id: _Optional[str] = ..., field: _Optional[str] = ..., stored_value: _Optional[int] = ..., recomputed_value: _Optional[int] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("program_id", "member_ids", "differences_max")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_MAX_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    differences_max: int
    def __init__(self, program_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ..., differences_max: _Optional[int] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("accounts_checked_count", "differences_count", "differences", "program_sum_points")
    ACCOUNTS_CHECKED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_COUNT_FIELD_NUMBER: _ClassVar[int]
    DIFFERENCES_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_SUM_POINTS_FIELD_NUMBER: _ClassVar[int]
    accounts_checked_count: int
    differences_count: int
    differences: _containers.RepeatedCompositeFieldContainer[AccountDifference]
    program_sum_points: int
    def __init__(self, accounts_checked_count: _Optional[int] = ..., differences_count: _Optional[int] = ..., differences: _Optional[_Iterable[_Union[AccountDifference, _Mapping]]] = ..., program_sum_points: _Optional[int] = ...) -> None: ...

class RunMaintenanceRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "job", "as_of")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    job: MaintenanceJob
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., job: _Optional[_Union[MaintenanceJob, str]] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunMaintenanceResponse(_message.Message):
    __slots__ = ("job", "processed_count", "affected_points", "started_at", "finished_at")
    JOB_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_COUNT_FIELD_NUMBER: _ClassVar[int]
    AFFECTED_POINTS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    job: MaintenanceJob
    processed_count: int
    affected_points: int
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    def __init__(self, job: _Optional[_Union[MaintenanceJob, str]] = ..., processed_count: _Optional[int] = ..., affected_points: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAccountsRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAccountsResponse(_message.Message):
    __slots__ = ("balances", "next_page_token")
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    balances: _containers.RepeatedCompositeFieldContainer[Balance]
    next_page_token: str
    def __init__(self, balances: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListPostingsRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPostingsResponse(_message.Message):
    __slots__ = ("postings", "next_page_token")
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    postings: _containers.RepeatedCompositeFieldContainer[Posting]
    next_page_token: str
    def __init__(self, postings: _Optional[_Iterable[_Union[Posting, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
