"""The JetStream subjects identity publishes (through its outbox) and consumes."""

from services.shared.jetstream import StreamSpec

# The ledger stream is declared here too: identity consumes the ledger's tiers and may start
# first.
STREAMS = (StreamSpec(name="identity"), StreamSpec(name="ledger"))

PROGRAM_CREATED = "identity.program_created"
PROGRAM_UPDATED = "identity.program_updated"
MEMBER_ENROLLED = "identity.member_enrolled"
MEMBER_UPDATED = "identity.member_updated"
MEMBER_MERGED = "identity.member_merged"
MEMBER_ERASED = "identity.member_erased"
CONSENT_CHANGED = "identity.consent_changed"
