"""IdentityService, members: enrolment, profile and consents (identifiers: rpc_identifiers)."""

from collections.abc import Sequence

import asyncpg
import grpc

from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from loyalty.identity.v1 import identity_pb2
from services.identity import convert, events, identifiers, members, profiles
from services.identity import repository_members as member_store
from services.identity.identifiers import IdentifierKey
from services.identity.rpc_base import check_member_id, is_member_id
from services.identity.rpc_identifiers import (
    IdentifierRpcs,
    refusal_of_taken,
    refuse_erased_blocks,
)
from services.shared import validation
from services.shared.errors import InvalidArgument, ResourceExhausted
from services.shared.idempotency import once
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import instant, timestamp

MEMBERS_PAGE_SIZE_MAX = 500
MEMBER_STATUSES_MAX = 10_000
STORE_ID_LENGTH_MAX = 64


def enrolment_identifiers(
    request_identifiers: Sequence[identity_pb2.Identifier], region: str
) -> list[IdentifierKey]:
    if not request_identifiers:
        raise InvalidArgument("identifiers", "at least one identifier is required")
    if len(request_identifiers) > members.IDENTIFIERS_PER_REQUEST_MAX:
        raise InvalidArgument(
            "identifiers", f"at most {members.IDENTIFIERS_PER_REQUEST_MAX} identifiers per request"
        )
    keys: list[IdentifierKey] = []
    for index, identifier in enumerate(request_identifiers):
        key = identifiers.normalise(
            identifier.kind,
            identifier.value,
            identifier.provider,
            field_prefix=f"identifiers[{index}].",
            default_region=region,
        )
        if key in keys:
            raise InvalidArgument(
                f"identifiers[{index}].value", f"repeats identifiers[{keys.index(key)}]"
            )
        keys.append(key)
    return keys


def consent_changes(
    channels_and_grants: Sequence[tuple[int, bool]], field: str
) -> list[tuple[int, bool]]:
    if len(channels_and_grants) > members.CONSENTS_PER_REQUEST_MAX:
        raise InvalidArgument(
            field, f"at most {members.CONSENTS_PER_REQUEST_MAX} entries, one per channel"
        )
    seen: set[int] = set()
    for index, (channel, _) in enumerate(channels_and_grants):
        profiles.consent_channel(channel, f"{field}[{index}].channel")
        if channel in seen:
            raise InvalidArgument(f"{field}[{index}].channel", "appears twice")
        seen.add(channel)
    return list(channels_and_grants)


def store_id(value: str, field: str) -> str:
    if len(value) > STORE_ID_LENGTH_MAX or (value and not value.isprintable()):
        raise InvalidArgument(field, f"must be at most {STORE_ID_LENGTH_MAX} printable characters")
    return value


