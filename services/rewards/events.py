"""The JetStream subjects the rewards service publishes (through its outbox) and consumes."""

from services.shared.jetstream import ConsumerSpec, StreamSpec

# The ledger stream is declared here too: rewards consumes from it and may start first.
STREAMS = (StreamSpec(name="rewards"), StreamSpec(name="ledger"))

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
