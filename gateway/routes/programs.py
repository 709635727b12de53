"""The program and its tiers: readable with any credential of the program."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway import convert, models
from gateway.auth import Principal, access
from gateway.jsonbody import JsonRoute
from gateway.routes.common import ERRORS, PREFIX, upstreams
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2

router = APIRouter(prefix=PREFIX, tags=["programs"], responses=ERRORS, route_class=JsonRoute)
AnyCaller = Annotated[Principal, Depends(access(api_key_scope="", member_scope=""))]


@router.get("", response_model=models.Program, summary="The program")
async def get_program(request: Request, principal: AnyCaller) -> models.Program:
    services = upstreams(request)
    response = await services.call(
        services.identity.GetProgram,
        identity_pb2.GetProgramRequest(program_id=principal.program_id),
    )
    return convert.program(response.program)


@router.get("/tiers", response_model=models.TierList, summary="The program's tiers, lowest first")
async def list_tiers(request: Request, principal: AnyCaller) -> models.TierList:
    services = upstreams(request)
    response = await services.call(
        services.ledger.ListTierDefinitions,
        ledger_pb2.ListTierDefinitionsRequest(program_id=principal.program_id, page_size=100),
        fields={"page_size": ""},  # the gateway's constant, not the client's
    )
    return models.TierList(tiers=[convert.tier(t) for t in response.tiers])
