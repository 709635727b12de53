"""Identity follows the ledger's entry tier: a rename in SetTierDefinitions reaches identity's
program (GetProgram, new enrolments) through TierDefinitionsChanged, whatever the order of the
announcement and of identity's own program set-up, and an older announcement redelivered late
changes nothing. Identity and the ledger run on real PostgreSQL and JetStream."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import nats
import pytest
from google.protobuf import field_mask_pb2

from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from loyalty.ledger.v1 import ledger_pb2
from services.identity.app import SPEC as IDENTITY
from services.identity.app import IdentityConfig
from services.identity.consumers import TIER_DEFINITIONS_CONSUMER
from services.ledger.app import SPEC as LEDGER
from services.ledger.app import LedgerConfig
from tests.conftest import Servers
from tests.services.identity.conftest import PROGRAM, email, enrol, failure
from tests.services.ledger.support import Ledger, key
from tests.services.ledger.test_programs import TIERS
from tests.support.calls import program
from tests.support.streams import consumed

BLUE = ledger_pb2.TierDefinition(code="blue", name="Blue", rank=0, threshold=0)


@pytest.fixture
async def services(
    start_service,
) -> AsyncIterator[tuple[Ledger, identity_pb2_grpc.IdentityServiceStub]]:  # type: ignore[no-untyped-def]
    """The ledger with acme's tiers (member, silver, gold) and identity without a program."""
    async with (
        start_service(LEDGER, LedgerConfig, jobs_enabled=False) as (_, ledger_channel),
        start_service(IDENTITY, IdentityConfig) as (_, identity_channel),
    ):
        ledger = Ledger(ledger_channel)
        await ledger.setup()
        yield ledger, identity_pb2_grpc.IdentityServiceStub(identity_channel)


async def create_program(identity: identity_pb2_grpc.IdentityServiceStub) -> identity_pb2.Program:
    response = await identity.CreateProgram(
        identity_pb2.CreateProgramRequest(
            program_id=PROGRAM, idempotency_key=uuid.uuid4().hex, program=program(PROGRAM)
        )
    )
    return response.program


async def rename_entry_tier(ledger: Ledger) -> None:
    await ledger.stub.SetTierDefinitions(
        ledger_pb2.SetTierDefinitionsRequest(
            program_id=PROGRAM,
            idempotency_key=key(),
            tiers=[BLUE, *TIERS[1:]],
            tier_code_mappings=[
                ledger_pb2.TierCodeMapping(from_tier_code="member", to_tier_code="blue")
            ],
        )
    )


async def entry_tier(identity: identity_pb2_grpc.IdentityServiceStub) -> str:
    response = await identity.GetProgram(identity_pb2.GetProgramRequest(program_id=PROGRAM))
    return response.program.entry_tier_code


async def kept_version(database_url: str) -> int | None:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetchval(  # type: ignore[no-any-return]
            "SELECT version FROM identity.ledger_tiers WHERE program_id = $1", PROGRAM
        )
    finally:
        await connection.close()


async def test_a_renamed_entry_tier_reaches_identity_s_program_and_enrolments(
    services, servers: Servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    ledger, identity = services
    await create_program(identity)
    await rename_entry_tier(ledger)
    for _ in range(600):
        if await entry_tier(identity) == "blue":
            break
        await asyncio.sleep(0.05)
    assert await entry_tier(identity) == "blue"
    enrolled = await enrol(identity, email("new@example.com"))
    connection = await asyncpg.connect(database_url)
    try:
        named = await connection.fetchval(
            "SELECT entry_tier_code FROM identity.members WHERE program_id = $1 AND member_id = $2",
            PROGRAM,
            enrolled.member.member_id,
        )
    finally:
        await connection.close()
    assert named == "blue"

    # An older announcement (the tiers as set first, version 1) redelivered late, and this one
    # again: neither changes the program.
    client = await nats.connect(servers.nats_url)
    try:
        for version, entry in ((1, "member"), (2, "blue")):
            stale = events_pb2.Event(
                event_id=str(uuid.uuid4()),
                program_id=PROGRAM,
                producer="ledger",
                tier_definitions_changed=events_pb2.TierDefinitionsChanged(
                    tiers=[events_pb2.TierDefinitionCode(code=entry, rank=0)],
                    entry_tier_code=entry,
                    version=version,
                ),
            )
            await client.jetstream().publish(
                f"{nats_namespace}.ledger.tier_definitions_changed",
                stale.SerializeToString(),
                headers={"Nats-Msg-Id": stale.event_id},
            )
    finally:
        await client.close()
    await consumed(
        servers, nats_namespace, "ledger", TIER_DEFINITIONS_CONSUMER.durable, delivered_at_least=1
    )
    assert await entry_tier(identity) == "blue"
    assert await kept_version(database_url) == 2


async def test_a_program_set_up_after_the_rename_takes_the_ledger_s_entry_tier(
    services, servers: Servers, nats_namespace: str, database_url: str
) -> None:  # type: ignore[no-untyped-def]
    ledger, identity = services
    await rename_entry_tier(ledger)
    for _ in range(600):
        if await kept_version(database_url) == 2:
            break
        await asyncio.sleep(0.05)
    assert await kept_version(database_url) == 2
    # Configuration written before the rename names the old code: it follows the mapping.
    assert (await create_program(identity)).entry_tier_code == "blue"
    updated = await identity.UpdateProgram(
        identity_pb2.UpdateProgramRequest(
            program_id=PROGRAM,
            idempotency_key=uuid.uuid4().hex,
            program=identity_pb2.Program(entry_tier_code="member"),
            update_mask=field_mask_pb2.FieldMask(paths=["entry_tier_code"]),
        )
    )
    assert updated.program.entry_tier_code == "blue"
    # A code the ledger never defined is refused, naming the ledger's entry tier.
    error = await failure(
        identity.UpdateProgram(
            identity_pb2.UpdateProgramRequest(
                program_id=PROGRAM,
                idempotency_key=uuid.uuid4().hex,
                program=identity_pb2.Program(entry_tier_code="bronze"),
                update_mask=field_mask_pb2.FieldMask(paths=["entry_tier_code"]),
            )
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'blue'" in (error.details() or "")
    assert await entry_tier(identity) == "blue"
