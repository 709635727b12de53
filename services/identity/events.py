"""The JetStream subjects identity publishes (through its outbox)."""

from services.shared.jetstream import StreamSpec

STREAMS = (StreamSpec(name="identity"),)

PROGRAM_CREATED = "identity.program_created"
PROGRAM_UPDATED = "identity.program_updated"
MEMBER_ENROLLED = "identity.member_enrolled"
MEMBER_UPDATED = "identity.member_updated"
MEMBER_MERGED = "identity.member_merged"
MEMBER_ERASED = "identity.member_erased"
CONSENT_CHANGED = "identity.consent_changed"
