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

class QrKeyStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QR_KEY_STATUS_UNSPECIFIED: _ClassVar[QrKeyStatus]
    QR_KEY_STATUS_ACTIVE: _ClassVar[QrKeyStatus]
    QR_KEY_STATUS_RETIRING: _ClassVar[QrKeyStatus]
    QR_KEY_STATUS_RETIRED: _ClassVar[QrKeyStatus]

class IdentifierRemovalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IDENTIFIER_REMOVAL_REASON_UNSPECIFIED: _ClassVar[IdentifierRemovalReason]
    IDENTIFIER_REMOVAL_REASON_LOST: _ClassVar[IdentifierRemovalReason]
    IDENTIFIER_REMOVAL_REASON_STOLEN: _ClassVar[IdentifierRemovalReason]

class ImportItemStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMPORT_ITEM_STATUS_UNSPECIFIED: _ClassVar[ImportItemStatus]
    IMPORT_ITEM_STATUS_ENROLLED: _ClassVar[ImportItemStatus]
    IMPORT_ITEM_STATUS_DUPLICATE: _ClassVar[ImportItemStatus]
    IMPORT_ITEM_STATUS_REJECTED: _ClassVar[ImportItemStatus]
QR_KEY_STATUS_UNSPECIFIED: QrKeyStatus
QR_KEY_STATUS_ACTIVE: QrKeyStatus
QR_KEY_STATUS_RETIRING: QrKeyStatus
QR_KEY_STATUS_RETIRED: QrKeyStatus
IDENTIFIER_REMOVAL_REASON_UNSPECIFIED: IdentifierRemovalReason
IDENTIFIER_REMOVAL_REASON_LOST: IdentifierRemovalReason
IDENTIFIER_REMOVAL_REASON_STOLEN: IdentifierRemovalReason
IMPORT_ITEM_STATUS_UNSPECIFIED: ImportItemStatus
IMPORT_ITEM_STATUS_ENROLLED: ImportItemStatus
IMPORT_ITEM_STATUS_DUPLICATE: ImportItemStatus
IMPORT_ITEM_STATUS_REJECTED: ImportItemStatus

class Program(_message.Message):
    __slots__ = ("program_id", "name", "points_name", "currency", "time_zone", "entry_tier_code", "default_locale", "create_time", "update_time")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POINTS_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TIER_CODE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_LOCALE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    name: str
    points_name: str
    currency: str
    time_zone: str
    entry_tier_code: str
    default_locale: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., name: _Optional[str] = ..., points_name: _Optional[str] = ..., currency: _Optional[str] = ..., time_zone: _Optional[str] = ..., entry_tier_code: _Optional[str] = ..., default_locale: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Identifier(_message.Message):
    __slots__ = ("kind", "value", "provider", "verified", "added_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    ADDED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.IdentifierKind
    value: str
    provider: str
    verified: bool
    added_at: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[_common_pb2.IdentifierKind, str]] = ..., value: _Optional[str] = ..., provider: _Optional[str] = ..., verified: _Optional[bool] = ..., added_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Profile(_message.Message):
    __slots__ = ("given_name", "family_name", "birthday", "locale", "home_store_id", "preferences")
    class PreferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GIVEN_NAME_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAME_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    HOME_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    given_name: str
    family_name: str
    birthday: _common_pb2.LocalDate
    locale: str
    home_store_id: str
    preferences: _containers.ScalarMap[str, str]
    def __init__(self, given_name: _Optional[str] = ..., family_name: _Optional[str] = ..., birthday: _Optional[_Union[_common_pb2.LocalDate, _Mapping]] = ..., locale: _Optional[str] = ..., home_store_id: _Optional[str] = ..., preferences: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Consent(_message.Message):
    __slots__ = ("channel", "granted", "changed_at", "source_channel")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.ConsentChannel
    granted: bool
    changed_at: _timestamp_pb2.Timestamp
    source_channel: _common_pb2.Channel
    def __init__(self, channel: _Optional[_Union[_common_pb2.ConsentChannel, str]] = ..., granted: _Optional[bool] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source_channel: _Optional[_Union[_common_pb2.Channel, str]] = ...) -> None: ...

class Member(_message.Message):
    __slots__ = ("member_id", "program_id", "status", "profile", "identifiers", "consents", "enrollment_channel", "enrollment_store_id", "referral_code", "referrer_member_id", "merged_into_member_id", "enrolled_at", "update_time", "blocked_identifiers")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    REFERRER_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    program_id: str
    status: _common_pb2.MemberStatus
    profile: Profile
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    enrollment_channel: _common_pb2.Channel
    enrollment_store_id: str
    referral_code: str
    referrer_member_id: str
    merged_into_member_id: str
    enrolled_at: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    blocked_identifiers: _containers.RepeatedCompositeFieldContainer[BlockedIdentifier]
    def __init__(self, member_id: _Optional[str] = ..., program_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.MemberStatus, str]] = ..., profile: _Optional[_Union[Profile, _Mapping]] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ..., enrollment_channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., enrollment_store_id: _Optional[str] = ..., referral_code: _Optional[str] = ..., referrer_member_id: _Optional[str] = ..., merged_into_member_id: _Optional[str] = ..., enrolled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., blocked_identifiers: _Optional[_Iterable[_Union[BlockedIdentifier, _Mapping]]] = ...) -> None: ...

