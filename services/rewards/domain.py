"""The rewards service's pure rules (no I/O)."""

import datetime
import urllib.parse
from zoneinfo import ZoneInfo

from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.local_days import local_days_later

POINTS_PRICE_MAX = 10**12
STOCK_MAX = 10**9
PERCENT_BPS_MAX = 10_000
# Kinds whose value is a discount at a till or webshop.
DISCOUNT_KINDS = {common_pb2.REWARD_KIND_COUPON, common_pb2.REWARD_KIND_VOUCHER}


def check_new_reward(reward: rewards_pb2.Reward) -> None:
    """Refuse a reward that could not be redeemed as defined, naming the field."""
    if reward.reward_id:
        validation.code(reward.reward_id, "reward.reward_id")
    validation.text(reward.name, "reward.name", length_max=120)
    validation.text(reward.description, "reward.description", required=False, length_max=4000)
    if reward.kind == common_pb2.REWARD_KIND_UNSPECIFIED:
        raise InvalidArgument("reward.kind", "is required")
    validation.in_range(reward.points_price, "reward.points_price", low=1, high=POINTS_PRICE_MAX)
    _check_discount(reward)
    if reward.kind == common_pb2.REWARD_KIND_PRODUCT and not reward.sku:
        raise InvalidArgument("reward.sku", "is required for a product")
    _check_image_url(reward.image_url)
    if reward.HasField("valid_from"):
        validation.stored_instant(
            reward.valid_from, "reward.valid_from", unset="valid from its creation"
        )
    if reward.HasField("valid_until"):
        validation.stored_instant(reward.valid_until, "reward.valid_until", unset="valid for good")
    # Compared as stored, to the microsecond: 100 and 900 ns past one second are one instant.
    if (
        reward.HasField("valid_from")
        and reward.HasField("valid_until")
        and reward.valid_until.ToMicroseconds() <= reward.valid_from.ToMicroseconds()
    ):
        raise InvalidArgument(
            "reward.valid_until", "must be after valid_from (instants are kept to the microsecond)"
        )
    validation.in_range(reward.code_validity_days, "reward.code_validity_days", low=0, high=3660)
    if not reward.stock.unlimited:
        validation.in_range(reward.stock.available, "reward.stock.available", low=0, high=STOCK_MAX)
    validation.in_range(reward.per_member_limit, "reward.per_member_limit", low=0, high=STOCK_MAX)
    for index, tier_code in enumerate(reward.eligibility.tier_codes):
        validation.code(tier_code, f"reward.eligibility.tier_codes[{index}]")
    if reward.status == rewards_pb2.REWARD_STATUS_ARCHIVED:
        raise InvalidArgument("reward.status", "a new reward is a draft or active")
    check_limits(reward)


def _check_discount(reward: rewards_pb2.Reward) -> None:
    which = reward.discount.WhichOneof("kind")
    if reward.kind in DISCOUNT_KINDS and which is None:
        raise InvalidArgument("reward.discount", "is required for a coupon or voucher")
    if reward.kind not in DISCOUNT_KINDS and which is not None:
        raise InvalidArgument("reward.discount", "only coupons and vouchers carry a discount")
    if which == "fixed_amount":
        validation.currency(
            reward.discount.fixed_amount.currency, "reward.discount.fixed_amount.currency"
        )
        validation.in_range(
            reward.discount.fixed_amount.amount_minor,
            "reward.discount.fixed_amount.amount_minor",
            low=1,
            high=10**12,
        )
    elif which == "percent_bps":
        validation.in_range(
            reward.discount.percent_bps, "reward.discount.percent_bps", low=1, high=PERCENT_BPS_MAX
        )
    elif which == "free_shipping" and not reward.discount.free_shipping:
        raise InvalidArgument("reward.discount.free_shipping", "is true when set")
    # The till applies the bounds as given (ValidateCode hands the discount over): a bound the
    # discount cannot have, or one in nonsense money, would be applied wrongly there.
    if reward.discount.HasField("maximum_discount") and which != "percent_bps":
        raise InvalidArgument(
            "reward.discount.maximum_discount", "bounds a percentage discount only"
        )
    if reward.discount.HasField("minimum_order") and which is None:
        raise InvalidArgument("reward.discount.minimum_order", "needs a discount kind")
    for name, low in (("minimum_order", 0), ("maximum_discount", 1)):
        if reward.discount.HasField(name):
            bound = getattr(reward.discount, name)
            validation.currency(bound.currency, f"reward.discount.{name}.currency")
            validation.in_range(
                bound.amount_minor, f"reward.discount.{name}.amount_minor", low=low, high=10**12
            )
            if which == "fixed_amount" and bound.currency != reward.discount.fixed_amount.currency:
                raise InvalidArgument(
                    f"reward.discount.{name}.currency", "must be the fixed amount's currency"
                )


