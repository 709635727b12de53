"""Signed tokens (pure): app QR card tokens and member tokens, as JWTs signed with Ed25519 (EdDSA).

A QR token is what a till scans: it verifies it offline with the program's published key set
(GetQrKeySet), checking the signature, the key's window and the token's expiry, so a store keeps
earning when the network is down; identity checks a QR token again when the transaction is
posted, at the moment it was scanned (`verify`'s `at`), so a post made later still finds it
valid. Retired keys are kept (only their verifying life ends), so a token signed by one verifies
at a moment within that life. Member tokens serve the gateway in the same way. A JWT was
chosen because every till and gateway platform has a library that verifies one.
"""

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.identity.errors import InvalidToken

ALGORITHM = "EdDSA"
QR_PURPOSE = "qr"
MEMBER_PURPOSE = "member"
TOKEN_LENGTH_MAX = 2048
ISSUER = "loyalty-identity"

_RAW = serialization.Encoding.Raw
# What a key id may look like (ours are `qr-20261124-1a2b3c4d`). The id in a token's header is
# the sender's, checked before it is looked up: the header is not signed, and text PostgreSQL
# cannot take (a lone surrogate, NUL, escaped in the header's JSON) failed the lookup itself.
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True, kw_only=True)
class SigningKey:
    program_id: str
    key_id: str
    purpose: str
    private_key: bytes
    public_key: bytes
    not_before: dt.datetime
    # Unset while the key signs; after a rotation, the end of its verifying life.
    not_after: dt.datetime | None


def new_signing_key(*, program_id: str, purpose: str, now: dt.datetime) -> SigningKey:
    private = Ed25519PrivateKey.generate()
    # Whole seconds, as a token's iat: a token issued in the key's first second is in its window.
    now = now.replace(microsecond=0)
    return SigningKey(
        program_id=program_id,
        key_id=f"{purpose}-{now:%Y%m%d}-{secrets.token_hex(4)}",
        purpose=purpose,
        private_key=private.private_bytes(
            _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ),
        public_key=private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw),
        not_before=now,
        not_after=None,
    )


def audience(purpose: str, program_id: str) -> str:
    return f"{purpose}:{program_id}"


def sign(
    key: SigningKey, *, member_id: str, issued_at_s: int, expires_at_s: int, **claims: Any
) -> str:
    payload = {
        "iss": ISSUER,
        "aud": audience(key.purpose, key.program_id),
        "sub": member_id,
        "iat": issued_at_s,
        "exp": expires_at_s,
        **claims,
    }
    private = Ed25519PrivateKey.from_private_bytes(key.private_key)
    return jwt.encode(payload, private, algorithm=ALGORITHM, headers={"kid": key.key_id})


def key_id_of(token: str) -> str:
    """The id of the key that claims to have signed `token`; InvalidToken if it is no JWT of ours."""
    if not token or len(token) > TOKEN_LENGTH_MAX:
        raise InvalidToken("is not a token of this service")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken("is not a token of this service") from None
    key_id = header.get("kid")
    if (
        header.get("alg") != ALGORITHM
        or not isinstance(key_id, str)
        or not _KEY_ID.fullmatch(key_id)
    ):
        raise InvalidToken("is not a token of this service")
    return key_id


def verify(token: str, key: SigningKey, *, at: dt.datetime, clock_skew_s: float) -> dict[str, Any]:
    """The claims of `token` if `key` signed it, within the key's window and the token's own, as
    they were at `at` (now, or when a till scanned a QR token)."""
    if key.not_after is not None and at > key.not_after + dt.timedelta(seconds=clock_skew_s):
        raise InvalidToken("was signed by a retired key")
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    try:
        # PyJWT checks the times only at its own clock: they are checked below, at `at`.
        claims: dict[str, Any] = jwt.decode(
            token,
            public,
            algorithms=[ALGORITHM],
            audience=audience(key.purpose, key.program_id),
            issuer=ISSUER,
            options={
                "require": ["exp", "iat", "sub", "aud", "iss"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        raise InvalidToken("has an invalid signature or claims") from None
    if not all(isinstance(claims.get(name, 0), int) for name in ("exp", "iat", "nbf")):
        raise InvalidToken("has an invalid signature or claims")
    # PyJWT's rules, with the skew as its leeway.
    moment = at.timestamp()
    if claims["exp"] <= moment - clock_skew_s:
        raise InvalidToken("has expired")
    if max(claims["iat"], claims.get("nbf", 0)) > moment + clock_skew_s:
        raise InvalidToken("is not valid yet")
    issued_at = dt.datetime.fromtimestamp(claims["iat"], dt.UTC)
    if issued_at < key.not_before - dt.timedelta(seconds=clock_skew_s) or (
        key.not_after is not None and issued_at > key.not_after
    ):
        raise InvalidToken("was issued outside its key's window")
    return claims
