"""Identity started in-process on the test's database, with a program, and ways to look inside."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import grpc
import nats
import pytest

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import SPEC, IdentityConfig
from tests.conftest import Servers
from tests.support.calls import program

PROGRAM = "acme"
KIND = common_pb2.IdentifierKind
# Key ids a forger may put in a token's (unsigned) header, escaped in its JSON: a lone
# surrogate, which cannot be sent to PostgreSQL, NUL, which it cannot store, and a letter
# outside ASCII.
FORGED_KEY_IDS = ["\ud800", "\x00", "qr-20261124-0000000\u00e9"]


@pytest.fixture
async def identity(
    start_service,
) -> AsyncIterator[tuple[identity_pb2_grpc.IdentityServiceStub, object]]:
    """(stub, service) of identity with the program "acme" (nl-NL, entry tier "member")."""
    async with start_service(SPEC, IdentityConfig, token_clock_skew_ms=0) as (service, channel):
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        await stub.CreateProgram(
            identity_pb2.CreateProgramRequest(
                program_id=PROGRAM, idempotency_key="create", program=program(PROGRAM)
            )
        )
        yield stub, service


@pytest.fixture
async def stub(identity) -> identity_pb2_grpc.IdentityServiceStub:
    return identity[0]


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the identity schema of the test's database."""
    connection = await asyncpg.connect(database_url, server_settings={"search_path": "identity"})
    try:
        yield connection
    finally:
        await connection.close()


def identifier(
    kind: int, value: str, provider: str = "", verified: bool = False
) -> identity_pb2.Identifier:
    return identity_pb2.Identifier(kind=kind, value=value, provider=provider, verified=verified)  # type: ignore[arg-type]


def email(value: str) -> identity_pb2.Identifier:
    return identifier(common_pb2.IDENTIFIER_KIND_EMAIL, value)


async def enrol(
    stub: identity_pb2_grpc.IdentityServiceStub,
    *identifiers: identity_pb2.Identifier,
    key: str | None = None,
    program_id: str = PROGRAM,
    **fields: object,
) -> identity_pb2.EnrollMemberResponse:
    fields.setdefault("channel", common_pb2.CHANNEL_APP)
    return await stub.EnrollMember(
        identity_pb2.EnrollMemberRequest(
            program_id=program_id,
            idempotency_key=key or uuid.uuid4().hex,
            identifiers=list(identifiers),
            **fields,  # type: ignore[arg-type]
        )
    )


async def failure(call) -> grpc.aio.AioRpcError:
    """The error a call ends with; fails the test if it succeeds."""
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error
    raise AssertionError("the call succeeded")


# What the outbox relay writes in the background as it publishes (where it stored events with
# personal data): not written by the call under test, and it may land at any moment.
RELAY_TABLES = ("outbox_personal_messages", "stream_erasures")


async def row_counts(database: asyncpg.Connection) -> dict[str, int]:
    """The number of rows of every identity table (the registry's program included), but the
    tables of the relay's bookkeeping."""
    tables = await database.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'identity' "
        "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '%migrations' "
        "AND table_name <> ALL($1::text[]) ORDER BY table_name",
        list(RELAY_TABLES),
    )
    return {
        t["table_name"]: await database.fetchval(f'SELECT count(*) FROM "{t["table_name"]}"')
        for t in tables
    }


async def published(
    servers: Servers, namespace: str, subject: str, count: int
) -> list[events_pb2.Event]:
    """The first `count` events on `identity.<subject>` of the test's namespace."""
    client = await nats.connect(servers.nats_url)
    try:
        subscription = await client.jetstream().pull_subscribe(
            f"{namespace}.identity.{subject}", stream=f"{namespace}_identity".upper()
        )
        messages = await subscription.fetch(count, timeout=10)
        return [events_pb2.Event.FromString(message.data) for message in messages]
    finally:
        await client.close()
