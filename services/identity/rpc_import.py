"""IdentityService, bulk enrolment: ImportMembers, a stream of columnar batches answered one by
one, each written set-based in one transaction.

Idempotent three ways: a batch id seen before answers with its stored answer (the same request
is required); a row whose idempotency key enrolled a member before answers with that member
(DUPLICATE); and a row whose identifiers already belong to a member answers with that member
(DUPLICATE) instead of enrolling a second one. A row sharing an identifier with an earlier row of
its batch is that row's member, unless another of its identifiers is blocked or another
member's: then it is refused, as it would be alone. A concurrent enrolment that takes an identifier
between the check and the write makes the transaction run again, and then it is a duplicate.
"""

from collections.abc import AsyncIterator

import asyncpg
import grpc

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2
from services.identity import convert, domain, events, identifiers, importing, members, profiles
from services.identity import repository_blocks as block_store
from services.identity import repository_import as import_store
from services.identity import repository_members as member_store
from services.identity.identifiers import IdentifierKey
from services.identity.importing import Candidate, CheckedBatch
from services.identity.rpc_base import RpcBase
from services.shared import validation
from services.shared.errors import FailedPrecondition
from services.shared.idempotency import request_hash

ENROLLED = identity_pb2.IMPORT_ITEM_STATUS_ENROLLED
DUPLICATE = identity_pb2.IMPORT_ITEM_STATUS_DUPLICATE
REJECTED = identity_pb2.IMPORT_ITEM_STATUS_REJECTED
WRITE_ATTEMPTS_MAX = 4
DIFFERENT_MEMBERS = "identifiers: belong to different members already"


class ImportRace(Exception):
    """Something this batch was about to claim was claimed by a concurrent writer meanwhile."""


def _owners(
    candidate: Candidate,
    holders: dict[IdentifierKey, tuple[str, str] | None],
    erased_blocks: set[IdentifierKey],
) -> tuple[set[str], str]:
    """The members holding the row's identifiers, and why the row is refused ('' if it is not
    for its identifiers' blocks)."""
    found = [held for k in candidate.keys if (held := holders.get(k)) is not None]
    if any(status == members.BLOCKED for _, status in found) or any(
        k in erased_blocks for k in candidate.keys
    ):
        return set(), "identifiers: a card reported lost or stolen is blocked"
    return {member_id for member_id, _ in found}, ""


