"""Members: enrol, read, profile, consents, identifiers and the QR card token."""

import asyncio
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Query, Request, Response
from google.protobuf.field_mask_pb2 import FieldMask

from gateway import convert, models
from gateway.auth import Principal, access
from gateway.enums import IdentifierKind, IdentifierRemovalReason, to_proto
from gateway.jsonbody import JsonRoute
from gateway.routes.common import (
    ERRORS,
    PREFIX,
    IdempotencyKey,
    MemberIdPath,
    claimed_key,
    upstreams,
)
from loyalty.identity.v1 import identity_pb2

router = APIRouter(prefix=PREFIX, tags=["members"], responses=ERRORS, route_class=JsonRoute)
Enroller = Annotated[Principal, Depends(access(api_key_scope="members:write", member_scope=None))]
Reader = Annotated[
    Principal, Depends(access(api_key_scope="members:read", member_scope="member:read"))
]
Writer = Annotated[
    Principal, Depends(access(api_key_scope="members:write", member_scope="member:write"))
]
QR_TOKEN_TTL_S = 300


@router.post(
    "/members",
    response_model=models.EnrolmentResult,
    status_code=201,
    summary="Enrol a member",
    description="Idempotent: a retry with the same Idempotency-Key returns the same member "
    "with `created: false` and status 200.",
    responses={200: {"model": models.EnrolmentResult, "description": "Enrolled before."}},
)
async def enrol_member(
    request: Request,
    response: Response,
    body: models.Enrolment,
    principal: Enroller,
    idempotency_key: IdempotencyKey,
) -> models.EnrolmentResult:
    services = upstreams(request)
    enrolled = await services.call(
        services.identity.EnrollMember,
        identity_pb2.EnrollMemberRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            channel=to_proto(body.channel),  # type: ignore[arg-type]
            store_id=body.store_id,
            profile=convert.profile_to_proto(body.profile),
            identifiers=[convert.identifier_to_proto(i) for i in body.identifiers],
            consents=[
                identity_pb2.Consent(channel=to_proto(c.channel), granted=c.granted)  # type: ignore[arg-type]
                for c in body.consents
            ],
            referral_code=body.referral_code,
        ),
    )
    if not enrolled.created:
        response.status_code = 200
    return models.EnrolmentResult(member=convert.member(enrolled.member), created=enrolled.created)


async def _member(request: Request, principal: Principal, member_id: str) -> identity_pb2.Member:
    services = upstreams(request)
    response = await services.call(
        services.identity.GetMember,
        identity_pb2.GetMemberRequest(
            program_id=principal.program_id, member_id=principal.member_id_of(member_id)
        ),
    )
    return response.member


@router.get("/members/{member_id}", response_model=models.Member, summary="A member")
async def get_member(request: Request, member_id: MemberIdPath, principal: Reader) -> models.Member:
    return convert.member(await _member(request, principal, member_id))


@router.patch(
    "/members/{member_id}/profile",
    response_model=models.Profile,
    summary="Change profile fields",
    description="Only the fields in the body change.",
)
async def update_profile(
    request: Request,
    member_id: MemberIdPath,
    body: models.ProfilePatch,
    principal: Writer,
    idempotency_key: IdempotencyKey,
) -> models.Profile:
    services = upstreams(request)
    changed = await services.call(
        services.identity.UpdateProfile,
        identity_pb2.UpdateProfileRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            member_id=principal.member_id_of(member_id),
            profile=convert.profile_to_proto(body),
            update_mask=FieldMask(paths=sorted(body.model_fields_set)),
        ),
        fields={"profile": "", "update_mask": ""},
    )
    return convert.profile(changed.profile)


@router.patch(
    "/members/{member_id}/consents",
    response_model=models.ConsentList,
    summary="Grant or withdraw consent per channel",
)
async def update_consents(
    request: Request,
    member_id: MemberIdPath,
    body: models.ConsentsUpdate,
    principal: Writer,
    idempotency_key: IdempotencyKey,
) -> models.ConsentList:
    services = upstreams(request)
    changed = await services.call(
        services.identity.UpdateConsents,
        identity_pb2.UpdateConsentsRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            member_id=principal.member_id_of(member_id),
            consent_updates=[
                identity_pb2.ConsentUpdate(channel=to_proto(c.channel), granted=c.granted)  # type: ignore[arg-type]
                for c in body.consents
            ],
            source_channel=to_proto(body.source_channel),  # type: ignore[arg-type]
        ),
        fields={"consent_updates": "consents"},
    )
    return models.ConsentList(consents=[convert.consent(c) for c in changed.consents])