class BlockedIdentifier(_message.Message):
    __slots__ = ("identifier", "reason", "blocked_at")
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_AT_FIELD_NUMBER: _ClassVar[int]
    identifier: Identifier
    reason: IdentifierRemovalReason
    blocked_at: _timestamp_pb2.Timestamp
    def __init__(self, identifier: _Optional[_Union[Identifier, _Mapping]] = ..., reason: _Optional[_Union[IdentifierRemovalReason, str]] = ..., blocked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QrKey(_message.Message):
    __slots__ = ("key_id", "algorithm", "public_key", "not_before", "not_after", "status")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    algorithm: str
    public_key: bytes
    not_before: _timestamp_pb2.Timestamp
    not_after: _timestamp_pb2.Timestamp
    status: QrKeyStatus
    def __init__(self, key_id: _Optional[str] = ..., algorithm: _Optional[str] = ..., public_key: _Optional[bytes] = ..., not_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[QrKeyStatus, str]] = ...) -> None: ...

class ApiKey(_message.Message):
    __slots__ = ("key_id", "program_id", "name", "scopes", "secret_prefix", "create_time", "expires_at", "revoked_at", "last_used_at", "requests_per_minute_max")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    SECRET_PREFIX_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_MAX_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    program_id: str
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    secret_prefix: str
    create_time: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    revoked_at: _timestamp_pb2.Timestamp
    last_used_at: _timestamp_pb2.Timestamp
    requests_per_minute_max: int
    def __init__(self, key_id: _Optional[str] = ..., program_id: _Optional[str] = ..., name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., secret_prefix: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoked_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requests_per_minute_max: _Optional[int] = ...) -> None: ...

class CreateProgramRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "program")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    program: Program
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., program: _Optional[_Union[Program, _Mapping]] = ...) -> None: ...

class CreateProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: Program
    def __init__(self, program: _Optional[_Union[Program, _Mapping]] = ...) -> None: ...

class GetProgramRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class GetProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: Program
    def __init__(self, program: _Optional[_Union[Program, _Mapping]] = ...) -> None: ...

class UpdateProgramRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "program", "update_mask")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    program: Program
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., program: _Optional[_Union[Program, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateProgramResponse(_message.Message):
    __slots__ = ("program",)
    PROGRAM_FIELD_NUMBER: _ClassVar[int]
    program: Program
    def __init__(self, program: _Optional[_Union[Program, _Mapping]] = ...) -> None: ...

class ListProgramsRequest(_message.Message):
    __slots__ = ("program_id", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListProgramsResponse(_message.Message):
    __slots__ = ("programs", "next_page_token")
    PROGRAMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    programs: _containers.RepeatedCompositeFieldContainer[Program]
    next_page_token: str
    def __init__(self, programs: _Optional[_Iterable[_Union[Program, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class EnrollMemberRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "channel", "store_id", "profile", "identifiers", "consents", "referral_code")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    REFERRAL_CODE_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    channel: _common_pb2.Channel
    store_id: str
    profile: Profile
    identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    referral_code: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ..., store_id: _Optional[str] = ..., profile: _Optional[_Union[Profile, _Mapping]] = ..., identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ..., consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ..., referral_code: _Optional[str] = ...) -> None: ...

class EnrollMemberResponse(_message.Message):
    __slots__ = ("member", "created")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    member: Member
    created: bool
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class ImportMembersRequest(_message.Message):
    __slots__ = ("program_id", "batch_id", "idempotency_keys", "external_ids", "emails", "phones", "card_numbers", "given_names", "family_names", "birthdays", "locales", "channel")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEYS_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_IDS_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    CARD_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    GIVEN_NAMES_FIELD_NUMBER: _ClassVar[int]
    FAMILY_NAMES_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAYS_FIELD_NUMBER: _ClassVar[int]
    LOCALES_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    batch_id: str
    idempotency_keys: _containers.RepeatedScalarFieldContainer[str]
    external_ids: _containers.RepeatedScalarFieldContainer[str]
    emails: _containers.RepeatedScalarFieldContainer[str]
    phones: _containers.RepeatedScalarFieldContainer[str]
    card_numbers: _containers.RepeatedScalarFieldContainer[str]
    given_names: _containers.RepeatedScalarFieldContainer[str]
    family_names: _containers.RepeatedScalarFieldContainer[str]
    birthdays: _containers.RepeatedScalarFieldContainer[str]
    locales: _containers.RepeatedScalarFieldContainer[str]
    channel: _common_pb2.Channel
    def __init__(self, program_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., idempotency_keys: _Optional[_Iterable[str]] = ..., external_ids: _Optional[_Iterable[str]] = ..., emails: _Optional[_Iterable[str]] = ..., phones: _Optional[_Iterable[str]] = ..., card_numbers: _Optional[_Iterable[str]] = ..., given_names: _Optional[_Iterable[str]] = ..., family_names: _Optional[_Iterable[str]] = ..., birthdays: _Optional[_Iterable[str]] = ..., locales: _Optional[_Iterable[str]] = ..., channel: _Optional[_Union[_common_pb2.Channel, str]] = ...) -> None: ...

class ImportMembersResponse(_message.Message):
    __slots__ = ("batch_id", "statuses", "member_ids", "messages", "enrolled_count", "duplicate_count", "rejected_count")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_COUNT_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_COUNT_FIELD_NUMBER: _ClassVar[int]
    REJECTED_COUNT_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    statuses: _containers.RepeatedScalarFieldContainer[ImportItemStatus]
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    messages: _containers.RepeatedScalarFieldContainer[str]
    enrolled_count: int
    duplicate_count: int
    rejected_count: int
    def __init__(self, batch_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[ImportItemStatus, str]]] = ..., member_ids: _Optional[_Iterable[str]] = ..., messages: _Optional[_Iterable[str]] = ..., enrolled_count: _Optional[int] = ..., duplicate_count: _Optional[int] = ..., rejected_count: _Optional[int] = ...) -> None: ...

class GetMemberRequest(_message.Message):
    __slots__ = ("program_id", "member_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ...) -> None: ...

class GetMemberResponse(_message.Message):
    __slots__ = ("member",)
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    member: Member
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ...) -> None: ...

class BatchGetMemberStatusesRequest(_message.Message):
    __slots__ = ("program_id", "member_ids")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, program_id: _Optional[str] = ..., member_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class BatchGetMemberStatusesResponse(_message.Message):
    __slots__ = ("statuses", "merged_into_member_ids")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    MERGED_INTO_MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[_common_pb2.MemberStatus]
    merged_into_member_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, statuses: _Optional[_Iterable[_Union[_common_pb2.MemberStatus, str]]] = ..., merged_into_member_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListMembersRequest(_message.Message):
    __slots__ = ("program_id", "status", "enrolled_after", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_AFTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    status: _common_pb2.MemberStatus
    enrolled_after: _timestamp_pb2.Timestamp
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.MemberStatus, str]] = ..., enrolled_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMembersResponse(_message.Message):
    __slots__ = ("members", "next_page_token")
    MEMBERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    members: _containers.RepeatedCompositeFieldContainer[Member]
    next_page_token: str
    def __init__(self, members: _Optional[_Iterable[_Union[Member, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateProfileRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "profile", "update_mask")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    profile: Profile
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., profile: _Optional[_Union[Profile, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateProfileResponse(_message.Message):
    __slots__ = ("profile",)
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    profile: Profile
    def __init__(self, profile: _Optional[_Union[Profile, _Mapping]] = ...) -> None: ...

class ConsentUpdate(_message.Message):
    __slots__ = ("channel", "granted")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    GRANTED_FIELD_NUMBER: _ClassVar[int]
    channel: _common_pb2.ConsentChannel
    granted: bool
    def __init__(self, channel: _Optional[_Union[_common_pb2.ConsentChannel, str]] = ..., granted: _Optional[bool] = ...) -> None: ...

class UpdateConsentsRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "consent_updates", "source_channel")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_UPDATES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    consent_updates: _containers.RepeatedCompositeFieldContainer[ConsentUpdate]
    source_channel: _common_pb2.Channel
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., consent_updates: _Optional[_Iterable[_Union[ConsentUpdate, _Mapping]]] = ..., source_channel: _Optional[_Union[_common_pb2.Channel, str]] = ...) -> None: ...

class UpdateConsentsResponse(_message.Message):
    __slots__ = ("consents",)
    CONSENTS_FIELD_NUMBER: _ClassVar[int]
    consents: _containers.RepeatedCompositeFieldContainer[Consent]
    def __init__(self, consents: _Optional[_Iterable[_Union[Consent, _Mapping]]] = ...) -> None: ...

class AddIdentifierRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "identifier")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    identifier: Identifier
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...

class AddIdentifierResponse(_message.Message):
    __slots__ = ("member_id", "identifier")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    identifier: Identifier
    def __init__(self, member_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ...) -> None: ...

class RemoveIdentifierRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "kind", "value", "provider", "reason")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    kind: _common_pb2.IdentifierKind
    value: str
    provider: str
    reason: IdentifierRemovalReason
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.IdentifierKind, str]] = ..., value: _Optional[str] = ..., provider: _Optional[str] = ..., reason: _Optional[_Union[IdentifierRemovalReason, str]] = ...) -> None: ...

