"""API keys (scoped, hashed, revocable, last use recorded) and member tokens for the gateway."""

import asyncio
import hashlib
import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.identity.v1 import identity_pb2
from services.identity.servicer import IdentityServicer
from tests.services.identity.conftest import (
    FORGED_KEY_IDS,
    PROGRAM,
    email,
    enrol,
    failure,
    row_counts,
)
from tests.support.calls import program


async def create_key(stub, key: str = "k1", **fields):
    fields.setdefault("name", "POS store 12")
    fields.setdefault("scopes", ["ledger:write", "members:read"])
    return await stub.CreateApiKey(
        identity_pb2.CreateApiKeyRequest(program_id=PROGRAM, idempotency_key=key, **fields)
    )


async def authenticate(stub, secret: str, program_id: str = PROGRAM):
    return await stub.AuthenticateApiKey(
        identity_pb2.AuthenticateApiKeyRequest(program_id=program_id, secret=secret)
    )


async def test_an_api_key_is_shown_once_stored_hashed_and_authenticates(stub, database) -> None:
    created = await create_key(stub, requests_per_minute_max=600)
    secret = created.secret
    assert secret.startswith("lk_") and len(secret) > 40
    assert created.api_key.secret_prefix == secret[:10]
    stored = await database.fetchrow("SELECT * FROM api_keys")
    assert bytes(stored["secret_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert secret not in " ".join(str(value) for value in stored.values())
    assert not created.api_key.HasField("last_used_at")
    authenticated = await authenticate(stub, secret)
    assert (authenticated.key_id, authenticated.program_id) == (created.api_key.key_id, PROGRAM)
    assert list(authenticated.scopes) == ["ledger:write", "members:read"]
    assert authenticated.requests_per_minute_max == 600
    assert (await authenticate(stub, secret, program_id="")).program_id == PROGRAM
    [listed] = (
        await stub.ListApiKeys(identity_pb2.ListApiKeysRequest(program_id=PROGRAM))
    ).api_keys
    assert listed.last_used_at.seconds > 0 and listed.name == "POS store 12"
    assert secret not in str(listed)


async def test_a_retry_returns_the_secret_only_within_its_window(identity) -> None:
    stub, service = identity
    created = await create_key(stub)
    assert await create_key(stub) == created
    servicer = IdentityServicer(service.pool, service.runtime.outbox)
    assert await servicer.forget_api_key_secrets(older_than_s=0) == 1
    error = await failure(create_key(stub))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert dict(error.trailing_metadata())["loyalty-error-reason"] == "API_KEY_SECRET_GONE"
    assert (await authenticate(stub, created.secret)).key_id == created.api_key.key_id


async def test_revoked_expired_unknown_and_foreign_keys_are_refused(stub) -> None:
    created = await create_key(stub)
    soon = Timestamp(seconds=int(time.time()) + 2)
    expiring = await create_key(stub, key="k2", expires_at=soon)
    await stub.CreateProgram(
        identity_pb2.CreateProgramRequest(
            program_id="other", idempotency_key="c", program=program("other")
        )
    )
    error = await failure(authenticate(stub, created.secret, program_id="other"))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    for secret in ("lk_unknown", "", "x" * 500):
        error = await failure(authenticate(stub, secret))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    revoked = await stub.RevokeApiKey(
        identity_pb2.RevokeApiKeyRequest(
            program_id=PROGRAM, idempotency_key="r1", key_id=created.api_key.key_id
        )
    )
    assert revoked.api_key.revoked_at.seconds > 0
    error = await failure(authenticate(stub, created.secret))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "revoked" in error.details()
    assert (await authenticate(stub, expiring.secret)).key_id == expiring.api_key.key_id
    await asyncio.sleep(2.5)
    error = await failure(authenticate(stub, expiring.secret))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "expired" in error.details()
    active = (await stub.ListApiKeys(identity_pb2.ListApiKeysRequest(program_id=PROGRAM))).api_keys
    assert [k.key_id for k in active] == [expiring.api_key.key_id]
    every = await stub.ListApiKeys(
        identity_pb2.ListApiKeysRequest(program_id=PROGRAM, include_revoked=True)
    )
    assert len(every.api_keys) == 2
    error = await failure(
        stub.RevokeApiKey(
            identity_pb2.RevokeApiKeyRequest(
                program_id=PROGRAM, idempotency_key="r2", key_id="nope"
            )
        )
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["everything"]}, "scopes[0]"),
        ({"scopes": ["members:read\n"]}, "scopes[0]"),
        ({"scopes": ["members:read", "members:read"]}, "scopes"),
        ({"requests_per_minute_max": -1}, "requests_per_minute_max"),
        ({"expires_at": Timestamp(seconds=1)}, "expires_at"),
        # The last instant a Timestamp holds, a "never": asyncpg stored it as infinity and read
        # it back without a time zone, so every authentication with the key was INTERNAL.
        ({"expires_at": Timestamp(seconds=253_402_300_799, nanos=999_999_999)}, "expires_at"),
        ({"expires_at": Timestamp(seconds=4_102_444_800)}, "expires_at"),  # 2100-01-01
    ],
)
async def test_bad_api_keys_name_the_field_and_write_nothing(stub, database, fields, field) -> None:
    before = await row_counts(database)
    error = await failure(create_key(stub, **fields))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"{field}:"), error.details()
    assert await row_counts(database) == before