@router.get(
    "/members/{member_id}/identifiers",
    response_model=models.IdentifierList,
    summary="A member's identifiers, and the cards blocked as lost or stolen",
)
async def list_identifiers(
    request: Request, member_id: MemberIdPath, principal: Reader
) -> models.IdentifierList:
    member = await _member(request, principal, member_id)
    return models.IdentifierList(
        identifiers=[convert.identifier(i) for i in member.identifiers],
        blocked_identifiers=[convert.blocked_identifier(b) for b in member.blocked_identifiers],
    )


@router.post(
    "/members/{member_id}/identifiers",
    response_model=models.Identifier,
    status_code=201,
    summary="Attach an identifier",
)
async def add_identifier(
    request: Request,
    member_id: MemberIdPath,
    body: models.IdentifierInput,
    principal: Writer,
    idempotency_key: IdempotencyKey,
) -> models.Identifier:
    services = upstreams(request)
    added = await services.call(
        services.identity.AddIdentifier,
        identity_pb2.AddIdentifierRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            member_id=principal.member_id_of(member_id),
            identifier=convert.identifier_to_proto(body),
        ),
        fields={"identifier": ""},
    )
    return convert.identifier(added.identifier)


@router.delete(
    "/members/{member_id}/identifiers",
    response_model=models.Identifier,
    summary="Detach an identifier, or block a lost or stolen card",
    description="Without `reason` the identifier is released and anyone may take it. A member's "
    "last identifier is 409 `LAST_IDENTIFIER`: add another first. With `reason=lost` or "
    "`reason=stolen` a card number is blocked instead (it may be the last identifier): it "
    "identifies no member at a till (409 `IDENTIFIER_BLOCKED`) and nobody can enrol with it or "
    "attach it. The member keeps the account and points; attach a new card with POST. A lost card "
    "found again may be attached to its own member again; a stolen card stays blocked. The member "
    "and GET list a blocked card in `blocked_identifiers` (why, since when) while it is blocked.",
)
async def remove_identifier(
    request: Request,
    member_id: MemberIdPath,
    principal: Writer,
    idempotency_key: IdempotencyKey,
    kind: Annotated[IdentifierKind, Query()],
    value: Annotated[str, Query(min_length=1, max_length=320)],
    provider: Annotated[str, Query(max_length=128)] = "",
    reason: Annotated[IdentifierRemovalReason | None, Query()] = None,
) -> models.Identifier:
    services = upstreams(request)
    removed = await services.call(
        services.identity.RemoveIdentifier,
        identity_pb2.RemoveIdentifierRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            member_id=principal.member_id_of(member_id),
            kind=to_proto(kind),  # type: ignore[arg-type]
            value=value,
            provider=provider,
            reason=to_proto(reason),  # type: ignore[arg-type]
        ),
    )
    return convert.identifier(removed.identifier)


@router.get(
    "/members/{member_id}/qr-token",
    response_model=models.QrToken,
    summary="A fresh QR card token, with its QR code as SVG",
    description="Short-lived and signed; a till verifies it offline with the program's key set.",
)
async def qr_token(request: Request, member_id: MemberIdPath, principal: Reader) -> models.QrToken:
    services = upstreams(request)
    issued = await services.call(
        services.identity.IssueQrToken,
        identity_pb2.IssueQrTokenRequest(
            program_id=principal.program_id,
            member_id=principal.member_id_of(member_id),
            ttl_seconds=QR_TOKEN_TTL_S,
        ),
        fields={"ttl_seconds": ""},  # the gateway's constant, not the client's
    )
    svg = await asyncio.to_thread(qr_svg, issued.token)
    return models.QrToken(
        token=issued.token,
        expires_at=convert.instant(issued, "expires_at"),
        key_id=issued.key_id,
        qr_svg=svg,
    )


def qr_svg(data: str) -> str:
    """An SVG QR code that scales with its container (no fixed width/height)."""
    code = segno.make_qr(data, error="m")
    svg: str = code.svg_inline(scale=1, border=2, omitsize=True, dark="#111", light="#fff")
    return svg
