"""Identifier kinds and their normal forms (pure): e-mail, E.164 phone, card numbers with a Luhn
check digit, social subjects (provider + subject), POS customer ids and external ids.

`normalise` is the one way in: it checks the input and returns the key an identifier is stored and
looked up under, so "Alice@Example.COM" and "alice@example.com" are the same identifier. Every
failure is INVALID_ARGUMENT naming the field (`identifiers[0].value`, `identifier.provider`, ...).
"""

import re
import secrets
from dataclasses import dataclass

import idna
import phonenumbers

from loyalty.common.v1 import common_pb2
from services.shared.errors import InvalidArgument

EMAIL = common_pb2.IDENTIFIER_KIND_EMAIL
PHONE = common_pb2.IDENTIFIER_KIND_PHONE
CARD_NUMBER = common_pb2.IDENTIFIER_KIND_CARD_NUMBER
APP_QR_TOKEN = common_pb2.IDENTIFIER_KIND_APP_QR_TOKEN
SOCIAL_SUBJECT = common_pb2.IDENTIFIER_KIND_SOCIAL_SUBJECT
POS_CUSTOMER_ID = common_pb2.IDENTIFIER_KIND_POS_CUSTOMER_ID
EXTERNAL_ID = common_pb2.IDENTIFIER_KIND_EXTERNAL_ID

# Kinds that are stored and attached to members; QR tokens are signed, never stored.
STORED_KINDS = frozenset({EMAIL, PHONE, CARD_NUMBER, SOCIAL_SUBJECT, POS_CUSTOMER_ID, EXTERNAL_ID})
# Kinds that can be blocked when lost or stolen: physical cards, which can fall into other hands.
BLOCKABLE_KINDS = frozenset({CARD_NUMBER})

EMAIL_LENGTH_MAX = 254
EMAIL_LOCAL_LENGTH_MAX = 64
PHONE_INPUT_LENGTH_MAX = 40
CARD_LENGTH_MIN = 12
CARD_LENGTH_MAX = 19
SUBJECT_LENGTH_MAX = 255
ID_LENGTH_MAX = 128

