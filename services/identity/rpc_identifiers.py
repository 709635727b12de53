"""IdentityService, a member's identifiers: add, release, and block a card reported lost or stolen.

A blocked card keeps its place in the program's identifier lookup with no member, so it resolves
to nobody and nobody can enrol with it or add it; the member keeps the account and points and
gets a new card with AddIdentifier. A lost card found again may go back to its own member (or to
the survivor that member was merged into); a stolen card stays blocked. So does any card once
its member is erased: the block is then kept under the card's keyed hash, naming nobody, and a
lost card has no member left to go back to. A member's last identifier can be blocked but not
released: nothing would recognise the member any more.
"""

from collections.abc import Callable, Sequence

import asyncpg
import grpc

from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2
from services.identity import convert, events, identifiers, members
from services.identity import repository_blocks as block_store
from services.identity import repository_members as member_store
from services.identity.errors import (
    IdentifierBlocked,
    IdentifierHeld,
    IdentifierNotFound,
    IdentifierTaken,
    LastIdentifier,
)
from services.identity.identifiers import IdentifierKey
from services.identity.rpc_base import RpcBase, check_member_id
from services.shared import validation
from services.shared.errors import InvalidArgument, ResourceExhausted
from services.shared.idempotency import Forgetting, once
from services.shared.timestamps import timestamp


def block_reason(reason: int, kind: int) -> str:
    """The reason to block the identifier for, or "" to release it."""
    if reason == identity_pb2.IDENTIFIER_REMOVAL_REASON_UNSPECIFIED:
        return ""
    if reason not in convert.BLOCK_REASON_FROM_PROTO:
        raise InvalidArgument("reason", "must be a known removal reason")
    if kind not in identifiers.BLOCKABLE_KINDS:
        raise InvalidArgument(
            "reason",
            "only a card number can be reported lost or stolen; remove other identifiers "
            "without a reason",
        )
    return convert.BLOCK_REASON_FROM_PROTO[reason]


async def refusal_of_taken(
    connection: asyncpg.Connection, program_id: str, key: IdentifierKey, field: str
) -> IdentifierBlocked | IdentifierTaken:
    """Why an identifier could not be claimed: it is blocked, or another member holds it."""
    block = await block_store.fetch_block(connection, program_id, key)
    if block is not None:
        return IdentifierBlocked(field, block.reason)
    return IdentifierTaken(field)


async def refuse_erased_blocks(
    connection: asyncpg.Connection,
    program_id: str,
    keys: Sequence[IdentifierKey],
    forgetting: Forgetting,
    field: Callable[[int], str],
) -> None:
    """Refuse keys just claimed of which one is a card blocked for a member erased since (the
    block kept under the card's keyed hash), as any blocked card is refused; `field` names the
    field of a key by its index. Called after the claim (see `fetch_erased_blocks`)."""
    blocked = await block_store.fetch_erased_blocks(connection, program_id, keys, forgetting)
    if blocked:
        index = min(blocked)
        raise IdentifierBlocked(field(index), blocked[index])


