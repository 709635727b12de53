"""IdentityService, credentials: QR card tokens and their key set, member tokens, API keys."""

import dataclasses
import datetime as dt
import hashlib
import re
import secrets

import grpc

from loyalty.identity.v1 import identity_pb2
from services.identity import repository_credentials as credential_store
from services.identity import tokens
from services.identity.errors import (
    ApiKeyNotFound,
    ApiKeyRejected,
    ApiKeySecretGone,
    ApiKeyWrongProgram,
    InvalidToken,
    MemberClosed,
    MemberTokenRejected,
)
from services.identity.members import ACTIVE, ERASED
from services.identity.repository_credentials import StoredApiKey
from services.identity.rpc_base import RpcBase, check_member_id, now
from services.shared import validation
from services.shared.errors import InvalidArgument, Unauthenticated
from services.shared.idempotency import once
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import instant, timestamp

QR_TOKEN_TTL_DEFAULT_S = 120
QR_TOKEN_TTL_MAX_S = 900
# After a rotation the previous key verifies this long by default: every token it signed expires
# before it is retired, so no card already on a screen stops working.
QR_KEY_OVERLAP_DEFAULT_S = QR_TOKEN_TTL_MAX_S
QR_KEY_OVERLAP_MAX_S = 7 * 86_400
MEMBER_TOKEN_TTL_DEFAULT_S = 3_600
MEMBER_TOKEN_TTL_MAX_S = 86_400
SCOPES_COUNT_MAX = 32
API_KEY_NAME_LENGTH_MAX = 120
API_KEY_SECRET_LENGTH_MAX = 200
API_KEY_SECRET_PREFIX_LENGTH = 10
# An API key's expiry is before this; a key meant to live for ever has none.
API_KEY_REQUESTS_PER_MINUTE_MAX = 1_000_000
# last_used_at is written at most once per this many seconds per key.
API_KEY_LAST_USED_RESOLUTION_S = 60
# A retry of CreateApiKey returns the secret within this window; then only the hash remains.
API_KEY_SECRET_REPLAY_S = 3_600
API_KEYS_PAGE_SIZE_MAX = 200

# Matched whole (fullmatch), as `$` matches before a final newline too.
_SCOPE = re.compile(r"^[a-z][a-z_]*:[a-z][a-z_]*$")


def check_scopes(scopes: list[str], *, required: bool) -> list[str]:
    if required and not scopes:
        raise InvalidArgument("scopes", "at least one scope is required, such as members:read")
    if len(scopes) > SCOPES_COUNT_MAX:
        raise InvalidArgument("scopes", f"at most {SCOPES_COUNT_MAX} scopes")
    for index, scope in enumerate(scopes):
        if not _SCOPE.fullmatch(scope):
            raise InvalidArgument(f"scopes[{index}]", "must look like members:read")
    if len(set(scopes)) != len(scopes):
        raise InvalidArgument("scopes", "repeats a scope")
    return scopes


def lifetime_s(requested: int, *, default: int, maximum: int, field: str) -> int:
    if requested < 0:
        raise InvalidArgument(field, "must not be negative")
    return default if requested == 0 else min(requested, maximum)


def secret_hash(secret: str) -> bytes:
    """SHA-256 suits a secret of 256 random bits: there is nothing to guess, so no slow hash."""
    return hashlib.sha256(secret.encode()).digest()


def api_key_to_proto(key: StoredApiKey) -> identity_pb2.ApiKey:
    return identity_pb2.ApiKey(
        key_id=key.key_id,
        program_id=key.program_id,
        name=key.name,
        scopes=key.scopes,
        secret_prefix=key.secret_prefix,
        create_time=timestamp(key.created_at),
        expires_at=timestamp(key.expires_at),
        revoked_at=timestamp(key.revoked_at),
        last_used_at=timestamp(key.last_used_at),
        requests_per_minute_max=key.requests_per_minute_max,
    )


