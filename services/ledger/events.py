"""The JetStream subjects the ledger publishes (through its outbox)."""

from services.shared.jetstream import StreamSpec

STREAMS = (StreamSpec(name="ledger"),)

POINTS_POSTED = "ledger.points_posted"
TIER_CHANGED = "ledger.tier_changed"
POINTS_EXPIRING = "ledger.points_expiring"
POINTS_EXPIRED = "ledger.points_expired"
HOLD_PLACED = "ledger.hold_placed"
HOLD_COMMITTED = "ledger.hold_committed"
HOLD_VOIDED = "ledger.hold_voided"
