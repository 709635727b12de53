"""A member's points: balance, lots, history, what a spend consumed and tier history (all read
from the ledger), and transfers of points to another member."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from gateway import convert, models
from gateway.auth import Principal, access
from gateway.convert import timestamp
from gateway.enums import PostingKind, to_proto
from gateway.errors import IDEMPOTENCY_HEADER, ApiError
from gateway.jsonbody import JsonRoute
from gateway.routes.common import (
    ERRORS,
    PREFIX,
    IdempotencyKey,
    MemberIdPath,
    PageSize,
    PageToken,
    claimed_key,
    enrolled_without_account,
    upstreams,
)
from gateway.upstream import Upstreams
from loyalty.common.v1 import common_pb2
from loyalty.identity.v1 import identity_pb2
from loyalty.ledger.v1 import ledger_pb2

router = APIRouter(prefix=PREFIX, tags=["points"], responses=ERRORS, route_class=JsonRoute)
Reader = Annotated[
    Principal, Depends(access(api_key_scope="members:read", member_scope="member:read"))
]
Transferrer = Annotated[
    Principal, Depends(access(api_key_scope="points:transfer", member_scope="points:transfer"))
]
# The reason code of the postings of a transfer made through the gateway.
TRANSFER_REASON_CODE = "member_transfer"
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
    # A member token's member is enrolled (identity verified the token): asked so at once, its
    # unopened account costs no 404 round trip first.
    asked = ledger_pb2.GetBalanceRequest(
        program_id=principal.program_id,
        member_id=principal.member_id_of(member_id),
        enrolled=principal.is_member,
    )
    try:
        response = await services.call(services.ledger.GetBalance, asked)
    except ApiError as missing:
        if not await enrolled_without_account(services, principal, asked.member_id, missing):
            raise
        # The ledger answers the fresh account itself (entry tier, progress to the next), so
        # the gateway keeps no tier rules of its own.
        asked.enrolled = True
        response = await services.call(services.ledger.GetBalance, asked)
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
    asked = ledger_pb2.ListLotsRequest(
        program_id=principal.program_id,
        member_id=principal.member_id_of(member_id),
        include_exhausted=include_exhausted,
        page_size=page_size,
        page_token=page_token,
    )
    try:
        response = await services.call(services.ledger.ListLots, asked)
    except ApiError as missing:
        if not await enrolled_without_account(services, principal, asked.member_id, missing):
            raise
        return models.LotList(lots=[], next_page_token="")  # an account opens with no lots
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
        models.Instant | None,
        Query(description="Only postings posted at or after this time (UTC without an offset)."),
    ] = None,
    end_time: Annotated[
        models.Instant | None,
        Query(description="Only postings posted before this time (UTC without an offset)."),
    ] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.History:
    services = upstreams(request)
    asked = ledger_pb2.ListHistoryRequest(
        program_id=principal.program_id,
        member_id=principal.member_id_of(member_id),
        kinds=[to_proto(kind) for kind in kinds],  # type: ignore[misc]
        start_time=timestamp(start_time),
        end_time=timestamp(end_time),
        page_size=page_size,
        page_token=page_token,
    )
    try:
        response = await services.call(services.ledger.ListHistory, asked)
    except ApiError as missing:
        if not await enrolled_without_account(services, principal, asked.member_id, missing):
            raise
        return models.History(postings=[], next_page_token="")  # opening posts nothing
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
    asked = ledger_pb2.GetTierHistoryRequest(
        program_id=principal.program_id,
        member_id=principal.member_id_of(member_id),
        page_size=page_size,
        page_token=page_token,
    )
    try:
        response = await services.call(services.ledger.GetTierHistory, asked)
    except ApiError as missing:
        if not await enrolled_without_account(services, principal, asked.member_id, missing):
            raise
        # An account opens in the entry tier without a tier change recorded (store.open_account).
        return models.TierHistory(tier_changes=[], next_page_token="")
    return models.TierHistory(
        tier_changes=[convert.tier_change(c) for c in response.tier_changes],
        next_page_token=response.next_page_token,
    )


@router.post(
    "/members/{member_id}/transfers",
    response_model=models.TransferResult,
    status_code=201,
    summary="Give points to another member (a gift, a household)",
    description="Moves vested points of the member in the path, oldest expiry first, to "
    "`to_member_id`, an active member of the program (else 404 MEMBER_NOT_FOUND on it, as an "
    "unknown one); too few available points is 409 INSUFFICIENT_POINTS. A retry with the same "
    "Idempotency-Key answers the first result and moves nothing again, even when the recipient "
    "was erased or merged since. The answer holds the giver's balance only.",
)
async def transfer_points(
    request: Request,
    member_id: MemberIdPath,
    body: models.TransferInput,
    principal: Transferrer,
    idempotency_key: IdempotencyKey,
) -> models.TransferResult:
    services = upstreams(request)
    source = principal.member_id_of(member_id)
    transfer = ledger_pb2.TransferPointsRequest(
        program_id=principal.program_id,
        idempotency_key=await claimed_key(request, principal, idempotency_key),
        source_member_id=source,
        target_member_id=body.to_member_id,
        points=body.points,
        reason=ledger_pb2.PostingReason(
            code=TRANSFER_REASON_CODE,
            note=body.note,
            operator_id="" if principal.is_member else principal.name,
        ),
    )
    fields = {
        "source_member_id": "member_id",
        "target_member_id": "to_member_id",
        "reason.note": "note",
        "reason": "",
    }
    recorded = None
    if body.to_member_id != source:
        # The ledger keeps accounts of any id: points given to a member identity does not know
        # (or no longer: merged, erased) would be lost to everyone.
        recorded = await _recipient_refused(services, transfer, fields=fields)
    response: ledger_pb2.TransferPointsResponse = (
        recorded
        if recorded is not None
        else await services.call(services.ledger.TransferPoints, transfer, fields=fields)
    )
    return models.TransferResult(
        transfer_id=response.transfer_id,
        transferred_points=response.transferred_points,
        balance=convert.balance(response.source_balance),
    )


async def _recipient_refused(
    services: Upstreams, transfer: ledger_pb2.TransferPointsRequest, *, fields: dict[str, str]
) -> ledger_pb2.TransferPointsResponse | None:
    """None when identity knows the recipient as active. Otherwise the transfer this very
    request made before, when it is a retry (the recipient was erased or merged since it was
    given the points), from the ledger's record of the key; else 404 on to_member_id. Asked
    only once identity refuses, so a transfer to an active member costs no extra call."""
    try:
        await _check_recipient(services, transfer.program_id, transfer.target_member_id)
        return None
    except ApiError as refused:
        if refused.status != 404:
            raise
        found = await services.call(
            services.ledger.FindRecordedAnswer,
            ledger_pb2.FindRecordedAnswerRequest(transfer=transfer),
            fields={f"transfer.{name}": json for name, json in fields.items()}
            | {"transfer.idempotency_key": IDEMPOTENCY_HEADER},
        )
        if found.HasField("transfer"):
            return found.transfer
        raise


async def _check_recipient(services: Upstreams, program_id: str, member_id: str) -> None:
    """404 on to_member_id unless identity knows the member as active."""
    found = await services.call(
        services.identity.GetMember,
        identity_pb2.GetMemberRequest(program_id=program_id, member_id=member_id),
        fields={"member_id": "to_member_id"},
    )
    if found.member.status != common_pb2.MEMBER_STATUS_ACTIVE:
        raise ApiError(
            404, "MEMBER_NOT_FOUND", f"member {member_id!r} not found", field="to_member_id"
        )