class IdentifierRpcs(RpcBase):
    async def AddIdentifier(
        self, request: identity_pb2.AddIdentifierRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AddIdentifierResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        program = await self.program(self.pool, request.program_id)
        identifier = request.identifier
        key = identifiers.normalise(
            identifier.kind,
            identifier.value,
            identifier.provider,
            field_prefix="identifier.",
            default_region=identifiers.region_of_locale(program.default_locale),
        )

        async with self.pool.acquire() as connection, connection.transaction():

            async def add() -> identity_pb2.AddIdentifierResponse:
                member = await self.open_member(connection, request.program_id, request.member_id)
                held = await member_store.count_identifiers(
                    connection, request.program_id, request.member_id
                )
                if held >= members.IDENTIFIERS_PER_MEMBER_MAX:
                    raise ResourceExhausted(
                        f"a member holds at most {members.IDENTIFIERS_PER_MEMBER_MAX} identifiers",
                        field="identifier",
                    )
                await self._unblock_if_found_by_owner(connection, member, key)
                if await member_store.claim_identifiers(
                    connection,
                    program_id=request.program_id,
                    member_id=request.member_id,
                    keys=[key],
                    verified=[identifier.verified],
                    status=member.status,
                ):
                    holder = await member_store.resolve(connection, request.program_id, key)
                    if holder is not None and holder[0] == request.member_id:
                        raise IdentifierHeld("identifier.value")
                    raise await refusal_of_taken(
                        connection, request.program_id, key, "identifier.value"
                    )
                await refuse_erased_blocks(
                    connection,
                    request.program_id,
                    [key],
                    self.settings.forgetting,
                    lambda _: "identifier.value",
                )
                await self._identifiers_changed(connection, member, request.idempotency_key)
                stored = await member_store.fetch_identifier(
                    connection, request.program_id, request.member_id, key
                )
                assert stored is not None
                return identity_pb2.AddIdentifierResponse(
                    member_id=request.member_id, identifier=convert.identifier_to_proto(stored)
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="AddIdentifier",
                request=request,
                response_type=identity_pb2.AddIdentifierResponse,
                work=add,
                forgetting=self.settings.forgetting,
            )

    async def _unblock_if_found_by_owner(
        self, connection: asyncpg.Connection, member: members.StoredMember, key: IdentifierKey
    ) -> None:
        """A lost card found again goes back to the member it was blocked for, or to the survivor
        that member was merged into; anyone else is refused when claiming it."""
        block = await block_store.fetch_block(connection, member.program_id, key)
        if block is None or block.reason != members.LOST:
            return
        owner = await self.current_member(connection, member.program_id, block.member_id)
        if owner is not None and owner.member_id == member.member_id:
            await block_store.unblock(connection, member.program_id, member.member_id, key)

    async def RemoveIdentifier(
        self, request: identity_pb2.RemoveIdentifierRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.RemoveIdentifierResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        program = await self.program(self.pool, request.program_id)
        key = identifiers.normalise(
            request.kind,
            request.value,
            request.provider,
            default_region=identifiers.region_of_locale(program.default_locale),
        )
        reason = block_reason(request.reason, key.kind)

        async with self.pool.acquire() as connection, connection.transaction():

            async def remove() -> identity_pb2.RemoveIdentifierResponse:
                member = await self.open_member(connection, request.program_id, request.member_id)
                stored = await member_store.fetch_identifier(
                    connection, request.program_id, request.member_id, key
                )
                if stored is None:
                    block = await block_store.fetch_block(connection, request.program_id, key)
                    if block is not None and block.member_id == request.member_id:
                        raise IdentifierBlocked("value", block.reason)
                    raise IdentifierNotFound("value")
                if reason:
                    blocked_at = await block_store.block_identifier(
                        connection,
                        program_id=request.program_id,
                        member_id=request.member_id,
                        key=key,
                        reason=reason,
                    )
                    assert blocked_at is not None, "the member holds it, under the member's lock"
                    removed_at = blocked_at
                else:
                    if (
                        await member_store.count_identifiers(
                            connection, request.program_id, request.member_id
                        )
                        <= 1
                    ):
                        raise LastIdentifier("value")
                    released = await member_store.release_identifier(
                        connection, request.program_id, request.member_id, key
                    )
                    assert released, "the member holds it, under the member's lock"
                    removed_at = await connection.fetchval("SELECT now()")
                await self._identifiers_changed(connection, member, request.idempotency_key)
                return identity_pb2.RemoveIdentifierResponse(
                    member_id=request.member_id,
                    identifier=convert.identifier_to_proto(stored),
                    removed_at=timestamp(removed_at),
                    blocked=bool(reason),
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="RemoveIdentifier",
                request=request,
                response_type=identity_pb2.RemoveIdentifierResponse,
                work=remove,
                forgetting=self.settings.forgetting,
            )

    async def _identifiers_changed(
        self, connection: asyncpg.Connection, member: members.StoredMember, idempotency_key: str
    ) -> None:
        await member_store.touch_member(connection, member.program_id, member.member_id)
        await member_store.record_request(
            connection, member.program_id, member.member_id, idempotency_key
        )
        await self.emit(
            connection,
            events.MEMBER_UPDATED,
            member.program_id,
            member_updated=events_pb2.MemberUpdated(
                member_id=member.member_id,
                changed_fields=["identifiers"],
                status=convert.STATUS_TO_PROTO[member.status],
                locale=member.profile.locale,
                home_store_id=member.profile.home_store_id,
            ),
        )
