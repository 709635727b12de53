"""Members as identity stores them (pure records and rules, no I/O)."""

import datetime as dt
import secrets
import time
import uuid
from dataclasses import dataclass

from services.identity.identifiers import IdentifierKey
from services.identity.profiles import Profile

ACTIVE = "active"
SUSPENDED = "suspended"
MERGED = "merged"
ERASED = "erased"
# A member in these states can no longer change; its id stays for the ledger and audit.
CLOSED_STATUSES = frozenset({MERGED, ERASED})
# identifier_lookup.member_status of a blocked card, which belongs to no member.
BLOCKED = "blocked"
# Why a card was blocked (identifier_lookup.blocked_reason). A lost card found again may go back
# to its member; a stolen one stays blocked.
LOST = "lost"
STOLEN = "stolen"

IDENTIFIERS_PER_REQUEST_MAX = 20
IDENTIFIERS_PER_MEMBER_MAX = 50
CONSENTS_PER_REQUEST_MAX = 3
REFERRAL_CODE_LENGTH = 8
# No 0/O, 1/I/L: a referral code is read aloud and typed from paper.
REFERRAL_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True, kw_only=True)
class StoredIdentifier:
    key: IdentifierKey
    verified: bool
    added_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class BlockedIdentifier:
    """A card of the member reported lost or stolen, still blocked (reason LOST or STOLEN)."""

    key: IdentifierKey
    verified: bool
    # When the member attached it; None for a card blocked before the platform kept this.
    added_at: dt.datetime | None
    reason: str
    blocked_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class StoredConsent:
    channel: int
    granted: bool
    source_channel: int
    changed_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class StoredMember:
    program_id: str
    member_id: str
    status: str
    profile: Profile
    enrollment_channel: int
    enrollment_store_id: str
    entry_tier_code: str
    referral_code: str
    referrer_member_id: str
    merged_into_member_id: str
    enrolled_at: dt.datetime
    updated_at: dt.datetime
    erased_at: dt.datetime | None


@dataclass(frozen=True, kw_only=True)
class MemberView:
    """A member with what GetMember shows of it."""

    member: StoredMember
    identifiers: list[StoredIdentifier]
    # The cards blocked for the member or a member merged into it, oldest block first.
    blocked_identifiers: list[BlockedIdentifier]
    consents: list[StoredConsent]


def new_member_id() -> str:
    """A UUIDv7: time-ordered, so new members append to the primary key's index."""
    milliseconds = time.time_ns() // 1_000_000
    random_bits = secrets.randbits(74)
    value = (
        (milliseconds & (2**48 - 1)) << 80
        | 0x7 << 76
        | (random_bits >> 62) << 64
        | 0b10 << 62
        | (random_bits & (2**62 - 1))
    )
    return str(uuid.UUID(int=value))


def new_referral_code() -> str:
    return "".join(secrets.choice(REFERRAL_CODE_ALPHABET) for _ in range(REFERRAL_CODE_LENGTH))


def typed_referral_code(value: str) -> str:
    """A referral code as a friend passes it on: in lower case, grouped with a dash or a space
    ("abcd 2345"), as people retype a code they were told. The code is upper case without
    separators, and its alphabet has no letters that differ only by case."""
    return "".join(value.split()).replace("-", "").upper()


def is_referral_code(value: str) -> bool:
    return len(value) == REFERRAL_CODE_LENGTH and all(c in REFERRAL_CODE_ALPHABET for c in value)
