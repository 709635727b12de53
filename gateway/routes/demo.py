"""DEMO ONLY: a member token for an e-mail address, with no password at all.

Mounted only when GATEWAY_DEMO_LOGIN=true (`make run` sets it). Anyone who knows a member's
e-mail becomes that member; never enable it where real members are.
"""

from fastapi import APIRouter, Request

from gateway import convert, models
from gateway.auth import MEMBER_SCOPES, Authenticator, ProgramIdPath
from gateway.jsonbody import JsonRoute
from gateway.routes.common import ERRORS, PREFIX, upstreams
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2

router = APIRouter(prefix=PREFIX, tags=["demo"], responses=ERRORS, route_class=JsonRoute)
DEMO_TOKEN_TTL_S = 8 * 3_600


@router.post(
    "/demo-login",
    response_model=models.MemberToken,
    summary="DEMO ONLY: a member token for an e-mail, without a password",
    description="Exists only when the gateway runs with GATEWAY_DEMO_LOGIN=true.",
)
async def demo_login(
    request: Request,
    program_id: ProgramIdPath,
    body: models.DemoLogin,
) -> models.MemberToken:
    authenticator: Authenticator = request.app.state.authenticator
    await authenticator.anonymous(request)
    services = upstreams(request)
    resolved = await services.call(
        services.identity.ResolveIdentifier,
        identity_pb2.ResolveIdentifierRequest(
            program_id=program_id, kind=common_pb2.IDENTIFIER_KIND_EMAIL, value=body.email
        ),
        fields={"value": "email", "kind": ""},
    )
    issued = await services.call(
        services.identity.IssueMemberToken,
        identity_pb2.IssueMemberTokenRequest(
            program_id=program_id,
            member_id=resolved.member_id,
            scopes=sorted(MEMBER_SCOPES),
            ttl_seconds=DEMO_TOKEN_TTL_S,
        ),
        # The member is the one the e-mail names; scopes and lifetime are the gateway's own.
        fields={"member_id": "email", "scopes": "", "ttl_seconds": ""},
    )
    return models.MemberToken(
        token=issued.token,
        member_id=resolved.member_id,
        expires_at=convert.instant(issued, "expires_at"),
    )
