"""QR card tokens: signed, short-lived, verifiable offline; rotation keeps shown cards working."""

import asyncio
import base64
import json
import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf.timestamp_pb2 import Timestamp

from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import SPEC, IdentityConfig
from services.shared.config import ConfigError, load_config
from tests.services.identity.conftest import (
    FORGED_KEY_IDS,
    KIND,
    PROGRAM,
    email,
    enrol,
    failure,
)
from tests.support.calls import program


async def issue(stub, member_id: str, ttl_seconds: int = 60, program_id: str = PROGRAM):
    return await stub.IssueQrToken(
        identity_pb2.IssueQrTokenRequest(
            program_id=program_id, member_id=member_id, ttl_seconds=ttl_seconds
        )
    )


async def resolve(stub, token: str, program_id: str = PROGRAM, *, at: float | None = None):
    """`at`: when the till scanned the token, in seconds since the epoch (unset: now)."""
    return await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=program_id,
            kind=KIND.IDENTIFIER_KIND_APP_QR_TOKEN,
            value=token,
            at=None if at is None else Timestamp(seconds=int(at), nanos=int(at % 1 * 1e9)),
        )
    )


async def rejected(stub, token: str, program_id: str = PROGRAM, *, at: float | None = None) -> str:
    """The reason the token is rejected for; fails the test if it resolves."""
    error = await failure(resolve(stub, token, program_id, at=at))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert dict(error.trailing_metadata())["loyalty-error-reason"] == "QR_TOKEN_REJECTED"
    assert error.details().startswith("value: the QR token")
    return error.details()


async def private_key(database, key_id: str) -> Ed25519PrivateKey:
    raw = await database.fetchval("SELECT private_key FROM signing_keys WHERE key_id = $1", key_id)
    return Ed25519PrivateKey.from_private_bytes(bytes(raw))


def claims(member_id: str, *, issued_at: int, expires_at: int, program_id: str = PROGRAM) -> dict:
    return {
        "iss": "loyalty-identity",
        "aud": f"qr:{program_id}",
        "sub": member_id,
        "iat": issued_at,
        "exp": expires_at,
    }


@pytest.fixture
async def alice(stub) -> str:
    return (await enrol(stub, email("alice@example.com"))).member.member_id


async def test_a_qr_token_resolves_and_a_till_verifies_it_offline(stub, alice) -> None:
    before = time.time()
    issued = await issue(stub, alice, ttl_seconds=60)
    after = time.time()
    assert (await resolve(stub, issued.token)).member_id == alice
    # Whole seconds: the expiry is the issue instant plus the time to live, truncated.
    assert int(before) + 60 <= issued.expires_at.seconds <= after + 60
    [key] = (await stub.GetQrKeySet(identity_pb2.GetQrKeySetRequest(program_id=PROGRAM))).keys
    assert key.key_id == issued.key_id and key.status == identity_pb2.QR_KEY_STATUS_ACTIVE
    assert key.algorithm == "EdDSA" and len(key.public_key) == 32
    # What a till does without the network: the published public key and the clock.
    offline = jwt.decode(
        issued.token,
        Ed25519PublicKey.from_public_bytes(key.public_key),
        algorithms=["EdDSA"],
        audience=f"qr:{PROGRAM}",
    )
    assert offline["sub"] == alice


async def test_the_lifetime_is_defaulted_and_clamped(stub, alice) -> None:
    default = await issue(stub, alice, ttl_seconds=0)
    assert 110 <= default.expires_at.seconds - time.time() <= 121
    clamped = await issue(stub, alice, ttl_seconds=10**6)
    assert clamped.expires_at.seconds - time.time() <= 901
    error = await failure(issue(stub, alice, ttl_seconds=-1))
    assert error.details().startswith("ttl_seconds:")


async def test_forged_tokens_are_rejected(stub, alice, database) -> None:
    bob = (await enrol(stub, email("bob@example.com"))).member.member_id
    issued = await issue(stub, alice)
    header, payload, signature = issued.token.split(".")
    # The payload changed to another member, the signature kept.
    swapped = json.loads(base64.urlsafe_b64decode(payload + "=="))
    swapped["sub"] = bob
    forged_payload = base64.urlsafe_b64encode(json.dumps(swapped).encode()).rstrip(b"=").decode()
    assert "invalid signature" in await rejected(stub, f"{header}.{forged_payload}.{signature}")
    # Signed by the forger's own key under the program's key id.
    now = int(time.time())
    own_key = jwt.encode(
        claims(bob, issued_at=now, expires_at=now + 60),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": issued.key_id},
    )
    assert "invalid signature" in await rejected(stub, own_key)
    # No signature at all, an unknown key, and no token.
    unsigned = jwt.encode(claims(bob, issued_at=now, expires_at=now + 60), None, algorithm="none")
    await rejected(stub, unsigned)
    unknown_key = jwt.encode(
        claims(bob, issued_at=now, expires_at=now + 60),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": "qr-19700101-00000000"},
    )
    assert "not signed by a key of this program" in await rejected(stub, unknown_key)
    await rejected(stub, "not-a-token")
    await rejected(stub, "")
    # A genuine token of another program.
    await stub.CreateProgram(
        identity_pb2.CreateProgramRequest(
            program_id="other", idempotency_key="c", program=program("other")
        )
    )
    carol = (await enrol(stub, email("carol@example.com"), program_id="other")).member.member_id
    await rejected(stub, (await issue(stub, carol, program_id="other")).token)
    assert (await resolve(stub, issued.token)).member_id == alice


