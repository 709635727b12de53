"""IdentityService, merges and privacy: merge two members, export a member (GDPR); erasure is
in rpc_erasure.py.

A merge commits identity's side first (identifiers move, the merged member resolves to the
survivor) together with the ledger transfer it still owes, recorded in `merges` with an
idempotency key derived from the merge. The transfer follows; a retry of MergeMembers with the
same key, or the housekeeping worker, finishes a merge whose transfer did not go through. The
ledger gets the reason code `member_merge` and the operator, not the merge's note (see
`_merge_in_identity`); merges stored before that send theirs as stored until they complete.
"""

import json
import logging

import asyncpg
import grpc

from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.identity import convert, events, ledger_client
from services.identity import repository_blocks as block_store
from services.identity import repository_members as member_store
from services.identity import repository_privacy as privacy_store
from services.identity.errors import IdentityError, MergePending
from services.identity.repository_privacy import Merge
from services.identity.rpc_base import RpcBase, check_member_id, now
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.timestamps import timestamp

logger = logging.getLogger(__name__)

OPERATOR_ID_LENGTH_MAX = 128
NOTE_LENGTH_MAX = 1000
# A pending merge is finished by housekeeping once it is this old (a retry may still be coming).
MERGE_RESUME_AFTER_S = 30.0
MERGE_RESUME_BATCH_MAX = 100
MERGE_REASON_CODE = "member_merge"


def transfer_idempotency_key(merged_member_id: str) -> str:
    """One per merge: a member is merged at most once."""
    return f"merge:{merged_member_id}"