class RemoveIdentifierResponse(_message.Message):
    __slots__ = ("member_id", "identifier", "removed_at", "blocked")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    REMOVED_AT_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    identifier: Identifier
    removed_at: _timestamp_pb2.Timestamp
    blocked: bool
    def __init__(self, member_id: _Optional[str] = ..., identifier: _Optional[_Union[Identifier, _Mapping]] = ..., removed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., blocked: _Optional[bool] = ...) -> None: ...

class ResolveIdentifierRequest(_message.Message):
    __slots__ = ("program_id", "kind", "value", "provider", "at")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    kind: _common_pb2.IdentifierKind
    value: str
    provider: str
    at: _timestamp_pb2.Timestamp
    def __init__(self, program_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.IdentifierKind, str]] = ..., value: _Optional[str] = ..., provider: _Optional[str] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResolveIdentifierResponse(_message.Message):
    __slots__ = ("member_id", "status")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    status: _common_pb2.MemberStatus
    def __init__(self, member_id: _Optional[str] = ..., status: _Optional[_Union[_common_pb2.MemberStatus, str]] = ...) -> None: ...

class IdentifierLookup(_message.Message):
    __slots__ = ("kind", "value", "provider")
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    kind: _common_pb2.IdentifierKind
    value: str
    provider: str
    def __init__(self, kind: _Optional[_Union[_common_pb2.IdentifierKind, str]] = ..., value: _Optional[str] = ..., provider: _Optional[str] = ...) -> None: ...

class BatchResolveIdentifiersRequest(_message.Message):
    __slots__ = ("program_id", "lookups")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    LOOKUPS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    lookups: _containers.RepeatedCompositeFieldContainer[IdentifierLookup]
    def __init__(self, program_id: _Optional[str] = ..., lookups: _Optional[_Iterable[_Union[IdentifierLookup, _Mapping]]] = ...) -> None: ...

