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

class AwardWithdrawalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AWARD_WITHDRAWAL_REASON_UNSPECIFIED: _ClassVar[AwardWithdrawalReason]
    AWARD_WITHDRAWAL_REASON_PURCHASE_REFUSED: _ClassVar[AwardWithdrawalReason]
    AWARD_WITHDRAWAL_REASON_PURCHASE_RETURNED: _ClassVar[AwardWithdrawalReason]
AWARD_WITHDRAWAL_REASON_UNSPECIFIED: AwardWithdrawalReason
AWARD_WITHDRAWAL_REASON_PURCHASE_REFUSED: AwardWithdrawalReason
AWARD_WITHDRAWAL_REASON_PURCHASE_RETURNED: AwardWithdrawalReason

class Event(_message.Message):
    __slots__ = ("event_id", "program_id", "occurred_at", "request_id", "producer", "program_created", "program_updated", "member_enrolled", "member_updated", "member_merged", "member_erased", "consent_changed", "points_posted", "tier_changed", "points_expiring", "points_expired", "hold_placed", "hold_committed", "hold_voided", "tier_definitions_changed", "activity_recorded", "activity_verified", "purchase_recorded", "mission_completed", "badge_awarded", "notification_intent", "mission_completion_withdrawn", "badge_withdrawn", "reward_redeemed", "redemption_cancelled", "code_used", "perk_granted", "perk_withdrawn")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PRODUCER_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_CREATED_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_UPDATED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ENROLLED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_UPDATED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_MERGED_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ERASED_FIELD_NUMBER: _ClassVar[int]
    CONSENT_CHANGED_FIELD_NUMBER: _ClassVar[int]
    POINTS_POSTED_FIELD_NUMBER: _ClassVar[int]
    TIER_CHANGED_FIELD_NUMBER: _ClassVar[int]
    POINTS_EXPIRING_FIELD_NUMBER: _ClassVar[int]
    POINTS_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    HOLD_PLACED_FIELD_NUMBER: _ClassVar[int]
    HOLD_COMMITTED_FIELD_NUMBER: _ClassVar[int]
    HOLD_VOIDED_FIELD_NUMBER: _ClassVar[int]
    TIER_DEFINITIONS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_RECORDED_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_VERIFIED_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_RECORDED_FIELD_NUMBER: _ClassVar[int]
    MISSION_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    BADGE_AWARDED_FIELD_NUMBER: _ClassVar[int]
    NOTIFICATION_INTENT_FIELD_NUMBER: _ClassVar[int]
    MISSION_COMPLETION_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    BADGE_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    REWARD_REDEEMED_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    CODE_USED_FIELD_NUMBER: _ClassVar[int]
    PERK_GRANTED_FIELD_NUMBER: _ClassVar[int]
    PERK_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    program_id: str
    occurred_at: _timestamp_pb2.Timestamp
    request_id: str
    producer: str
    program_created: ProgramChanged
    program_updated: ProgramChanged
    member_enrolled: MemberEnrolled
    member_updated: MemberUpdated
    member_merged: MemberMerged
    member_erased: MemberErased
    consent_changed: ConsentChanged
    points_posted: PointsPosted
    tier_changed: TierChanged
    points_expiring: PointsExpiring
    points_expired: PointsExpired
    hold_placed: HoldPlaced
    hold_committed: HoldCommitted
    hold_voided: HoldVoided
    tier_definitions_changed: TierDefinitionsChanged
    activity_recorded: ActivityRecorded
    activity_verified: ActivityVerified
    purchase_recorded: PurchaseRecorded
    mission_completed: MissionCompleted
    badge_awarded: BadgeAwarded
    notification_intent: NotificationIntent
    mission_completion_withdrawn: MissionCompletionWithdrawn
    badge_withdrawn: BadgeWithdrawn
    reward_redeemed: RewardRedeemed
    redemption_cancelled: RedemptionCancelled
    code_used: CodeUsed
    perk_granted: PerkGranted
    perk_withdrawn: PerkWithdrawn
    def __init__(self, event_id: _Optional[str] = ..., program_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ..., producer: _Optional[str] = ..., program_created: _Optional[_Union[ProgramChanged, _Mapping]] = ..., program_updated: _Optional[_Union[ProgramChanged, _Mapping]] = ..., member_enrolled: _Optional[_Union[MemberEnrolled, _Mapping]] = ..., member_updated: _Optional[_Union[MemberUpdated, _Mapping]] = ..., member_merged: _Optional[_Union[MemberMerged, _Mapping]] = ..., member_erased: _Optional[_Union[MemberErased, _Mapping]] = ..., consent_changed: _Optional[_Union[ConsentChanged, _Mapping]] = ..., points_posted: _Optional[_Union[PointsPosted, _Mapping]] = ..., tier_changed: _Optional[_Union[TierChanged, _Mapping]] = ..., points_expiring: _Optional[_Union[PointsExpiring, _Mapping]] = ..., points_expired: _Optional[_Union[PointsExpired, _Mapping]] = ..., hold_placed: _Optional[_Union[HoldPlaced, _Mapping]] = ..., hold_committed: _Optional[_Union[HoldCommitted, _Mapping]] = ..., hold_voided: _Optional[_Union[HoldVoided, _Mapping]] = ..., tier_definitions_changed: _Optional[_Union[TierDefinitionsChanged, _Mapping]] = ..., activity_recorded: _Optional[_Union[ActivityRecorded, _Mapping]] = ..., activity_verified: _Optional[_Union[ActivityVerified, _Mapping]] = ..., purchase_recorded: _Optional[_Union[PurchaseRecorded, _Mapping]] = ..., mission_completed: _Optional[_Union[MissionCompleted, _Mapping]] = ..., badge_awarded: _Optional[_Union[BadgeAwarded, _Mapping]] = ..., notification_intent: _Optional[_Union[NotificationIntent, _Mapping]] = ..., mission_completion_withdrawn: _Optional[_Union[MissionCompletionWithdrawn, _Mapping]] = ..., badge_withdrawn: _Optional[_Union[BadgeWithdrawn, _Mapping]] = ..., reward_redeemed: _Optional[_Union[RewardRedeemed, _Mapping]] = ..., redemption_cancelled: _Optional[_Union[RedemptionCancelled, _Mapping]] = ..., code_used: _Optional[_Union[CodeUsed, _Mapping]] = ..., perk_granted: _Optional[_Union[PerkGranted, _Mapping]] = ..., perk_withdrawn: _Optional[_Union[PerkWithdrawn, _Mapping]] = ...) -> None: ...

