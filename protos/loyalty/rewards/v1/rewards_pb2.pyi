import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from loyalty.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RewardStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REWARD_STATUS_UNSPECIFIED: _ClassVar[RewardStatus]
    REWARD_STATUS_DRAFT: _ClassVar[RewardStatus]
    REWARD_STATUS_ACTIVE: _ClassVar[RewardStatus]
    REWARD_STATUS_ARCHIVED: _ClassVar[RewardStatus]

class CodeSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CODE_SOURCE_UNSPECIFIED: _ClassVar[CodeSource]
    CODE_SOURCE_GENERATED: _ClassVar[CodeSource]
    CODE_SOURCE_PARTNER_POOL: _ClassVar[CodeSource]
    CODE_SOURCE_NONE: _ClassVar[CodeSource]

class RedemptionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REDEMPTION_STATUS_UNSPECIFIED: _ClassVar[RedemptionStatus]
    REDEMPTION_STATUS_PENDING: _ClassVar[RedemptionStatus]
    REDEMPTION_STATUS_COMPLETED: _ClassVar[RedemptionStatus]
    REDEMPTION_STATUS_FAILED: _ClassVar[RedemptionStatus]
    REDEMPTION_STATUS_CANCELLED: _ClassVar[RedemptionStatus]

class CodeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CODE_STATUS_UNSPECIFIED: _ClassVar[CodeStatus]
    CODE_STATUS_VALID: _ClassVar[CodeStatus]
    CODE_STATUS_USED: _ClassVar[CodeStatus]
    CODE_STATUS_EXPIRED: _ClassVar[CodeStatus]
    CODE_STATUS_CANCELLED: _ClassVar[CodeStatus]
    CODE_STATUS_NOT_YET_VALID: _ClassVar[CodeStatus]
    CODE_STATUS_UNKNOWN: _ClassVar[CodeStatus]
    CODE_STATUS_WRONG_STORE: _ClassVar[CodeStatus]

class PerkStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PERK_STATUS_UNSPECIFIED: _ClassVar[PerkStatus]
    PERK_STATUS_GRANTED: _ClassVar[PerkStatus]
    PERK_STATUS_WITHDRAWN: _ClassVar[PerkStatus]
REWARD_STATUS_UNSPECIFIED: RewardStatus
REWARD_STATUS_DRAFT: RewardStatus
REWARD_STATUS_ACTIVE: RewardStatus
REWARD_STATUS_ARCHIVED: RewardStatus
CODE_SOURCE_UNSPECIFIED: CodeSource
CODE_SOURCE_GENERATED: CodeSource
CODE_SOURCE_PARTNER_POOL: CodeSource
CODE_SOURCE_NONE: CodeSource
REDEMPTION_STATUS_UNSPECIFIED: RedemptionStatus
REDEMPTION_STATUS_PENDING: RedemptionStatus
REDEMPTION_STATUS_COMPLETED: RedemptionStatus
REDEMPTION_STATUS_FAILED: RedemptionStatus
REDEMPTION_STATUS_CANCELLED: RedemptionStatus
CODE_STATUS_UNSPECIFIED: CodeStatus
CODE_STATUS_VALID: CodeStatus
CODE_STATUS_USED: CodeStatus
CODE_STATUS_EXPIRED: CodeStatus
CODE_STATUS_CANCELLED: CodeStatus
CODE_STATUS_NOT_YET_VALID: CodeStatus
CODE_STATUS_UNKNOWN: CodeStatus
CODE_STATUS_WRONG_STORE: CodeStatus
PERK_STATUS_UNSPECIFIED: PerkStatus
PERK_STATUS_GRANTED: PerkStatus
PERK_STATUS_WITHDRAWN: PerkStatus