class MemberRpcs(IdentifierRpcs):
    async def EnrollMember(
        self, request: identity_pb2.EnrollMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.EnrollMemberResponse:
        validation.program_id(request.program_id)
        program = await self.program(self.pool, request.program_id)
        channel = profiles.channel(request.channel, "channel")
        profile = profiles.validate_profile(convert.profile_from_proto(request.profile))
        keys = enrolment_identifiers(
            request.identifiers, identifiers.region_of_locale(program.default_locale)
        )
        verified = [identifier.verified for identifier in request.identifiers]
        consents = consent_changes([(c.channel, c.granted) for c in request.consents], "consents")
        store = store_id(request.store_id, "store_id")
        referral_code = members.typed_referral_code(request.referral_code)
        if request.referral_code and not members.is_referral_code(referral_code):
            raise InvalidArgument("referral_code", "is not a referral code of this program")
        first_time = False

        async with self.pool.acquire() as connection, connection.transaction():

            async def enrol() -> identity_pb2.EnrollMemberResponse:
                nonlocal first_time
                first_time = True
                referrer = ""
                if referral_code:
                    referrer = await self._referrer(connection, request.program_id, referral_code)
                member_id = members.new_member_id()
                await member_store.insert_member(
                    connection,
                    program_id=request.program_id,
                    member_id=member_id,
                    profile=profile,
                    channel=channel,
                    store_id=store,
                    entry_tier_code=program.entry_tier_code,
                    referrer_member_id=referrer,
                )
                taken = await member_store.claim_identifiers(
                    connection,
                    program_id=request.program_id,
                    member_id=member_id,
                    keys=keys,
                    verified=verified,
                )
                if taken:
                    raise await refusal_of_taken(
                        connection,
                        request.program_id,
                        keys[taken[0]],
                        f"identifiers[{taken[0]}].value",
                    )
                await refuse_erased_blocks(
                    connection,
                    request.program_id,
                    keys,
                    self.settings.forgetting,
                    lambda index: f"identifiers[{index}].value",
                )
                if consents:
                    await member_store.change_consents(
                        connection,
                        program_id=request.program_id,
                        member_id=member_id,
                        changes=consents,
                        source_channel=channel,
                    )
                await member_store.record_request(
                    connection, request.program_id, member_id, request.idempotency_key
                )
                enrolled = events_pb2.MemberEnrolled(
                    member_id=member_id,
                    channel=channel,  # type: ignore[arg-type]
                    store_id=store,
                    referrer_referral_code=referral_code,
                    referrer_member_id=referrer,
                    entry_tier_code=program.entry_tier_code,
                    locale=profile.locale or program.default_locale,
                    identifier_kinds=sorted({k.kind for k in keys}),  # type: ignore[misc]
                    granted_consent_channels=[c for c, granted in consents if granted],  # type: ignore[misc]
                )
                if profile.birthday is not None:
                    enrolled.birthday.CopyFrom(convert.local_date(profile.birthday))
                await self.emit(
                    connection, events.MEMBER_ENROLLED, request.program_id, member_enrolled=enrolled
                )
                view = await self.view(connection, request.program_id, member_id)
                return identity_pb2.EnrollMemberResponse(
                    member=convert.member_to_proto(view), created=True
                )

            response = await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="EnrollMember",
                request=request,
                response_type=identity_pb2.EnrollMemberResponse,
                work=enrol,
                forgetting=self.settings.forgetting,
            )
        if not first_time:
            response.created = False
        return response

    async def _referrer(
        self, connection: asyncpg.Connection, program_id: str, referral_code: str
    ) -> str:
        """The member who refers with the code: a merged member's code refers for its survivor
        (who holds its points and identifiers now); an erased member's code refers for nobody."""
        owner = await member_store.member_id_of_referral_code(connection, program_id, referral_code)
        current = (
            None if owner is None else await self.current_member(connection, program_id, owner)
        )
        if current is None:
            raise InvalidArgument("referral_code", "is not a referral code of this program")
        if current.status == members.ERASED:
            raise InvalidArgument("referral_code", "belongs to a member who left the program")
        return current.member_id

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetMemberResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        view = await self.view(self.pool, request.program_id, request.member_id)
        return identity_pb2.GetMemberResponse(member=convert.member_to_proto(view))

    async def BatchGetMemberStatuses(
        self,
        request: identity_pb2.BatchGetMemberStatusesRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.BatchGetMemberStatusesResponse:
        """A malformed member id cannot belong to anyone, so it is unknown rather than refused:
        one bad row of a batch does not fail it."""
        validation.program_id(request.program_id)
        if len(request.member_ids) > MEMBER_STATUSES_MAX:
            raise ResourceExhausted(
                f"at most {MEMBER_STATUSES_MAX} member ids per call", field="member_ids"
            )
        await self.program(self.pool, request.program_id)
        found = await member_store.fetch_statuses(
            self.pool,
            request.program_id,
            sorted({m for m in request.member_ids if is_member_id(m)}),
        )
        answers = [found.get(member_id) for member_id in request.member_ids]
        return identity_pb2.BatchGetMemberStatusesResponse(
            statuses=[
                convert.STATUS_TO_PROTO[a[0]] if a else common_pb2.MEMBER_STATUS_UNSPECIFIED
                for a in answers
            ],
            merged_into_member_ids=[a[1] if a else "" for a in answers],
        )

    async def ListMembers(
        self, request: identity_pb2.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.ListMembersResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(request.page_size, maximum=MEMBERS_PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("after",), types={"after": str})
        status = ""
        if request.status != common_pb2.MEMBER_STATUS_UNSPECIFIED:
            if request.status not in convert.STATUS_FROM_PROTO:
                raise InvalidArgument("status", "must be a known member status")
            status = convert.STATUS_FROM_PROTO[request.status]
        stored = await member_store.fetch_members(
            self.pool,
            request.program_id,
            after_member_id=cursor["after"] if cursor else "",
            status=status,
            enrolled_after=(
                instant(request.enrolled_after) if request.HasField("enrolled_after") else None
            ),
            limit=size + 1,
        )
        page = await member_store.views(self.pool, stored[:size])
        return identity_pb2.ListMembersResponse(
            members=[convert.member_to_proto(view) for view in page],
            next_page_token=(
                encode_page_token({"after": stored[size - 1].member_id})
                if len(stored) > size
                else ""
            ),
        )

    async def UpdateProfile(
        self, request: identity_pb2.UpdateProfileRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.UpdateProfileResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        paths = list(request.update_mask.paths)
        changes = convert.profile_from_proto(request.profile)

        async with self.pool.acquire() as connection, connection.transaction():

            async def update() -> identity_pb2.UpdateProfileResponse:
                member = await self.open_member(connection, request.program_id, request.member_id)
                profile = profiles.apply_profile_update(member.profile, changes, paths)
                await member_store.update_profile(
                    connection, request.program_id, request.member_id, profile
                )
                await member_store.record_request(
                    connection, request.program_id, request.member_id, request.idempotency_key
                )
                updated = events_pb2.MemberUpdated(
                    member_id=request.member_id,
                    changed_fields=sorted(set(paths)),
                    status=convert.STATUS_TO_PROTO[member.status],
                    locale=profile.locale,
                    home_store_id=profile.home_store_id,
                )
                if profile.birthday is not None:
                    updated.birthday.CopyFrom(convert.local_date(profile.birthday))
                await self.emit(
                    connection, events.MEMBER_UPDATED, request.program_id, member_updated=updated
                )
                return identity_pb2.UpdateProfileResponse(profile=convert.profile_to_proto(profile))

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="UpdateProfile",
                request=request,
                response_type=identity_pb2.UpdateProfileResponse,
                work=update,
                forgetting=self.settings.forgetting,
            )

    async def UpdateConsents(
        self, request: identity_pb2.UpdateConsentsRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.UpdateConsentsResponse:
        validation.program_id(request.program_id)
        check_member_id(request.member_id)
        if not request.consent_updates:
            raise InvalidArgument("consent_updates", "names no consent to change")
        changes = consent_changes(
            [(u.channel, u.granted) for u in request.consent_updates], "consent_updates"
        )
        source = profiles.channel(request.source_channel, "source_channel")

        async with self.pool.acquire() as connection, connection.transaction():

            async def update() -> identity_pb2.UpdateConsentsResponse:
                await self.open_member(connection, request.program_id, request.member_id)
                changed = await member_store.change_consents(
                    connection,
                    program_id=request.program_id,
                    member_id=request.member_id,
                    changes=changes,
                    source_channel=source,
                )
                for consent in changed:
                    await self.emit(
                        connection,
                        events.CONSENT_CHANGED,
                        request.program_id,
                        consent_changed=events_pb2.ConsentChanged(
                            member_id=request.member_id,
                            channel=consent.channel,  # type: ignore[arg-type]
                            granted=consent.granted,
                            source_channel=consent.source_channel,  # type: ignore[arg-type]
                            changed_at=timestamp(consent.changed_at),
                        ),
                    )
                if changed:
                    await member_store.touch_member(
                        connection, request.program_id, request.member_id
                    )
                await member_store.record_request(
                    connection, request.program_id, request.member_id, request.idempotency_key
                )
                view = await self.view(connection, request.program_id, request.member_id)
                return identity_pb2.UpdateConsentsResponse(
                    consents=[convert.consent_to_proto(c) for c in view.consents]
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="UpdateConsents",
                request=request,
                response_type=identity_pb2.UpdateConsentsResponse,
                work=update,
                forgetting=self.settings.forgetting,
            )
