"""A member's points: balance, lots, history, what a spend consumed and tier history (all read
from the ledger)."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from gateway import convert, models
from gateway.auth import Principal, access
from gateway.convert import timestamp
from gateway.enums import PostingKind, to_proto
from gateway.jsonbody import JsonRoute
from gateway.routes.common import ERRORS, PREFIX, MemberIdPath, PageSize, PageToken, upstreams
from loyalty.ledger.v1 import ledger_pb2

router = APIRouter(prefix=PREFIX, tags=["points"], responses=ERRORS, route_class=JsonRoute)
Reader = Annotated[
    Principal, Depends(access(api_key_scope="members:read", member_scope="member:read"))
]
PostingIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=19,
        pattern=r"^[0-9]+$",
        description="A posting id, as the history lists it.",
    ),
]


@router.get(
    "/members/{member_id}/balance",
    response_model=models.Balance,
    summary="Balance, tier, progress to the next tier and what expires soon",
)
async def get_balance(
    request: Request, member_id: MemberIdPath, principal: Reader
) -> models.Balance:
    services = upstreams(request)
    response = await services.call(
        services.ledger.GetBalance,
        ledger_pb2.GetBalanceRequest(
            program_id=principal.program_id, member_id=principal.member_id_of(member_id)
        ),
    )
    return convert.balance(response.balance)


@router.get(
    "/members/{member_id}/lots",
    response_model=models.LotList,
    summary="The lots making up the balance, soonest expiry first",
)
async def list_lots(
    request: Request,
    member_id: MemberIdPath,
    principal: Reader,
    include_exhausted: bool = False,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.LotList:
    services = upstreams(request)
    response = await services.call(
        services.ledger.ListLots,
        ledger_pb2.ListLotsRequest(
            program_id=principal.program_id,
            member_id=principal.member_id_of(member_id),
            include_exhausted=include_exhausted,
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return models.LotList(
        lots=[convert.lot(lot) for lot in response.lots], next_page_token=response.next_page_token
    )


@router.get(
    "/members/{member_id}/history",
    response_model=models.History,
    summary="Postings, newest first",
)
async def list_history(
    request: Request,
    member_id: MemberIdPath,
    principal: Reader,
    kinds: Annotated[list[PostingKind], Query(max_length=8)] = [],  # noqa: B006 - FastAPI copies
    start_time: Annotated[
        dt.datetime | None,
        Query(description="Only postings posted at or after this time (UTC without an offset)."),
    ] = None,
    end_time: Annotated[
        dt.datetime | None,
        Query(description="Only postings posted before this time (UTC without an offset)."),
    ] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.History:
    services = upstreams(request)
    response = await services.call(
        services.ledger.ListHistory,
        ledger_pb2.ListHistoryRequest(
            program_id=principal.program_id,
            member_id=principal.member_id_of(member_id),
            kinds=[to_proto(kind) for kind in kinds],  # type: ignore[misc]
            start_time=timestamp(start_time),
            end_time=timestamp(end_time),
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return models.History(
        postings=[convert.posting(p) for p in response.postings],
        next_page_token=response.next_page_token,
    )


@router.get(
    "/members/{member_id}/postings/{posting_id}/allocations",
    response_model=models.SpendAllocationList,
    summary="The lots a spend consumed and what each gave, in the order they were spent",
    description="For a redemption, a committed hold, a transfer to another member or an expiry "
    "(other postings consumed no lots: an empty list). Another member's posting is 404 "
    "POSTING_NOT_FOUND, as an unknown one.",
)
async def list_spend_allocations(
    request: Request,
    member_id: MemberIdPath,
    posting_id: PostingIdPath,
    principal: Reader,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.SpendAllocationList:
    services = upstreams(request)
    response = await services.call(
        services.ledger.ListSpendAllocations,
        ledger_pb2.ListSpendAllocationsRequest(
            program_id=principal.program_id,
            member_id=principal.member_id_of(member_id),
            posting_id=posting_id,
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return models.SpendAllocationList(
        allocations=[convert.spend_allocation(a) for a in response.allocations],
        next_page_token=response.next_page_token,
    )


@router.get(
    "/members/{member_id}/tier-history",
    response_model=models.TierHistory,
    summary="Tier changes with their reasons, newest first",
)
async def tier_history(
    request: Request,
    member_id: MemberIdPath,
    principal: Reader,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.TierHistory:
    services = upstreams(request)
    response = await services.call(
        services.ledger.GetTierHistory,
        ledger_pb2.GetTierHistoryRequest(
            program_id=principal.program_id,
            member_id=principal.member_id_of(member_id),
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return models.TierHistory(
        tier_changes=[convert.tier_change(c) for c in response.tier_changes],
        next_page_token=response.next_page_token,
    )
