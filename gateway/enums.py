"""The proto enums as JSON strings: `CHANNEL_POS` is "pos". `tests/gateway/test_enums.py` holds each
one equal to its proto enum, so a new proto value cannot be forgotten here."""

from enum import StrEnum
from typing import TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2

E = TypeVar("E", bound=StrEnum)


class Channel(StrEnum):
    app = "app"
    webshop = "webshop"
    store = "store"
    pos = "pos"
    social = "social"
    email = "email"
    call_centre = "call_centre"
    partner = "partner"
    back_office = "back_office"
    import_ = "import"


class IdentifierKind(StrEnum):
    email = "email"
    phone = "phone"
    card_number = "card_number"
    app_qr_token = "app_qr_token"
    social_subject = "social_subject"
    pos_customer_id = "pos_customer_id"
    external_id = "external_id"


class IdentifierRemovalReason(StrEnum):
    lost = "lost"
    stolen = "stolen"


class ConsentChannel(StrEnum):
    email = "email"
    sms = "sms"
    push = "push"


class MemberStatus(StrEnum):
    active = "active"
    suspended = "suspended"
    merged = "merged"
    erased = "erased"


class PostingKind(StrEnum):
    earn = "earn"
    redeem = "redeem"
    adjust = "adjust"
    expire = "expire"
    reverse = "reverse"
    transfer_in = "transfer_in"
    transfer_out = "transfer_out"
    hold_commit = "hold_commit"


class TierChangeDirection(StrEnum):
    initial = "initial"
    upgrade = "upgrade"
    downgrade = "downgrade"
    lateral = "lateral"


class TierChangeReason(StrEnum):
    enrolment = "enrolment"
    threshold_reached = "threshold_reached"
    requalification = "requalification"
    manual = "manual"
    merge = "merge"
    definitions_changed = "definitions_changed"


class VestingState(StrEnum):
    pending = "pending"
    vested = "vested"


class QualifyingBasis(StrEnum):
    points = "points"
    spend = "spend"


class ActivityKind(StrEnum):
    review = "review"
    referral = "referral"
    social_share = "social_share"
    social_like = "social_like"
    newsletter_signup = "newsletter_signup"
    wishlist_add = "wishlist_add"
    store_check_in = "store_check_in"
    qr_scan = "qr_scan"


class VerificationState(StrEnum):
    not_required = "not_required"
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


class ActivityOutcome(StrEnum):
    rewarded = "rewarded"
    pending = "pending"
    capped = "capped"
    no_rule = "no_rule"
    rejected = "rejected"


class MissionProgressState(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    expired = "expired"


class RewardKind(StrEnum):
    coupon = "coupon"
    voucher = "voucher"
    product = "product"
    experience = "experience"
    privilege = "privilege"


class RewardStatus(StrEnum):
    draft = "draft"
    active = "active"
    archived = "archived"


class RedemptionStatus(StrEnum):
    pending = "pending"
    completed = "completed"
    failed = "failed"
    cancelled = "cancelled"


class PerkStatus(StrEnum):
    granted = "granted"
    withdrawn = "withdrawn"


class CodeStatus(StrEnum):
    valid = "valid"
    used = "used"
    expired = "expired"
    cancelled = "cancelled"
    not_yet_valid = "not_yet_valid"
    unknown = "unknown"
    wrong_store = "wrong_store"


# Each JSON enum, its proto enum and the prefix of the proto value names.
PROTO_ENUMS: dict[type[StrEnum], tuple[EnumTypeWrapper, str]] = {
    Channel: (common_pb2.Channel, "CHANNEL_"),
    IdentifierKind: (common_pb2.IdentifierKind, "IDENTIFIER_KIND_"),
    IdentifierRemovalReason: (
        identity_pb2.IdentifierRemovalReason,
        "IDENTIFIER_REMOVAL_REASON_",
    ),
    ConsentChannel: (common_pb2.ConsentChannel, "CONSENT_CHANNEL_"),
    MemberStatus: (common_pb2.MemberStatus, "MEMBER_STATUS_"),
    PostingKind: (common_pb2.PostingKind, "POSTING_KIND_"),
    TierChangeDirection: (common_pb2.TierChangeDirection, "TIER_CHANGE_DIRECTION_"),
    TierChangeReason: (common_pb2.TierChangeReason, "TIER_CHANGE_REASON_"),
    VestingState: (ledger_pb2.VestingState, "VESTING_STATE_"),
    QualifyingBasis: (ledger_pb2.QualifyingBasis, "QUALIFYING_BASIS_"),
    ActivityKind: (common_pb2.ActivityKind, "ACTIVITY_KIND_"),
    VerificationState: (common_pb2.VerificationState, "VERIFICATION_STATE_"),
    ActivityOutcome: (engagement_pb2.ActivityOutcome, "ACTIVITY_OUTCOME_"),
    MissionProgressState: (engagement_pb2.MissionProgressState, "MISSION_PROGRESS_STATE_"),
    RewardKind: (common_pb2.RewardKind, "REWARD_KIND_"),
    RewardStatus: (rewards_pb2.RewardStatus, "REWARD_STATUS_"),
    RedemptionStatus: (rewards_pb2.RedemptionStatus, "REDEMPTION_STATUS_"),
    CodeStatus: (rewards_pb2.CodeStatus, "CODE_STATUS_"),
    PerkStatus: (rewards_pb2.PerkStatus, "PERK_STATUS_"),
}


def to_proto(value: StrEnum | None) -> int:
    """The proto number of a JSON enum value; None is the UNSPECIFIED zero."""
    if value is None:
        return 0
    wrapper, prefix = PROTO_ENUMS[type(value)]
    return int(wrapper.Value(prefix + value.value.upper()))


def from_proto(enum: type[E], number: int) -> E | None:
    """The JSON enum value of a proto number; None for UNSPECIFIED or a value unknown here."""
    wrapper, prefix = PROTO_ENUMS[enum]
    try:
        name = wrapper.Name(number)
    except ValueError:
        return None
    try:
        return enum(name.removeprefix(prefix).lower())
    except ValueError:
        return None
