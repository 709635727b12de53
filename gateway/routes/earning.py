"""What a member would earn and has achieved, from campaign: the points a basket would earn
(nothing is posted), the member's progress on the missions offered to it, and its badges."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway import models
from gateway.auth import Principal, access
from gateway.convert import (
    badge,
    line_items_to_proto,
    mission_progress,
    money_to_proto,
    rule_applications,
    timestamp,
)
from gateway.enums import to_proto
from gateway.jsonbody import JsonRoute
from gateway.routes.common import (
    ERRORS,
    PREFIX,
    MemberIdPath,
    PageSize,
    PageToken,
    known_member,
    upstreams,
)
from loyalty.campaign.v1 import campaign_pb2

router = APIRouter(prefix=PREFIX, tags=["earning"], responses=ERRORS, route_class=JsonRoute)
# Those who post a member's purchases (tills, webshops) may ask what one would earn first.
Previewer = Annotated[
    Principal, Depends(access(api_key_scope="transactions:write", member_scope="member:read"))
]
Reader = Annotated[
    Principal, Depends(access(api_key_scope="members:read", member_scope="member:read"))
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
    member = await known_member(services, principal, member_id)
    response = await services.call(
        services.campaign.PreviewBasket,
        campaign_pb2.PreviewBasketRequest(
            program_id=principal.program_id,
            member_id=member,
            amount=money_to_proto(body.amount),
            line_items=line_items_to_proto(body.line_items),
            channel=to_proto(body.channel),  # type: ignore[arg-type]
            store_id=body.store_id,
            occurred_at=timestamp(body.occurred_at),
        ),
    )
    return models.BasketPreview(
        member_id=member,
        points=response.points,
        rules=rule_applications(response.applications),
    )


@router.get(
    "/members/{member_id}/missions",
    response_model=models.MissionProgressList,
    summary="The missions offered to the member, with its progress on each step",
    description="Every active mission the member may take part in (campaign leaves out those "
    "for segments it is not in), at most 200, each with its name, steps, reward and badge, and "
    "how far the member is: not_started, in_progress (with the window's deadline), completed "
    "or expired.",
)
async def list_mission_progress(
    request: Request, member_id: MemberIdPath, principal: Reader
) -> models.MissionProgressList:
    services = upstreams(request)
    response = await services.call(
        services.campaign.GetMissionProgress,
        campaign_pb2.GetMissionProgressRequest(
            program_id=principal.program_id,
            member_id=await known_member(services, principal, member_id),
        ),
    )
    return models.MissionProgressList(
        missions=[mission_progress(progress) for progress in response.progresses]
    )


@router.get(
    "/members/{member_id}/badges",
    response_model=models.BadgeList,
    summary="The badges the member was awarded, newest first",
)
async def list_badges(
    request: Request,
    member_id: MemberIdPath,
    principal: Reader,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.BadgeList:
    services = upstreams(request)
    response = await services.call(
        services.campaign.ListMemberBadges,
        campaign_pb2.ListMemberBadgesRequest(
            program_id=principal.program_id,
            member_id=await known_member(services, principal, member_id),
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return models.BadgeList(
        badges=[badge(value) for value in response.badges],
        next_page_token=response.next_page_token,
    )
