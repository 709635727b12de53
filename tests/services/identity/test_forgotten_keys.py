"""After an erasure the member's idempotency keys are kept only under a keyed hash (HMAC-SHA256
under IDENTITY_FORGOTTEN_KEY_SECRET): the keys of its changes, of its merges and of the erasure
itself; never in plain text nor as an unkeyed SHA-256, which a short key is found from by trying
every value. Retries still get their stored answers; what older versions left is moved."""

import hashlib
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import SPEC, IdentityConfig
from services.identity.rpc_base import Settings
from services.identity.servicer import IdentityServicer
from services.ledger.app import SPEC as LEDGER_SPEC
from services.ledger.app import LedgerConfig
from services.shared.config import ConfigError, load_config
from services.shared.idempotency import (
    LOCAL_FORGOTTEN_KEY_SECRET,
    Forgetting,
    legacy_forgotten_key,
)
from tests.services.identity.conftest import KIND, PROGRAM, email, enrol, failure, identifier
from tests.services.identity.test_privacy import configure_ledger
from tests.support.calls import program

SECRET = "forgotten-keys-test-secret-0123456789abcdef"
FORGETTING = Forgetting(SECRET.encode())
POS = "POS-55501"
# A till's keys name its customer: a few thousand guesses find them from an unkeyed SHA-256.
ENROL_KEY = f"enrol:{POS}"
OTHER_ENROL_KEY = "enrol:old.account@example.net"
CONSENT_KEY = f"consent:{POS}"
MERGE_KEY = f"merge:{POS}"
ERASE_KEY = f"erase:{POS}"
KEYS = (ENROL_KEY, OTHER_ENROL_KEY, CONSENT_KEY, MERGE_KEY, ERASE_KEY)


@pytest.fixture
async def platform(
    start_service,
) -> AsyncIterator[tuple[identity_pb2_grpc.IdentityServiceStub, object]]:
    """Identity (with the test's forgotten-key secret) and the real ledger its merges call."""
    async with start_service(LEDGER_SPEC, LedgerConfig) as (ledger_service, ledger_channel):
        from loyalty.ledger.v1 import ledger_pb2_grpc

        async with start_service(
            SPEC,
            IdentityConfig,
            ledger_address=f"127.0.0.1:{ledger_service.port}",
            forgotten_key_secret=SECRET,
        ) as (service, channel):
            stub = identity_pb2_grpc.IdentityServiceStub(channel)
            await stub.CreateProgram(
                identity_pb2.CreateProgramRequest(
                    program_id=PROGRAM, idempotency_key="c", program=program(PROGRAM)
                )
            )
            await configure_ledger(ledger_pb2_grpc.LedgerServiceStub(ledger_channel))
            yield stub, service


