"""The rewards service's pure rules (no I/O)."""

from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument

POINTS_PRICE_MAX = 10**12
STOCK_MAX = 10**9
PERCENT_BPS_MAX = 10_000
# Kinds whose value is a discount at a till or webshop.
DISCOUNT_KINDS = {common_pb2.REWARD_KIND_COUPON, common_pb2.REWARD_KIND_VOUCHER}


def check_new_reward(reward: rewards_pb2.Reward, *, program_currency: str = "") -> None:
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
    if (
        reward.HasField("valid_from")
        and reward.HasField("valid_until")
        and reward.valid_until.ToNanoseconds() <= reward.valid_from.ToNanoseconds()
    ):
        raise InvalidArgument("reward.valid_until", "must be after valid_from")
    validation.in_range(reward.code_validity_days, "reward.code_validity_days", low=0, high=3660)
    if not reward.stock.unlimited:
        validation.in_range(reward.stock.available, "reward.stock.available", low=0, high=STOCK_MAX)
    validation.in_range(reward.per_member_limit, "reward.per_member_limit", low=0, high=STOCK_MAX)
    for index, tier_code in enumerate(reward.eligibility.tier_codes):
        validation.code(tier_code, f"reward.eligibility.tier_codes[{index}]")
    if reward.status == rewards_pb2.REWARD_STATUS_ARCHIVED:
        raise InvalidArgument("reward.status", "a new reward is a draft or active")


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
