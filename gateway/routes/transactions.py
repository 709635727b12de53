"""Transactions (purchases and returns) and engagement activities, from tills, webshops and apps.

Only API keys post them: a member cannot award itself points.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway import convert, models
from gateway.auth import Principal, access
from gateway.errors import ApiError
from gateway.jsonbody import JsonRoute
from gateway.routes.common import (
    ERRORS,
    PREFIX,
    IdempotencyKey,
    claimed_key,
    member_field,
    member_of,
    recorded_answer,
    upstreams,
)
from loyalty.campaign.v1 import campaign_pb2

router = APIRouter(prefix=PREFIX, tags=["transactions"], responses=ERRORS, route_class=JsonRoute)
Transactions = Annotated[
    Principal, Depends(access(api_key_scope="transactions:write", member_scope=None))
]
Activities = Annotated[
    Principal, Depends(access(api_key_scope="activities:write", member_scope=None))
]


@router.post(
    "/purchases",
    response_model=models.PurchaseResult,
    status_code=201,
    summary="Record a purchase; answers the points it earned",
    description="The member is given by `member_id` or by an `identifier` (a scanned QR card "
    "token, a card number, an e-mail...).",
)
async def record_purchase(
    request: Request,
    body: models.Purchase,
    principal: Transactions,
    idempotency_key: IdempotencyKey,
) -> models.PurchaseResult:
    services = upstreams(request)
    key = await claimed_key(request, principal, idempotency_key)
    recorded = await recorded_answer(
        services,
        body,
        campaign_pb2.FindRecordedAnswerRequest(
            purchase=convert.purchase_to_proto(
                body, program_id=principal.program_id, member_id="", idempotency_key=key
            )
        ),
    )
    if recorded is not None:
        return convert.purchase_result(recorded.purchase, member_id=recorded.purchase.member_id)
    member_id = await member_of(services, principal, body, at=body.occurred_at)
    response = await services.call(
        services.campaign.RecordPurchase,
        convert.purchase_to_proto(
            body, program_id=principal.program_id, member_id=member_id, idempotency_key=key
        ),
        fields={"member_id": member_field(body)},
    )
    return convert.purchase_result(response, member_id=member_id)


@router.post(
    "/returns",
    response_model=models.ReturnResult,
    status_code=201,
    summary="Record a return; its points are reversed pro rata",
)
async def record_return(
    request: Request, body: models.Return, principal: Transactions, idempotency_key: IdempotencyKey
) -> models.ReturnResult:
    if (body.lines is None) == (body.refunded_amount is None):
        raise ApiError(
            400, "INVALID_ARGUMENT", "give either lines or refunded_amount", field="lines"
        )
    services = upstreams(request)
    key = await claimed_key(request, principal, idempotency_key)
    recorded = await recorded_answer(
        services,
        body,
        campaign_pb2.FindRecordedAnswerRequest(
            purchase_return=convert.return_to_proto(
                body, program_id=principal.program_id, member_id="", idempotency_key=key
            )
        ),
    )
    if recorded is not None:
        return convert.return_result(
            recorded.purchase_return, member_id=recorded.purchase_return.member_id
        )
    member_id = await member_of(services, principal, body, at=body.occurred_at)
    response = await services.call(
        services.campaign.RecordReturn,
        convert.return_to_proto(
            body, program_id=principal.program_id, member_id=member_id, idempotency_key=key
        ),
        # The proto holds the lines in a ReturnLines message of the oneof `refund`; the JSON
        # holds them as a plain list.
        fields={"lines.lines": "lines", "refund": "lines", "member_id": member_field(body)},
    )
    return convert.return_result(response, member_id=member_id)


@router.post(
    "/activities",
    response_model=models.Activity,
    status_code=201,
    summary="Record an engagement activity (review, check-in, share...)",
)
async def record_activity(
    request: Request,
    body: models.ActivityInput,
    principal: Activities,
    idempotency_key: IdempotencyKey,
) -> models.Activity:
    services = upstreams(request)
    key = await claimed_key(request, principal, idempotency_key)
    recorded = await recorded_answer(
        services,
        body,
        campaign_pb2.FindRecordedAnswerRequest(
            activity=campaign_pb2.RecordActivityRequest(
                program_id=principal.program_id,
                idempotency_key=key,
                activity=convert.activity_to_proto(body, member_id=""),
            )
        ),
    )
    if recorded is not None:
        return convert.activity(recorded.activity.activity, duplicate=recorded.activity.duplicate)
    member_id = await member_of(services, principal, body, at=body.occurred_at)
    response = await services.call(
        services.campaign.RecordActivity,
        campaign_pb2.RecordActivityRequest(
            program_id=principal.program_id,
            idempotency_key=key,
            activity=convert.activity_to_proto(body, member_id=member_id),
        ),
        # The JSON is the activity itself, not a request holding one.
        fields={"activity": "", "activity.member_id": member_field(body)},
    )
    return convert.activity(response.activity, duplicate=response.duplicate)
