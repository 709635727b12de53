"""IdentityService, erasure (GDPR): pseudonymise a member and every member merged into it.

The ledger is not touched, so it stays balanced and auditable under the member ids, which stay
as pseudonyms. A merge's note is blanked, in `merges` and inside the transfer request stored
with it. That request is sent to the ledger again, byte for byte, until the ledger acknowledges
it (the ledger binds its idempotency key to the request's hash, so a changed request would be
refused as a reused key): only a completed merge's request is final and may be changed. So an
erasure first finishes the member's pending merges through the ledger (UNAVAILABLE while the
ledger cannot be reached: retry with the same key, which tries again), and is refused the same
way if one is still pending when it runs (a merge retried meanwhile that did not reach the
ledger); it never answers "erased" with a note left in a merge it cannot change yet.

The members' events lose their personal data too (birthday, locale, store): blanked in the
outbox in the same transaction, and deleted from JetStream by the relay afterwards, which
publishes copies without it first (services/shared/outbox_erasure.py).

Idempotency keys may name the person (`enrol:<e-mail>`, `consent:<POS id>`): the keys of the
members' changes and merges are kept under their keyed hash from then on (Settings.forgetting),
in `idempotency_keys` and in `merges`, still bound so a retry replays its answer; the erasure's
own key is stored that way from the start. Housekeeping moves what older versions left (plain
SHA-256 rows, plain erasure and merge keys) to that form.

A card blocked for the members (reported lost or stolen: in someone else's hands) stays blocked,
kept only under the same keyed hash of the card (repository_blocks.forget_blocks): the block no
longer names the member nor the card, and a lost card has no member left to go back to.
"""

import logging
from collections.abc import Iterable, Sequence

import asyncpg
import grpc
from google.protobuf.message import Message

from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.identity import events, members
from services.identity import repository_members as member_store
from services.identity import repository_privacy as privacy_store
from services.identity.errors import LedgerUnavailable, MemberClosed
from services.identity.rpc_base import check_member_id
from services.identity.rpc_privacy import NOTE_LENGTH_MAX, OPERATOR_ID_LENGTH_MAX, PrivacyRpcs
from services.shared import validation
from services.shared.idempotency import (
    FORGOTTEN_KEY_PREFIX,
    forget_keys,
    once,
    rekey_legacy_keys,
)
from services.shared.outbox_erasure import forget_member_events
from services.shared.timestamps import timestamp

logger = logging.getLogger(__name__)

_PERSONAL_MESSAGES = frozenset({"loyalty.identity.v1.Profile", "loyalty.identity.v1.Identifier"})
# Rows per transaction when housekeeping moves keys older versions left to the keyed form.
LEGACY_KEYS_BATCH = 500


def pseudonymise(message: Message) -> None:
    """Clear every profile and identifier inside a stored response, wherever it is nested."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.full_name in _PERSONAL_MESSAGES:
            message.ClearField(field.name)
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        items: Iterable[Message] = value if field.is_repeated else [value]
        for item in items:
            pseudonymise(item)


def without_note(transfer_request: bytes) -> bytes:
    """A completed merge's stored transfer request with the free-text note of its reason blanked."""
    request = ledger_pb2.TransferPointsRequest.FromString(transfer_request)
    request.reason.ClearField("note")
    return request.SerializeToString()