def unkeyed(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def kept_anywhere(database: asyncpg.Connection, value: str) -> list[tuple[str, str]]:
    """(table, column) of every identity table column holding `value` (as text, or in bytes)."""
    columns = await database.fetch(
        "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema "
        "AND t.table_name = c.table_name "
        "WHERE c.table_schema = 'identity' AND t.table_type = 'BASE TABLE'"
    )
    found = []
    for column in columns:
        table, name = column["table_name"], column["column_name"]
        condition = (
            f"position(convert_to($1, 'UTF8') in \"{name}\") > 0"
            if column["data_type"] == "bytea"
            else f'strpos("{name}"::text, $1) > 0'
        )
        if await database.fetchval(f'SELECT count(*) FROM "{table}" WHERE {condition}', value):
            found.append((table, name))
    return found


class Calls:
    """The member's calls, each sent again as it was to show its retry is recognised."""

    def __init__(self, stub: identity_pb2_grpc.IdentityServiceStub) -> None:
        self.stub = stub

    async def enrol(self) -> identity_pb2.EnrollMemberResponse:
        return await enrol(
            self.stub, identifier(KIND.IDENTIFIER_KIND_POS_CUSTOMER_ID, POS), key=ENROL_KEY
        )

    async def enrol_other(self) -> identity_pb2.EnrollMemberResponse:
        return await enrol(self.stub, email("old.account@example.net"), key=OTHER_ENROL_KEY)

    async def consent(self, member_id: str) -> identity_pb2.UpdateConsentsResponse:
        return await self.stub.UpdateConsents(
            identity_pb2.UpdateConsentsRequest(
                program_id=PROGRAM,
                idempotency_key=CONSENT_KEY,
                member_id=member_id,
                consent_updates=[
                    identity_pb2.ConsentUpdate(channel=common_pb2.CONSENT_CHANNEL_SMS, granted=True)
                ],
                source_channel=common_pb2.CHANNEL_POS,
            )
        )

    async def merge(self, survivor: str, merged: str) -> identity_pb2.MergeMembersResponse:
        return await self.stub.MergeMembers(
            identity_pb2.MergeMembersRequest(
                program_id=PROGRAM,
                idempotency_key=MERGE_KEY,
                survivor_member_id=survivor,
                merged_member_id=merged,
                operator_id="desk-7",
            )
        )

    async def erase(self, member_id: str) -> identity_pb2.EraseMemberResponse:
        return await self.stub.EraseMember(
            identity_pb2.EraseMemberRequest(
                program_id=PROGRAM,
                idempotency_key=ERASE_KEY,
                member_id=member_id,
                operator_id="dpo-1",
                reason="ticket 4711",
            )
        )


async def erased_member(calls: Calls) -> tuple[str, str, identity_pb2.EraseMemberResponse]:
    """(member, merged member, the erasure's answer) after every call of `KEYS`."""
    member_id = (await calls.enrol()).member.member_id
    other = (await calls.enrol_other()).member.member_id
    await calls.consent(member_id)
    await calls.merge(member_id, other)
    return member_id, other, await calls.erase(member_id)


async def assert_retries_replay(
    calls: Calls, member_id: str, other: str, erased: identity_pb2.EraseMemberResponse
) -> None:
    """Every call of the erased member answered from its record, none run again."""
    enrolled = await calls.enrol()
    assert enrolled.member.member_id == member_id and not enrolled.created
    assert not enrolled.member.identifiers and not enrolled.member.HasField("profile")
    assert (await calls.enrol_other()).member.member_id == other
    # Run again, it would be refused: the member is erased.
    [consent] = (await calls.consent(member_id)).consents
    assert consent.channel == common_pb2.CONSENT_CHANNEL_SMS and consent.granted
    assert (await calls.merge(member_id, other)).survivor.member_id == member_id
    assert await calls.erase(member_id) == erased


async def test_an_erasure_keeps_every_key_of_the_member_only_under_its_keyed_hash(
    platform, database
) -> None:
    stub, _ = platform
    calls = Calls(stub)
    member_id = (await calls.enrol()).member.member_id
    other = (await calls.enrol_other()).member.member_id
    await calls.consent(member_id)
    await calls.merge(member_id, other)
    assert ("merges", "idempotency_key") in await kept_anywhere(database, MERGE_KEY)
    erased = await calls.erase(member_id)

    rows = {
        row["idempotency_key"]: row["method"]
        for row in await database.fetch("SELECT idempotency_key, method FROM idempotency_keys")
    }
    for key in KEYS:
        # Nowhere in plain text, nowhere as the unkeyed SHA-256 (with or without a prefix).
        assert await kept_anywhere(database, key) == [], key
        assert await kept_anywhere(database, unkeyed(key)) == [], key
        assert key not in rows and legacy_forgotten_key(key) not in rows
        # Under the keyed hash with the service's secret, not the local default.
        assert FORGETTING.key(key) in rows, key
        assert Forgetting(LOCAL_FORGOTTEN_KEY_SECRET.encode()).key(key) not in rows
    assert rows[FORGETTING.key(ERASE_KEY)] == "EraseMember"
    assert rows[FORGETTING.key(MERGE_KEY)] == "MergeMembers"
    assert await database.fetchval(
        "SELECT idempotency_key FROM merges WHERE merged_member_id = $1", other
    ) == FORGETTING.key(MERGE_KEY)

    await assert_retries_replay(calls, member_id, other, erased)
    # The retries ran nothing and stored their keys nowhere.
    assert await database.fetchval("SELECT count(*) FROM members") == 2
    for key in KEYS:
        assert await kept_anywhere(database, key) == [], key


async def test_keys_older_versions_left_are_still_recognised_and_moved_to_the_keyed_hash(
    platform, database
) -> None:
    """What an erasure left before the keyed hash: its rows under the plain SHA-256, the
    erasure's and the merge's keys in plain text."""
    stub, service = platform
    calls = Calls(stub)
    member_id, other, erased = await erased_member(calls)
    for key in (ENROL_KEY, OTHER_ENROL_KEY, CONSENT_KEY, MERGE_KEY):
        await database.execute(
            "UPDATE idempotency_keys SET idempotency_key = $2 WHERE idempotency_key = $1",
            FORGETTING.key(key),
            legacy_forgotten_key(key),
        )
    await database.execute(
        "UPDATE idempotency_keys SET idempotency_key = $2 WHERE idempotency_key = $1",
        FORGETTING.key(ERASE_KEY),
        ERASE_KEY,
    )
    await database.execute("UPDATE merges SET idempotency_key = $1", MERGE_KEY)
    await assert_retries_replay(calls, member_id, other, erased)

    servicer = IdentityServicer(
        service.pool,  # type: ignore[attr-defined]
        service.runtime.outbox,  # type: ignore[attr-defined]
        settings=Settings(forgetting=FORGETTING),
    )
    # The service's own housekeeping looks once at start, normally before the rows were put back.
    assert await servicer.forget_legacy_keys() <= 6
    assert await servicer.forget_legacy_keys() == 0
    rows = {
        row["idempotency_key"] for row in await database.fetch("SELECT * FROM idempotency_keys")
    }
    for key in KEYS:
        assert await kept_anywhere(database, key) == [], key
        assert await kept_anywhere(database, unkeyed(key)) == [], key
        assert FORGETTING.key(key) in rows, key
    assert await database.fetchval("SELECT idempotency_key FROM merges") == FORGETTING.key(
        MERGE_KEY
    )
    await assert_retries_replay(calls, member_id, other, erased)


async def test_after_a_rotation_the_previous_secret_still_recognises_retries(
    start_service, platform, database
) -> None:
    stub, _ = platform
    member_id, other, erased = await erased_member(Calls(stub))
    rotated = "forgotten-keys-rotated-secret-0123456789abcdef"
    async with start_service(
        SPEC,
        IdentityConfig,
        forgotten_key_secret=rotated,
        forgotten_key_previous_secrets=(SECRET,),
    ) as (_, channel):
        calls = Calls(identity_pb2_grpc.IdentityServiceStub(channel))
        assert await calls.erase(member_id) == erased
        enrolled = await calls.enrol()
        assert enrolled.member.member_id == member_id and not enrolled.created
    # Without it every retry runs as new: the calls on the erased members are refused, but the
    # erased member's enrolment runs again, a new member for the person.
    async with start_service(SPEC, IdentityConfig, forgotten_key_secret=rotated) as (_, channel):
        calls = Calls(identity_pb2_grpc.IdentityServiceStub(channel))
        for call in (
            calls.erase(member_id),
            calls.consent(member_id),
            calls.merge(member_id, other),
        ):
            assert (await failure(call)).code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (await calls.enrol()).created


CARD = "4000001234567899"  # Luhn-valid


def card(value: str = CARD) -> identity_pb2.Identifier:
    return identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, value)


