"""The JetStream subjects the rewards service publishes (through its outbox)."""

from services.shared.jetstream import StreamSpec

STREAMS = (StreamSpec(name="rewards"),)

REWARD_REDEEMED = "rewards.reward_redeemed"
REDEMPTION_CANCELLED = "rewards.redemption_cancelled"
CODE_USED = "rewards.code_used"
PERK_GRANTED = "rewards.perk_granted"
PERK_WITHDRAWN = "rewards.perk_withdrawn"