class ErasureRpcs(PrivacyRpcs):
    async def EraseMember(
        self, request: identity_pb2.EraseMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.EraseMemberResponse:
        """Pseudonymise the member and every member merged into it; the ledger is not touched,
        so it stays balanced and auditable under the member id."""
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        validation.text(request.operator_id, "operator_id", length_max=OPERATOR_ID_LENGTH_MAX)
        validation.text(request.reason, "reason", length_max=NOTE_LENGTH_MAX)
        await self._finish_pending_merges(request.program_id, request.member_id)

        async with self.pool.acquire() as connection, connection.transaction():

            async def erase() -> identity_pb2.EraseMemberResponse:
                return await self._erase(connection, request)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="EraseMember",
                request=request,
                response_type=identity_pb2.EraseMemberResponse,
                work=erase,
                forgetting=self.settings.forgetting,
                # Its key is about the member in any case, and is never needed in plain text.
                forget_now=True,
            )

    # Set once a round of `forget_legacy_keys` finds nothing: nothing writes those forms since.
    _legacy_keys_forgotten = False

    async def housekeeping(self) -> list[str]:
        problems = await super().housekeeping()
        if self._legacy_keys_forgotten:
            return problems
        try:
            self._legacy_keys_forgotten = await self.forget_legacy_keys() == 0
        except (asyncpg.PostgresError, OSError):
            # Two replicas moving the same rows may deadlock: the next round tries again, and
            # the rest of housekeeping (API key secrets) is not held up meanwhile. Not a
            # problem of the round: a deadlock now and then is expected and pages nobody.
            logger.exception("moving the keys older versions left to the keyed form failed")
        return problems

    async def forget_legacy_keys(self) -> int:
        """Move the keys erasures of older versions left behind to the keyed form: rows kept
        under a plain SHA-256, EraseMember keys in plain text, and the plain keys of merges
        whose members are erased. Returns how many moved; once none is left nothing writes
        more (so the process stops looking), as every lookup finds the old forms meanwhile."""
        forgetting = self.settings.forgetting
        moved = 0
        while True:
            async with self.pool.acquire() as connection, connection.transaction():
                batch = await rekey_legacy_keys(
                    connection, forgetting=forgetting, limit=LEGACY_KEYS_BATCH
                )
                for program_id, keys in (
                    await privacy_store.plain_erasure_keys(
                        connection, FORGOTTEN_KEY_PREFIX, LEGACY_KEYS_BATCH
                    )
                ).items():
                    batch += await forget_keys(
                        connection, program_id=program_id, keys=keys, forgetting=forgetting
                    )
                for program_id, merges in (
                    await privacy_store.plain_keys_of_erased_merges(
                        connection, FORGOTTEN_KEY_PREFIX, LEGACY_KEYS_BATCH
                    )
                ).items():
                    await privacy_store.replace_merge_keys(
                        connection,
                        program_id,
                        {merged: forgetting.key(key) for merged, key in merges.items()},
                    )
                    batch += len(merges)
            moved += batch
            if batch == 0:
                return moved

    async def _finish_pending_merges(self, program_id: str, member_id: str) -> None:
        """Complete the transfers of the merges the erasure of the member will touch, so their
        stored requests are final; raises LedgerUnavailable or LedgerRefused if one cannot be."""
        merged_into = await member_store.fetch_members_merged_into(self.pool, program_id, member_id)
        targets = [member_id, *(m.member_id for m in merged_into)]
        for merge in await privacy_store.fetch_merges_of(self.pool, program_id, targets):
            if merge.state == privacy_store.PENDING:
                await self.finish_merge(merge)

    async def _forget_merge_notes(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        member_id: str,
        targets: Sequence[str],
    ) -> list[privacy_store.Merge]:
        """Blank the notes of the members' merges, inside their stored transfer requests too,
        and keep their keys forgotten; returns the merges. UNAVAILABLE while one is pending (not finished by `_finish_pending_merges`, or started
        since and not through to the ledger): its request is still to be sent as it is."""
        merges = await privacy_store.fetch_merges_of(connection, program_id, targets)
        for merge in merges:
            if merge.state == privacy_store.PENDING:
                raise LedgerUnavailable(
                    "transfer the points of a merge before the erasure",
                    f"the merge of {merge.merged_member_id!r} into {merge.survivor_member_id!r} "
                    "is still pending",
                )
        await privacy_store.blank_merge_notes(
            connection,
            program_id,
            {merge.merged_member_id: without_note(merge.transfer_request) for merge in merges},
        )
        # Every merge found has both members among the erased ones (a member merged into one
        # of them is one of them), so its key is theirs to forget.
        await privacy_store.replace_merge_keys(
            connection,
            program_id,
            {
                merge.merged_member_id: self.settings.forgetting.key(merge.idempotency_key)
                for merge in merges
                if not merge.idempotency_key.startswith(FORGOTTEN_KEY_PREFIX)
            },
        )
        return merges

    async def _erase(
        self, connection: asyncpg.Connection, request: identity_pb2.EraseMemberRequest
    ) -> identity_pb2.EraseMemberResponse:
        program_id = request.program_id
        member = await self.member(connection, program_id, request.member_id, for_update=True)
        if member.status == members.ERASED:
            raise MemberClosed(member.member_id, member.status)
        if member.status == members.MERGED:
            # Its identifiers, points and history are the survivor's now: erasing the merged
            # member alone would answer "erased" and leave the person recognised by them.
            raise MemberClosed(
                member.member_id,
                member.status,
                survivor_member_id=member.merged_into_member_id,
            )
        merged_into = await member_store.fetch_members_merged_into(
            connection, program_id, member.member_id
        )
        targets = [member.member_id, *(m.member_id for m in merged_into)]
        merges = await self._forget_merge_notes(connection, program_id, member.member_id, targets)
        erased_at = await privacy_store.pseudonymise_members(
            connection, program_id, targets, members.ERASED
        )
        await privacy_store.release_all_identifiers(
            connection, program_id, targets, forgetting=self.settings.forgetting
        )
        await forget_member_events(connection, program_id, targets)
        keys = await privacy_store.forget_member_records(connection, program_id, targets)
        # A merge's key is among its members' requests already; added in case it is not.
        keys = sorted({*keys, *(merge.idempotency_key for merge in merges)})
        for row in await privacy_store.stored_responses(connection, program_id, keys):
            response_type = getattr(identity_pb2, f"{row['method']}Response", None)
            if response_type is None:
                continue
            response = response_type.FromString(row["response"])
            pseudonymise(response)
            await privacy_store.replace_stored_response(
                connection, program_id, row["idempotency_key"], response.SerializeToString()
            )
        # The keys may name the person (`enrol:<POS id>`): kept under their keyed hash from now
        # on, still bound, so a retry replays what is left of its answer and re-creates nobody.
        await forget_keys(
            connection, program_id=program_id, keys=keys, forgetting=self.settings.forgetting
        )
        await privacy_store.insert_erasure(
            connection,
            program_id=program_id,
            member_id=member.member_id,
            operator_id=request.operator_id,
            reason=request.reason,
        )
        for member_id in targets:
            await self.emit(
                connection,
                events.MEMBER_ERASED,
                program_id,
                member_erased=events_pb2.MemberErased(
                    member_id=member_id, erased_at=timestamp(erased_at)
                ),
            )
        return identity_pb2.EraseMemberResponse(
            member_id=member.member_id, erased_at=timestamp(erased_at)
        )