@pytest.mark.parametrize("key_id", FORGED_KEY_IDS)
async def test_a_forged_key_id_is_a_rejected_token_not_a_server_error(
    stub, alice, key_id: str
) -> None:
    now = int(time.time())
    forged = jwt.encode(
        claims(alice, issued_at=now, expires_at=now + 60),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": key_id},
    )
    assert "not a token of this service" in await rejected(stub, forged)
    # In a batch, the token is unknown and the rest of the batch is answered.
    answered = await stub.BatchResolveIdentifiers(
        identity_pb2.BatchResolveIdentifiersRequest(
            program_id=PROGRAM,
            lookups=[
                identity_pb2.IdentifierLookup(kind=KIND.IDENTIFIER_KIND_APP_QR_TOKEN, value=forged),
                identity_pb2.IdentifierLookup(
                    kind=KIND.IDENTIFIER_KIND_EMAIL, value="alice@example.com"
                ),
            ],
        )
    )
    assert list(answered.member_ids) == ["", alice]


async def test_expired_tokens_are_rejected_also_when_replayed(stub, alice, database) -> None:
    issued = await issue(stub, alice, ttl_seconds=1)
    assert (await resolve(stub, issued.token)).member_id == alice
    await asyncio.sleep(2.2)
    assert "expired" in await rejected(stub, issued.token)
    # Correctly signed by the program's own key, but past its expiry.
    key = await private_key(database, issued.key_id)
    now = int(time.time())
    stale = jwt.encode(
        claims(alice, issued_at=now - 600, expires_at=now - 300),
        key,
        algorithm="EdDSA",
        headers={"kid": issued.key_id},
    )
    assert "expired" in await rejected(stub, stale)
    early = jwt.encode(
        claims(alice, issued_at=now + 600, expires_at=now + 700),
        key,
        algorithm="EdDSA",
        headers={"kid": issued.key_id},
    )
    assert "not valid yet" in await rejected(stub, early)


async def test_rotation_keeps_shown_cards_working_until_the_old_key_retires(
    stub, alice, database
) -> None:
    shown = await issue(stub, alice, ttl_seconds=600)
    rotated = await stub.RotateQrKey(
        identity_pb2.RotateQrKeyRequest(program_id=PROGRAM, idempotency_key="r1", overlap_seconds=2)
    )
    assert rotated.retiring_key.key_id == shown.key_id
    assert rotated.retiring_key.status == identity_pb2.QR_KEY_STATUS_RETIRING
    assert rotated.active_key.status == identity_pb2.QR_KEY_STATUS_ACTIVE
    assert (
        await stub.RotateQrKey(
            identity_pb2.RotateQrKeyRequest(
                program_id=PROGRAM, idempotency_key="r1", overlap_seconds=2
            )
        )
        == rotated
    )
    key_set = (await stub.GetQrKeySet(identity_pb2.GetQrKeySetRequest(program_id=PROGRAM))).keys
    assert {k.key_id for k in key_set} == {shown.key_id, rotated.active_key.key_id}
    assert (await resolve(stub, shown.token)).member_id == alice
    fresh = await issue(stub, alice)
    assert fresh.key_id == rotated.active_key.key_id
    await asyncio.sleep(2.5)
    # The old key is retired: its tokens no longer verify, even before their own expiry, and
    # neither does a new token someone signs with it.
    assert "retired key" in await rejected(stub, shown.token)
    retired = await private_key(database, shown.key_id)
    now = int(time.time())
    late = jwt.encode(
        claims(alice, issued_at=now, expires_at=now + 60),
        retired,
        algorithm="EdDSA",
        headers={"kid": shown.key_id},
    )
    assert "retired key" in await rejected(stub, late)
    key_set = (await stub.GetQrKeySet(identity_pb2.GetQrKeySetRequest(program_id=PROGRAM))).keys
    assert [k.key_id for k in key_set] == [rotated.active_key.key_id]
    assert (await resolve(stub, fresh.token)).member_id == alice