class ProgramChanged(_message.Message):
    __slots__ = ("program_id", "name", "points_name", "currency", "time_zone", "entry_tier_code")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    name: str
    points_name: str
    currency: str
    time_zone: str
    entry_tier_code: str
    def __init__(self, program_id: _Optional[str] = ..., name: _Optional[str] = ..., points_name: _Optional[str] = ..., currency: _Optional[str] = ..., time_zone: _Optional[str] = ..., entry_tier_code: _Optional[str] = ...) -> None: ...

class MemberEnrolled(_message.Message):
    __slots__ = ("member_id", "channel", "store_id", "referrer_referral_code", "referrer_member_id", "entry_tier_code", "birthday", "locale", "identifier_kinds", "granted_consent_channels")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRER_REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    REFERRER_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_KINDS_FIELD_NUMBER: _ClassVar[int]
    GRANTED_CONSENT_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    channel: _common_pb2.Channel
    store_id: str
    referrer_referral_code: str
    referrer_member_id: str
    entry_tier_code: str
    birthday: _common_pb2.LocalDate
    locale: str
    identifier_kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.IdentifierKind]
    granted_consent_channels: _containers.RepeatedScalarFieldContainer[_common_pb2.ConsentChannel]
    def __init__(self, member_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ..., referrer_referral_code: _Optional[str] = ..., referrer_member_id: _Optional[str] = ..., entry_tier_code: _Optional[str] = ..., birthday: _Optional[_Union[_common_pb2.LocalDate, _Mapping]] = ..., locale: _Optional[str] = ..., identifier_kinds: _Optional[_Iterable[_Union[_common_pb2.IdentifierKind, str]]] = ..., granted_consent_channels: _Optional[_Iterable[_Union[_common_pb2.ConsentChannel, str]]] = ...) -> None: ...

class MemberUpdated(_message.Message):
    __slots__ = ("member_id", "changed_fields", "status", "birthday", "locale", "home_store_id")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    HOME_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    status: _common_pb2.MemberStatus
    birthday: _common_pb2.LocalDate
    locale: str
    home_store_id: str
    def __init__(self, member_id: _Optional[str] = ..., changed_fields: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[_common_pb2.MemberStatus, str]] = ..., birthday: _Optional[_Union[_common_pb2.LocalDate, _Mapping]] = ..., locale: _Optional[str] = ..., home_store_id: _Optional[str] = ...) -> None: ...

