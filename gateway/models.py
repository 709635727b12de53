"""The JSON bodies of the API as pydantic models: they are the OpenAPI document's schemas.

Request models forbid unknown fields and bound every number and string where it enters, so a
bad value is a 400 naming the field, never a failure further in. Their numbers and booleans are
strict: a count or an amount is a JSON integer (not `true`, `"1000"` or `1000.0`) and a flag is
`true` or `false` (not `1` or `"no"`), so what the client meant is never guessed.
"""

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from gateway.enums import (
    ActivityKind,
    ActivityOutcome,
    Channel,
    CodeStatus,
    ConsentChannel,
    IdentifierKind,
    IdentifierRemovalReason,
    MemberStatus,
    MissionProgressState,
    PerkStatus,
    PostingKind,
    QualifyingBasis,
    RedemptionStatus,
    RewardKind,
    RewardStatus,
    TierChangeDirection,
    TierChangeReason,
    VerificationState,
    VestingState,
)

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1

Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
OptionalId = Annotated[str, Field(max_length=128, pattern=r"^[^\x00-\x1f]*$")]
Text = Annotated[str, Field(max_length=1000)]
# The keys and values of a map the services keep as they are: PostgreSQL's text cannot hold
# NUL (a profile's preference failed at its insert, naming no field; an activity's attribute
# was kept with it).
MapKey = Annotated[str, Field(max_length=64, pattern=r"^[^\x00]*$")]
MapValue = Annotated[str, Field(max_length=256, pattern=r"^[^\x00]*$")]
MinorUnits = Annotated[int, Field(ge=0, le=INT64_MAX, strict=True)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Flag = Annotated[bool, Field(strict=True)]
# Required rather than "now": a retry must send the very same request to be recognised as one.
OCCURRED_AT = (
    "When it happened, with a time zone offset, such as 2026-05-17T10:15:00+02:00. At most 15 "
    "minutes (CAMPAIGN_OCCURRED_AT_AHEAD_MAX_MS) after the server's time, else 400 on this field."
)


def _date_time_text(value: object) -> object:
    # JSON has no date-time type: pydantic took a number as Unix seconds, or as milliseconds
    # when large, a guess the API documents nowhere and a till's clock format may not match.
    if not isinstance(value, str):
        raise PydanticCustomError(
            "date_time_text",
            "must be a date-time text with its offset, such as 2026-05-17T10:15:00+02:00",
        )
    return value


def _in_timestamp_range(value: dt.datetime) -> dt.datetime:
    # A date-time text holds years 1 to 9999 with its offset, and one at either end may lie
    # outside them in UTC (0001-01-01T00:00:00+01:00 is in year 0), which a protobuf Timestamp
    # cannot hold: its conversion failed as a 500. Without an offset it is read as UTC.
    if value.tzinfo is not None:
        try:
            value.astimezone(dt.UTC)
        except OverflowError:
            raise PydanticCustomError(
                "date_time_range", "must lie between 0001-01-01 and 9999-12-31 in UTC"
            ) from None
    return value


def _date_text(value: object) -> object:
    # pydantic took a number as Unix seconds (0 was 1970-01-01) and a date-time text at
    # midnight as its date: guesses, as for occurred_at, that the API documents nowhere.
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise PydanticCustomError("date_text", "must be a date text such as 1990-05-17")
    return value


# A calendar date, as the text YYYY-MM-DD only.
DateText = Annotated[dt.date, BeforeValidator(_date_text)]
# A date-time the services can be given: within 0001-01-01 to 9999-12-31 UTC.
Instant = Annotated[dt.datetime, AfterValidator(_in_timestamp_range)]
OccurredAt = Annotated[
    AwareDatetime,
    BeforeValidator(_date_time_text),
    AfterValidator(_in_timestamp_range),
    Field(description=OCCURRED_AT),
]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- shared ---------------------------------------------------------------------------------------


class Money(Request):
    amount_minor: MinorUnits = Field(description="Integer minor units, such as cents.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, such as EUR.")


class IdentifierLookup(Request):
    kind: IdentifierKind
    value: Annotated[str, Field(min_length=1, max_length=2048)]
    provider: OptionalId = ""


class MemberRef(Request):
    """Who a transaction is for: a member id, or an identifier a channel knows the member by."""

    member_id: OptionalId = ""
    identifier: IdentifierLookup | None = None


# -- programs and tiers ---------------------------------------------------------------------------


class Program(BaseModel):
    program_id: str
    name: str
    points_name: str
    currency: str
    time_zone: str
    entry_tier_code: str
    default_locale: str
    create_time: dt.datetime | None = None
    update_time: dt.datetime | None = None


class Tier(BaseModel):
    code: str
    name: str
    rank: int
    threshold: int
    benefits_text: str
    multiplier_bps: int


class TierList(BaseModel):
    tiers: list[Tier]


# -- members --------------------------------------------------------------------------------------


class Profile(BaseModel):
    given_name: str = ""
    family_name: str = ""
    birthday: dt.date | None = None
    locale: str = ""
    home_store_id: str = ""
    preferences: dict[str, str] = Field(default_factory=dict)


class ProfileInput(Request):
    given_name: Annotated[str, Field(max_length=200)] = ""
    family_name: Annotated[str, Field(max_length=200)] = ""
    birthday: DateText | None = None
    locale: Annotated[str, Field(max_length=35)] = ""
    home_store_id: OptionalId = ""
    preferences: dict[MapKey, MapValue] = Field(default_factory=dict, max_length=50)


class ProfilePatch(ProfileInput):
    """Only the fields present change; a field sent as "" or null is cleared."""

    @model_validator(mode="before")
    @classmethod
    def _null_clears(cls, data: Any) -> Any:
        # null is read as the field's empty value; the field still counts as sent.
        if not isinstance(data, dict):
            return data
        return {
            name: (_CLEARED.get(name, value) if value is None else value)
            for name, value in data.items()
        }


_CLEARED: dict[str, Any] = {
    "given_name": "",
    "family_name": "",
    "locale": "",
    "home_store_id": "",
    "preferences": {},
}


class Identifier(BaseModel):
    kind: IdentifierKind | None
    value: str
    provider: str = ""
    verified: bool = False
    added_at: dt.datetime | None = None


class BlockedIdentifier(Identifier):
    """A card reported lost or stolen: it identifies nobody and nobody can attach it."""

    reason: IdentifierRemovalReason | None = Field(
        description="`lost`: the member may attach it again when found; `stolen`: blocked for good."
    )
    blocked_at: dt.datetime | None = None


BLOCKED_IDENTIFIERS = (
    "The member's cards reported lost or stolen that are still blocked, oldest first (those of a "
    "member merged into this one too); a lost card attached again is no longer listed."
)


class IdentifierInput(Request):
    kind: IdentifierKind
    value: Annotated[str, Field(min_length=1, max_length=320)]
    provider: OptionalId = ""
    verified: Flag = False


class Consent(BaseModel):
    channel: ConsentChannel | None
    granted: bool
    changed_at: dt.datetime | None = None
    source_channel: Channel | None = None


class ConsentInput(Request):
    channel: ConsentChannel
    granted: Flag


class ConsentsUpdate(Request):
    consents: list[ConsentInput] = Field(min_length=1, max_length=3)
    source_channel: Channel = Channel.app


class ConsentList(BaseModel):
    consents: list[Consent]


class Member(BaseModel):
    member_id: str
    program_id: str
    status: MemberStatus | None
    profile: Profile
    identifiers: list[Identifier]
    blocked_identifiers: list[BlockedIdentifier] = Field(description=BLOCKED_IDENTIFIERS)
    consents: list[Consent]
    enrollment_channel: Channel | None = None
    enrollment_store_id: str = ""
    referral_code: str = ""
    referrer_member_id: str = ""
    merged_into_member_id: str = ""
    enrolled_at: dt.datetime | None = None
    update_time: dt.datetime | None = None


class Enrolment(Request):
    channel: Channel
    store_id: OptionalId = ""
    profile: ProfileInput = Field(default_factory=ProfileInput)
    identifiers: list[IdentifierInput] = Field(min_length=1, max_length=10)
    consents: list[ConsentInput] = Field(default_factory=list, max_length=3)
    referral_code: Annotated[str, Field(max_length=64)] = ""


class EnrolmentResult(BaseModel):
    member: Member
    created: bool = Field(description="False when an earlier request with the key enrolled.")


class IdentifierList(BaseModel):
    identifiers: list[Identifier]
    blocked_identifiers: list[BlockedIdentifier] = Field(description=BLOCKED_IDENTIFIERS)


class QrToken(BaseModel):
    token: str = Field(description="The signed token the QR code carries; tills verify it offline.")
    expires_at: dt.datetime | None
    key_id: str
    qr_svg: str = Field(description="The QR code of the token as an SVG document.")


# -- points ---------------------------------------------------------------------------------------


class Balance(BaseModel):
    member_id: str
    available_points: int
    pending_points: int
    held_points: int
    lifetime_earned_points: int
    debt_points: int
    tier_code: str
    qualifying_basis: QualifyingBasis | None
    qualifying_amount: int
    next_tier_code: str
    to_next_tier_amount: int
    expiring_30_days_points: int
    next_expiry_at: dt.datetime | None = None
    as_of: dt.datetime | None = None


class Lot(BaseModel):
    lot_id: str
    original_points: int
    remaining_points: int
    earned_at: dt.datetime | None = None
    vests_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    vesting_state: VestingState | None
    source_reference: str


class LotList(BaseModel):
    lots: list[Lot]
    next_page_token: str = ""


class Posting(BaseModel):
    posting_id: str
    kind: PostingKind | None
    points: int
    source_reference: str
    reason_code: str = ""
    reason_note: str = ""
    rule_ids: list[str] = Field(default_factory=list)
    occurred_at: dt.datetime | None = None
    posted_at: dt.datetime | None = None
    available_points_after: int


class History(BaseModel):
    postings: list[Posting]
    next_page_token: str = ""


class TransferInput(Request):
    to_member_id: Id = Field(description="The member who receives the points; active.")
    points: Annotated[int, Field(ge=1, le=INT64_MAX, strict=True)]
    note: Annotated[str, Field(max_length=200)] = Field("", description="Kept with the postings.")


class TransferResult(BaseModel):
    transfer_id: str = Field(description="Links the giver's and the receiver's postings.")
    transferred_points: int
    balance: Balance = Field(description="The giving member's balance after the transfer.")


class SpendAllocation(BaseModel):
    lot_id: str = Field(description="The lot the spend took points from, as in the lots.")
    points: int = Field(description="The points taken from the lot.")
    lot_expires_at: dt.datetime | None = Field(
        None, description="When the lot expires; absent if it never expires."
    )
    lot_source_reference: str = Field(description="What earned the lot, such as a purchase id.")


class SpendAllocationList(BaseModel):
    allocations: list[SpendAllocation]
    next_page_token: str = ""


class TierChange(BaseModel):
    from_tier_code: str
    to_tier_code: str
    direction: TierChangeDirection | None
    reason: TierChangeReason | None
    qualifying_amount: int
    changed_at: dt.datetime | None = None


class TierHistory(BaseModel):
    tier_changes: list[TierChange]
    next_page_token: str = ""


# -- transactions and activities ------------------------------------------------------------------


class LineItem(Request):
    sku: OptionalId = ""
    category: OptionalId = ""
    amount: Money
    quantity: Quantity = 1


class Purchase(MemberRef):
    transaction_id: Id
    amount: Money
    line_items: list[LineItem] = Field(default_factory=list, max_length=500)
    channel: Channel
    store_id: OptionalId = ""
    occurred_at: OccurredAt


class RuleApplication(BaseModel):
    rule_id: str
    version: int
    name: str
    points: int
    explanation: str = ""


class PurchaseResult(BaseModel):
    member_id: str
    points: int
    rules: list[RuleApplication]
    posting_id: str = ""
    vests_at: dt.datetime | None = None
    duplicate: bool = Field(description="The transaction was recorded before; first result.")


class BasketPreviewInput(Request):
    amount: Money
    line_items: list[LineItem] = Field(default_factory=list, max_length=500)
    channel: Channel
    store_id: OptionalId = ""
    occurred_at: OccurredAt | None = Field(
        None, description="When the purchase would happen, with its offset; unset means now."
    )


class BasketPreview(BaseModel):
    member_id: str
    points: int = Field(description="What the basket would earn now; nothing is posted.")
    rules: list[RuleApplication]


class ReturnLine(Request):
    sku: OptionalId = ""
    amount: Money
    quantity: Quantity = 1


class Return(MemberRef):
    return_id: Id
    original_transaction_id: Id
    lines: list[ReturnLine] | None = Field(None, max_length=500)
    refunded_amount: Money | None = Field(None, description="When no line detail is known.")
    channel: Channel
    store_id: OptionalId = ""
    occurred_at: OccurredAt


class ReturnResult(BaseModel):
    member_id: str
    reversed_points: int
    debt_points: int
    posting_ids: list[str]


class ActivityInput(MemberRef):
    activity_id: Id
    kind: ActivityKind
    channel: Channel
    reference: Annotated[str, Field(max_length=256)] = ""
    url: Annotated[str, Field(max_length=2048)] = ""
    sku: OptionalId = ""
    store_id: OptionalId = ""
    referred_member_id: OptionalId = ""
    occurred_at: OccurredAt
    attributes: dict[MapKey, MapValue] = Field(default_factory=dict, max_length=20)


class Activity(BaseModel):
    activity_id: str
    member_id: str
    kind: ActivityKind | None
    channel: Channel | None
    reference: str = ""
    verification_state: VerificationState | None = None
    outcome: ActivityOutcome | None = None
    points: int
    rule_ids: list[str] = Field(default_factory=list)
    occurred_at: dt.datetime | None = None
    duplicate: bool = False


class MissionStepProgress(BaseModel):
    step_code: str
    description: str = ""
    done_count: int
    required_count: int
    completed_at: dt.datetime | None = None


class MissionProgress(BaseModel):
    mission_id: str
    name: str
    description: str = ""
    reward_points: int = Field(0, description="The points given on completion.")
    badge_code: str = Field("", description="The badge given on completion, if any.")
    badge_name: str = ""
    end_time: dt.datetime | None = Field(None, description="When the mission closes, if ever.")
    state: MissionProgressState | None
    steps: list[MissionStepProgress]
    started_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = Field(None, description="When the member's window closes.")
    completed_at: dt.datetime | None = None


class MissionProgressList(BaseModel):
    missions: list[MissionProgress]


class Badge(BaseModel):
    badge_code: str
    name: str
    mission_id: str = Field("", description="The mission that awarded it, if any.")
    milestone_code: str = Field("", description="The milestone that awarded it, if any.")
    awarded_at: dt.datetime | None = None


class BadgeList(BaseModel):
    badges: list[Badge]
    next_page_token: str = ""


# -- rewards, redemptions and codes ---------------------------------------------------------------


class MoneyOut(BaseModel):
    amount_minor: int
    currency: str


class Discount(BaseModel):
    fixed_amount: MoneyOut | None = None
    percent_bps: int | None = None
    free_shipping: bool = False
    minimum_order: MoneyOut | None = None
    maximum_discount: MoneyOut | None = None


class Stock(BaseModel):
    unlimited: bool
    available: int


class Reward(BaseModel):
    reward_id: str
    name: str
    description: str = ""
    kind: RewardKind | None
    points_price: int
    discount: Discount | None = None
    sku: str = ""
    image_url: str = ""
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    stock: Stock | None = None
    per_member_limit: int = 0
    status: RewardStatus | None


class RewardListing(BaseModel):
    reward: Reward
    eligible: bool = True
    affordable: bool | None = Field(None, description="Set when listed for a member.")
    remaining_member_limit: int = Field(-1, description="-1 means no limit.")


class RewardList(BaseModel):
    rewards: list[RewardListing]
    available_points: int | None = Field(None, description="The member's, when listed for one.")
    next_page_token: str = ""


class MemberPerk(BaseModel):
    perk_code: str
    name: str
    description: str = ""
    reward_id: str = Field("", description="A reward granted for free while in the tier, if any.")
    tier_code: str = Field(description="The tier that granted the perk.")
    status: PerkStatus | None
    granted_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = Field(None, description="Unset while the perk is held.")


class MemberPerkList(BaseModel):
    perks: list[MemberPerk]
    next_page_token: str = ""


class IssuedCode(BaseModel):
    code: str
    status: CodeStatus | None
    expires_at: dt.datetime | None = None
    used_at: dt.datetime | None = None


class Redemption(BaseModel):
    redemption_id: str
    member_id: str
    reward_id: str
    quantity: int
    points_spent: int
    status: RedemptionStatus | None
    codes: list[IssuedCode]
    failure_reason: str = ""
    channel: Channel | None = None
    create_time: dt.datetime | None = None
    complete_time: dt.datetime | None = None
    cancel_time: dt.datetime | None = None


class RedemptionList(BaseModel):
    redemptions: list[Redemption]
    next_page_token: str = ""


class RedeemInput(Request):
    reward_id: Id
    quantity: Annotated[int, Field(ge=1, le=100, strict=True)] = 1
    channel: Channel = Channel.app
    store_id: OptionalId = ""


class Cancellation(Request):
    reason: Annotated[str, Field(max_length=500)] = ""
    operator_id: OptionalId = ""


class CancellationResult(BaseModel):
    redemption: Redemption
    # The price comes back as the two together: returned_points to the balance, debt_paid_points
    # to the debt a refund of spent points left (paid first, as the ledger pays any debt).
    returned_points: int = Field(description="Points of the price returned to the balance.")
    debt_paid_points: int = Field(
        description="Points of the price that paid the member's debt instead of returning to "
        "the balance (a refund took back points the member had spent)."
    )


class CodeCheck(Request):
    code: Annotated[str, Field(min_length=1, max_length=128)]
    store_id: OptionalId = ""


class CodeValidation(BaseModel):
    status: CodeStatus | None
    member_id: str = ""
    redemption_id: str = ""
    reward_id: str = ""
    reward_name: str = ""
    reward_kind: RewardKind | None = None
    discount: Discount | None = None
    expires_at: dt.datetime | None = None
    used_at: dt.datetime | None = None


class CodeUse(Request):
    code: Annotated[str, Field(min_length=1, max_length=128)]
    store_id: OptionalId = ""
    till_id: OptionalId = ""
    transaction_id: OptionalId = ""


class CodeUseResult(BaseModel):
    status: CodeStatus | None
    member_id: str
    reward_id: str
    redemption_id: str
    used_at: dt.datetime | None = None


# -- privacy --------------------------------------------------------------------------------------


class ExportedPosting(BaseModel):
    posting_id: str
    kind: PostingKind | None
    points: int
    source_reference: str
    reason: str
    occurred_at: dt.datetime | None = None


class ExportSection(BaseModel):
    service: str
    content_type: str
    content: str = Field(description="The content as text (base64 for binary media types).")


class MemberExport(BaseModel):
    member: Member
    ledger_postings: list[ExportedPosting]
    available_points: int
    sections: list[ExportSection]
    exported_at: dt.datetime | None = None


class Erasure(Request):
    operator_id: Annotated[str, Field(min_length=1, max_length=128)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ErasureResult(BaseModel):
    member_id: str
    erased_at: dt.datetime | None = None


# -- demo -----------------------------------------------------------------------------------------


class DemoLogin(Request):
    email: Annotated[str, Field(min_length=3, max_length=320)]


class MemberToken(BaseModel):
    token: str
    member_id: str
    expires_at: dt.datetime | None = None