async def test_a_rotation_by_default_outlives_every_token_of_the_old_key(stub, alice) -> None:
    rotated = await stub.RotateQrKey(
        identity_pb2.RotateQrKeyRequest(program_id=PROGRAM, idempotency_key="r")
    )
    assert not rotated.HasField("retiring_key")
    again = await stub.RotateQrKey(
        identity_pb2.RotateQrKeyRequest(program_id=PROGRAM, idempotency_key="r2")
    )
    overlap = again.retiring_key.not_after.seconds - again.active_key.not_before.seconds
    assert overlap >= 900
    error = await failure(
        stub.RotateQrKey(
            identity_pb2.RotateQrKeyRequest(
                program_id=PROGRAM, idempotency_key="r3", overlap_seconds=10**9
            )
        )
    )
    assert error.details().startswith("overlap_seconds:")


async def test_a_token_is_checked_when_the_till_scanned_it(stub, alice, database) -> None:
    """A till verifies a card offline and posts the transaction later with its occurred_at
    (`at`): the token is checked as of then, within the offline window (72 hours)."""
    issued = await issue(stub, alice)
    key = await private_key(database, issued.key_id)
    # The key made just now, as if it had been signing for days (tokens signed before it was
    # made are refused as issued outside its window).
    await database.execute(
        "UPDATE signing_keys SET not_before = not_before - interval '80 hours' WHERE key_id = $1",
        issued.key_id,
    )
    now = int(time.time())

    def signed(issued_at: int) -> str:
        return jwt.encode(
            claims(alice, issued_at=issued_at, expires_at=issued_at + 120),
            key,
            algorithm="EdDSA",
            headers={"kid": issued.key_id},
        )

    # Scanned an hour ago, a minute after it was shown: valid then, so it resolves now.
    hour_old = signed(now - 3600)
    assert (await resolve(stub, hour_old, at=now - 3540)).member_id == alice
    assert "expired" in await rejected(stub, hour_old)
    assert "expired" in await rejected(stub, hour_old, at=now - 3400)
    # Scanned before it was issued: a backdated transaction does not make it valid.
    assert "not valid yet" in await rejected(stub, hour_old, at=now - 3700)
    # Scanned longer ago than the offline window, though valid at that time.
    old = signed(now - 73 * 3600)
    reason = await rejected(stub, old, at=now - 73 * 3600 + 60)
    assert "more than 72 hours ago" in reason
    within = signed(now - 71 * 3600)
    assert (await resolve(stub, within, at=now - 71 * 3600 + 60)).member_id == alice
    # A till whose clock runs ahead: the token is checked now, when it is still valid.
    assert (await resolve(stub, issued.token, at=now + 3600)).member_id == alice
    # The signature is checked as ever: a forger's key under the program's key id.
    forged = jwt.encode(
        claims(alice, issued_at=now - 3600, expires_at=now - 3480),
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": issued.key_id},
    )
    assert "invalid signature" in await rejected(stub, forged, at=now - 3540)


async def test_a_retired_keys_token_verifies_when_scanned_before_the_key_retired(
    stub, alice
) -> None:
    """A rotation keeps the old key (its public half verifies until its not_after): a card
    shown and scanned offline before the key retired is posted after it retired."""
    shown = await issue(stub, alice, ttl_seconds=600)
    scanned = time.time()
    await stub.RotateQrKey(
        identity_pb2.RotateQrKeyRequest(program_id=PROGRAM, idempotency_key="r", overlap_seconds=1)
    )
    await asyncio.sleep(1.5)
    assert "retired key" in await rejected(stub, shown.token)
    assert (await resolve(stub, shown.token, at=scanned)).member_id == alice
    assert "retired key" in await rejected(stub, shown.token, at=time.time())


async def test_the_offline_window_is_a_setting_checked_at_start(start_service) -> None:
    environ = {"IDENTITY_DATABASE_URL": "postgresql://x", "IDENTITY_NATS_URL": "nats://x"}
    variable = "IDENTITY_QR_TOKEN_OFFLINE_AGE_MAX_MS"
    for wrong in ("-1", str(31 * 86_400_000)):
        with pytest.raises(ConfigError, match=variable):
            load_config(IdentityConfig, prefix="IDENTITY", environ={**environ, variable: wrong})
    config = load_config(IdentityConfig, prefix="IDENTITY", environ=environ)
    assert config.qr_token_offline_age_max_ms == 72 * 3_600_000
    async with start_service(
        SPEC, IdentityConfig, token_clock_skew_ms=0, qr_token_offline_age_max_ms=60_000
    ) as (_, channel):
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        await stub.CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=PROGRAM, idempotency_key="create", program=program(PROGRAM)
            )
        )
        member_id = (await enrol(stub, email("dave@example.com"))).member.member_id
        issued = await issue(stub, member_id, ttl_seconds=600)
        now = time.time()
        assert (await resolve(stub, issued.token, at=now)).member_id == member_id
        reason = await rejected(stub, issued.token, at=now - 61)
        assert "more than 1 minute ago" in reason