class MemberMerged(_message.Message):
    __slots__ = ("survivor_member_id", "merged_member_id", "ledger_transfer_id", "transferred_points")
    SURVIVOR_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    LEDGER_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_POINTS_FIELD_NUMBER: _ClassVar[int]
    survivor_member_id: str
    merged_member_id: str
    ledger_transfer_id: str
    transferred_points: int
    def __init__(self, survivor_member_id: _Optional[str] = ..., merged_member_id: _Optional[str] = ..., ledger_transfer_id: _Optional[str] = ..., transferred_points: _Optional[int] = ...) -> None: ...

class MemberErased(_message.Message):
    __slots__ = ("member_id", "erased_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ERASED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    erased_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., erased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConsentChanged(_message.Message):
    __slots__ = ("member_id", "channel", "granted", "source_channel", "changed_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    channel: _common_pb2.ConsentChannel
    granted: bool
    source_channel: _common_pb2.Channel
    changed_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.ConsentChannel, str]] = ..., granted: _Optional[bool] = ..., source_channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PointsPosted(_message.Message):
    __slots__ = ("batch_id", "item_count", "posted_count", "duplicate_count", "rejected_count", "earned_points_total", "redeemed_points_total", "other_points_total", "member_ids", "available_points", "kinds", "earned_occurred_at_unix_micros")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_COUNT_FIELD_NUMBER: _ClassVar[int]
    POSTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    EARNED_POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    OTHER_POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    EARNED_OCCURRED_AT_UNIX_MICROS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    item_count: int
    posted_count: int
    duplicate_count: int
    rejected_count: int
    earned_points_total: int
    redeemed_points_total: int
    other_points_total: int
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    available_points: _containers.RepeatedScalarFieldContainer[int]
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.PostingKind]
    earned_occurred_at_unix_micros: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, batch_id: _Optional[str] = ..., item_count: _Optional[int] = ..., posted_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., rejected_count: _Optional[int] = ..., earned_points_total: _Optional[int] = ..., redeemed_points_total: _Optional[int] = ..., other_points_total: _Optional[int] = ..., member_ids: _Optional[_Iterable[str]] = ..., available_points: _Optional[_Iterable[int]] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.PostingKind, str]]] = ..., earned_occurred_at_unix_micros: _Optional[_Iterable[int]] = ...) -> None: ...

class TierChanged(_message.Message):
    __slots__ = ("member_id", "from_tier_code", "to_tier_code", "direction", "reason", "qualifying_amount")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    TO_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    QUALIFYING_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    from_tier_code: str
    to_tier_code: str
    direction: _common_pb2.TierChangeDirection
    reason: _common_pb2.TierChangeReason
    qualifying_amount: int
    def __init__(self, member_id: _Optional[str] = ..., from_tier_code: _Optional[str] = ..., to_tier_code: _Optional[str] = ..., direction: _Optional[_Union[_common_pb2.TierChangeDirection, str]] = ..., reason: _Optional[_Union[_common_pb2.TierChangeReason, str]] = ..., qualifying_amount: _Optional[int] = ...) -> None: ...