def discount_money(reward: rewards_pb2.Reward) -> list[tuple[str, common_pb2.Money]]:
    """The amounts of money a reward's discount carries, each with the name of its field."""
    amounts = []
    if reward.discount.WhichOneof("kind") == "fixed_amount":
        amounts.append(("reward.discount.fixed_amount", reward.discount.fixed_amount))
    for name in ("minimum_order", "maximum_discount"):
        if reward.discount.HasField(name):
            amounts.append((f"reward.discount.{name}", getattr(reward.discount, name)))
    return amounts


def check_program_currency(reward: rewards_pb2.Reward, program_currency: str) -> None:
    """Refuse a discount in another currency than the program's: a till would apply its minor
    units as the program's."""
    for field, money in discount_money(reward):
        if money.currency != program_currency:
            raise InvalidArgument(
                f"{field}.currency", f"must be the program's currency {program_currency}"
            )


# An image URL is a link clients load as it is: absolute, to a web server, of bounded length.
IMAGE_URL_LENGTH_MAX = 2048
IMAGE_URL_SCHEMES = frozenset({"https", "http"})


def _check_image_url(url: str) -> None:
    """Empty, or an absolute https or http URL with a host and no credentials."""
    field = "reward.image_url"
    if not url:
        return
    if len(url) > IMAGE_URL_LENGTH_MAX:
        raise InvalidArgument(field, f"is longer than {IMAGE_URL_LENGTH_MAX} characters")
    if any(character.isspace() or not character.isprintable() for character in url):
        raise InvalidArgument(field, "must not contain spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - parsing the port refuses one that is not a number
    except ValueError:
        raise InvalidArgument(field, "is not a URL") from None
    if parts.scheme not in IMAGE_URL_SCHEMES or not parts.hostname:
        raise InvalidArgument(field, "must be an absolute https or http URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument(field, "must not carry a user name or password")


# -- changes to a reward ----------------------------------------------------------------------

# The fields UpdateReward may change; stock changes through AdjustStock, archiving through
# ArchiveReward.
UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "kind",
        "points_price",
        "discount",
        "sku",
        "image_url",
        "valid_from",
        "valid_until",
        "code_validity_days",
        "per_member_limit",
        "eligibility",
        "code_source",
        "store_ids",
        "status",
    }
)
UPDATE_PATHS_MAX = 32
STORE_IDS_MAX = 1000
ELIGIBILITY_ENTRIES_MAX = 100


def merge_update(
    stored: rewards_pb2.Reward, change: rewards_pb2.Reward, paths: list[str]
) -> rewards_pb2.Reward:
    """The reward after changing the fields named by `paths`, checked as a whole."""
    if not paths:
        raise InvalidArgument("update_mask", "names no field to change")
    if len(paths) > UPDATE_PATHS_MAX:
        raise InvalidArgument("update_mask", f"names more than {UPDATE_PATHS_MAX} fields")
    merged = rewards_pb2.Reward()
    merged.CopyFrom(stored)
    for index, path in enumerate(paths):
        if path not in UPDATABLE_FIELDS:
            raise InvalidArgument(f"update_mask.paths[{index}]", f"{path!r} cannot be updated")
        if change.DESCRIPTOR.fields_by_name[path].message_type is not None or path == "store_ids":
            merged.ClearField(path)  # type: ignore[arg-type]
            if path == "store_ids":
                merged.store_ids.extend(change.store_ids)
            elif change.HasField(path):  # type: ignore[arg-type]
                getattr(merged, path).CopyFrom(getattr(change, path))
        else:
            setattr(merged, path, getattr(change, path))
    if merged.status == rewards_pb2.REWARD_STATUS_UNSPECIFIED:
        raise InvalidArgument("reward.status", "is required when named in update_mask")
    check_new_reward(merged)
    return merged


def check_limits(reward: rewards_pb2.Reward) -> None:
    """Bounds of the repeated fields of a reward."""
    if len(reward.store_ids) > STORE_IDS_MAX:
        raise InvalidArgument("reward.store_ids", f"has more than {STORE_IDS_MAX} stores")
    for index, store_id in enumerate(reward.store_ids):
        validation.text(store_id, f"reward.store_ids[{index}]", length_max=64)
    for name in ("tier_codes", "segment_ids"):
        entries = getattr(reward.eligibility, name)
        if len(entries) > ELIGIBILITY_ENTRIES_MAX:
            raise InvalidArgument(
                f"reward.eligibility.{name}", f"has more than {ELIGIBILITY_ENTRIES_MAX} entries"
            )
    for index, segment_id in enumerate(reward.eligibility.segment_ids):
        validation.text(segment_id, f"reward.eligibility.segment_ids[{index}]", length_max=64)