def qr_key_to_proto(key: tokens.SigningKey, at: dt.datetime) -> identity_pb2.QrKey:
    if key.not_after is None:
        status = identity_pb2.QR_KEY_STATUS_ACTIVE
    elif key.not_after > at:
        status = identity_pb2.QR_KEY_STATUS_RETIRING
    else:
        status = identity_pb2.QR_KEY_STATUS_RETIRED
    return identity_pb2.QrKey(
        key_id=key.key_id,
        algorithm=tokens.ALGORITHM,
        public_key=key.public_key,
        not_before=timestamp(key.not_before),
        not_after=timestamp(key.not_after),
        status=status,
    )


class CredentialRpcs(RpcBase):
    async def IssueQrToken(
        self, request: identity_pb2.IssueQrTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.IssueQrTokenResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        ttl_s = lifetime_s(
            request.ttl_seconds,
            default=QR_TOKEN_TTL_DEFAULT_S,
            maximum=QR_TOKEN_TTL_MAX_S,
            field="ttl_seconds",
        )
        await self._active_member(request.program_id, request.member_id)
        key = await self.signing_key(request.program_id, tokens.QR_PURPOSE)
        issued_at_s = int(now().timestamp())
        token = tokens.sign(
            key,
            member_id=request.member_id,
            issued_at_s=issued_at_s,
            expires_at_s=issued_at_s + ttl_s,
        )
        return identity_pb2.IssueQrTokenResponse(
            token=token,
            expires_at=timestamp(dt.datetime.fromtimestamp(issued_at_s + ttl_s, dt.UTC)),
            key_id=key.key_id,
        )

    async def GetQrKeySet(
        self, request: identity_pb2.GetQrKeySetRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetQrKeySetResponse:
        validation.program_id(request.program_id)
        await self.signing_key(request.program_id, tokens.QR_PURPOSE)
        at = now()
        keys = await credential_store.fetch_verifying_keys(
            self.pool, request.program_id, tokens.QR_PURPOSE, at
        )
        return identity_pb2.GetQrKeySetResponse(keys=[qr_key_to_proto(k, at) for k in keys])

    async def RotateQrKey(
        self, request: identity_pb2.RotateQrKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RotateQrKeyResponse:
        validation.program_id(request.program_id)
        overlap_s = request.overlap_seconds or QR_KEY_OVERLAP_DEFAULT_S
        validation.in_range(overlap_s, "overlap_seconds", low=1, high=QR_KEY_OVERLAP_MAX_S)
        await self.program(self.pool, request.program_id)

        async with self.pool.acquire() as connection, connection.transaction():

            async def rotate() -> identity_pb2.RotateQrKeyResponse:
                at = now()
                current = await credential_store.fetch_active_key(
                    connection, request.program_id, tokens.QR_PURPOSE, for_update=True
                )
                response = identity_pb2.RotateQrKeyResponse()
                if current is not None:
                    not_after = at + dt.timedelta(seconds=overlap_s)
                    await credential_store.retire_key(
                        connection, request.program_id, current.key_id, not_after
                    )
                    response.retiring_key.CopyFrom(
                        qr_key_to_proto(dataclasses.replace(current, not_after=not_after), at)
                    )
                fresh = tokens.new_signing_key(
                    program_id=request.program_id, purpose=tokens.QR_PURPOSE, now=at
                )
                inserted = await credential_store.insert_active_key(connection, fresh)
                assert inserted, "the active key is locked, so no other can be inserted"
                response.active_key.CopyFrom(qr_key_to_proto(fresh, at))
                return response

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="RotateQrKey",
                request=request,
                response_type=identity_pb2.RotateQrKeyResponse,
                work=rotate,
                forgetting=self.settings.forgetting,
            )

    async def IssueMemberToken(
        self, request: identity_pb2.IssueMemberTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.IssueMemberTokenResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        scopes = check_scopes(list(request.scopes), required=True)
        ttl_s = lifetime_s(
            request.ttl_seconds,
            default=MEMBER_TOKEN_TTL_DEFAULT_S,
            maximum=MEMBER_TOKEN_TTL_MAX_S,
            field="ttl_seconds",
        )
        await self._active_member(request.program_id, request.member_id)
        key = await self.signing_key(request.program_id, tokens.MEMBER_PURPOSE)
        issued_at_s = int(now().timestamp())
        token = tokens.sign(
            key,
            member_id=request.member_id,
            issued_at_s=issued_at_s,
            expires_at_s=issued_at_s + ttl_s,
            scope=" ".join(scopes),
            jti=secrets.token_hex(8),
        )
        return identity_pb2.IssueMemberTokenResponse(
            token=token,
            expires_at=timestamp(dt.datetime.fromtimestamp(issued_at_s + ttl_s, dt.UTC)),
        )

    async def VerifyMemberToken(
        self, request: identity_pb2.VerifyMemberTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.VerifyMemberTokenResponse:
        """A token of a merged member speaks for the survivor; an erased member's is refused."""
        validation.program_id(request.program_id)
        try:
            claims = await self.verify_token(
                self.pool,
                purpose=tokens.MEMBER_PURPOSE,
                program_id=request.program_id,
                token=request.token,
            )
        except InvalidToken as error:
            raise MemberTokenRejected(error.message) from None
        member = await self.current_member(self.pool, request.program_id, claims["sub"])
        if member is None or member.status == ERASED:
            raise MemberTokenRejected("belongs to no member any more")
        return identity_pb2.VerifyMemberTokenResponse(
            member_id=member.member_id,
            program_id=request.program_id,
            scopes=str(claims.get("scope", "")).split(),
            issued_at=timestamp(dt.datetime.fromtimestamp(claims["iat"], dt.UTC)),
            expires_at=timestamp(dt.datetime.fromtimestamp(claims["exp"], dt.UTC)),
        )

    async def _active_member(self, program_id: str, member_id: str) -> None:
        member = await self.member(self.pool, program_id, member_id)
        if member.status != ACTIVE:
            raise MemberClosed(member_id, member.status)

    async def CreateApiKey(
        self, request: identity_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateApiKeyResponse:
        validation.program_id(request.program_id)
        validation.text(request.name, "name", length_max=API_KEY_NAME_LENGTH_MAX)
        scopes = check_scopes(list(request.scopes), required=True)
        validation.in_range(
            request.requests_per_minute_max,
            "requests_per_minute_max",
            low=0,
            high=API_KEY_REQUESTS_PER_MINUTE_MAX,
        )
        expires_at = instant(request.expires_at) if request.HasField("expires_at") else None
        if expires_at is not None and expires_at <= now():
            raise InvalidArgument("expires_at", "must be in the future")
        if expires_at is not None:
            validation.stored_instant(
                request.expires_at, "expires_at", unset="the key never expires"
            )
        await self.program(self.pool, request.program_id)

        async with self.pool.acquire() as connection, connection.transaction():

            async def create() -> identity_pb2.CreateApiKeyResponse:
                secret = f"lk_{secrets.token_urlsafe(32)}"
                stored = await credential_store.insert_api_key(
                    connection,
                    program_id=request.program_id,
                    key_id=f"key_{secrets.token_hex(8)}",
                    name=request.name,
                    scopes=scopes,
                    secret_hash=secret_hash(secret),
                    secret_prefix=secret[:API_KEY_SECRET_PREFIX_LENGTH],
                    requests_per_minute_max=request.requests_per_minute_max,
                    expires_at=expires_at,
                )
                return identity_pb2.CreateApiKeyResponse(
                    api_key=api_key_to_proto(stored), secret=secret
                )

            response = await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CreateApiKey",
                request=request,
                response_type=identity_pb2.CreateApiKeyResponse,
                work=create,
                forgetting=self.settings.forgetting,
            )
        if not response.secret:
            raise ApiKeySecretGone(API_KEY_SECRET_REPLAY_S)
        return response

    async def RevokeApiKey(
        self, request: identity_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RevokeApiKeyResponse:
        validation.program_id(request.program_id)
        validation.text(request.key_id, "key_id", length_max=64)

        async with self.pool.acquire() as connection, connection.transaction():

            async def revoke() -> identity_pb2.RevokeApiKeyResponse:
                stored = await credential_store.revoke_api_key(
                    connection, request.program_id, request.key_id
                )
                if stored is None:
                    raise ApiKeyNotFound(request.key_id)
                return identity_pb2.RevokeApiKeyResponse(api_key=api_key_to_proto(stored))

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="RevokeApiKey",
                request=request,
                response_type=identity_pb2.RevokeApiKeyResponse,
                work=revoke,
                forgetting=self.settings.forgetting,
            )

    async def ListApiKeys(
        self, request: identity_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListApiKeysResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(request.page_size, maximum=API_KEYS_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("after",), types={"after": str})
        keys = await credential_store.fetch_api_keys(
            self.pool,
            request.program_id,
            after_key_id=cursor["after"] if cursor else "",
            include_revoked=request.include_revoked,
            limit=size + 1,
        )
        return identity_pb2.ListApiKeysResponse(
            api_keys=[api_key_to_proto(k) for k in keys[:size]],
            next_page_token=(
                encode_page_token({"after": keys[size - 1].key_id}) if len(keys) > size else ""
            ),
        )

    async def AuthenticateApiKey(
        self, request: identity_pb2.AuthenticateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AuthenticateApiKeyResponse:
        if request.program_id:
            validation.program_id(request.program_id)
        if not request.secret:
            raise Unauthenticated("an API key secret is required", field="secret")
        if len(request.secret) > API_KEY_SECRET_LENGTH_MAX:
            raise ApiKeyRejected("is unknown")
        key = await credential_store.use_api_key(
            self.pool,
            secret_hash(request.secret),
            last_used_resolution_s=API_KEY_LAST_USED_RESOLUTION_S,
        )
        if key is None:
            raise ApiKeyRejected("is unknown")
        if key.revoked_at is not None:
            raise ApiKeyRejected("was revoked")
        if key.expires_at is not None and key.expires_at <= now():
            raise ApiKeyRejected("has expired")
        if request.program_id and request.program_id != key.program_id:
            raise ApiKeyWrongProgram()
        return identity_pb2.AuthenticateApiKeyResponse(
            key_id=key.key_id,
            program_id=key.program_id,
            scopes=key.scopes,
            expires_at=timestamp(key.expires_at),
            requests_per_minute_max=key.requests_per_minute_max,
        )

    async def housekeeping(self) -> list[str]:
        problems = await super().housekeeping()
        await self.forget_api_key_secrets()
        return problems

    async def forget_api_key_secrets(self, *, older_than_s: int = API_KEY_SECRET_REPLAY_S) -> int:
        """Drop the secrets kept for CreateApiKey retries once the retry window has passed, so
        the database holds nothing but hashes; returns how many were dropped."""
        rows = await self.pool.fetch(
            "SELECT program_id, idempotency_key, response FROM idempotency_keys "
            "WHERE method = 'CreateApiKey' AND response IS NOT NULL "
            "AND created_at <= now() - make_interval(secs => $1)",
            float(older_than_s),
        )
        dropped = 0
        for row in rows:
            response = identity_pb2.CreateApiKeyResponse.FromString(row["response"])
            if not response.secret:
                continue
            response.ClearField("secret")
            await self.pool.execute(
                "UPDATE idempotency_keys SET response = $3 WHERE program_id = $1 AND idempotency_key = $2",
                row["program_id"],
                row["idempotency_key"],
                response.SerializeToString(),
            )
            dropped += 1
        return dropped