class TierDefinitionsChanged(_message.Message):
    __slots__ = ("tiers", "tier_code_mappings", "entry_tier_code", "version")
    TIERS_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_MAPPINGS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    tiers: _containers.RepeatedCompositeFieldContainer[TierDefinitionCode]
    tier_code_mappings: _containers.RepeatedCompositeFieldContainer[TierCodeMapping]
    entry_tier_code: str
    version: int
    def __init__(self, tiers: _Optional[_Iterable[_Union[TierDefinitionCode, _Mapping]]] = ..., tier_code_mappings: _Optional[_Iterable[_Union[TierCodeMapping, _Mapping]]] = ..., entry_tier_code: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class TierDefinitionCode(_message.Message):
    __slots__ = ("code", "rank")
    CODE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    code: str
    rank: int
    def __init__(self, code: _Optional[str] = ..., rank: _Optional[int] = ...) -> None: ...

class TierCodeMapping(_message.Message):
    __slots__ = ("from_tier_code", "to_tier_code")
    FROM_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    TO_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    from_tier_code: str
    to_tier_code: str
    def __init__(self, from_tier_code: _Optional[str] = ..., to_tier_code: _Optional[str] = ...) -> None: ...

class PointsExpiring(_message.Message):
    __slots__ = ("member_id", "points", "expires_at", "days_ahead")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    DAYS_AHEAD_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    points: int
    expires_at: _timestamp_pb2.Timestamp
    days_ahead: int
    def __init__(self, member_id: _Optional[str] = ..., points: _Optional[int] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., days_ahead: _Optional[int] = ...) -> None: ...

class PointsExpired(_message.Message):
    __slots__ = ("member_id", "points", "lot_count", "available_points")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    LOT_COUNT_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    points: int
    lot_count: int
    available_points: int
    def __init__(self, member_id: _Optional[str] = ..., points: _Optional[int] = ..., lot_count: _Optional[int] = ..., available_points: _Optional[int] = ...) -> None: ...

class HoldPlaced(_message.Message):
    __slots__ = ("hold_id", "member_id", "points", "reference", "expires_at")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    member_id: str
    points: int
    reference: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, hold_id: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class HoldCommitted(_message.Message):
    __slots__ = ("hold_id", "member_id", "points", "reference", "posting_id")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    member_id: str
    points: int
    reference: str
    posting_id: str
    def __init__(self, hold_id: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ..., posting_id: _Optional[str] = ...) -> None: ...

class HoldVoided(_message.Message):
    __slots__ = ("hold_id", "member_id", "points", "reference", "reason", "debt_paid_points")
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEBT_PAID_POINTS_FIELD_NUMBER: _ClassVar[int]
    hold_id: str
    member_id: str
    points: int
    reference: str
    reason: _common_pb2.HoldVoidReason
    debt_paid_points: int
    def __init__(self, hold_id: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., reference: _Optional[str] = ..., reason: _Optional[_Union[_common_pb2.HoldVoidReason, str]] = ..., debt_paid_points: _Optional[int] = ...) -> None: ...

class ActivityRecorded(_message.Message):
    __slots__ = ("activity_id", "member_id", "kind", "channel", "reference", "url", "sku", "store_id", "referred_member_id", "occurred_at", "verification_state", "attributes")
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
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, activity_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.ActivityKind, str]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., reference: _Optional[str] = ..., url: _Optional[str] = ..., sku: _Optional[str] = ..., store_id: _Optional[str] = ..., referred_member_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., verification_state: _Optional[_Union[_common_pb2.VerificationState, str]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ActivityVerified(_message.Message):
    __slots__ = ("activity_id", "member_id", "kind", "verification_state", "verifier_id", "points")
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_STATE_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    activity_id: str
    member_id: str
    kind: _common_pb2.ActivityKind
    verification_state: _common_pb2.VerificationState
    verifier_id: str
    points: int
    def __init__(self, activity_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.ActivityKind, str]] = ..., verification_state: _Optional[_Union[_common_pb2.VerificationState, str]] = ..., verifier_id: _Optional[str] = ..., points: _Optional[int] = ...) -> None: ...

class PurchaseRecorded(_message.Message):
    __slots__ = ("transaction_id", "member_id", "amount", "channel", "store_id", "occurred_at", "points", "categories", "original_transaction_id")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    member_id: str
    amount: _common_pb2.Money
    channel: _common_pb2.Channel
    store_id: str
    occurred_at: _timestamp_pb2.Timestamp
    points: int
    categories: _containers.RepeatedScalarFieldContainer[str]
    original_transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ..., member_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., points: _Optional[int] = ..., categories: _Optional[_Iterable[str]] = ..., original_transaction_id: _Optional[str] = ...) -> None: ...

class MissionCompleted(_message.Message):
    __slots__ = ("mission_id", "member_id", "points", "badge_code")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    BADGE_CODE_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    member_id: str
    points: int
    badge_code: str
    def __init__(self, mission_id: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., badge_code: _Optional[str] = ...) -> None: ...

class BadgeAwarded(_message.Message):
    __slots__ = ("badge_code", "member_id", "badge_name", "mission_id", "milestone_code")
    BADGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    BADGE_NAME_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_CODE_FIELD_NUMBER: _ClassVar[int]
    badge_code: str
    member_id: str
    badge_name: str
    mission_id: str
    milestone_code: str
    def __init__(self, badge_code: _Optional[str] = ..., member_id: _Optional[str] = ..., badge_name: _Optional[str] = ..., mission_id: _Optional[str] = ..., milestone_code: _Optional[str] = ...) -> None: ...

