"""Who is calling: an API key with scopes, or a member with a member token.

Credentials, checked by identity (AuthenticateApiKey, VerifyMemberToken) and then trusted for
`auth_cache_ttl_ms`, never past the credential's own expiry:
- `X-Api-Key: <secret>` or `Authorization: ApiKey <secret>`: an integration's API key; what it
  may do is its scopes (API_KEY_SCOPES).
- `Authorization: Bearer <member token>`: a member; it sees only its own data. Another member's
  id answers 404, as an unknown member does, so ids cannot be probed. `me` names oneself.
"""

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from cachetools import TTLCache
from fastapi import Path, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.config import GatewayConfig
from gateway.errors import ApiError
from gateway.ratelimit import RateLimiter
from gateway.upstream import Upstreams
from loyalty.identity.v1 import identity_pb2

PROGRAM_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
ME = "me"
# Every 401 carries it (RFC 9110 section 11.6.1): the schemes that could succeed.
CHALLENGE = 'Bearer, ApiKey realm="loyalty"'

# The scopes of API keys (CreateApiKey's scopes) the gateway checks, and what each allows.
API_KEY_SCOPES = {
    "members:read": "read members, their QR card, balance, lots, history and tiers",
    "members:write": "enrol members; change profiles, consents and identifiers",
    "transactions:write": "post purchases and returns",
    "activities:write": "post engagement activities (reviews, check-ins, ...)",
    "rewards:read": "read the reward catalog, also as one member sees it",
    "redemptions:read": "read redemptions",
    "redemptions:write": "redeem rewards for a member; cancel redemptions",
    "codes:validate": "check a reward code at a till",
    "codes:use": "mark a reward code used at a till",
    "members:export": "export everything held about a member (GDPR access)",
    "members:erase": "erase a member (GDPR erasure)",
    "points:transfer": "move points from one member to another (gifts, households)",
}
# The scopes of member tokens (IssueMemberToken's scopes): a member acts on its own data only.
MEMBER_SCOPES = {
    "member:read": "read one's own member data, card, points, rewards, redemptions and export",
    "member:write": "change one's own profile, consents and identifiers",
    "rewards:redeem": "redeem rewards for oneself",
    "points:transfer": "give one's own points to another member",
}
# The scopes a till's key needs: it posts transactions and checks and uses codes, nothing more.
POS_SCOPES = ("transactions:write", "activities:write", "codes:validate", "codes:use")

ProgramIdPath = Annotated[
    str, Path(description="The program (tenant).", pattern=PROGRAM_ID_PATTERN, max_length=63)
]
_api_key_header = APIKeyHeader(
    name="X-Api-Key", auto_error=False, description="An API key (or `Authorization: ApiKey ...`)."
)
_bearer = HTTPBearer(auto_error=False, description="A member token.")


@dataclass(frozen=True)
class Principal:
    program_id: str
    scopes: frozenset[str]
    requests_per_minute_max: int
    key_id: str = ""
    member_id: str = ""
    # When the credential stops working (seconds since the epoch); inf if it never does.
    expires_at_s: float = math.inf

    @property
    def is_member(self) -> bool:
        return bool(self.member_id)

    @property
    def name(self) -> str:
        return f"member/{self.member_id}" if self.is_member else f"key/{self.key_id}"

    def idempotency_key(self, key: str) -> str:
        """Keys are the caller's own: the same key from two callers never collides."""
        return f"{self.name}/{key}"

    def member_id_of(self, member_id: str) -> str:
        """The member a path names: oneself for a member (else 404), anyone for an API key."""
        if self.is_member:
            if member_id not in (ME, self.member_id):
                raise ApiError(404, "MEMBER_NOT_FOUND", f"member {member_id!r} not found")
            return self.member_id
        if member_id == ME:
            raise ApiError(400, "INVALID_ARGUMENT", "'me' needs a member token", field="member_id")
        return member_id