class ImportRpcs(RpcBase):
    async def ImportMembers(
        self,
        request_iterator: AsyncIterator[identity_pb2.ImportMembersRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[identity_pb2.ImportMembersResponse]:
        async for request in request_iterator:
            yield await self.import_batch(request)

    async def import_batch(
        self, request: identity_pb2.ImportMembersRequest
    ) -> identity_pb2.ImportMembersResponse:
        validation.program_id(request.program_id)
        importing.check_batch_shape(request)
        channel = profiles.channel(request.channel or common_pb2.CHANNEL_IMPORT, "channel")
        program = await self.program(self.pool, request.program_id)
        digest = request_hash(request)
        checked = importing.check_rows(
            request, identifiers.region_of_locale(program.default_locale)
        )
        for _ in range(WRITE_ATTEMPTS_MAX):
            stored = await import_store.fetch_batch(self.pool, request.program_id, request.batch_id)
            if stored is not None:
                if bytes(stored["request_hash"]) != digest:
                    raise FailedPrecondition(
                        f"batch {request.batch_id!r} was imported before with other content",
                        field="batch_id",
                    )
                return identity_pb2.ImportMembersResponse.FromString(stored["response"])
            try:
                async with self.pool.acquire() as connection, connection.transaction():
                    return await self._write(connection, program, request, checked, channel, digest)
            except (ImportRace, asyncpg.DeadlockDetectedError, asyncpg.UniqueViolationError):
                continue
        raise FailedPrecondition(
            "concurrent enrolments kept claiming this batch's identifiers; send it again",
            field="batch_id",
        )

    async def _write(
        self,
        connection: asyncpg.Connection,
        program: domain.Program,
        request: identity_pb2.ImportMembersRequest,
        checked: CheckedBatch,
        channel: int,
        digest: bytes,
    ) -> identity_pb2.ImportMembersResponse:
        program_id = request.program_id
        response = identity_pb2.ImportMembersResponse(
            batch_id=request.batch_id,
            statuses=[REJECTED] * checked.size,
            member_ids=[""] * checked.size,
            messages=[""] * checked.size,
        )
        for index, message in checked.rejected.items():
            response.messages[index] = message
        fresh, known_by_identifier = await self._sort_out(connection, program_id, checked, response)
        fresh_ids = [members.new_member_id() for _ in fresh]
        keyed = [*zip(fresh, fresh_ids, strict=True), *known_by_identifier]
        if await import_store.claim_keys(
            connection,
            program_id,
            [candidate.key_digest for candidate, _ in keyed],
            [member for _, member in keyed],
        ) < len(keyed):
            raise ImportRace
        if fresh:
            await self._enrol(connection, program, fresh, fresh_ids, channel)
        for candidate, member_id in zip(fresh, fresh_ids, strict=True):
            response.statuses[candidate.index] = ENROLLED
            response.member_ids[candidate.index] = member_id
        for repeat, earlier in checked.repeats.items():
            if response.messages[repeat]:
                continue  # refused by its own identifiers (`_sort_out`)
            if response.statuses[earlier] == REJECTED:
                response.messages[repeat] = (
                    f"identifiers: repeat row {earlier + 1} of the batch, which was rejected"
                )
            else:
                response.statuses[repeat] = DUPLICATE
                response.member_ids[repeat] = response.member_ids[earlier]
        response.enrolled_count = len(fresh)
        response.duplicate_count = sum(1 for s in response.statuses if s == DUPLICATE)
        response.rejected_count = sum(1 for s in response.statuses if s == REJECTED)
        if not await import_store.insert_batch(
            connection, program_id, request.batch_id, digest, response.SerializeToString()
        ):
            raise ImportRace
        return response

    async def _sort_out(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        checked: CheckedBatch,
        response: identity_pb2.ImportMembersResponse,
    ) -> tuple[list[Candidate], list[tuple[Candidate, str]]]:
        """Rows known by key or identifier become duplicates; returns the rows to enrol, and the
        rows known by identifier only (whose key is to be remembered). A row repeating an earlier
        one by an identifier is refused, as it would be on its own, when another of its
        identifiers is blocked or another member's: it names another person than the earlier
        row (its message set here; its status is the caller's)."""
        candidates = checked.candidates
        by_key = await import_store.members_of_keys(
            connection, program_id, [c.key_digest for c in candidates]
        )
        unkeyed = [c for c in candidates if c.key_digest not in by_key]
        flat = [key for c in (*unkeyed, *checked.repeats_by_identifier) for key in c.keys]
        holders = dict(
            zip(flat, await member_store.resolve_many(connection, program_id, flat), strict=True)
        )
        # After the resolve: a block an erasure moves meanwhile is seen in one place or the other.
        erased_blocks = {
            flat[index]
            for index in await block_store.fetch_erased_blocks(
                connection, program_id, flat, self.settings.forgetting
            )
        }
        fresh: list[Candidate] = []
        known: list[tuple[Candidate, str]] = []
        for candidate in candidates:
            if candidate.key_digest in by_key:
                response.statuses[candidate.index] = DUPLICATE
                response.member_ids[candidate.index] = by_key[candidate.key_digest]
                continue
            owners, refusal = _owners(candidate, holders, erased_blocks)
            if refusal:
                response.messages[candidate.index] = refusal
            elif len(owners) > 1:
                response.messages[candidate.index] = DIFFERENT_MEMBERS
            elif owners:
                (owner,) = owners
                response.statuses[candidate.index] = DUPLICATE
                response.member_ids[candidate.index] = owner
                known.append((candidate, owner))
            else:
                fresh.append(candidate)
        for repeat in checked.repeats_by_identifier:
            earlier = checked.repeats[repeat.index]
            # '' while the earlier row is to be enrolled: then no identifier is anyone's yet.
            member_of_earlier = response.member_ids[earlier]
            owners, refusal = _owners(repeat, holders, erased_blocks)
            if not refusal and owners - {member_of_earlier}:
                refusal = DIFFERENT_MEMBERS
            response.messages[repeat.index] = refusal
        return fresh, known

    async def _enrol(
        self,
        connection: asyncpg.Connection,
        program: domain.Program,
        fresh: list[Candidate],
        member_ids: list[str],
        channel: int,
    ) -> None:
        program_id = program.program_id
        codes = await import_store.insert_referral_codes(connection, program_id, member_ids)
        await import_store.insert_members(
            connection,
            program_id=program_id,
            member_ids=member_ids,
            profiles=[c.profile for c in fresh],
            referral_codes=[codes[m] for m in member_ids],
            channel=channel,
            entry_tier_code=program.entry_tier_code,
        )
        owners = [
            (key, member_id)
            for candidate, member_id in zip(fresh, member_ids, strict=True)
            for key in candidate.keys
        ]
        if await import_store.claim_identifiers(connection, program_id, owners) < len(owners):
            raise ImportRace
        enrolled = []
        for candidate, member_id in zip(fresh, member_ids, strict=True):
            event = events_pb2.MemberEnrolled(
                member_id=member_id,
                channel=channel,  # type: ignore[arg-type]
                entry_tier_code=program.entry_tier_code,
                locale=candidate.profile.locale or program.default_locale,
                identifier_kinds=sorted({k.kind for k in candidate.keys}),  # type: ignore[misc]
            )
            if candidate.profile.birthday is not None:
                event.birthday.CopyFrom(convert.local_date(candidate.profile.birthday))
            enrolled.append(events_pb2.Event(program_id=program_id, member_enrolled=event))
        await self.outbox.enqueue_many(connection, events.MEMBER_ENROLLED, enrolled)
