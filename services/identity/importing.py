"""Bulk enrolment, the pure part: an ImportMembers batch checked row by row (pure, no I/O).

A problem of the whole batch (columns of different lengths, too many rows) refuses the batch,
naming the field; a problem of one row rejects that row only, with a message that names the
column and never echoes the value (the stored answer must hold no personal data).
"""

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from loyalty.identity.v1 import identity_pb2
from services.identity import identifiers, profiles
from services.identity.identifiers import IdentifierKey
from services.identity.profiles import Profile
from services.shared.errors import InvalidArgument, ResourceExhausted
from services.shared.idempotency import IDEMPOTENCY_KEY_LENGTH_MAX

BATCH_SIZE_MAX = 10_000
BATCH_ID_LENGTH_MAX = 128
# Request column, identifier kind and the name a message uses for it.
IDENTIFIER_COLUMNS = (
    ("external_ids", identifiers.EXTERNAL_ID, "external_id"),
    ("emails", identifiers.EMAIL, "email"),
    ("phones", identifiers.PHONE, "phone"),
    ("card_numbers", identifiers.CARD_NUMBER, "card_number"),
)
PROFILE_COLUMNS = ("given_names", "family_names", "birthdays", "locales")
OPTIONAL_COLUMNS = tuple(c for c, _, _ in IDENTIFIER_COLUMNS) + PROFILE_COLUMNS


@dataclass(frozen=True)
class Candidate:
    """A row that may become a member."""

    index: int
    key_digest: bytes
    keys: tuple[IdentifierKey, ...]
    profile: Profile


@dataclass
class CheckedBatch:
    size: int
    candidates: list[Candidate]
    # Row index to the message of its rejection.
    rejected: dict[int, str]
    # Row index to the earlier row of the batch it repeats (same key or a shared identifier).
    repeats: dict[int, int]
    # The rows that repeat an earlier one by a shared identifier only: their other identifiers
    # are checked against the program's (blocked, or another member's) as any row's are.
    repeats_by_identifier: list[Candidate] = field(default_factory=list)


def check_batch_shape(request: identity_pb2.ImportMembersRequest) -> int:
    if not request.batch_id or len(request.batch_id) > BATCH_ID_LENGTH_MAX:
        raise InvalidArgument("batch_id", f"must be 1 to {BATCH_ID_LENGTH_MAX} characters")
    if not request.batch_id.isprintable():
        raise InvalidArgument("batch_id", "must be printable")
    size = len(request.idempotency_keys)
    if size == 0:
        raise InvalidArgument("idempotency_keys", "must have one key per member")
    if size > BATCH_SIZE_MAX:
        raise ResourceExhausted(
            f"at most {BATCH_SIZE_MAX} members per batch, got {size}", field="idempotency_keys"
        )
    for column in OPTIONAL_COLUMNS:
        count = len(getattr(request, column))
        if count not in (0, size):
            raise InvalidArgument(column, f"has {count} values for {size} members")
    return size


def key_digest(idempotency_key: str) -> bytes:
    return hashlib.sha256(idempotency_key.encode()).digest()


def _birthday(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        date = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument("birthday", "must be a date such as 1990-04-23") from None
    return profiles.birthday(date.year, date.month, date.day, "birthday")


def _value(request: identity_pb2.ImportMembersRequest, column: str, index: int) -> str:
    values = getattr(request, column)
    return values[index] if values else ""


def check_row(request: identity_pb2.ImportMembersRequest, index: int, region: str) -> Candidate:
    key = request.idempotency_keys[index]
    if not key or len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
        raise InvalidArgument(
            "idempotency_key", f"must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} characters"
        )
    keys = []
    for column, kind, name in IDENTIFIER_COLUMNS:
        value = _value(request, column, index).strip()
        if not value:
            continue
        try:
            keys.append(identifiers.normalise(kind, value, "", default_region=region))
        except InvalidArgument as error:
            raise InvalidArgument(name, error.message) from None
    if not keys:
        raise InvalidArgument(
            "identifiers", "needs at least one of external_id, email, phone, card_number"
        )
    profile = profiles.validate_profile(
        Profile(
            given_name=_value(request, "given_names", index).strip(),
            family_name=_value(request, "family_names", index).strip(),
            birthday=_birthday(_value(request, "birthdays", index).strip()),
            locale=_value(request, "locales", index).strip(),
        ),
        prefix="",
    )
    return Candidate(index, key_digest(key), tuple(keys), profile)


def check_rows(request: identity_pb2.ImportMembersRequest, region: str) -> CheckedBatch:
    size = check_batch_shape(request)
    batch = CheckedBatch(size, [], {}, {})
    first_of_key: dict[bytes, int] = {}
    first_of_identifier: dict[IdentifierKey, int] = {}
    for index in range(size):
        try:
            candidate = check_row(request, index, region)
        except InvalidArgument as error:
            batch.rejected[index] = error.details()
            continue
        earlier = first_of_key.get(candidate.key_digest)
        if earlier is None:
            earlier = next(
                (first_of_identifier[k] for k in candidate.keys if k in first_of_identifier),
                None,
            )
            if earlier is not None:
                batch.repeats_by_identifier.append(candidate)
        if earlier is not None:
            batch.repeats[index] = earlier
            continue
        first_of_key[candidate.key_digest] = index
        for identifier in candidate.keys:
            first_of_identifier[identifier] = index
        batch.candidates.append(candidate)
    return batch
