"""The JetStream subjects the ledger publishes (through its outbox)."""

from services.shared.jetstream import StreamSpec

# The identity stream is declared here too: the ledger consumes from it and may start first.
STREAMS = (StreamSpec(name="ledger"), StreamSpec(name="identity"))

POINTS_POSTED = "ledger.points_posted"
TIER_CHANGED = "ledger.tier_changed"
TIER_DEFINITIONS_CHANGED = "ledger.tier_definitions_changed"
POINTS_EXPIRING = "ledger.points_expiring"
POINTS_EXPIRED = "ledger.points_expired"
HOLD_PLACED = "ledger.hold_placed"
HOLD_COMMITTED = "ledger.hold_committed"
HOLD_VOIDED = "ledger.hold_voided"