class Discount(_message.Message):
    __slots__ = ("fixed_amount", "percent_bps", "free_shipping", "minimum_order", "maximum_discount")
    FIXED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERCENT_BPS_FIELD_NUMBER: _ClassVar[int]
    FREE_SHIPPING_FIELD_NUMBER: _ClassVar[int]
    MINIMUM_ORDER_FIELD_NUMBER: _ClassVar[int]
    MAXIMUM_DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    fixed_amount: _common_pb2.Money
    percent_bps: int
    free_shipping: bool
    minimum_order: _common_pb2.Money
    maximum_discount: _common_pb2.Money
    def __init__(self, fixed_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., percent_bps: _Optional[int] = ..., free_shipping: _Optional[bool] = ..., minimum_order: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., maximum_discount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ...) -> None: ...

class Stock(_message.Message):
    __slots__ = ("unlimited", "available", "reserved", "redeemed")
    UNLIMITED_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    REDEEMED_FIELD_NUMBER: _ClassVar[int]
    unlimited: bool
    available: int
    reserved: int
    redeemed: int
    def __init__(self, unlimited: _Optional[bool] = ..., available: _Optional[int] = ..., reserved: _Optional[int] = ..., redeemed: _Optional[int] = ...) -> None: ...

class Eligibility(_message.Message):
    __slots__ = ("tier_codes", "segment_ids")
    TIER_CODES_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    tier_codes: _containers.RepeatedScalarFieldContainer[str]
    segment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, tier_codes: _Optional[_Iterable[str]] = ..., segment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Reward(_message.Message):
    __slots__ = ("reward_id", "program_id", "name", "description", "kind", "points_price", "discount", "sku", "image_url", "valid_from", "valid_until", "code_validity_days", "stock", "per_member_limit", "eligibility", "code_source", "store_ids", "status", "create_time", "update_time")
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POINTS_PRICE_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    SKU_FIELD_NUMBER: _ClassVar[int]
    IMAGE_URL_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CODE_VALIDITY_DAYS_FIELD_NUMBER: _ClassVar[int]
    STOCK_FIELD_NUMBER: _ClassVar[int]
    PER_MEMBER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    ELIGIBILITY_FIELD_NUMBER: _ClassVar[int]
    CODE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    STORE_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    reward_id: str
    program_id: str
    name: str
    description: str
    kind: _common_pb2.RewardKind
    points_price: int
    discount: Discount
    sku: str
    image_url: str
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    code_validity_days: int
    stock: Stock
    per_member_limit: int
    eligibility: Eligibility
    code_source: CodeSource
    store_ids: _containers.RepeatedScalarFieldContainer[str]
    status: RewardStatus
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, reward_id: _Optional[str] = ..., program_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.RewardKind, str]] = ..., points_price: _Optional[int] = ..., discount: _Optional[_Union[Discount, _Mapping]] = ..., sku: _Optional[str] = ..., image_url: _Optional[str] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., code_validity_days: _Optional[int] = ..., stock: _Optional[_Union[Stock, _Mapping]] = ..., per_member_limit: _Optional[int] = ..., eligibility: _Optional[_Union[Eligibility, _Mapping]] = ..., code_source: _Optional[_Union[CodeSource, str]] = ..., store_ids: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[RewardStatus, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RewardListing(_message.Message):
    __slots__ = ("reward", "eligible", "affordable", "remaining_member_limit")
    REWARD_FIELD_NUMBER: _ClassVar[int]
    ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    AFFORDABLE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_MEMBER_LIMIT_FIELD_NUMBER: _ClassVar[int]
    reward: Reward
    eligible: bool
    affordable: bool
    remaining_member_limit: int
    def __init__(self, reward: _Optional[_Union[Reward, _Mapping]] = ..., eligible: _Optional[bool] = ..., affordable: _Optional[bool] = ..., remaining_member_limit: _Optional[int] = ...) -> None: ...

class IssuedCode(_message.Message):
    __slots__ = ("code", "status", "expires_at", "used_at", "used_store_id")
    CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    USED_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    code: str
    status: CodeStatus
    expires_at: _timestamp_pb2.Timestamp
    used_at: _timestamp_pb2.Timestamp
    used_store_id: str
    def __init__(self, code: _Optional[str] = ..., status: _Optional[_Union[CodeStatus, str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., used_store_id: _Optional[str] = ...) -> None: ...

class Redemption(_message.Message):
    __slots__ = ("redemption_id", "program_id", "member_id", "reward_id", "quantity", "points_spent", "status", "codes", "hold_id", "posting_id", "failure_reason", "channel", "create_time", "complete_time", "cancel_time")
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    POINTS_SPENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    HOLD_ID_FIELD_NUMBER: _ClassVar[int]
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TIME_FIELD_NUMBER: _ClassVar[int]
    redemption_id: str
    program_id: str
    member_id: str
    reward_id: str
    quantity: int
    points_spent: int
    status: RedemptionStatus
    codes: _containers.RepeatedCompositeFieldContainer[IssuedCode]
    hold_id: str
    posting_id: str
    failure_reason: str
    channel: _common_pb2.Channel
    create_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    cancel_time: _timestamp_pb2.Timestamp
    def __init__(self, redemption_id: _Optional[str] = ..., program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., quantity: _Optional[int] = ..., points_spent: _Optional[int] = ..., status: _Optional[_Union[RedemptionStatus, str]] = ..., codes: _Optional[_Iterable[_Union[IssuedCode, _Mapping]]] = ..., hold_id: _Optional[str] = ..., posting_id: _Optional[str] = ..., failure_reason: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TierPerk(_message.Message):
    __slots__ = ("perk_code", "name", "description", "reward_id")
    PERK_CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    perk_code: str
    name: str
    description: str
    reward_id: str
    def __init__(self, perk_code: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., reward_id: _Optional[str] = ...) -> None: ...

class MemberPerk(_message.Message):
    __slots__ = ("perk", "tier_code", "status", "granted_at", "withdrawn_at")
    PERK_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GRANTED_AT_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWN_AT_FIELD_NUMBER: _ClassVar[int]
    perk: TierPerk
    tier_code: str
    status: PerkStatus
    granted_at: _timestamp_pb2.Timestamp
    withdrawn_at: _timestamp_pb2.Timestamp
    def __init__(self, perk: _Optional[_Union[TierPerk, _Mapping]] = ..., tier_code: _Optional[str] = ..., status: _Optional[_Union[PerkStatus, str]] = ..., granted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., withdrawn_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TierPerks(_message.Message):
    __slots__ = ("tier_code", "perks")
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    PERKS_FIELD_NUMBER: _ClassVar[int]
    tier_code: str
    perks: _containers.RepeatedCompositeFieldContainer[TierPerk]
    def __init__(self, tier_code: _Optional[str] = ..., perks: _Optional[_Iterable[_Union[TierPerk, _Mapping]]] = ...) -> None: ...

class CreateRewardRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "reward")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    reward: Reward
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., reward: _Optional[_Union[Reward, _Mapping]] = ...) -> None: ...

class CreateRewardResponse(_message.Message):
    __slots__ = ("reward",)
    REWARD_FIELD_NUMBER: _ClassVar[int]
    reward: Reward
    def __init__(self, reward: _Optional[_Union[Reward, _Mapping]] = ...) -> None: ...

class UpdateRewardRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "reward", "update_mask")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    reward: Reward
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., reward: _Optional[_Union[Reward, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateRewardResponse(_message.Message):
    __slots__ = ("reward",)
    REWARD_FIELD_NUMBER: _ClassVar[int]
    reward: Reward
    def __init__(self, reward: _Optional[_Union[Reward, _Mapping]] = ...) -> None: ...

class GetRewardRequest(_message.Message):
    __slots__ = ("program_id", "reward_id", "member_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    reward_id: str
    member_id: str
    def __init__(self, program_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., member_id: _Optional[str] = ...) -> None: ...

class GetRewardResponse(_message.Message):
    __slots__ = ("reward",)
    REWARD_FIELD_NUMBER: _ClassVar[int]
    reward: Reward
    def __init__(self, reward: _Optional[_Union[Reward, _Mapping]] = ...) -> None: ...

class ListRewardsRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "affordable_only", "kinds", "include_inactive", "page_size", "page_token", "undefined_tier_codes_only")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    AFFORDABLE_ONLY_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_TIER_CODES_ONLY_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    affordable_only: bool
    kinds: _containers.RepeatedScalarFieldContainer[_common_pb2.RewardKind]
    include_inactive: bool
    page_size: int
    page_token: str
    undefined_tier_codes_only: bool
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., affordable_only: _Optional[bool] = ..., kinds: _Optional[_Iterable[_Union[_common_pb2.RewardKind, str]]] = ..., include_inactive: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., undefined_tier_codes_only: _Optional[bool] = ...) -> None: ...

class ListRewardsResponse(_message.Message):
    __slots__ = ("listings", "available_points", "next_page_token")
    LISTINGS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    listings: _containers.RepeatedCompositeFieldContainer[RewardListing]
    available_points: int
    next_page_token: str
    def __init__(self, listings: _Optional[_Iterable[_Union[RewardListing, _Mapping]]] = ..., available_points: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ArchiveRewardRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "reward_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    reward_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., reward_id: _Optional[str] = ...) -> None: ...

class ArchiveRewardResponse(_message.Message):
    __slots__ = ("reward",)
    REWARD_FIELD_NUMBER: _ClassVar[int]
    reward: Reward
    def __init__(self, reward: _Optional[_Union[Reward, _Mapping]] = ...) -> None: ...

class AdjustStockRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "reward_id", "delta", "reason")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    reward_id: str
    delta: int
    reason: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., reward_id: _Optional[str] = ..., delta: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class AdjustStockResponse(_message.Message):
    __slots__ = ("stock",)
    STOCK_FIELD_NUMBER: _ClassVar[int]
    stock: Stock
    def __init__(self, stock: _Optional[_Union[Stock, _Mapping]] = ...) -> None: ...

class RedeemRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "reward_id", "quantity", "channel", "store_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    reward_id: str
    quantity: int
    channel: _common_pb2.Channel
    store_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., quantity: _Optional[int] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ...) -> None: ...

class RedeemResponse(_message.Message):
    __slots__ = ("redemption",)
    REDEMPTION_FIELD_NUMBER: _ClassVar[int]
    redemption: Redemption
    def __init__(self, redemption: _Optional[_Union[Redemption, _Mapping]] = ...) -> None: ...

class CancelRedemptionRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "redemption_id", "reason", "operator_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    redemption_id: str
    reason: str
    operator_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., redemption_id: _Optional[str] = ..., reason: _Optional[str] = ..., operator_id: _Optional[str] = ...) -> None: ...

class CancelRedemptionResponse(_message.Message):
    __slots__ = ("redemption", "returned_points", "debt_paid_points")
    REDEMPTION_FIELD_NUMBER: _ClassVar[int]
    RETURNED_POINTS_FIELD_NUMBER: _ClassVar[int]
    DEBT_PAID_POINTS_FIELD_NUMBER: _ClassVar[int]
    redemption: Redemption
    returned_points: int
    debt_paid_points: int
    def __init__(self, redemption: _Optional[_Union[Redemption, _Mapping]] = ..., returned_points: _Optional[int] = ..., debt_paid_points: _Optional[int] = ...) -> None: ...

class GetRedemptionRequest(_message.Message):
    __slots__ = ("program_id", "redemption_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    redemption_id: str
    def __init__(self, program_id: _Optional[str] = ..., redemption_id: _Optional[str] = ...) -> None: ...

class GetRedemptionResponse(_message.Message):
    __slots__ = ("redemption",)
    REDEMPTION_FIELD_NUMBER: _ClassVar[int]
    redemption: Redemption
    def __init__(self, redemption: _Optional[_Union[Redemption, _Mapping]] = ...) -> None: ...

class ListRedemptionsRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "reward_id", "status", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    reward_id: str
    status: RedemptionStatus
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., status: _Optional[_Union[RedemptionStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRedemptionsResponse(_message.Message):
    __slots__ = ("redemptions", "next_page_token")
    REDEMPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    redemptions: _containers.RepeatedCompositeFieldContainer[Redemption]
    next_page_token: str
    def __init__(self, redemptions: _Optional[_Iterable[_Union[Redemption, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ValidateCodeRequest(_message.Message):
    __slots__ = ("program_id", "code", "store_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    code: str
    store_id: str
    def __init__(self, program_id: _Optional[str] = ..., code: _Optional[str] = ..., store_id: _Optional[str] = ...) -> None: ...

class ValidateCodeResponse(_message.Message):
    __slots__ = ("status", "member_id", "redemption_id", "reward_id", "reward_name", "reward_kind", "discount", "expires_at", "used_at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_NAME_FIELD_NUMBER: _ClassVar[int]
    REWARD_KIND_FIELD_NUMBER: _ClassVar[int]
    DISCOUNT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    status: CodeStatus
    member_id: str
    redemption_id: str
    reward_id: str
    reward_name: str
    reward_kind: _common_pb2.RewardKind
    discount: Discount
    expires_at: _timestamp_pb2.Timestamp
    used_at: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[CodeStatus, str]] = ..., member_id: _Optional[str] = ..., redemption_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., reward_name: _Optional[str] = ..., reward_kind: _Optional[_Union[_common_pb2.RewardKind, str]] = ..., discount: _Optional[_Union[Discount, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UseCodeRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "code", "store_id", "till_id", "transaction_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    TILL_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    code: str
    store_id: str
    till_id: str
    transaction_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., code: _Optional[str] = ..., store_id: _Optional[str] = ..., till_id: _Optional[str] = ..., transaction_id: _Optional[str] = ...) -> None: ...

class UseCodeResponse(_message.Message):
    __slots__ = ("status", "member_id", "reward_id", "redemption_id", "used_at")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    REDEMPTION_ID_FIELD_NUMBER: _ClassVar[int]
    USED_AT_FIELD_NUMBER: _ClassVar[int]
    status: CodeStatus
    member_id: str
    reward_id: str
    redemption_id: str
    used_at: _timestamp_pb2.Timestamp
    def __init__(self, status: _Optional[_Union[CodeStatus, str]] = ..., member_id: _Optional[str] = ..., reward_id: _Optional[str] = ..., redemption_id: _Optional[str] = ..., used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ImportPartnerCodesRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "reward_id", "codes", "expires_at")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    REWARD_ID_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    reward_id: str
    codes: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., reward_id: _Optional[str] = ..., codes: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ImportPartnerCodesResponse(_message.Message):
    __slots__ = ("imported_count", "duplicate_count", "pool_available_count")
    IMPORTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    POOL_AVAILABLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    imported_count: int
    duplicate_count: int
    pool_available_count: int
    def __init__(self, imported_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., pool_available_count: _Optional[int] = ...) -> None: ...

class SetTierPerksRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "tier_code", "perks")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    PERKS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    tier_code: str
    perks: _containers.RepeatedCompositeFieldContainer[TierPerk]
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., tier_code: _Optional[str] = ..., perks: _Optional[_Iterable[_Union[TierPerk, _Mapping]]] = ...) -> None: ...

class SetTierPerksResponse(_message.Message):
    __slots__ = ("tier_perks",)
    TIER_PERKS_FIELD_NUMBER: _ClassVar[int]
    tier_perks: TierPerks
    def __init__(self, tier_perks: _Optional[_Union[TierPerks, _Mapping]] = ...) -> None: ...

class ListTierPerksRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTierPerksResponse(_message.Message):
    __slots__ = ("tier_perks", "next_page_token")
    TIER_PERKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    tier_perks: _containers.RepeatedCompositeFieldContainer[TierPerks]
    next_page_token: str
    def __init__(self, tier_perks: _Optional[_Iterable[_Union[TierPerks, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListMemberPerksRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "include_withdrawn", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    include_withdrawn: bool
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., include_withdrawn: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMemberPerksResponse(_message.Message):
    __slots__ = ("perks", "next_page_token")
    PERKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    perks: _containers.RepeatedCompositeFieldContainer[MemberPerk]
    next_page_token: str
    def __init__(self, perks: _Optional[_Iterable[_Union[MemberPerk, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
