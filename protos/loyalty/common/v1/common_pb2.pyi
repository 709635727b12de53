from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class Channel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANNEL_UNSPECIFIED: _ClassVar[Channel]
    CHANNEL_APP: _ClassVar[Channel]
    CHANNEL_WEBSHOP: _ClassVar[Channel]
    CHANNEL_STORE: _ClassVar[Channel]
    CHANNEL_POS: _ClassVar[Channel]
    CHANNEL_SOCIAL: _ClassVar[Channel]
    CHANNEL_EMAIL: _ClassVar[Channel]
    CHANNEL_CALL_CENTRE: _ClassVar[Channel]
    CHANNEL_PARTNER: _ClassVar[Channel]
    CHANNEL_BACK_OFFICE: _ClassVar[Channel]
    CHANNEL_IMPORT: _ClassVar[Channel]

class IdentifierKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTIFIER_KIND_UNSPECIFIED: _ClassVar[IdentifierKind]
    IDENTIFIER_KIND_EMAIL: _ClassVar[IdentifierKind]
    IDENTIFIER_KIND_PHONE: _ClassVar[IdentifierKind]
    IDENTIFIER_KIND_CARD_NUMBER: _ClassVar[IdentifierKind]
    IDENTIFIER_KIND_APP_QR_TOKEN: _ClassVar[IdentifierKind]
    IDENTIFIER_KIND_SOCIAL_SUBJECT: _ClassVar[IdentifierKind]
    IDENTIFIER_KIND_POS_CUSTOMER_ID: _ClassVar[IdentifierKind]
    IDENTIFIER_KIND_EXTERNAL_ID: _ClassVar[IdentifierKind]

class ConsentChannel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSENT_CHANNEL_UNSPECIFIED: _ClassVar[ConsentChannel]
    CONSENT_CHANNEL_EMAIL: _ClassVar[ConsentChannel]
    CONSENT_CHANNEL_SMS: _ClassVar[ConsentChannel]
    CONSENT_CHANNEL_PUSH: _ClassVar[ConsentChannel]

class RoundingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUNDING_MODE_UNSPECIFIED: _ClassVar[RoundingMode]
    ROUNDING_MODE_FLOOR: _ClassVar[RoundingMode]
    ROUNDING_MODE_HALF_UP: _ClassVar[RoundingMode]
    ROUNDING_MODE_HALF_EVEN: _ClassVar[RoundingMode]

class MemberStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MEMBER_STATUS_UNSPECIFIED: _ClassVar[MemberStatus]
    MEMBER_STATUS_ACTIVE: _ClassVar[MemberStatus]
    MEMBER_STATUS_SUSPENDED: _ClassVar[MemberStatus]
    MEMBER_STATUS_MERGED: _ClassVar[MemberStatus]
    MEMBER_STATUS_ERASED: _ClassVar[MemberStatus]

class PostingKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POSTING_KIND_UNSPECIFIED: _ClassVar[PostingKind]
    POSTING_KIND_EARN: _ClassVar[PostingKind]
    POSTING_KIND_REDEEM: _ClassVar[PostingKind]
    POSTING_KIND_ADJUST: _ClassVar[PostingKind]
    POSTING_KIND_EXPIRE: _ClassVar[PostingKind]
    POSTING_KIND_REVERSE: _ClassVar[PostingKind]
    POSTING_KIND_TRANSFER_IN: _ClassVar[PostingKind]
    POSTING_KIND_TRANSFER_OUT: _ClassVar[PostingKind]
    POSTING_KIND_HOLD_COMMIT: _ClassVar[PostingKind]

class TierChangeDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_CHANGE_DIRECTION_UNSPECIFIED: _ClassVar[TierChangeDirection]
    TIER_CHANGE_DIRECTION_INITIAL: _ClassVar[TierChangeDirection]
    TIER_CHANGE_DIRECTION_UPGRADE: _ClassVar[TierChangeDirection]
    TIER_CHANGE_DIRECTION_DOWNGRADE: _ClassVar[TierChangeDirection]
    TIER_CHANGE_DIRECTION_LATERAL: _ClassVar[TierChangeDirection]

class TierChangeReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIER_CHANGE_REASON_UNSPECIFIED: _ClassVar[TierChangeReason]
    TIER_CHANGE_REASON_ENROLMENT: _ClassVar[TierChangeReason]
    TIER_CHANGE_REASON_THRESHOLD_REACHED: _ClassVar[TierChangeReason]
    TIER_CHANGE_REASON_REQUALIFICATION: _ClassVar[TierChangeReason]
    TIER_CHANGE_REASON_MANUAL: _ClassVar[TierChangeReason]
    TIER_CHANGE_REASON_MERGE: _ClassVar[TierChangeReason]
    TIER_CHANGE_REASON_DEFINITIONS_CHANGED: _ClassVar[TierChangeReason]

class HoldVoidReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_VOID_REASON_UNSPECIFIED: _ClassVar[HoldVoidReason]
    HOLD_VOID_REASON_REQUESTED: _ClassVar[HoldVoidReason]
    HOLD_VOID_REASON_TIMEOUT: _ClassVar[HoldVoidReason]
    HOLD_VOID_REASON_CANCELLED: _ClassVar[HoldVoidReason]
    HOLD_VOID_REASON_MEMBER_CLOSED: _ClassVar[HoldVoidReason]

class ActivityKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTIVITY_KIND_UNSPECIFIED: _ClassVar[ActivityKind]
    ACTIVITY_KIND_REVIEW: _ClassVar[ActivityKind]
    ACTIVITY_KIND_REFERRAL: _ClassVar[ActivityKind]
    ACTIVITY_KIND_SOCIAL_SHARE: _ClassVar[ActivityKind]
    ACTIVITY_KIND_SOCIAL_LIKE: _ClassVar[ActivityKind]
    ACTIVITY_KIND_NEWSLETTER_SIGNUP: _ClassVar[ActivityKind]
    ACTIVITY_KIND_WISHLIST_ADD: _ClassVar[ActivityKind]
    ACTIVITY_KIND_STORE_CHECK_IN: _ClassVar[ActivityKind]
    ACTIVITY_KIND_QR_SCAN: _ClassVar[ActivityKind]

class VerificationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_STATE_UNSPECIFIED: _ClassVar[VerificationState]
    VERIFICATION_STATE_NOT_REQUIRED: _ClassVar[VerificationState]
    VERIFICATION_STATE_PENDING: _ClassVar[VerificationState]
    VERIFICATION_STATE_VERIFIED: _ClassVar[VerificationState]
    VERIFICATION_STATE_REJECTED: _ClassVar[VerificationState]

class NotificationKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTIFICATION_KIND_UNSPECIFIED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_POINTS_EARNED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_TIER_REACHED: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_CLOSE_TO_NEXT_TIER: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_POINTS_EXPIRING_SOON: _ClassVar[NotificationKind]
    NOTIFICATION_KIND_MONTHLY_SUMMARY: _ClassVar[NotificationKind]

class RewardKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REWARD_KIND_UNSPECIFIED: _ClassVar[RewardKind]
    REWARD_KIND_COUPON: _ClassVar[RewardKind]
    REWARD_KIND_VOUCHER: _ClassVar[RewardKind]
    REWARD_KIND_PRODUCT: _ClassVar[RewardKind]
    REWARD_KIND_EXPERIENCE: _ClassVar[RewardKind]
    REWARD_KIND_PRIVILEGE: _ClassVar[RewardKind]
