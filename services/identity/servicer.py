"""IdentityService: proto ⇄ domain translation around transactions.

The program registry is here; members, credentials and privacy are in rpc_*.py, one part each.
"""

import grpc

from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2
from services.identity import domain, events, repository
from services.identity.errors import ProgramExists, ProgramNotFound
from services.identity.rpc_cards import CardRpcs
from services.identity.rpc_credentials import CredentialRpcs
from services.identity.rpc_erasure import ErasureRpcs
from services.identity.rpc_import import ImportRpcs
from services.identity.rpc_key_claims import KeyClaimRpcs
from services.identity.rpc_members import MemberRpcs
from services.identity.rpc_resolve import ResolveRpcs
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import from_epoch_seconds

PROGRAMS_PAGE_SIZE_MAX = 200


def program_from_proto(program: identity_pb2.Program) -> domain.Program:
    return domain.Program(
        program_id=program.program_id,
        name=program.name,
        points_name=program.points_name,
        currency=program.currency,
        time_zone=program.time_zone,
        entry_tier_code=program.entry_tier_code,
        default_locale=program.default_locale,
    )


def program_to_proto(stored: repository.StoredProgram) -> identity_pb2.Program:
    program = stored.program
    return identity_pb2.Program(
        program_id=program.program_id,
        name=program.name,
        points_name=program.points_name,
        currency=program.currency,
        time_zone=program.time_zone,
        entry_tier_code=program.entry_tier_code,
        default_locale=program.default_locale,
        create_time=from_epoch_seconds(stored.created_at_s),
        update_time=from_epoch_seconds(stored.updated_at_s),
    )


def program_event(program: identity_pb2.Program) -> events_pb2.ProgramChanged:
    return events_pb2.ProgramChanged(
        program_id=program.program_id,
        name=program.name,
        points_name=program.points_name,
        currency=program.currency,
        time_zone=program.time_zone,
        entry_tier_code=program.entry_tier_code,
    )


class IdentityServicer(
    MemberRpcs, ImportRpcs, ResolveRpcs, CardRpcs, CredentialRpcs, ErasureRpcs, KeyClaimRpcs
):
    """All of IdentityService: the program registry here, the rest in the parts it derives from."""

    async def CreateProgram(
        self, request: identity_pb2.CreateProgramRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CreateProgramResponse:
        validation.program_id(request.program_id)
        if request.program.program_id != request.program_id:
            raise InvalidArgument("program.program_id", "must equal program_id")
        program = program_from_proto(request.program).validate()

        async with self.pool.acquire() as connection, connection.transaction():

            async def create() -> identity_pb2.CreateProgramResponse:
                await repository.lock_ledger_tiers(connection, program.program_id)
                # A program created after the ledger renamed its entry tier takes the new code.
                tiers = await repository.fetch_ledger_tiers(connection, program.program_id)
                if not await repository.insert_program(
                    connection, domain.follow_ledger(program, tiers)
                ):
                    raise ProgramExists(program.program_id)
                stored = await repository.fetch_program(connection, program.program_id)
                assert stored is not None
                created = program_to_proto(stored)
                await self.outbox.enqueue(
                    connection,
                    events.PROGRAM_CREATED,
                    events_pb2.Event(
                        program_id=program.program_id, program_created=program_event(created)
                    ),
                )
                return identity_pb2.CreateProgramResponse(program=created)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CreateProgram",
                request=request,
                response_type=identity_pb2.CreateProgramResponse,
                work=create,
                forgetting=self.settings.forgetting,
            )

    async def GetProgram(
        self, request: identity_pb2.GetProgramRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetProgramResponse:
        validation.program_id(request.program_id)
        stored = await repository.fetch_program(self.pool, request.program_id)
        if stored is None:
            raise ProgramNotFound(request.program_id)
        return identity_pb2.GetProgramResponse(program=program_to_proto(stored))

    async def UpdateProgram(
        self, request: identity_pb2.UpdateProgramRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.UpdateProgramResponse:
        validation.program_id(request.program_id)
        changes = program_from_proto(request.program)
        paths = list(request.update_mask.paths)

        async with self.pool.acquire() as connection, connection.transaction():

            async def update() -> identity_pb2.UpdateProgramResponse:
                follows_ledger = "entry_tier_code" in paths
                if follows_ledger:
                    # Before the program's row, as the consumer of the ledger's tiers takes them.
                    await repository.lock_ledger_tiers(connection, request.program_id)
                current = await repository.fetch_program(
                    connection, request.program_id, for_update=True
                )
                if current is None:
                    raise ProgramNotFound(request.program_id)
                updated_program = domain.apply_update(current.program, changes, paths)
                if follows_ledger:
                    tiers = await repository.fetch_ledger_tiers(connection, request.program_id)
                    updated_program = domain.follow_ledger(updated_program, tiers)
                await repository.update_program(connection, updated_program)
                stored = await repository.fetch_program(connection, request.program_id)
                assert stored is not None
                updated = program_to_proto(stored)
                await self.outbox.enqueue(
                    connection,
                    events.PROGRAM_UPDATED,
                    events_pb2.Event(
                        program_id=request.program_id, program_updated=program_event(updated)
                    ),
                )
                return identity_pb2.UpdateProgramResponse(program=updated)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="UpdateProgram",
                request=request,
                response_type=identity_pb2.UpdateProgramResponse,
                work=update,
                forgetting=self.settings.forgetting,
            )

    async def ListPrograms(
        self, request: identity_pb2.ListProgramsRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListProgramsResponse:
        size = validation.page_size(request.page_size, maximum=PROGRAMS_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("after",), types={"after": str})
        programs = await repository.fetch_programs(
            self.pool, after_id=cursor["after"] if cursor else "", limit=size + 1
        )
        next_token = (
            encode_page_token({"after": programs[size - 1].program.program_id})
            if len(programs) > size
            else ""
        )
        return identity_pb2.ListProgramsResponse(
            programs=[program_to_proto(p) for p in programs[:size]], next_page_token=next_token
        )
