"""What a member would earn and has achieved, from campaign: the points a basket would earn
(nothing is posted), the member's mission progress and its badges."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway import models
from gateway.auth import Principal, access
from gateway.convert import money_to_proto, timestamp
from gateway.enums import to_proto
from gateway.jsonbody import JsonRoute
from gateway.routes.common import ERRORS, PREFIX, MemberIdPath, upstreams
from loyalty.campaign.v1 import campaign_pb2

router = APIRouter(prefix=PREFIX, tags=["earning"], responses=ERRORS, route_class=JsonRoute)
# Those who post a member's purchases (tills, webshops) may ask what one would earn first.
Previewer = Annotated[
    Principal, Depends(access(api_key_scope="transactions:write", member_scope="member:read"))
]


@router.post(
    "/members/{member_id}/basket-preview",
    response_model=models.BasketPreview,
    summary="What a basket would earn the member, without posting anything",
    description="The points and the rules giving them, as a purchase of this basket now (or at "
    "`occurred_at`) would earn them: the member's tier, segments, experiment arm and caps "
    "count. Read-only, so no Idempotency-Key.",
)
async def preview_basket(
    request: Request, member_id: MemberIdPath, body: models.BasketPreviewInput, principal: Previewer
) -> models.BasketPreview:
    services = upstreams(request)
    member = principal.member_id_of(member_id)
    response = await services.call(
        services.campaign.PreviewBasket,
        campaign_pb2.PreviewBasketRequest(
            program_id=principal.program_id,
            member_id=member,
            amount=money_to_proto(body.amount),
            line_items=[
                campaign_pb2.LineItem(
                    sku=line.sku,
                    category=line.category,
                    amount=money_to_proto(line.amount),
                    quantity=line.quantity,
                )
                for line in body.line_items
            ],
            channel=to_proto(body.channel),  # type: ignore[arg-type]
            store_id=body.store_id,
            occurred_at=timestamp(body.occurred_at),
        ),
    )
    return models.BasketPreview(
        member_id=member,
        points=response.points,
        rules=[
            models.RuleApplication(
                rule_id=a.rule_id,
                version=a.version,
                name=a.name,
                points=a.points,
                explanation=a.explanation,
            )
            for a in response.applications
        ],
    )