class MissionCompletionWithdrawn(_message.Message):
    __slots__ = ("mission_id", "member_id", "points", "transaction_ids", "reason")
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    mission_id: str
    member_id: str
    points: int
    transaction_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: AwardWithdrawalReason
    def __init__(self, mission_id: _Optional[str] = ..., member_id: _Optional[str] = ..., points: _Optional[int] = ..., transaction_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[_Union[AwardWithdrawalReason, str]] = ...) -> None: ...

class BadgeWithdrawn(_message.Message):
    __slots__ = ("badge_code", "member_id", "mission_id", "milestone_code", "transaction_ids", "reason")
    BADGE_CODE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    MILESTONE_CODE_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    badge_code: str
    member_id: str
    mission_id: str
    milestone_code: str
    transaction_ids: _containers.RepeatedScalarFieldContainer[str]
    reason: AwardWithdrawalReason
    def __init__(self, badge_code: _Optional[str] = ..., member_id: _Optional[str] = ..., mission_id: _Optional[str] = ..., milestone_code: _Optional[str] = ..., transaction_ids: _Optional[_Iterable[str]] = ..., reason: _Optional[_Union[AwardWithdrawalReason, str]] = ...) -> None: ...

class NotificationIntent(_message.Message):
    __slots__ = ("intent_id", "member_id", "kind", "channel", "locale", "template_data", "deliver_after")
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
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_DATA_FIELD_NUMBER: _ClassVar[int]
    DELIVER_AFTER_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    member_id: str
    kind: _common_pb2.NotificationKind
    channel: _common_pb2.ConsentChannel
    locale: str
    template_data: _containers.ScalarMap[str, str]
    deliver_after: _timestamp_pb2.Timestamp
    def __init__(self, intent_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.NotificationKind, str]] = ..., channel: _Optional[_Union[_common_pb2.ConsentChannel, str]] = ..., locale: _Optional[str] = ..., template_data: _Optional[_Mapping[str, str]] = ..., deliver_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RewardRedeemed(_message.Message):
    __slots__ = ("redemption_id", "member_id", "reward_id", "reward_kind", "quantity", "points_spent", "hold_id", "channel")
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_KIND_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    POINTS_SPENT_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    redemption_id: str
    member_id: str
    reward_id: str
    reward_kind: _common_pb2.RewardKind
    quantity: int
    points_spent: int
    hold_id: str
    channel: _common_pb2.Channel
    def __init__(self, redemption_id: _Optional[str] = ..., member_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., reward_kind: _Optional[_Union[_common_pb2.RewardKind, str]] = ..., quantity: _Optional[int] = ..., points_spent: _Optional[int] = ..., hold_id: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ...) -> None: ...

class RedemptionCancelled(_message.Message):
    __slots__ = ("redemption_id", "member_id", "reward_id", "returned_points", "reason", "debt_paid_points")
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    RETURNED_POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEBT_PAID_POINTS_FIELD_NUMBER: _ClassVar[int]
    redemption_id: str
    member_id: str
    reward_id: str
    returned_points: int
    reason: str
    debt_paid_points: int
    def __init__(self, redemption_id: _Optional[str] = ..., member_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., returned_points: _Optional[int] = ..., reason: _Optional[str] = ..., debt_paid_points: _Optional[int] = ...) -> None: ...

class CodeUsed(_message.Message):
    __slots__ = ("redemption_id", "member_id", "reward_id", "code_suffix", "store_id", "till_id", "transaction_id")
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_SUFFIX_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    TILL_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    redemption_id: str
    member_id: str
    reward_id: str
    code_suffix: str
    store_id: str
    till_id: str
    transaction_id: str
    def __init__(self, redemption_id: _Optional[str] = ..., member_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., code_suffix: _Optional[str] = ..., store_id: _Optional[str] = ..., till_id: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class PerkGranted(_message.Message):
    __slots__ = ("member_id", "perk_code", "tier_code")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PERK_CODE_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    perk_code: str
    tier_code: str
    def __init__(self, member_id: _Optional[str] = ..., perk_code: _Optional[str] = ..., tier_code: _Optional[str] = ...) -> None: ...

class PerkWithdrawn(_message.Message):
    __slots__ = ("member_id", "perk_code", "tier_code")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PERK_CODE_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    perk_code: str
    tier_code: str
    def __init__(self, member_id: _Optional[str] = ..., perk_code: _Optional[str] = ..., tier_code: _Optional[str] = ...) -> None: ...