async def test_a_key_expiring_at_the_end_of_2099_authenticates(stub) -> None:
    created = await create_key(stub, expires_at=Timestamp(seconds=4_102_444_799))
    assert (await authenticate(stub, created.secret)).key_id == created.api_key.key_id


async def issue_member_token(stub, member_id: str, ttl_seconds: int = 600, scopes=("member:read",)):
    return await stub.IssueMemberToken(
        identity_pb2.IssueMemberTokenRequest(
            program_id=PROGRAM, member_id=member_id, scopes=list(scopes), ttl_seconds=ttl_seconds
        )
    )


async def verify_member_token(stub, token: str, program_id: str = PROGRAM):
    return await stub.VerifyMemberToken(
        identity_pb2.VerifyMemberTokenRequest(program_id=program_id, token=token)
    )


async def test_member_tokens_verify_with_scopes_until_they_expire(stub) -> None:
    member_id = (await enrol(stub, email("alice@example.com"))).member.member_id
    issued = await issue_member_token(stub, member_id, scopes=("member:read", "rewards:redeem"))
    verified = await verify_member_token(stub, issued.token)
    assert verified.member_id == member_id and verified.program_id == PROGRAM
    assert list(verified.scopes) == ["member:read", "rewards:redeem"]
    assert verified.expires_at == issued.expires_at
    await stub.CreateProgram(
        identity_pb2.CreateProgramRequest(
            program_id="other", idempotency_key="c", program=program("other")
        )
    )
    error = await failure(verify_member_token(stub, issued.token, program_id="other"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    tampered = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    error = await failure(verify_member_token(stub, tampered))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    qr = await stub.IssueQrToken(
        identity_pb2.IssueQrTokenRequest(program_id=PROGRAM, member_id=member_id)
    )
    error = await failure(verify_member_token(stub, qr.token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, "a QR token is no member token"
    short = await issue_member_token(stub, member_id, ttl_seconds=1)
    await asyncio.sleep(2.2)
    error = await failure(verify_member_token(stub, short.token))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED and "expired" in error.details()
    error = await failure(issue_member_token(stub, member_id, scopes=()))
    assert error.details().startswith("scopes:")
    error = await failure(issue_member_token(stub, "nobody"))
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("key_id", FORGED_KEY_IDS)
async def test_a_member_token_with_a_forged_key_id_is_unauthenticated(stub, key_id: str) -> None:
    member_id = (await enrol(stub, email("alice@example.com"))).member.member_id
    now = int(time.time())
    forged = jwt.encode(
        {
            "iss": "loyalty-identity",
            "aud": f"member:{PROGRAM}",
            "sub": member_id,
            "iat": now,
            "exp": now + 60,
            "scope": "member:read",
        },
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": key_id},
    )
    error = await failure(verify_member_token(stub, forged))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error.details()
    assert dict(error.trailing_metadata())["loyalty-error-reason"] == "MEMBER_TOKEN_REJECTED"
