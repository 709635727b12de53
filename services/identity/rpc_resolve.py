"""IdentityService, resolving: any identifier (or a QR card token) to its member."""

import datetime as dt

import grpc

from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from services.identity import convert, identifiers, members, tokens
from services.identity import repository_blocks as block_store
from services.identity import repository_members as member_store
from services.identity.errors import (
    IdentifierBlocked,
    IdentifierNotFound,
    InvalidToken,
    QrTokenRejected,
)
from services.identity.identifiers import IdentifierKey
from services.identity.rpc_base import RpcBase, now
from services.shared import validation
from services.shared.errors import InvalidArgument, ResourceExhausted
from services.shared.timestamps import from_unix_micros, unix_micros

BATCH_RESOLVE_LOOKUPS_MAX = 10_000


def offline_window(seconds: float) -> str:
    """The offline window in words: "72 hours", "90 minutes", "1 second"."""
    count, unit = seconds, "second"
    for name, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count, unit = seconds // size, name
            break
    return f"{count:g} {unit}{'' if count == 1 else 's'}"


class ResolveRpcs(RpcBase):
    async def ResolveIdentifier(
        self, request: identity_pb2.ResolveIdentifierRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ResolveIdentifierResponse:
        validation.program_id(request.program_id)
        if request.kind == identifiers.APP_QR_TOKEN:
            return await self._resolve_qr_token(
                request.program_id, request.value, at=self._scanned_at(request)
            )
        region = ""
        if request.kind == identifiers.PHONE and not request.value.lstrip().startswith("+"):
            region = identifiers.region_of_locale(
                (await self.program(self.pool, request.program_id)).default_locale
            )
        key = identifiers.normalise(
            request.kind, request.value, request.provider, default_region=region
        )
        found = await member_store.resolve(self.pool, request.program_id, key)
        if found is None:
            # A card blocked for a member erased since is kept only under its keyed hash.
            erased_blocks = await block_store.fetch_erased_blocks(
                self.pool, request.program_id, [key], self.settings.forgetting
            )
            if erased_blocks:
                raise IdentifierBlocked("value", erased_blocks[0])
            raise IdentifierNotFound()
        member_id, status = found
        if status == members.BLOCKED:
            block = await block_store.fetch_block(self.pool, request.program_id, key)
            raise IdentifierBlocked("value", block.reason if block else "lost or stolen")
        return identity_pb2.ResolveIdentifierResponse(
            member_id=member_id, status=convert.STATUS_TO_PROTO[status]
        )

    def _scanned_at(self, request: identity_pb2.ResolveIdentifierRequest) -> dt.datetime:
        """When a till scanned the QR token of `request` (its `at`), the moment the token is
        checked at: never later than now (a till's clock running fast does not expire a token
        that is valid now), and at most the offline window ago, else the token is refused."""
        current = now()
        if not request.HasField("at"):
            return current
        current_micros = unix_micros(current)
        # In microseconds (Python integers), so no `at` overflows a datetime.
        scanned_micros = int(request.at.ToMicroseconds())
        settings = self.settings
        late_s = settings.qr_token_offline_age_max_s + settings.token_clock_skew_s
        if current_micros - scanned_micros > late_s * 1_000_000:
            raise QrTokenRejected(
                f"was scanned more than {offline_window(settings.qr_token_offline_age_max_s)} "
                "ago, longer than a till may post a transaction with it"
            )
        return from_unix_micros(min(scanned_micros, current_micros))

    async def _resolve_qr_token(
        self, program_id: str, token: str, *, at: dt.datetime | None = None
    ) -> identity_pb2.ResolveIdentifierResponse:
        try:
            claims = await self.verify_token(
                self.pool, purpose=tokens.QR_PURPOSE, program_id=program_id, token=token, at=at
            )
        except InvalidToken as error:
            raise QrTokenRejected(error.message) from None
        member = await self.current_member(self.pool, program_id, claims["sub"])
        if member is None or member.status == members.ERASED:
            raise IdentifierNotFound()
        return identity_pb2.ResolveIdentifierResponse(
            member_id=member.member_id, status=convert.STATUS_TO_PROTO[member.status]
        )

    async def BatchResolveIdentifiers(
        self,
        request: identity_pb2.BatchResolveIdentifiersRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.BatchResolveIdentifiersResponse:
        """A malformed value cannot belong to anyone, so it is unknown rather than refused; one
        bad row of an import does not fail its batch. QR tokens are verified one by one."""
        validation.program_id(request.program_id)
        if len(request.lookups) > BATCH_RESOLVE_LOOKUPS_MAX:
            raise ResourceExhausted(
                f"at most {BATCH_RESOLVE_LOOKUPS_MAX} lookups per call", field="lookups"
            )
        program = await self.program(self.pool, request.program_id)
        region = identifiers.region_of_locale(program.default_locale)
        keys: list[IdentifierKey | None] = []
        for index, lookup in enumerate(request.lookups):
            if lookup.kind not in identifiers.STORED_KINDS | {identifiers.APP_QR_TOKEN}:
                raise InvalidArgument(f"lookups[{index}].kind", "must be a known identifier kind")
            try:
                keys.append(
                    None
                    if lookup.kind == identifiers.APP_QR_TOKEN
                    else identifiers.normalise(
                        lookup.kind, lookup.value, lookup.provider, default_region=region
                    )
                )
            except InvalidArgument:
                keys.append(None)
        found = [
            None if f is None or f[1] == members.BLOCKED else f
            for f in await member_store.resolve_many(self.pool, request.program_id, keys)
        ]
        for index, lookup in enumerate(request.lookups):
            if lookup.kind == identifiers.APP_QR_TOKEN:
                try:
                    resolved = await self._resolve_qr_token(request.program_id, lookup.value)
                except (QrTokenRejected, IdentifierNotFound):
                    continue
                found[index] = (resolved.member_id, convert.STATUS_FROM_PROTO[resolved.status])
        return identity_pb2.BatchResolveIdentifiersResponse(
            member_ids=[f[0] if f else "" for f in found],
            statuses=[
                convert.STATUS_TO_PROTO[f[1]] if f else common_pb2.MEMBER_STATUS_UNSPECIFIED
                for f in found
            ],
        )
