import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from loyalty.campaign.v1 import engagement_pb2 as _engagement_pb2
from loyalty.campaign.v1 import experiments_pb2 as _experiments_pb2
from loyalty.campaign.v1 import rules_pb2 as _rules_pb2
from loyalty.campaign.v1 import segments_pb2 as _segments_pb2
from loyalty.common.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TransactionKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRANSACTION_KIND_UNSPECIFIED: _ClassVar[TransactionKind]
    TRANSACTION_KIND_PURCHASE: _ClassVar[TransactionKind]
    TRANSACTION_KIND_RETURN: _ClassVar[TransactionKind]

class IngestItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INGEST_ITEM_STATUS_UNSPECIFIED: _ClassVar[IngestItemStatus]
    INGEST_ITEM_STATUS_POSTED: _ClassVar[IngestItemStatus]
    INGEST_ITEM_STATUS_DUPLICATE: _ClassVar[IngestItemStatus]
    INGEST_ITEM_STATUS_REJECTED: _ClassVar[IngestItemStatus]
    INGEST_ITEM_STATUS_NO_POINTS: _ClassVar[IngestItemStatus]

class VerificationDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERIFICATION_DECISION_UNSPECIFIED: _ClassVar[VerificationDecision]
    VERIFICATION_DECISION_APPROVE: _ClassVar[VerificationDecision]
    VERIFICATION_DECISION_REJECT: _ClassVar[VerificationDecision]
TRANSACTION_KIND_UNSPECIFIED: TransactionKind
TRANSACTION_KIND_PURCHASE: TransactionKind
TRANSACTION_KIND_RETURN: TransactionKind
INGEST_ITEM_STATUS_UNSPECIFIED: IngestItemStatus
INGEST_ITEM_STATUS_POSTED: IngestItemStatus
INGEST_ITEM_STATUS_DUPLICATE: IngestItemStatus
INGEST_ITEM_STATUS_REJECTED: IngestItemStatus
INGEST_ITEM_STATUS_NO_POINTS: IngestItemStatus
VERIFICATION_DECISION_UNSPECIFIED: VerificationDecision
VERIFICATION_DECISION_APPROVE: VerificationDecision
VERIFICATION_DECISION_REJECT: VerificationDecision

class LineItem(_message.Message):
    __slots__ = ("sku", "category", "amount", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    category: str
    amount: _common_pb2.Money
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., category: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., quantity: _Optional[int] = ...) -> None: ...

class Accrual(_message.Message):
    __slots__ = ("points", "applications", "posting_id", "vests_at", "experiment_arms")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    VESTS_AT_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ARMS_FIELD_NUMBER: _ClassVar[int]
    points: int
    applications: _containers.RepeatedCompositeFieldContainer[_rules_pb2.RuleApplication]
    posting_id: str
    vests_at: _timestamp_pb2.Timestamp
    experiment_arms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, points: _Optional[int] = ..., applications: _Optional[_Iterable[_Union[_rules_pb2.RuleApplication, _Mapping]]] = ..., posting_id: _Optional[str] = ..., vests_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., experiment_arms: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateRuleRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "rule")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    rule: _rules_pb2.Rule
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., rule: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ...) -> None: ...

class CreateRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: _rules_pb2.Rule
    def __init__(self, rule: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ...) -> None: ...

class UpdateRuleRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "rule", "base_version")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    BASE_VERSION_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    rule: _rules_pb2.Rule
    base_version: int
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., rule: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ..., base_version: _Optional[int] = ...) -> None: ...

class UpdateRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: _rules_pb2.Rule
    def __init__(self, rule: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ...) -> None: ...

class ActivateRuleRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "rule_id", "version")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    rule_id: str
    version: int
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., rule_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ActivateRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: _rules_pb2.Rule
    def __init__(self, rule: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ...) -> None: ...

class ArchiveRuleRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "rule_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    rule_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., rule_id: _Optional[str] = ...) -> None: ...

class ArchiveRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: _rules_pb2.Rule
    def __init__(self, rule: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ...) -> None: ...