async def block_card(stub, member_id: str, reason: int) -> None:
    await stub.RemoveIdentifier(
        identity_pb2.RemoveIdentifierRequest(
            program_id=PROGRAM,
            idempotency_key=f"block:{member_id}",
            member_id=member_id,
            kind=KIND.IDENTIFIER_KIND_CARD_NUMBER,
            value=CARD,
            reason=reason,  # type: ignore[arg-type]
        )
    )


def blocked_error(error: grpc.aio.AioRpcError) -> tuple[grpc.StatusCode, str]:
    return error.code(), dict(error.trailing_metadata() or ())["loyalty-error-reason"]


async def test_a_card_blocked_for_a_merged_member_stays_blocked_after_the_survivors_erasure(
    platform, database
) -> None:
    """The card customer lost the card, installed the app and was merged into the app member,
    who is then erased: the block, still naming the merged member, is kept under its keyed hash
    too, and the card goes back to nobody."""
    stub, _ = platform
    calls = Calls(stub)
    app_member = (await calls.enrol()).member.member_id
    card_member = (await enrol(stub, email("card@example.com"), card())).member.member_id
    await block_card(stub, card_member, identity_pb2.IDENTIFIER_REMOVAL_REASON_LOST)
    await calls.merge(app_member, card_member)
    await calls.erase(app_member)

    error = await failure(enrol(stub, email("finder@example.com"), card("4000 0012 3456 7899")))
    assert blocked_error(error) == (grpc.StatusCode.FAILED_PRECONDITION, "IDENTIFIER_BLOCKED")
    assert "reported lost" in error.details()
    assert await kept_anywhere(database, CARD) == []
    assert not await database.fetchval(
        "SELECT count(*) FROM identifier_lookup WHERE blocked_member_id <> ''"
    )
    [kept] = await database.fetch("SELECT * FROM erased_blocked_identifiers")
    assert kept["reason"] == "lost"
    assert kept["identifier_hash"].startswith("forgotten:v2:")