CHANNEL_UNSPECIFIED: Channel
CHANNEL_APP: Channel
CHANNEL_WEBSHOP: Channel
CHANNEL_STORE: Channel
CHANNEL_POS: Channel
CHANNEL_SOCIAL: Channel
CHANNEL_EMAIL: Channel
CHANNEL_CALL_CENTRE: Channel
CHANNEL_PARTNER: Channel
CHANNEL_BACK_OFFICE: Channel
CHANNEL_IMPORT: Channel
IDENTIFIER_KIND_UNSPECIFIED: IdentifierKind
IDENTIFIER_KIND_EMAIL: IdentifierKind
IDENTIFIER_KIND_PHONE: IdentifierKind
IDENTIFIER_KIND_CARD_NUMBER: IdentifierKind
IDENTIFIER_KIND_APP_QR_TOKEN: IdentifierKind
IDENTIFIER_KIND_SOCIAL_SUBJECT: IdentifierKind
IDENTIFIER_KIND_POS_CUSTOMER_ID: IdentifierKind
IDENTIFIER_KIND_EXTERNAL_ID: IdentifierKind
CONSENT_CHANNEL_UNSPECIFIED: ConsentChannel
CONSENT_CHANNEL_EMAIL: ConsentChannel
CONSENT_CHANNEL_SMS: ConsentChannel
CONSENT_CHANNEL_PUSH: ConsentChannel
ROUNDING_MODE_UNSPECIFIED: RoundingMode
ROUNDING_MODE_FLOOR: RoundingMode
ROUNDING_MODE_HALF_UP: RoundingMode
ROUNDING_MODE_HALF_EVEN: RoundingMode
MEMBER_STATUS_UNSPECIFIED: MemberStatus
MEMBER_STATUS_ACTIVE: MemberStatus
MEMBER_STATUS_SUSPENDED: MemberStatus
MEMBER_STATUS_MERGED: MemberStatus
MEMBER_STATUS_ERASED: MemberStatus
POSTING_KIND_UNSPECIFIED: PostingKind
POSTING_KIND_EARN: PostingKind
POSTING_KIND_REDEEM: PostingKind
POSTING_KIND_ADJUST: PostingKind
POSTING_KIND_EXPIRE: PostingKind
POSTING_KIND_REVERSE: PostingKind
POSTING_KIND_TRANSFER_IN: PostingKind
POSTING_KIND_TRANSFER_OUT: PostingKind
POSTING_KIND_HOLD_COMMIT: PostingKind
TIER_CHANGE_DIRECTION_UNSPECIFIED: TierChangeDirection
TIER_CHANGE_DIRECTION_INITIAL: TierChangeDirection
TIER_CHANGE_DIRECTION_UPGRADE: TierChangeDirection
TIER_CHANGE_DIRECTION_DOWNGRADE: TierChangeDirection
TIER_CHANGE_DIRECTION_LATERAL: TierChangeDirection
TIER_CHANGE_REASON_UNSPECIFIED: TierChangeReason
TIER_CHANGE_REASON_ENROLMENT: TierChangeReason
TIER_CHANGE_REASON_THRESHOLD_REACHED: TierChangeReason
TIER_CHANGE_REASON_REQUALIFICATION: TierChangeReason
TIER_CHANGE_REASON_MANUAL: TierChangeReason
TIER_CHANGE_REASON_MERGE: TierChangeReason
TIER_CHANGE_REASON_DEFINITIONS_CHANGED: TierChangeReason
HOLD_VOID_REASON_UNSPECIFIED: HoldVoidReason
HOLD_VOID_REASON_REQUESTED: HoldVoidReason
HOLD_VOID_REASON_TIMEOUT: HoldVoidReason
HOLD_VOID_REASON_CANCELLED: HoldVoidReason
HOLD_VOID_REASON_MEMBER_CLOSED: HoldVoidReason
ACTIVITY_KIND_UNSPECIFIED: ActivityKind
ACTIVITY_KIND_REVIEW: ActivityKind
ACTIVITY_KIND_REFERRAL: ActivityKind
ACTIVITY_KIND_SOCIAL_SHARE: ActivityKind
ACTIVITY_KIND_SOCIAL_LIKE: ActivityKind
ACTIVITY_KIND_NEWSLETTER_SIGNUP: ActivityKind
ACTIVITY_KIND_WISHLIST_ADD: ActivityKind
ACTIVITY_KIND_STORE_CHECK_IN: ActivityKind
ACTIVITY_KIND_QR_SCAN: ActivityKind
VERIFICATION_STATE_UNSPECIFIED: VerificationState
VERIFICATION_STATE_NOT_REQUIRED: VerificationState
VERIFICATION_STATE_PENDING: VerificationState
VERIFICATION_STATE_VERIFIED: VerificationState
VERIFICATION_STATE_REJECTED: VerificationState
NOTIFICATION_KIND_UNSPECIFIED: NotificationKind
NOTIFICATION_KIND_POINTS_EARNED: NotificationKind
NOTIFICATION_KIND_TIER_REACHED: NotificationKind
NOTIFICATION_KIND_CLOSE_TO_NEXT_TIER: NotificationKind
NOTIFICATION_KIND_POINTS_EXPIRING_SOON: NotificationKind
NOTIFICATION_KIND_MONTHLY_SUMMARY: NotificationKind
REWARD_KIND_UNSPECIFIED: RewardKind
REWARD_KIND_COUPON: RewardKind
REWARD_KIND_VOUCHER: RewardKind
REWARD_KIND_PRODUCT: RewardKind
REWARD_KIND_EXPERIENCE: RewardKind
REWARD_KIND_PRIVILEGE: RewardKind

class Money(_message.Message):
    __slots__ = ("amount_minor", "currency")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class LocalDate(_message.Message):
    __slots__ = ("year", "month", "day")
    YEAR_FIELD_NUMBER: _ClassVar[int]
    MONTH_FIELD_NUMBER: _ClassVar[int]
    DAY_FIELD_NUMBER: _ClassVar[int]
    year: int
    month: int
    day: int
    def __init__(self, year: _Optional[int] = ..., month: _Optional[int] = ..., day: _Optional[int] = ...) -> None: ...