class BatchResolveIdentifiersResponse(_message.Message):
    __slots__ = ("member_ids", "statuses")
    MEMBER_IDS_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    member_ids: _containers.RepeatedScalarFieldContainer[str]
    statuses: _containers.RepeatedScalarFieldContainer[_common_pb2.MemberStatus]
    def __init__(self, member_ids: _Optional[_Iterable[str]] = ..., statuses: _Optional[_Iterable[_Union[_common_pb2.MemberStatus, str]]] = ...) -> None: ...

class GenerateCardSeriesRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "count", "prefix", "length")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    count: int
    prefix: str
    length: int
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., count: _Optional[int] = ..., prefix: _Optional[str] = ..., length: _Optional[int] = ...) -> None: ...

class GenerateCardSeriesResponse(_message.Message):
    __slots__ = ("series_id", "card_numbers")
    SERIES_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_NUMBERS_FIELD_NUMBER: _ClassVar[int]
    series_id: str
    card_numbers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, series_id: _Optional[str] = ..., card_numbers: _Optional[_Iterable[str]] = ...) -> None: ...

class IssueQrTokenRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "ttl_seconds")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    ttl_seconds: int
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class IssueQrTokenResponse(_message.Message):
    __slots__ = ("token", "expires_at", "key_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: _timestamp_pb2.Timestamp
    key_id: str
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ...) -> None: ...

class GetQrKeySetRequest(_message.Message):
    __slots__ = ("program_id",)
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    def __init__(self, program_id: _Optional[str] = ...) -> None: ...

class GetQrKeySetResponse(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedCompositeFieldContainer[QrKey]
    def __init__(self, keys: _Optional[_Iterable[_Union[QrKey, _Mapping]]] = ...) -> None: ...

class RotateQrKeyRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "overlap_seconds")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    overlap_seconds: int
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., overlap_seconds: _Optional[int] = ...) -> None: ...

class RotateQrKeyResponse(_message.Message):
    __slots__ = ("active_key", "retiring_key")
    ACTIVE_KEY_FIELD_NUMBER: _ClassVar[int]
    RETIRING_KEY_FIELD_NUMBER: _ClassVar[int]
    active_key: QrKey
    retiring_key: QrKey
    def __init__(self, active_key: _Optional[_Union[QrKey, _Mapping]] = ..., retiring_key: _Optional[_Union[QrKey, _Mapping]] = ...) -> None: ...

class MergeMembersRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "survivor_member_id", "merged_member_id", "operator_id", "note")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    SURVIVOR_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    MERGED_MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    survivor_member_id: str
    merged_member_id: str
    operator_id: str
    note: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., survivor_member_id: _Optional[str] = ..., merged_member_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., note: _Optional[str] = ...) -> None: ...

class MergeMembersResponse(_message.Message):
    __slots__ = ("survivor", "ledger_transfer_id", "transferred_points", "moved_identifiers")
    SURVIVOR_FIELD_NUMBER: _ClassVar[int]
    LEDGER_TRANSFER_ID_FIELD_NUMBER: _ClassVar[int]
    TRANSFERRED_POINTS_FIELD_NUMBER: _ClassVar[int]
    MOVED_IDENTIFIERS_FIELD_NUMBER: _ClassVar[int]
    survivor: Member
    ledger_transfer_id: str
    transferred_points: int
    moved_identifiers: _containers.RepeatedCompositeFieldContainer[Identifier]
    def __init__(self, survivor: _Optional[_Union[Member, _Mapping]] = ..., ledger_transfer_id: _Optional[str] = ..., transferred_points: _Optional[int] = ..., moved_identifiers: _Optional[_Iterable[_Union[Identifier, _Mapping]]] = ...) -> None: ...