# Matched whole (fullmatch): `$` matches before a final newline as well, so "alice\n@example.com"
# and provider "google\n" passed `match` as an address and a provider of their own.
_EMAIL_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOP_LEVEL_DOMAIN = re.compile(r"^([a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_NO_SPACE = re.compile(r"^\S+$")
_CARD_SEPARATORS = re.compile(r"[ -]")
# Letters IDNA2003 maps to others (ß to "ss", final sigma to sigma) where IDNA2008 keeps them.
_IDNA2003_REMAPPED = frozenset("ßς")


@dataclass(frozen=True)
class IdentifierKey:
    """An identifier in normal form: how it is stored, unique within a program, and looked up."""

    kind: int
    provider: str
    value: str


def normalise(
    kind: int, value: str, provider: str, *, field_prefix: str = "", default_region: str = ""
) -> IdentifierKey:
    """The normal form of a stored identifier; `default_region` (ISO 3166, such as "NL") lets a
    phone number be given in national form."""
    if kind == APP_QR_TOKEN:
        raise InvalidArgument(
            f"{field_prefix}kind", "QR tokens are issued by IssueQrToken, not attached"
        )
    if kind not in STORED_KINDS:
        raise InvalidArgument(f"{field_prefix}kind", "must be a known identifier kind")
    value_field, provider_field = f"{field_prefix}value", f"{field_prefix}provider"
    if not value.strip():
        raise InvalidArgument(value_field, "is required")
    if kind == SOCIAL_SUBJECT:
        return IdentifierKey(
            kind, _provider(provider, provider_field, required=True), _subject(value, value_field)
        )
    if kind in (POS_CUSTOMER_ID, EXTERNAL_ID):
        return IdentifierKey(
            kind, _provider(provider, provider_field, required=False), _plain_id(value, value_field)
        )
    if provider:
        raise InvalidArgument(provider_field, "must be empty for this kind of identifier")
    if kind == EMAIL:
        return IdentifierKey(kind, "", email(value, value_field))
    if kind == PHONE:
        return IdentifierKey(kind, "", phone(value, value_field, default_region=default_region))
    return IdentifierKey(kind, "", card_number(value, value_field))


def email(value: str, field: str) -> str:
    """Lower-cased, the domain in its ASCII (IDNA) form."""
    message = "must be an e-mail address such as name@example.com"
    address = value.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or len(local) > EMAIL_LOCAL_LENGTH_MAX or not _EMAIL_LOCAL.fullmatch(local):
        raise InvalidArgument(field, message)
    domain = _ascii_domain(domain, field, message)
    labels = domain.split(".")
    if (
        len(labels) < 2
        or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        or not _TOP_LEVEL_DOMAIN.fullmatch(labels[-1])
    ):
        raise InvalidArgument(field, message)
    normal = f"{local}@{domain}"
    if len(normal) > EMAIL_LENGTH_MAX:
        raise InvalidArgument(field, f"is longer than {EMAIL_LENGTH_MAX} characters")
    return normal


def _ascii_domain(domain: str, field: str, message: str) -> str:
    """The domain's A-labels by IDNA2008 (UTS 46, non-transitional), as registries, browsers and
    mail systems have it: "straße.de" is "xn--strae-oqa.de", whichever form is given, and not
    "strasse.de", another domain, which Python's IDNA2003 codec made of it. A domain IDNA2008
    refuses and IDNA2003 took (symbols such as "☃.com") keeps its IDNA2003 form, so an address
    accepted before still is, under the key it was stored with; but not one with ß or final
    sigma, which IDNA2003 maps to another domain: an invisible joiner made IDNA2008 refuse
    "straße\u200d.de", and the fallback then made it "strasse.de", someone else's."""
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except UnicodeError:
        pass
    if _IDNA2003_REMAPPED & set(domain):
        raise InvalidArgument(field, message)
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidArgument(field, message) from None


def phone(value: str, field: str, *, default_region: str = "") -> str:
    """E.164, such as +31612345678; a national number needs the program's region."""
    message = "must be a valid phone number in E.164 form such as +31612345678"
    if len(value) > PHONE_INPUT_LENGTH_MAX:
        raise InvalidArgument(field, message)
    try:
        parsed = phonenumbers.parse(value, default_region or None)
    except phonenumbers.NumberParseException:
        raise InvalidArgument(field, message) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidArgument(field, message)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def card_number(value: str, field: str) -> str:
    """Digits only (spaces and dashes dropped), 12 to 19 of them, ending in a Luhn check digit."""
    digits = _CARD_SEPARATORS.sub("", value.strip())
    if not digits.isascii() or not digits.isdigit():
        raise InvalidArgument(field, "must be a card number of digits")
    if not CARD_LENGTH_MIN <= len(digits) <= CARD_LENGTH_MAX:
        raise InvalidArgument(
            field, f"must have {CARD_LENGTH_MIN} to {CARD_LENGTH_MAX} digits, has {len(digits)}"
        )
    if not luhn_valid(digits):
        raise InvalidArgument(field, "has a wrong check digit (Luhn)")
    return digits


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass the Luhn check."""
    total = 0
    for index, char in enumerate(reversed(payload)):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str(-total % 10)


def luhn_valid(number: str) -> bool:
    return len(number) > 1 and luhn_check_digit(number[:-1]) == number[-1]


def random_card_numbers(*, prefix: str, length: int, count: int) -> list[str]:
    """`count` distinct random card numbers: prefix, random digits, Luhn check digit. Random rather
    than sequential, so a card number cannot be guessed from another."""
    body_digits = length - len(prefix) - 1
    numbers: set[str] = set()
    while len(numbers) < count:
        body = str(secrets.randbelow(10**body_digits)).zfill(body_digits)
        payload = prefix + body
        numbers.add(payload + luhn_check_digit(payload))
    return sorted(numbers)


def region_of_locale(locale: str) -> str:
    """The region of a locale such as "nl-NL" ("NL"), or "" when it names none."""
    _, _, region = locale.partition("-")
    return region if len(region) == 2 and region.isalpha() else ""


def _provider(value: str, field: str, *, required: bool) -> str:
    if not value:
        if required:
            raise InvalidArgument(field, "is required, such as google or apple")
        return ""
    if not _PROVIDER.fullmatch(value):
        raise InvalidArgument(field, "must be 1-63 lowercase letters, digits, '.', '-' or '_'")
    return value


def _subject(value: str, field: str) -> str:
    if len(value) > SUBJECT_LENGTH_MAX:
        raise InvalidArgument(field, f"is longer than {SUBJECT_LENGTH_MAX} characters")
    if not _NO_SPACE.fullmatch(value) or not value.isprintable():
        raise InvalidArgument(field, "must be the provider's subject, without spaces")
    return value


def _plain_id(value: str, field: str) -> str:
    trimmed = value.strip()
    if len(trimmed) > ID_LENGTH_MAX:
        raise InvalidArgument(field, f"is longer than {ID_LENGTH_MAX} characters")
    if not trimmed.isprintable():
        raise InvalidArgument(field, "must not contain control characters")
    return trimmed
