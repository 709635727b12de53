"""The JetStream subjects the rewards service publishes (through its outbox) and consumes."""

from services.shared.jetstream import ConsumerSpec, StreamSpec

# The ledger and identity streams are declared here too: rewards consumes from them and may
# start first.
STREAMS = (StreamSpec(name="rewards"), StreamSpec(name="ledger"), StreamSpec(name="identity"))

REWARD_REDEEMED = "rewards.reward_redeemed"
REDEMPTION_CANCELLED = "rewards.redemption_cancelled"
CODE_USED = "rewards.code_used"
PERK_GRANTED = "rewards.perk_granted"
PERK_WITHDRAWN = "rewards.perk_withdrawn"

TIER_CHANGED_CONSUMER = ConsumerSpec(
    stream="ledger",
    durable="rewards_tier_changed",
    filter_subjects=("ledger.tier_changed",),
)

# Enrolments put members in the entry tier, which holds perks too; merged-away and erased members
# hold none (services/rewards/perk_members.py). One consumer, so a member's events of one stream
# are applied in the order identity published them.
MEMBERS_CONSUMER = ConsumerSpec(
    stream="identity",
    durable="rewards_members",
    filter_subjects=(
        "identity.member_enrolled",
        "identity.member_merged",
        "identity.member_erased",
    ),
)