class Authenticator:
    def __init__(self, config: GatewayConfig, upstreams: Upstreams, limiter: RateLimiter) -> None:
        self.config = config
        self.upstreams = upstreams
        self.limiter = limiter
        self._cache: TTLCache[tuple[str, str, bytes], Principal] = TTLCache(
            maxsize=config.auth_cache_entries_max, ttl=config.auth_cache_ttl_ms / 1000
        )

    async def anonymous(self, request: Request) -> None:
        """Count a request that carries no accepted credential, per client address."""
        address = request.client.host if request.client else "unknown"
        await self.limiter.hit(
            f"address/{address}", per_minute=self.config.anonymous_requests_per_minute_max
        )

    async def authenticate(self, request: Request, program_id: str) -> Principal:
        kind, secret, header = _credential(request)
        if not secret:
            await self.anonymous(request)
            raise ApiError(
                401,
                "UNAUTHENTICATED",
                "send an API key (X-Api-Key) or a member token (Authorization: Bearer ...)",
                field="Authorization",
                headers={"WWW-Authenticate": CHALLENGE},
            )
        cache_key = (kind, program_id, hashlib.sha256(secret.encode()).digest())
        principal = self._cache.get(cache_key)
        if principal is not None and principal.expires_at_s <= time.time():
            # Expired while trusted: identity decides again (it allows for clock skew).
            self._cache.pop(cache_key, None)
            principal = None
        if principal is None:
            try:
                principal = await self._verify(kind, program_id, secret, header)
            except ApiError as error:
                if error.status == 401:
                    error.headers.setdefault("WWW-Authenticate", CHALLENGE)
                    await self.anonymous(request)
                raise
            if self.config.auth_cache_ttl_ms and principal.expires_at_s > time.time():
                self._cache[cache_key] = principal
        await self.limiter.hit(principal.name, per_minute=principal.requests_per_minute_max)
        return principal

    async def _verify(self, kind: str, program_id: str, secret: str, header: str) -> Principal:
        identity = self.upstreams.identity
        # A refused credential names the header it came in.
        fields = {"secret": header, "token": header}
        if kind == "api_key":
            key = await self.upstreams.call(
                identity.AuthenticateApiKey,
                identity_pb2.AuthenticateApiKeyRequest(program_id=program_id, secret=secret),
                fields=fields,
            )
            return Principal(
                program_id=key.program_id,
                scopes=frozenset(key.scopes),
                requests_per_minute_max=(
                    key.requests_per_minute_max or self.config.api_key_requests_per_minute_default
                ),
                key_id=key.key_id,
                expires_at_s=_seconds(key.expires_at),
            )
        member = await self.upstreams.call(
            identity.VerifyMemberToken,
            identity_pb2.VerifyMemberTokenRequest(program_id=program_id, token=secret),
            fields=fields,
        )
        return Principal(
            program_id=member.program_id,
            scopes=frozenset(member.scopes),
            requests_per_minute_max=self.config.member_requests_per_minute_max,
            member_id=member.member_id,
            expires_at_s=_seconds(member.expires_at),
        )


def _seconds(value: Timestamp) -> float:
    """A credential's expiry as seconds since the epoch; unset is never."""
    if not value.seconds and not value.nanos:
        return math.inf
    return value.seconds + value.nanos / 1e9


def _credential(request: Request) -> tuple[str, str, str]:
    """The kind of credential, its secret and the header that carried it. An API key and a
    member token together are refused: the key was taken and the token ignored, so who acted
    (a member, or an integration with its scopes) was the gateway's guess."""
    secret = request.headers.get("x-api-key", "")
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if secret and scheme.lower() in ("apikey", "bearer"):
        raise ApiError(
            400,
            "INVALID_ARGUMENT",
            "send one credential: X-Api-Key or Authorization, not both",
            field="Authorization",
        )
    if secret:
        return "api_key", secret.strip(), "X-Api-Key"
    if scheme.lower() == "apikey":
        return "api_key", value.strip(), "Authorization"
    if scheme.lower() == "bearer":
        return "member", value.strip(), "Authorization"
    return "", "", ""


Access = Callable[..., Awaitable[Principal]]


def access(*, api_key_scope: str | None, member_scope: str | None) -> Access:
    """A dependency: the caller, authenticated for the path's program and holding the scope.

    `None` shuts the door to that kind of caller; "" lets any of its kind in.
    """
    assert api_key_scope is None or api_key_scope == "" or api_key_scope in API_KEY_SCOPES
    assert member_scope is None or member_scope == "" or member_scope in MEMBER_SCOPES

    async def dependency(
        request: Request,
        program_id: ProgramIdPath,
        _api_key: Annotated[str | None, Security(_api_key_header)],
        _bearer_token: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        authenticator: Authenticator = request.app.state.authenticator
        principal = await authenticator.authenticate(request, program_id)
        request.state.principal = principal.name
        needed = member_scope if principal.is_member else api_key_scope
        if needed is None:
            raise ApiError(
                403,
                "CREDENTIAL_NOT_ALLOWED",
                f"{'a member token' if principal.is_member else 'an API key'} cannot do this",
            )
        if needed and needed not in principal.scopes:
            raise ApiError(403, "SCOPE_MISSING", f"needs the scope {needed}")
        return principal

    return dependency