async def test_an_erased_members_blocked_card_stays_blocked_under_the_previous_secret(
    start_service, platform
) -> None:
    stub, _ = platform
    member_id = (await enrol(stub, email("owner@example.com"), card())).member.member_id
    await block_card(stub, member_id, identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN)
    await Calls(stub).erase(member_id)
    rotated = "forgotten-keys-rotated-secret-0123456789abcdef"
    async with start_service(
        SPEC,
        IdentityConfig,
        forgotten_key_secret=rotated,
        forgotten_key_previous_secrets=(SECRET,),
    ) as (_, channel):
        after_rotation = identity_pb2_grpc.IdentityServiceStub(channel)
        error = await failure(enrol(after_rotation, card()))
        assert blocked_error(error) == (grpc.StatusCode.FAILED_PRECONDITION, "IDENTIFIER_BLOCKED")
        assert error.details().startswith("identifiers[0].value: the card was reported stolen")
    # Only the hash under the secret of the erasure is kept, which no other secret finds: with
    # the secret dropped the card is free again (deploy/README: keep it in `previous`).
    async with start_service(SPEC, IdentityConfig, forgotten_key_secret=rotated) as (_, channel):
        dropped = identity_pb2_grpc.IdentityServiceStub(channel)
        assert (await enrol(dropped, card())).created


def test_the_keyed_hash_depends_on_the_secret_and_moves_a_legacy_form_without_the_key() -> None:
    other = Forgetting(b"another-secret-of-at-least-32-bytes!!")
    assert FORGETTING.key(ENROL_KEY) != other.key(ENROL_KEY)
    assert unkeyed(ENROL_KEY) not in FORGETTING.key(ENROL_KEY)
    assert FORGETTING.rekeyed(legacy_forgotten_key(ENROL_KEY)) == FORGETTING.key(ENROL_KEY)
    assert FORGETTING.forms(ENROL_KEY) == [
        FORGETTING.key(ENROL_KEY),
        legacy_forgotten_key(ENROL_KEY),
    ]
    with pytest.raises(ValueError):
        Forgetting(b"short")


def test_a_short_secret_is_refused_at_start_naming_its_variable() -> None:
    environ = {"IDENTITY_DATABASE_URL": "postgresql://x", "IDENTITY_NATS_URL": "nats://x"}
    with pytest.raises(ConfigError, match="IDENTITY_FORGOTTEN_KEY_SECRET"):
        load_config(
            IdentityConfig,
            prefix="IDENTITY",
            environ={**environ, "IDENTITY_FORGOTTEN_KEY_SECRET": "x"},
        )
    with pytest.raises(ConfigError, match="IDENTITY_FORGOTTEN_KEY_PREVIOUS_SECRETS"):
        load_config(
            IdentityConfig,
            prefix="IDENTITY",
            environ={**environ, "IDENTITY_FORGOTTEN_KEY_PREVIOUS_SECRETS": f"{SECRET},short"},
        )
    config = load_config(
        IdentityConfig,
        prefix="IDENTITY",
        environ={**environ, "IDENTITY_FORGOTTEN_KEY_SECRET": SECRET},
    )
    assert config.forgetting().key(ENROL_KEY) == FORGETTING.key(ENROL_KEY)