class ExportedPosting(_message.Message):
    __slots__ = ("posting_id", "kind", "points", "source_reference", "reason", "occurred_at")
    POSTING_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    POINTS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OCCURRED_AT_FIELD_NUMBER: _ClassVar[int]
    posting_id: str
    kind: _common_pb2.PostingKind
    points: int
    source_reference: str
    reason: str
    occurred_at: _timestamp_pb2.Timestamp
    def __init__(self, posting_id: _Optional[str] = ..., kind: _Optional[_Union[_common_pb2.PostingKind, str]] = ..., points: _Optional[int] = ..., source_reference: _Optional[str] = ..., reason: _Optional[str] = ..., occurred_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ExportSection(_message.Message):
    __slots__ = ("service", "content_type", "content")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    service: str
    content_type: str
    content: bytes
    def __init__(self, service: _Optional[str] = ..., content_type: _Optional[str] = ..., content: _Optional[bytes] = ...) -> None: ...

class ExportMemberRequest(_message.Message):
    __slots__ = ("program_id", "member_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ...) -> None: ...

class ExportMemberResponse(_message.Message):
    __slots__ = ("member", "ledger_postings", "available_points", "sections", "exported_at")
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    LEDGER_POSTINGS_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_POINTS_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    EXPORTED_AT_FIELD_NUMBER: _ClassVar[int]
    member: Member
    ledger_postings: _containers.RepeatedCompositeFieldContainer[ExportedPosting]
    available_points: int
    sections: _containers.RepeatedCompositeFieldContainer[ExportSection]
    exported_at: _timestamp_pb2.Timestamp
    def __init__(self, member: _Optional[_Union[Member, _Mapping]] = ..., ledger_postings: _Optional[_Iterable[_Union[ExportedPosting, _Mapping]]] = ..., available_points: _Optional[int] = ..., sections: _Optional[_Iterable[_Union[ExportSection, _Mapping]]] = ..., exported_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class EraseMemberRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "member_id", "operator_id", "reason")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    member_id: str
    operator_id: str
    reason: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., member_id: _Optional[str] = ..., operator_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class EraseMemberResponse(_message.Message):
    __slots__ = ("member_id", "erased_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    ERASED_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    erased_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., erased_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "name", "scopes", "expires_at", "requests_per_minute_max")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_MAX_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    name: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    requests_per_minute_max: int
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., name: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requests_per_minute_max: _Optional[int] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("api_key", "secret")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    secret: str
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "key_id")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    key_id: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., key_id: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("program_id", "include_revoked", "page_size", "page_token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_REVOKED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    include_revoked: bool
    page_size: int
    page_token: str
    def __init__(self, program_id: _Optional[str] = ..., include_revoked: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("api_keys", "next_page_token")
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    next_page_token: str
    def __init__(self, api_keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ClaimIdempotencyKeyRequest(_message.Message):
    __slots__ = ("program_id", "idempotency_key", "operation")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    idempotency_key: str
    operation: str
    def __init__(self, program_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., operation: _Optional[str] = ...) -> None: ...

class ClaimIdempotencyKeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AuthenticateApiKeyRequest(_message.Message):
    __slots__ = ("program_id", "secret")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    secret: str
    def __init__(self, program_id: _Optional[str] = ..., secret: _Optional[str] = ...) -> None: ...

class AuthenticateApiKeyResponse(_message.Message):
    __slots__ = ("key_id", "program_id", "scopes", "expires_at", "requests_per_minute_max")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_MINUTE_MAX_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    program_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    expires_at: _timestamp_pb2.Timestamp
    requests_per_minute_max: int
    def __init__(self, key_id: _Optional[str] = ..., program_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., requests_per_minute_max: _Optional[int] = ...) -> None: ...

class IssueMemberTokenRequest(_message.Message):
    __slots__ = ("program_id", "member_id", "scopes", "ttl_seconds")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    member_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    ttl_seconds: int
    def __init__(self, program_id: _Optional[str] = ..., member_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class IssueMemberTokenResponse(_message.Message):
    __slots__ = ("token", "expires_at")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class VerifyMemberTokenRequest(_message.Message):
    __slots__ = ("program_id", "token")
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    program_id: str
    token: str
    def __init__(self, program_id: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class VerifyMemberTokenResponse(_message.Message):
    __slots__ = ("member_id", "program_id", "scopes", "issued_at", "expires_at")
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    PROGRAM_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    member_id: str
    program_id: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    issued_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    def __init__(self, member_id: _Optional[str] = ..., program_id: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
