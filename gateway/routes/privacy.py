"""GDPR: a member's data export (also for the member itself) and erasure (back office only)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway import convert, models
from gateway.auth import Principal, access
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

router = APIRouter(prefix=PREFIX, tags=["privacy"], responses=ERRORS, route_class=JsonRoute)
Exporter = Annotated[
    Principal, Depends(access(api_key_scope="members:export", member_scope="member:read"))
]
Eraser = Annotated[Principal, Depends(access(api_key_scope="members:erase", member_scope=None))]


@router.get(
    "/members/{member_id}/export",
    response_model=models.MemberExport,
    summary="Everything held about a member (GDPR access)",
)
async def export_member(
    request: Request, member_id: MemberIdPath, principal: Exporter
) -> models.MemberExport:
    services = upstreams(request)
    response = await services.call(
        services.identity.ExportMember,
        identity_pb2.ExportMemberRequest(
            program_id=principal.program_id, member_id=principal.member_id_of(member_id)
        ),
    )
    return convert.export(response)


@router.post(
    "/members/{member_id}/erase",
    response_model=models.ErasureResult,
    summary="Erase (pseudonymise) a member; the ledger stays balanced (GDPR erasure)",
)
async def erase_member(
    request: Request,
    member_id: MemberIdPath,
    body: models.Erasure,
    principal: Eraser,
    idempotency_key: IdempotencyKey,
) -> models.ErasureResult:
    services = upstreams(request)
    response = await services.call(
        services.identity.EraseMember,
        identity_pb2.EraseMemberRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            member_id=principal.member_id_of(member_id),
            operator_id=body.operator_id,
            reason=body.reason,
        ),
    )
    return models.ErasureResult(
        member_id=response.member_id, erased_at=convert.instant(response, "erased_at")
    )