# -- eligibility and availability --------------------------------------------------------------


def is_eligible(reward: rewards_pb2.Reward, *, tier_code: str, segment_ids: set[str]) -> bool:
    """Whether the member's tier and segments let them redeem; empty lists mean everybody."""
    tiers = reward.eligibility.tier_codes
    if tiers and tier_code not in tiers:
        return False
    segments = reward.eligibility.segment_ids
    return not segments or bool(segment_ids & set(segments))


def is_available(reward: rewards_pb2.Reward, now: datetime.datetime) -> bool:
    """Active and inside its validity window."""
    if reward.status != rewards_pb2.REWARD_STATUS_ACTIVE:
        return False
    if reward.HasField("valid_from") and reward.valid_from.ToDatetime(datetime.UTC) > now:
        return False
    return not (
        reward.HasField("valid_until") and reward.valid_until.ToDatetime(datetime.UTC) <= now
    )


def code_expiry(
    reward: rewards_pb2.Reward, now: datetime.datetime, *, zone: ZoneInfo | None
) -> datetime.datetime | None:
    """When a code issued now expires: after code_validity_days, else at valid_until, else never.

    "Valid for 30 days" ends at the same local time 30 calendar days on in the program's time
    zone `zone` (needed only for a reward with code_validity_days), however the clocks change
    in between: a code issued at 10:15 is valid until 10:15, not 09:15 or 11:15."""
    if reward.code_validity_days:
        assert zone is not None, "code_validity_days counts the program's local days"
        return local_days_later(now, reward.code_validity_days, zone)
    if reward.HasField("valid_until"):
        return reward.valid_until.ToDatetime(datetime.UTC)
    return None


def offered_reward(reward: rewards_pb2.Reward, offered: bytes | None) -> rewards_pb2.Reward:
    """The reward whose terms a redemption's codes carry (discount, stores, validity): as Redeem
    read it (`offered`, the stored definition), the version whose price the hold was placed for,
    so an edit while the points are held never pairs one version's terms with the other's price.
    Redemptions stored before that was kept take `reward`'s, the reward as it is now."""
    return reward if offered is None else rewards_pb2.Reward.FromString(offered)


def offered_discount(offered: rewards_pb2.Reward) -> bytes | None:
    """The discount a redemption's codes carry (a serialised Discount, None without one)."""
    if not offered.HasField("discount"):
        return None
    return offered.discount.SerializeToString(deterministic=True)


def code_source(reward: rewards_pb2.Reward) -> int:
    return reward.code_source or rewards_pb2.CODE_SOURCE_GENERATED


# -- redemptions ---------------------------------------------------------------------------------

QUANTITY_MAX = 10
MEMBER_ID_LENGTH_MAX = 64
# The most items a list call answers with.
PAGE_SIZE_MAX = 200
# The channels a redemption may be made through: every known one; a redemption says where.
CHANNELS = frozenset(common_pb2.Channel.values()) - {common_pb2.CHANNEL_UNSPECIFIED}


def check_redeem(request: rewards_pb2.RedeemRequest) -> None:
    """What every redemption request has been held to since the first: checked before a retry
    is answered from its record. A rule added later goes in `check_new_redemption`, or it would
    refuse the retries of redemptions stored before it."""
    validation.program_id(request.program_id)
    validation.text(request.member_id, "member_id", length_max=MEMBER_ID_LENGTH_MAX)
    validation.text(request.reward_id, "reward_id", length_max=64)
    validation.in_range(request.quantity, "quantity", low=1, high=QUANTITY_MAX)
    validation.text(request.store_id, "store_id", required=False, length_max=64)


def check_new_redemption(request: rewards_pb2.RedeemRequest) -> None:
    """What a redemption not yet stored must meet besides: a retry of one stored before these
    rules (channel 0) is still answered from its record."""
    if request.channel == common_pb2.CHANNEL_UNSPECIFIED:
        raise InvalidArgument("channel", "is required (a channel such as CHANNEL_APP)")
    if request.channel not in CHANNELS:
        raise InvalidArgument("channel", f"{request.channel} is not a channel")