class PrivacyRpcs(RpcBase):
    async def MergeMembers(
        self, request: identity_pb2.MergeMembersRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.MergeMembersResponse:
        validation.program_id(request.program_id)
        check_member_id(request.survivor_member_id, "survivor_member_id")
        check_member_id(request.merged_member_id, "merged_member_id")
        if request.survivor_member_id == request.merged_member_id:
            raise InvalidArgument("merged_member_id", "must differ from survivor_member_id")
        validation.text(
            request.operator_id, "operator_id", required=False, length_max=OPERATOR_ID_LENGTH_MAX
        )
        validation.text(request.note, "note", required=False, length_max=NOTE_LENGTH_MAX)

        async with self.pool.acquire() as connection, connection.transaction():

            async def merge() -> identity_pb2.MergeMembersResponse:
                return await self._merge_in_identity(connection, request)

            response = await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="MergeMembers",
                request=request,
                response_type=identity_pb2.MergeMembersResponse,
                work=merge,
                forgetting=self.settings.forgetting,
            )
        merge_row = await privacy_store.fetch_merge(
            self.pool, request.program_id, request.merged_member_id
        )
        assert merge_row is not None
        if merge_row.state == privacy_store.PENDING:
            merge_row = await self.finish_merge(merge_row)
        response.ledger_transfer_id = merge_row.ledger_transfer_id
        response.transferred_points = merge_row.transferred_points
        return response

    async def _merge_in_identity(
        self, connection: asyncpg.Connection, request: identity_pb2.MergeMembersRequest
    ) -> identity_pb2.MergeMembersResponse:
        program_id = request.program_id
        fields = {
            request.survivor_member_id: "survivor_member_id",
            request.merged_member_id: "merged_member_id",
        }
        locked = {
            member_id: await self.open_member(connection, program_id, member_id, fields[member_id])
            for member_id in sorted(fields)
        }
        survivor = locked[request.survivor_member_id]
        incoming = await privacy_store.pending_merge_into(
            connection, program_id, request.merged_member_id
        )
        if incoming is not None:
            raise MergePending(request.merged_member_id, incoming)
        moved = await privacy_store.move_identifiers(
            connection,
            program_id=program_id,
            merged_member_id=request.merged_member_id,
            survivor=survivor.member_id,
            survivor_status=survivor.status,
        )
        await block_store.move_blocks(
            connection,
            program_id=program_id,
            merged_member_id=request.merged_member_id,
            survivor=survivor.member_id,
        )
        await privacy_store.mark_merged(
            connection,
            program_id=program_id,
            merged_member_id=request.merged_member_id,
            survivor=survivor.member_id,
        )
        transfer = ledger_pb2.TransferPointsRequest(
            program_id=program_id,
            idempotency_key=transfer_idempotency_key(request.merged_member_id),
            source_member_id=request.merged_member_id,
            target_member_id=survivor.member_id,
            transfer_all=True,
            # A fixed reason, never the note: the ledger keeps a posting's reason as long as the
            # posting, out of an erasure's reach, and a note is free text that may be personal.
            # The note stays in identity (merges.note, in the export, blanked by an erasure).
            reason=ledger_pb2.PostingReason(
                code=MERGE_REASON_CODE, operator_id=request.operator_id
            ),
        )
        await privacy_store.insert_merge(
            connection,
            Merge(
                program_id=program_id,
                merged_member_id=request.merged_member_id,
                survivor_member_id=survivor.member_id,
                idempotency_key=request.idempotency_key,
                operator_id=request.operator_id,
                note=request.note,
                moved_identifier_count=len(moved),
                transfer_idempotency_key=transfer.idempotency_key,
                transfer_request=transfer.SerializeToString(),
                state=privacy_store.PENDING,
                ledger_transfer_id="",
                transferred_points=0,
                last_error="",
                attempt_count=0,
                created_at=now(),
                completed_at=None,
            ),
        )
        for member_id in fields:
            await member_store.record_request(
                connection, program_id, member_id, request.idempotency_key
            )
        await member_store.touch_member(connection, program_id, survivor.member_id)
        view = await self.view(connection, program_id, survivor.member_id)
        return identity_pb2.MergeMembersResponse(
            survivor=convert.member_to_proto(view),
            moved_identifiers=[convert.identifier_to_proto(i) for i in moved],
        )

    async def finish_merge(self, merge: Merge) -> Merge:
        """Transfer the points in the ledger (idempotent by the merge's key) and complete the
        merge, announcing it; the merge as completed. The stored request is sent byte for byte
        (the ledger refuses its key with another request); once completed it is never sent
        again, and an erasure may blank the note inside it."""
        request = ledger_pb2.TransferPointsRequest.FromString(merge.transfer_request)
        try:
            transfer = await ledger_client.transfer_all(self.ledger, request)
        except IdentityError as error:
            await privacy_store.record_merge_failure(self.pool, merge, error.details())
            raise
        async with self.pool.acquire() as connection, connection.transaction():
            current = await privacy_store.fetch_merge(
                connection, merge.program_id, merge.merged_member_id, for_update=True
            )
            assert current is not None
            if current.state == privacy_store.COMPLETED:
                return current
            await privacy_store.complete_merge(
                connection,
                current,
                transfer_id=transfer.transfer_id,
                transferred_points=transfer.transferred_points,
            )
            await self.emit(
                connection,
                events.MEMBER_MERGED,
                merge.program_id,
                member_merged=events_pb2.MemberMerged(
                    survivor_member_id=merge.survivor_member_id,
                    merged_member_id=merge.merged_member_id,
                    ledger_transfer_id=transfer.transfer_id,
                    transferred_points=transfer.transferred_points,
                ),
            )
            completed = await privacy_store.fetch_merge(
                connection, merge.program_id, merge.merged_member_id
            )
        assert completed is not None
        return completed

    async def housekeeping(self) -> list[str]:
        problems = await super().housekeeping()
        await self.finish_stalled_merges(problems=problems)
        return problems

    async def finish_stalled_merges(
        self, *, older_than_s: float = MERGE_RESUME_AFTER_S, problems: list[str] | None = None
    ) -> int:
        """Finish pending merges nobody retried; returns how many were finished, and adds each
        one still pending to `problems`."""
        finished = 0
        stalled = await privacy_store.fetch_stalled_merges(
            self.pool, older_than_s=older_than_s, limit=MERGE_RESUME_BATCH_MAX
        )
        for merge in stalled:
            try:
                await self.finish_merge(merge)
                finished += 1
            except IdentityError as error:
                logger.warning(
                    "merge of %s into %s still pending: %s",
                    merge.merged_member_id,
                    merge.survivor_member_id,
                    error.details(),
                )
                if problems is not None:
                    problems.append(
                        f"merge of {merge.merged_member_id} into {merge.survivor_member_id} "
                        f"still pending: {error.details()}"
                    )
        return finished

    async def ExportMember(
        self, request: identity_pb2.ExportMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ExportMemberResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        view = await self.view(self.pool, request.program_id, request.member_id)
        history = await ledger_client.history(self.ledger, request.program_id, request.member_id)
        postings, available = history if history is not None else ([], 0)
        section = await self._identity_section(request.program_id, request.member_id)
        return identity_pb2.ExportMemberResponse(
            member=convert.member_to_proto(view),
            ledger_postings=[
                identity_pb2.ExportedPosting(
                    posting_id=p.posting_id,
                    kind=p.kind,
                    points=p.points,
                    source_reference=p.source_reference,
                    reason=ledger_client.reason_text(p.reason),
                    occurred_at=p.occurred_at,
                )
                for p in postings
            ],
            available_points=available,
            sections=[section],
            exported_at=timestamp(now()),
        )

    async def _identity_section(
        self, program_id: str, member_id: str
    ) -> identity_pb2.ExportSection:
        """What identity holds beyond the member itself: the history of consents, merges, and the
        members merged into this one. The members merged into it are the same person, so their
        consent history and merges are part of it (an erasure of the member erases them too)."""
        merged = await member_store.views(
            self.pool,
            await member_store.fetch_members_merged_into(self.pool, program_id, member_id),
        )
        member_ids = [member_id, *(v.member.member_id for v in merged)]
        consent_changes = await member_store.fetch_consent_changes(
            self.pool, program_id, member_ids
        )
        merges = await privacy_store.fetch_merges_of(self.pool, program_id, member_ids)
        content = {
            "consent_changes": [
                {
                    "member_id": row["member_id"],
                    "channel": row["channel"],
                    "granted": row["granted"],
                    "source_channel": row["source_channel"],
                    "changed_at": row["changed_at"].isoformat(),
                }
                for row in consent_changes
            ],
            "merges": [
                {
                    "merged_member_id": m.merged_member_id,
                    "survivor_member_id": m.survivor_member_id,
                    "operator_id": m.operator_id,
                    "note": m.note,
                    "ledger_transfer_id": m.ledger_transfer_id,
                    "transferred_points": m.transferred_points,
                    "state": m.state,
                    "created_at": m.created_at.isoformat(),
                }
                for m in merges
            ],
            "merged_members": [
                {
                    "member_id": v.member.member_id,
                    "given_name": v.member.profile.given_name,
                    "family_name": v.member.profile.family_name,
                    "birthday": v.member.profile.birthday.isoformat()
                    if v.member.profile.birthday
                    else None,
                    "locale": v.member.profile.locale,
                    "preferences": dict(v.member.profile.preferences),
                    "enrolled_at": v.member.enrolled_at.isoformat(),
                }
                for v in merged
            ],
        }
        return identity_pb2.ExportSection(
            service="identity",
            content_type="application/json",
            content=json.dumps(content, sort_keys=True).encode(),
        )
