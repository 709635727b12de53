"""Identity's program registry through real gRPC, PostgreSQL and JetStream."""

import grpc
import nats
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2, identity_pb2_grpc
from services.identity.app import SPEC, IdentityConfig
from tests.conftest import Servers
from tests.support.calls import program


@pytest.fixture
async def identity(start_service):
    async with start_service(SPEC, IdentityConfig) as (service, channel):
        yield identity_pb2_grpc.IdentityServiceStub(channel), service


async def create(stub, program_id: str, /, key: str | None = None, **overrides):
    body = program(program_id)
    for field, value in overrides.items():
        setattr(body, field, value)
    return await stub.CreateProgram(
        identity_pb2.CreateProgramRequest(
            program_id=program_id, idempotency_key=key or f"create-{program_id}", program=body
        )
    )


async def test_create_read_and_announce_a_program(
    identity, servers: Servers, nats_namespace: str
) -> None:
    stub, service = identity
    created = (await create(stub, "acme")).program
    assert created.create_time.seconds > 0
    assert (
        await stub.GetProgram(identity_pb2.GetProgramRequest(program_id="acme"))
    ).program == created
    await service.relay.flush(timeout_s=10)
    client = await nats.connect(servers.nats_url)
    try:
        subscription = await client.jetstream().pull_subscribe(
            f"{nats_namespace}.identity.program_created",
            stream=f"{nats_namespace}_identity".upper(),
        )
        [message] = await subscription.fetch(1, timeout=5)
        event = events_pb2.Event.FromString(message.data)
        assert message.headers["Nats-Msg-Id"] == event.event_id
        assert event.producer == "identity" and event.program_id == "acme"
        assert event.program_created.time_zone == "Europe/Amsterdam"
    finally:
        await client.close()


async def test_a_taken_program_id_is_already_exists_and_a_retry_replays(identity) -> None:
    stub, _ = identity
    first = await create(stub, "acme")
    assert await create(stub, "acme") == first
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(stub, "acme", key="another-key")
    assert error.value.code() == grpc.StatusCode.ALREADY_EXISTS


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "EURO"}, "program.currency"),
        ({"time_zone": "Europe/Atlantis"}, "program.time_zone"),
        ({"name": " "}, "program.name"),
        ({"default_locale": "dutch"}, "program.default_locale"),
        ({"default_locale": "nl-NL\n"}, "program.default_locale"),
        ({"program_id": "other"}, "program.program_id"),
    ],
)
async def test_bad_programs_name_the_field_and_write_nothing(identity, overrides, field) -> None:
    stub, _ = identity
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(stub, "acme", **overrides)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(f"{field}:")
    listed = await stub.ListPrograms(identity_pb2.ListProgramsRequest())
    assert list(listed.programs) == []


async def test_bad_program_ids_are_refused(identity) -> None:
    stub, _ = identity
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await create(stub, "Not Valid!")
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("program_id:")


async def test_update_changes_only_the_masked_fields(identity) -> None:
    stub, _ = identity
    await create(stub, "acme")
    changes = identity_pb2.Program(
        name="Acme Rewards", time_zone="America/New_York", currency="USD"
    )
    updated = (
        await stub.UpdateProgram(
            identity_pb2.UpdateProgramRequest(
                program_id="acme",
                idempotency_key="u1",
                program=changes,
                update_mask=FieldMask(paths=["name", "time_zone"]),
            )
        )
    ).program
    assert (updated.name, updated.time_zone, updated.currency) == (
        "Acme Rewards",
        "America/New_York",
        "EUR",
    )
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.UpdateProgram(
            identity_pb2.UpdateProgramRequest(
                program_id="acme",
                idempotency_key="u2",
                program=changes,
                update_mask=FieldMask(paths=["currency"]),
            )
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("update_mask:")


async def test_programs_are_listed_in_pages(identity) -> None:
    stub, _ = identity
    for program_id in ["c", "a", "e", "b", "d"]:
        await create(stub, program_id)
    seen, token = [], ""
    while True:
        page = await stub.ListPrograms(
            identity_pb2.ListProgramsRequest(page_size=2, page_token=token)
        )
        seen += [p.program_id for p in page.programs]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["a", "b", "c", "d", "e"]