# The steps of a redemption and the status each shows as.
PENDING = "pending"
HOLD_PLACED = "hold_placed"
STOCK_RESERVED = "stock_reserved"
CODE_ISSUED = "code_issued"
COMMITTED = "committed"
VOIDING = "voiding"
VOIDED = "voided"
CANCELLING = "cancelling"
CANCELLED = "cancelled"
FINAL_STEPS = frozenset({COMMITTED, VOIDED, CANCELLED})
STEP_STATUS = {
    PENDING: rewards_pb2.REDEMPTION_STATUS_PENDING,
    HOLD_PLACED: rewards_pb2.REDEMPTION_STATUS_PENDING,
    STOCK_RESERVED: rewards_pb2.REDEMPTION_STATUS_PENDING,
    CODE_ISSUED: rewards_pb2.REDEMPTION_STATUS_PENDING,
    VOIDING: rewards_pb2.REDEMPTION_STATUS_PENDING,
    COMMITTED: rewards_pb2.REDEMPTION_STATUS_COMPLETED,
    # Until the points are back, a cancellation in progress still shows as completed.
    CANCELLING: rewards_pb2.REDEMPTION_STATUS_COMPLETED,
    CANCELLED: rewards_pb2.REDEMPTION_STATUS_CANCELLED,
    VOIDED: rewards_pb2.REDEMPTION_STATUS_FAILED,
}


def cancel_refusal(*, used: int, partner: int, expired: int) -> tuple[str, str] | None:
    """Why a completed redemption with these codes cannot be cancelled (reason, message), or
    None. A used code was spent. A partner's code cannot be taken back from the partner (the
    member may use it there, unseen here): the points would buy it for nothing, and back in the
    pool one code would go to two members. A code that expired unused has lapsed, as codes do:
    giving the points back then would make expiry a reminder (redeem, let it lapse, cancel).
    An operator who wants to make good still can, with a ledger adjustment."""
    if used:
        return "CODE_ALREADY_USED", "a code of the redemption was used; it cannot be cancelled"
    if partner:
        return (
            "PARTNER_CODE_ISSUED",
            "the redemption's partner codes were handed out and cannot be taken back from the "
            "partner; it cannot be cancelled",
        )
    if expired:
        return (
            "CODE_EXPIRED",
            "a code of the redemption expired unused; expired codes are not refunded",
        )
    return None


# The note sent with the ledger's VoidHold: well within the ledger's limit on a note (1000
# characters), so a void is never refused for its note.
VOID_NOTE_LENGTH_MAX = 200


def void_note(*, redemption_id: str, failure_code: str, failure_reason: str) -> str:
    """Why a redemption's hold is voided, as the ledger keeps it (Hold.void_note): the
    redemption and its cause, both fixed when it began voiding, so every attempt sends the same."""
    note = f"redemption {redemption_id} {failure_code or 'FAILED'}: {failure_reason}"
    return note.replace("\x00", "")[:VOID_NOTE_LENGTH_MAX]


# -- tier perks ----------------------------------------------------------------------------------

PERKS_PER_TIER_MAX = 50


def check_tier_perks(request: rewards_pb2.SetTierPerksRequest) -> None:
    validation.program_id(request.program_id)
    validation.code(request.tier_code, "tier_code")
    if len(request.perks) > PERKS_PER_TIER_MAX:
        raise InvalidArgument("perks", f"has more than {PERKS_PER_TIER_MAX} perks")
    seen: set[str] = set()
    for index, perk in enumerate(request.perks):
        field = f"perks[{index}]"
        validation.code(perk.perk_code, f"{field}.perk_code")
        if perk.perk_code in seen:
            raise InvalidArgument(f"{field}.perk_code", f"{perk.perk_code!r} is listed twice")
        seen.add(perk.perk_code)
        validation.text(perk.name, f"{field}.name", length_max=120)
        validation.text(perk.description, f"{field}.description", required=False)
        if perk.reward_id:
            validation.text(perk.reward_id, f"{field}.reward_id", length_max=64)


# -- the ledger's tier changes ---------------------------------------------------------------


def follow_tier_codes(
    codes: list[str], *, mappings: dict[str, str], defined: set[str]
) -> tuple[list[str], list[str]]:
    """(the codes rewritten through the ledger's mappings, in order and without duplicates; the
    codes neither defined nor mapped). A removed code mapped to X becomes X: its members are in
    X now, so a reward they were eligible for stays theirs. An unmapped undefined code is kept
    (the operator decides; it matches nobody meanwhile) and reported."""
    rewritten: list[str] = []
    undefined: list[str] = []
    for code in codes:
        target = mappings.get(code, code)
        if target not in defined:
            undefined.append(target)
        if target not in rewritten:
            rewritten.append(target)
    return rewritten, undefined