class GetRuleRequest(_message.Message):
    __slots__ = ("program_id", "rule_id", "version")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    rule_id: str
    version: int
    def __init__(self, program_id: _Optional[str] = ..., rule_id: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetRuleResponse(_message.Message):
    __slots__ = ("rule",)
    RULE_FIELD_NUMBER: _ClassVar[int]
    rule: _rules_pb2.Rule
    def __init__(self, rule: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ...) -> None: ...

class ListRulesRequest(_message.Message):
    __slots__ = ("program_id", "status", "all_versions", "page_size", "page_token", "undefined_tier_codes_only")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ALL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_TIER_CODES_ONLY_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    status: _rules_pb2.RuleStatus
    all_versions: bool
    page_size: int
    page_token: str
    undefined_tier_codes_only: bool
    def __init__(self, program_id: _Optional[str] = ..., status: _Optional[_Union[_rules_pb2.RuleStatus, str]] = ..., all_versions: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., undefined_tier_codes_only: _Optional[bool] = ...) -> None: ...

class ListRulesResponse(_message.Message):
    __slots__ = ("rules", "next_page_token")
    RULES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    rules: _containers.RepeatedCompositeFieldContainer[_rules_pb2.Rule]
    next_page_token: str
    def __init__(self, rules: _Optional[_Iterable[_Union[_rules_pb2.Rule, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RecordPurchaseRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "transaction_id", "amount", "line_items", "channel", "store_id", "occurred_at")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LINE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    transaction_id: str
    amount: _common_pb2.Money
    line_items: _containers.RepeatedCompositeFieldContainer[LineItem]
    channel: _common_pb2.Channel
    store_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., transaction_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., line_items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordPurchaseResponse(_message.Message):
    __slots__ = ("accrual", "duplicate", "member_id")
    ACCRUAL_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    accrual: Accrual
    duplicate: bool
    member_id: str
    def __init__(self, accrual: _Optional[_Union[Accrual, _Mapping]] = ..., duplicate: _Optional[bool] = ..., member_id: _Optional[str] = ...) -> None: ...

class ReturnLine(_message.Message):
    __slots__ = ("sku", "amount", "quantity")
    SKU_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    sku: str
    amount: _common_pb2.Money
    quantity: int
    def __init__(self, sku: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., quantity: _Optional[int] = ...) -> None: ...

class RecordReturnRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "return_id", "original_transaction_id", "lines", "refunded_amount", "channel", "store_id", "occurred_at")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    RETURN_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    return_id: str
    original_transaction_id: str
    lines: ReturnLines
    refunded_amount: _common_pb2.Money
    channel: _common_pb2.Channel
    store_id: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., return_id: _Optional[str] = ..., original_transaction_id: _Optional[str] = ..., lines: _Optional[_Union[ReturnLines, _Mapping]] = ..., refunded_amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReturnLines(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[ReturnLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[ReturnLine, _Mapping]]] = ...) -> None: ...

class RecordReturnResponse(_message.Message):
    __slots__ = ("reversed_points", "debt_points", "posting_ids", "member_id")
    REVERSED_POINTS_FIELD_NUMBER: _ClassVar[int]
    DEBT_POINTS_FIELD_NUMBER: _ClassVar[int]
    POSTING_IDS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    reversed_points: int
    debt_points: int
    posting_ids: _containers.RepeatedScalarFieldContainer[str]
    member_id: str
    def __init__(self, reversed_points: _Optional[int] = ..., debt_points: _Optional[int] = ..., posting_ids: _Optional[_Iterable[str]] = ..., member_id: _Optional[str] = ...) -> None: ...

class IngestTransactionsRequest(_message.Message):
    __slots__ = ("program_id", "batch_id", "currency", "transaction_ids", "member_ids", "amounts_minor", "channels", "store_ids", "occurred_at_unix_micros", "categories", "skus", "kinds", "original_transaction_ids", "line_counts", "line_skus", "line_categories", "line_amounts_minor", "line_quantities")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    AMOUNTS_MINOR_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    STORE_IDS_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_UNIX_MICROS_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    SKUS_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_TRANSACTION_IDS_FIELD_NUMBER: _ClassVar[int]
    LINE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    LINE_SKUS_FIELD_NUMBER: _ClassVar[int]
    LINE_CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    LINE_AMOUNTS_MINOR_FIELD_NUMBER: _ClassVar[int]
    LINE_QUANTITIES_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    batch_id: str
    currency: str
    transaction_ids: _containers.RepeatedScalarFieldContainer[str]
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    amounts_minor: _containers.RepeatedScalarFieldContainer[int]
    channels: _containers.RepeatedScalarFieldContainer[_common_pb2.Channel]
    store_ids: _containers.RepeatedScalarFieldContainer[str]
    occurred_at_unix_micros: _containers.RepeatedScalarFieldContainer[int]
    categories: _containers.RepeatedScalarFieldContainer[str]
    skus: _containers.RepeatedScalarFieldContainer[str]
    kinds: _containers.RepeatedScalarFieldContainer[TransactionKind]
    original_transaction_ids: _containers.RepeatedScalarFieldContainer[str]
    line_counts: _containers.RepeatedScalarFieldContainer[int]
    line_skus: _containers.RepeatedScalarFieldContainer[str]
    line_categories: _containers.RepeatedScalarFieldContainer[str]
    line_amounts_minor: _containers.RepeatedScalarFieldContainer[int]
    line_quantities: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, program_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., currency: _Optional[str] = ..., transaction_ids: _Optional[_Iterable[str]] = ..., member_ids: _Optional[_Iterable[str]] = ..., amounts_minor: _Optional[_Iterable[int]] = ..., channels: _Optional[_Iterable[_Union[_common_pb2.Channel, str]]] = ..., store_ids: _Optional[_Iterable[str]] = ..., occurred_at_unix_micros: _Optional[_Iterable[int]] = ..., categories: _Optional[_Iterable[str]] = ..., skus: _Optional[_Iterable[str]] = ..., kinds: _Optional[_Iterable[_Union[TransactionKind, str]]] = ..., original_transaction_ids: _Optional[_Iterable[str]] = ..., line_counts: _Optional[_Iterable[int]] = ..., line_skus: _Optional[_Iterable[str]] = ..., line_categories: _Optional[_Iterable[str]] = ..., line_amounts_minor: _Optional[_Iterable[int]] = ..., line_quantities: _Optional[_Iterable[int]] = ...) -> None: ...

class IngestProgress(_message.Message):
    __slots__ = ("batches_done", "items_done", "items_posted", "items_duplicate", "items_rejected", "points_total")
    BATCHES_DONE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_DONE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_POSTED_FIELD_NUMBER: _ClassVar[int]
    ITEMS_DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    batches_done: int
    items_done: int
    items_posted: int
    items_duplicate: int
    items_rejected: int
    points_total: int
    def __init__(self, batches_done: _Optional[int] = ..., items_done: _Optional[int] = ..., items_posted: _Optional[int] = ..., items_duplicate: _Optional[int] = ..., items_rejected: _Optional[int] = ..., points_total: _Optional[int] = ...) -> None: ...

class IngestTransactionsResponse(_message.Message):
    __slots__ = ("batch_id", "statuses", "points", "reason_codes", "messages", "ledger_batch_id", "points_total", "progress")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    REASON_CODES_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    LEDGER_BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    statuses: _containers.RepeatedScalarFieldContainer[IngestItemStatus]
    points: _containers.RepeatedScalarFieldContainer[int]
    reason_codes: _containers.RepeatedScalarFieldContainer[str]
    messages: _containers.RepeatedScalarFieldContainer[str]
    ledger_batch_id: str
    points_total: int
    progress: IngestProgress
    def __init__(self, batch_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[IngestItemStatus, str]]] = ..., points: _Optional[_Iterable[int]] = ..., reason_codes: _Optional[_Iterable[str]] = ..., messages: _Optional[_Iterable[str]] = ..., ledger_batch_id: _Optional[str] = ..., points_total: _Optional[int] = ..., progress: _Optional[_Union[IngestProgress, _Mapping]] = ...) -> None: ...

class PreviewBasketRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "amount", "line_items", "channel", "store_id", "occurred_at", "draft_rule_ids")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LINE_ITEMS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    DRAFT_RULE_IDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    amount: _common_pb2.Money
    line_items: _containers.RepeatedCompositeFieldContainer[LineItem]
    channel: _common_pb2.Channel
    store_id: str
    occurred_at: _timestamp_pb2.Timestamp
    draft_rule_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., amount: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., line_items: _Optional[_Iterable[_Union[LineItem, _Mapping]]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., draft_rule_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PreviewBasketResponse(_message.Message):
    __slots__ = ("points", "applications")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    APPLICATIONS_FIELD_NUMBER: _ClassVar[int]
    points: int
    applications: _containers.RepeatedCompositeFieldContainer[_rules_pb2.RuleApplication]
    def __init__(self, points: _Optional[int] = ..., applications: _Optional[_Iterable[_Union[_rules_pb2.RuleApplication, _Mapping]]] = ...) -> None: ...

class MemberPoints(_message.Message):
    __slots__ = ("member_id", "points", "transactions_count")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_COUNT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    points: int
    transactions_count: int
    def __init__(self, member_id: _Optional[str] = ..., points: _Optional[int] = ..., transactions_count: _Optional[int] = ...) -> None: ...

class PointsBucket(_message.Message):
    __slots__ = ("points_min", "points_max", "member_count")
    POINTS_MIN_FIELD_NUMBER: _ClassVar[int]
    POINTS_MAX_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    points_min: int
    points_max: int
    member_count: int
    def __init__(self, points_min: _Optional[int] = ..., points_max: _Optional[int] = ..., member_count: _Optional[int] = ...) -> None: ...

class BacktestRequest(_message.Message):
    __slots__ = ("program_id", "rule_ref", "rule_draft", "start_time", "end_time", "cost_per_thousand_points", "top_members_count")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    RULE_REF_FIELD_NUMBER: _ClassVar[int]
    RULE_DRAFT_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    COST_PER_THOUSAND_POINTS_FIELD_NUMBER: _ClassVar[int]
    TOP_MEMBERS_COUNT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    rule_ref: str
    rule_draft: _rules_pb2.Rule
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    cost_per_thousand_points: _common_pb2.Money
    top_members_count: int
    def __init__(self, program_id: _Optional[str] = ..., rule_ref: _Optional[str] = ..., rule_draft: _Optional[_Union[_rules_pb2.Rule, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cost_per_thousand_points: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., top_members_count: _Optional[int] = ...) -> None: ...

class BacktestResponse(_message.Message):
    __slots__ = ("transactions_count", "rewarded_transactions_count", "members_rewarded_count", "points_total", "cost", "baseline_points_total", "top_members", "distribution")
    TRANSACTIONS_COUNT_FIELD_NUMBER: _ClassVar[int]
    REWARDED_TRANSACTIONS_COUNT_FIELD_NUMBER: _ClassVar[int]
    MEMBERS_REWARDED_COUNT_FIELD_NUMBER: _ClassVar[int]
    POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    BASELINE_POINTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    TOP_MEMBERS_FIELD_NUMBER: _ClassVar[int]
    DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    transactions_count: int
    rewarded_transactions_count: int
    members_rewarded_count: int
    points_total: int
    cost: _common_pb2.Money
    baseline_points_total: int
    top_members: _containers.RepeatedCompositeFieldContainer[MemberPoints]
    distribution: _containers.RepeatedCompositeFieldContainer[PointsBucket]
    def __init__(self, transactions_count: _Optional[int] = ..., rewarded_transactions_count: _Optional[int] = ..., members_rewarded_count: _Optional[int] = ..., points_total: _Optional[int] = ..., cost: _Optional[_Union[_common_pb2.Money, _Mapping]] = ..., baseline_points_total: _Optional[int] = ..., top_members: _Optional[_Iterable[_Union[MemberPoints, _Mapping]]] = ..., distribution: _Optional[_Iterable[_Union[PointsBucket, _Mapping]]] = ...) -> None: ...

class RecordActivityRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "activity")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    activity: _engagement_pb2.Activity
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., activity: _Optional[_Union[_engagement_pb2.Activity, _Mapping]] = ...) -> None: ...

class RecordActivityResponse(_message.Message):
    __slots__ = ("activity", "duplicate")
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    activity: _engagement_pb2.Activity
    duplicate: bool
    def __init__(self, activity: _Optional[_Union[_engagement_pb2.Activity, _Mapping]] = ..., duplicate: _Optional[bool] = ...) -> None: ...

class FindRecordedAnswerRequest(_message.Message):
    __slots__ = ("purchase", "purchase_return", "activity")
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_RETURN_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    purchase: RecordPurchaseRequest
    purchase_return: RecordReturnRequest
    activity: RecordActivityRequest
    def __init__(self, purchase: _Optional[_Union[RecordPurchaseRequest, _Mapping]] = ..., purchase_return: _Optional[_Union[RecordReturnRequest, _Mapping]] = ..., activity: _Optional[_Union[RecordActivityRequest, _Mapping]] = ...) -> None: ...

class FindRecordedAnswerResponse(_message.Message):
    __slots__ = ("purchase", "purchase_return", "activity")
    PURCHASE_FIELD_NUMBER: _ClassVar[int]
    PURCHASE_RETURN_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    purchase: RecordPurchaseResponse
    purchase_return: RecordReturnResponse
    activity: RecordActivityResponse
    def __init__(self, purchase: _Optional[_Union[RecordPurchaseResponse, _Mapping]] = ..., purchase_return: _Optional[_Union[RecordReturnResponse, _Mapping]] = ..., activity: _Optional[_Union[RecordActivityResponse, _Mapping]] = ...) -> None: ...

class VerifyActivityRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "activity_id", "decision", "verifier_id", "note")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACTIVITY_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    VERIFIER_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    activity_id: str
    decision: VerificationDecision
    verifier_id: str
    note: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., activity_id: _Optional[str] = ..., decision: _Optional[_Union[VerificationDecision, str]] = ..., verifier_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class VerifyActivityResponse(_message.Message):
    __slots__ = ("activity",)
    ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    activity: _engagement_pb2.Activity
    def __init__(self, activity: _Optional[_Union[_engagement_pb2.Activity, _Mapping]] = ...) -> None: ...

class ListActivitiesRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "verification_state", "kind", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_STATE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    verification_state: _common_pb2.VerificationState
    kind: _common_pb2.ActivityKind
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., verification_state: _Optional[_Union[_common_pb2.VerificationState, str]] = ..., kind: _Optional[_Union[_common_pb2.ActivityKind, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListActivitiesResponse(_message.Message):
    __slots__ = ("activities", "next_page_token")
    ACTIVITIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    activities: _containers.RepeatedCompositeFieldContainer[_engagement_pb2.Activity]
    next_page_token: str
    def __init__(self, activities: _Optional[_Iterable[_Union[_engagement_pb2.Activity, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ConfigureRecognitionRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "config")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    config: _engagement_pb2.RecognitionConfig
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., config: _Optional[_Union[_engagement_pb2.RecognitionConfig, _Mapping]] = ...) -> None: ...

class ConfigureRecognitionResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: _engagement_pb2.RecognitionConfig
    def __init__(self, config: _Optional[_Union[_engagement_pb2.RecognitionConfig, _Mapping]] = ...) -> None: ...

class GetRecognitionRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class GetRecognitionResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: _engagement_pb2.RecognitionConfig
    def __init__(self, config: _Optional[_Union[_engagement_pb2.RecognitionConfig, _Mapping]] = ...) -> None: ...

class CreateMissionRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "mission")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MISSION_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    mission: _engagement_pb2.Mission
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., mission: _Optional[_Union[_engagement_pb2.Mission, _Mapping]] = ...) -> None: ...

class CreateMissionResponse(_message.Message):
    __slots__ = ("mission",)
    MISSION_FIELD_NUMBER: _ClassVar[int]
    mission: _engagement_pb2.Mission
    def __init__(self, mission: _Optional[_Union[_engagement_pb2.Mission, _Mapping]] = ...) -> None: ...

class ActivateMissionRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "mission_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    mission_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., mission_id: _Optional[str] = ...) -> None: ...

class ActivateMissionResponse(_message.Message):
    __slots__ = ("mission",)
    MISSION_FIELD_NUMBER: _ClassVar[int]
    mission: _engagement_pb2.Mission
    def __init__(self, mission: _Optional[_Union[_engagement_pb2.Mission, _Mapping]] = ...) -> None: ...

class ArchiveMissionRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "mission_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    mission_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., mission_id: _Optional[str] = ...) -> None: ...

class ArchiveMissionResponse(_message.Message):
    __slots__ = ("mission",)
    MISSION_FIELD_NUMBER: _ClassVar[int]
    mission: _engagement_pb2.Mission
    def __init__(self, mission: _Optional[_Union[_engagement_pb2.Mission, _Mapping]] = ...) -> None: ...

class ListMissionsRequest(_message.Message):
    __slots__ = ("program_id", "status", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    status: _engagement_pb2.MissionStatus
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., status: _Optional[_Union[_engagement_pb2.MissionStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMissionsResponse(_message.Message):
    __slots__ = ("missions", "next_page_token")
    MISSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    missions: _containers.RepeatedCompositeFieldContainer[_engagement_pb2.Mission]
    next_page_token: str
    def __init__(self, missions: _Optional[_Iterable[_Union[_engagement_pb2.Mission, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetMissionProgressRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "mission_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MISSION_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    mission_id: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., mission_id: _Optional[str] = ...) -> None: ...

class GetMissionProgressResponse(_message.Message):
    __slots__ = ("progresses",)
    PROGRESSES_FIELD_NUMBER: _ClassVar[int]
    progresses: _containers.RepeatedCompositeFieldContainer[_engagement_pb2.MissionProgress]
    def __init__(self, progresses: _Optional[_Iterable[_Union[_engagement_pb2.MissionProgress, _Mapping]]] = ...) -> None: ...

class ListMemberBadgesRequest(_message.Message):
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

class ListMemberBadgesResponse(_message.Message):
    __slots__ = ("badges", "next_page_token")
    BADGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    badges: _containers.RepeatedCompositeFieldContainer[_engagement_pb2.MemberBadge]
    next_page_token: str
    def __init__(self, badges: _Optional[_Iterable[_Union[_engagement_pb2.MemberBadge, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateSegmentRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "segment")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    segment: _segments_pb2.Segment
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., segment: _Optional[_Union[_segments_pb2.Segment, _Mapping]] = ...) -> None: ...

class CreateSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: _segments_pb2.Segment
    def __init__(self, segment: _Optional[_Union[_segments_pb2.Segment, _Mapping]] = ...) -> None: ...

class UpdateSegmentRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "segment")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    segment: _segments_pb2.Segment
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., segment: _Optional[_Union[_segments_pb2.Segment, _Mapping]] = ...) -> None: ...

class UpdateSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: _segments_pb2.Segment
    def __init__(self, segment: _Optional[_Union[_segments_pb2.Segment, _Mapping]] = ...) -> None: ...

class GetSegmentRequest(_message.Message):
    __slots__ = ("program_id", "segment_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    segment_id: str
    def __init__(self, program_id: _Optional[str] = ..., segment_id: _Optional[str] = ...) -> None: ...

class GetSegmentResponse(_message.Message):
    __slots__ = ("segment",)
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    segment: _segments_pb2.Segment
    def __init__(self, segment: _Optional[_Union[_segments_pb2.Segment, _Mapping]] = ...) -> None: ...

class ListSegmentsRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token", "undefined_tier_codes_only")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    UNDEFINED_TIER_CODES_ONLY_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    undefined_tier_codes_only: bool
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., undefined_tier_codes_only: _Optional[bool] = ...) -> None: ...

class ListSegmentsResponse(_message.Message):
    __slots__ = ("segments", "next_page_token")
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedCompositeFieldContainer[_segments_pb2.Segment]
    next_page_token: str
    def __init__(self, segments: _Optional[_Iterable[_Union[_segments_pb2.Segment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ComputeSegmentRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "segment_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    segment_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., segment_id: _Optional[str] = ...) -> None: ...

class ComputeSegmentResponse(_message.Message):
    __slots__ = ("member_count", "joined_count", "left_count", "computed_at")
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    JOINED_COUNT_FIELD_NUMBER: _ClassVar[int]
    LEFT_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    member_count: int
    joined_count: int
    left_count: int
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, member_count: _Optional[int] = ..., joined_count: _Optional[int] = ..., left_count: _Optional[int] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListSegmentMembersRequest(_message.Message):
    __slots__ = ("program_id", "segment_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    segment_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., segment_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSegmentMembersResponse(_message.Message):
    __slots__ = ("member_ids", "next_page_token", "computed_at")
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    next_page_token: str
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, member_ids: _Optional[_Iterable[str]] = ..., next_page_token: _Optional[str] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CheckSegmentMembershipRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "segment_ids")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    segment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., segment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckSegmentMembershipResponse(_message.Message):
    __slots__ = ("member_segment_ids",)
    MEMBER_SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    member_segment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, member_segment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckRewardTargetingRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "reward_ids")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_IDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    reward_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., reward_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CheckRewardTargetingResponse(_message.Message):
    __slots__ = ("withheld_reward_ids",)
    WITHHELD_REWARD_IDS_FIELD_NUMBER: _ClassVar[int]
    withheld_reward_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, withheld_reward_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateExperimentRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "experiment")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    experiment: _experiments_pb2.Experiment
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., experiment: _Optional[_Union[_experiments_pb2.Experiment, _Mapping]] = ...) -> None: ...

class CreateExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: _experiments_pb2.Experiment
    def __init__(self, experiment: _Optional[_Union[_experiments_pb2.Experiment, _Mapping]] = ...) -> None: ...

class GetExperimentRequest(_message.Message):
    __slots__ = ("program_id", "experiment_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    experiment_id: str
    def __init__(self, program_id: _Optional[str] = ..., experiment_id: _Optional[str] = ...) -> None: ...

class GetExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: _experiments_pb2.Experiment
    def __init__(self, experiment: _Optional[_Union[_experiments_pb2.Experiment, _Mapping]] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ("program_id", "status", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    status: _experiments_pb2.ExperimentStatus
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., status: _Optional[_Union[_experiments_pb2.ExperimentStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments", "next_page_token")
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[_experiments_pb2.Experiment]
    next_page_token: str
    def __init__(self, experiments: _Optional[_Iterable[_Union[_experiments_pb2.Experiment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EndExperimentRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "experiment_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    experiment_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., experiment_id: _Optional[str] = ...) -> None: ...

class EndExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: _experiments_pb2.Experiment
    def __init__(self, experiment: _Optional[_Union[_experiments_pb2.Experiment, _Mapping]] = ...) -> None: ...

class GetExperimentAssignmentRequest(_message.Message):
    __slots__ = ("program_id", "experiment_id", "member_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    experiment_id: str
    member_id: str
    def __init__(self, program_id: _Optional[str] = ..., experiment_id: _Optional[str] = ..., member_id: _Optional[str] = ...) -> None: ...

class GetExperimentAssignmentResponse(_message.Message):
    __slots__ = ("arm_code", "in_holdout", "not_eligible")
    ARM_CODE_FIELD_NUMBER: _ClassVar[int]
    IN_HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    NOT_ELIGIBLE_FIELD_NUMBER: _ClassVar[int]
    arm_code: str
    in_holdout: bool
    not_eligible: bool
    def __init__(self, arm_code: _Optional[str] = ..., in_holdout: _Optional[bool] = ..., not_eligible: _Optional[bool] = ...) -> None: ...

class GetExperimentReportRequest(_message.Message):
    __slots__ = ("program_id", "experiment_id", "confidence_bps")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_BPS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    experiment_id: str
    confidence_bps: int
    def __init__(self, program_id: _Optional[str] = ..., experiment_id: _Optional[str] = ..., confidence_bps: _Optional[int] = ...) -> None: ...

class GetExperimentReportResponse(_message.Message):
    __slots__ = ("experiment_id", "arms", "uplifts", "confidence_bps", "computed_at")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    UPLIFTS_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_BPS_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    arms: _containers.RepeatedCompositeFieldContainer[_experiments_pb2.ArmReport]
    uplifts: _containers.RepeatedCompositeFieldContainer[_experiments_pb2.ArmUplift]
    confidence_bps: int
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, experiment_id: _Optional[str] = ..., arms: _Optional[_Iterable[_Union[_experiments_pb2.ArmReport, _Mapping]]] = ..., uplifts: _Optional[_Iterable[_Union[_experiments_pb2.ArmUplift, _Mapping]]] = ..., confidence_bps: _Optional[int] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfigureHoldoutRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "config")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    config: _experiments_pb2.HoldoutConfig
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., config: _Optional[_Union[_experiments_pb2.HoldoutConfig, _Mapping]] = ...) -> None: ...

class ConfigureHoldoutResponse(_message.Message):
    __slots__ = ("config",)
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    config: _experiments_pb2.HoldoutConfig
    def __init__(self, config: _Optional[_Union[_experiments_pb2.HoldoutConfig, _Mapping]] = ...) -> None: ...

class GetHoldoutReportRequest(_message.Message):
    __slots__ = ("program_id", "start_time", "end_time", "confidence_bps")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_BPS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    confidence_bps: int
    def __init__(self, program_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confidence_bps: _Optional[int] = ...) -> None: ...

class GetHoldoutReportResponse(_message.Message):
    __slots__ = ("arms", "uplift", "confidence_bps", "computed_at")
    ARMS_FIELD_NUMBER: _ClassVar[int]
    UPLIFT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_BPS_FIELD_NUMBER: _ClassVar[int]
    COMPUTED_AT_FIELD_NUMBER: _ClassVar[int]
    arms: _containers.RepeatedCompositeFieldContainer[_experiments_pb2.ArmReport]
    uplift: _experiments_pb2.ArmUplift
    confidence_bps: int
    computed_at: _timestamp_pb2.Timestamp
    def __init__(self, arms: _Optional[_Iterable[_Union[_experiments_pb2.ArmReport, _Mapping]]] = ..., uplift: _Optional[_Union[_experiments_pb2.ArmUplift, _Mapping]] = ..., confidence_bps: _Optional[int] = ..., computed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ConfigureNotificationPolicyRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "policy")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    policy: _engagement_pb2.NotificationPolicy
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., policy: _Optional[_Union[_engagement_pb2.NotificationPolicy, _Mapping]] = ...) -> None: ...

class ConfigureNotificationPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: _engagement_pb2.NotificationPolicy
    def __init__(self, policy: _Optional[_Union[_engagement_pb2.NotificationPolicy, _Mapping]] = ...) -> None: ...

class GetNotificationPolicyRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class GetNotificationPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: _engagement_pb2.NotificationPolicy
    def __init__(self, policy: _Optional[_Union[_engagement_pb2.NotificationPolicy, _Mapping]] = ...) -> None: ...

class ListNotificationIntentsRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "kind", "status", "start_time", "end_time", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    kind: _common_pb2.NotificationKind
    status: _engagement_pb2.NotificationStatus
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.NotificationKind, str]] = ..., status: _Optional[_Union[_engagement_pb2.NotificationStatus, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNotificationIntentsResponse(_message.Message):
    __slots__ = ("intents", "next_page_token")
    INTENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    intents: _containers.RepeatedCompositeFieldContainer[_engagement_pb2.NotificationIntentRecord]
    next_page_token: str
    def __init__(self, intents: _Optional[_Iterable[_Union[_engagement_pb2.NotificationIntentRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
