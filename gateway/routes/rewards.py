"""Rewards (the catalog, and what a member can afford), redemptions, and codes at the till."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from gateway import convert, models
from gateway.auth import Principal, access
from gateway.convert import instant
from gateway.enums import PerkStatus, RedemptionStatus, RewardKind, from_proto, to_proto
from gateway.errors import ApiError
from gateway.jsonbody import JsonRoute
from gateway.routes.common import (
    ERRORS,
    PREFIX,
    IdempotencyKey,
    MemberIdPath,
    PageSize,
    PageToken,
    claimed_key,
    known_member,
    upstreams,
)
from loyalty.rewards.v1 import rewards_pb2

router = APIRouter(prefix=PREFIX, tags=["rewards"], responses=ERRORS, route_class=JsonRoute)
CatalogReader = Annotated[
    Principal, Depends(access(api_key_scope="rewards:read", member_scope="member:read"))
]
Redeemer = Annotated[
    Principal, Depends(access(api_key_scope="redemptions:write", member_scope="rewards:redeem"))
]
RedemptionReader = Annotated[
    Principal, Depends(access(api_key_scope="redemptions:read", member_scope="member:read"))
]
Canceller = Annotated[
    Principal, Depends(access(api_key_scope="redemptions:write", member_scope=None))
]
Validator = Annotated[Principal, Depends(access(api_key_scope="codes:validate", member_scope=None))]
CodeUser = Annotated[Principal, Depends(access(api_key_scope="codes:use", member_scope=None))]
RewardIdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f/]+$")]
Kinds = Annotated[list[RewardKind], Query(max_length=5)]


@router.get(
    "/rewards",
    response_model=models.RewardList,
    summary="The reward catalog",
    description="With a member token, the catalog as that member sees it (as "
    "`/members/me/rewards`): only active rewards offered to them, by tier, segment and "
    "experiment arm.",
)
async def list_rewards(
    request: Request,
    principal: CatalogReader,
    kinds: Kinds = [],  # noqa: B006 - FastAPI copies defaults
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.RewardList:
    services = upstreams(request)
    response = await services.call(
        services.rewards.ListRewards,
        rewards_pb2.ListRewardsRequest(
            program_id=principal.program_id,
            # A member sees only what is offered to it; an API key, the whole active catalog.
            member_id=principal.member_id,
            kinds=[to_proto(kind) for kind in kinds],  # type: ignore[misc]
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return convert.reward_list(response, for_member=principal.is_member)


@router.get(
    "/rewards/{reward_id}",
    response_model=models.Reward,
    summary="One reward",
    description="An API key reads any reward, drafts and archived ones included. With a member "
    "token, a reward its listing does not show (inactive, outside its validity, for another "
    "tier, segment or experiment arm) is 404 REWARD_NOT_FOUND, as an unknown one.",
)
async def get_reward(
    request: Request, reward_id: RewardIdPath, principal: CatalogReader
) -> models.Reward:
    services = upstreams(request)
    response = await services.call(
        services.rewards.GetReward,
        rewards_pb2.GetRewardRequest(
            program_id=principal.program_id,
            reward_id=reward_id,
            member_id=principal.member_id,
        ),
    )
    return convert.reward(response.reward)


@router.get(
    "/members/{member_id}/rewards",
    response_model=models.RewardList,
    summary="The rewards a member is eligible for, with what it can afford",
)
async def list_member_rewards(
    request: Request,
    member_id: MemberIdPath,
    principal: CatalogReader,
    affordable_only: bool = False,
    kinds: Kinds = [],  # noqa: B006 - FastAPI copies defaults
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.RewardList:
    services = upstreams(request)
    response = await services.call(
        services.rewards.ListRewards,
        rewards_pb2.ListRewardsRequest(
            program_id=principal.program_id,
            member_id=await known_member(services, principal, member_id),
            affordable_only=affordable_only,
            kinds=[to_proto(kind) for kind in kinds],  # type: ignore[misc]
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return convert.reward_list(response, for_member=True)


@router.get(
    "/members/{member_id}/perks",
    response_model=models.MemberPerkList,
    summary="The perks the member's tier grants it, by perk code",
    description="Granted when the member reaches a tier, withdrawn when it leaves it; "
    "`include_withdrawn=true` lists the withdrawn ones too.",
)
async def list_member_perks(
    request: Request,
    member_id: MemberIdPath,
    principal: CatalogReader,
    include_withdrawn: bool = False,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.MemberPerkList:
    services = upstreams(request)
    response = await services.call(
        services.rewards.ListMemberPerks,
        rewards_pb2.ListMemberPerksRequest(
            program_id=principal.program_id,
            member_id=await known_member(services, principal, member_id),
            include_withdrawn=include_withdrawn,
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return models.MemberPerkList(
        perks=[_member_perk(perk) for perk in response.perks],
        next_page_token=response.next_page_token,
    )


def _member_perk(value: rewards_pb2.MemberPerk) -> models.MemberPerk:
    return models.MemberPerk(
        perk_code=value.perk.perk_code,
        name=value.perk.name,
        description=value.perk.description,
        reward_id=value.perk.reward_id,
        tier_code=value.tier_code,
        status=from_proto(PerkStatus, value.status),
        granted_at=instant(value, "granted_at"),
        withdrawn_at=instant(value, "withdrawn_at"),
    )


@router.post(
    "/members/{member_id}/redemptions",
    response_model=models.Redemption,
    status_code=201,
    summary="Redeem a reward: points are spent and codes issued",
)
async def redeem(
    request: Request,
    member_id: MemberIdPath,
    body: models.RedeemInput,
    principal: Redeemer,
    idempotency_key: IdempotencyKey,
) -> models.Redemption:
    services = upstreams(request)
    response = await services.call(
        services.rewards.Redeem,
        rewards_pb2.RedeemRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            member_id=principal.member_id_of(member_id),
            reward_id=body.reward_id,
            quantity=body.quantity,
            channel=to_proto(body.channel),  # type: ignore[arg-type]
            store_id=body.store_id,
        ),
    )
    return convert.redemption(response.redemption)


@router.get(
    "/members/{member_id}/redemptions",
    response_model=models.RedemptionList,
    summary="A member's redemptions, newest first",
)
async def list_redemptions(
    request: Request,
    member_id: MemberIdPath,
    principal: RedemptionReader,
    status: Annotated[
        RedemptionStatus | None, Query(description="Only redemptions in this state; unset: all.")
    ] = None,
    page_size: PageSize = 0,
    page_token: PageToken = "",
) -> models.RedemptionList:
    services = upstreams(request)
    response = await services.call(
        services.rewards.ListRedemptions,
        rewards_pb2.ListRedemptionsRequest(
            program_id=principal.program_id,
            member_id=await known_member(services, principal, member_id),
            status=to_proto(status),  # type: ignore[arg-type]
            page_size=page_size,
            page_token=page_token,
        ),
    )
    return models.RedemptionList(
        redemptions=[convert.redemption(r) for r in response.redemptions],
        next_page_token=response.next_page_token,
    )


@router.get(
    "/redemptions/{redemption_id}", response_model=models.Redemption, summary="One redemption"
)
async def get_redemption(
    request: Request, redemption_id: RewardIdPath, principal: RedemptionReader
) -> models.Redemption:
    services = upstreams(request)
    response = await services.call(
        services.rewards.GetRedemption,
        rewards_pb2.GetRedemptionRequest(
            program_id=principal.program_id, redemption_id=redemption_id
        ),
    )
    if principal.is_member and response.redemption.member_id != principal.member_id:
        raise ApiError(404, "REDEMPTION_NOT_FOUND", f"redemption {redemption_id!r} not found")
    return convert.redemption(response.redemption)


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=models.CancellationResult,
    summary="Cancel a redemption: points and stock return",
)
async def cancel_redemption(
    request: Request,
    redemption_id: RewardIdPath,
    body: models.Cancellation,
    principal: Canceller,
    idempotency_key: IdempotencyKey,
) -> models.CancellationResult:
    services = upstreams(request)
    response = await services.call(
        services.rewards.CancelRedemption,
        rewards_pb2.CancelRedemptionRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            redemption_id=redemption_id,
            reason=body.reason,
            operator_id=body.operator_id or principal.name,
        ),
    )
    return models.CancellationResult(
        redemption=convert.redemption(response.redemption),
        returned_points=response.returned_points,
        debt_paid_points=response.debt_paid_points,
    )


@router.post(
    "/codes/validate",
    response_model=models.CodeValidation,
    summary="Check a code at a till without using it",
    description="Read-only, so no Idempotency-Key. An unknown code is `status: unknown`.",
)
async def validate_code(
    request: Request, body: models.CodeCheck, principal: Validator
) -> models.CodeValidation:
    services = upstreams(request)
    response = await services.call(
        services.rewards.ValidateCode,
        rewards_pb2.ValidateCodeRequest(
            program_id=principal.program_id, code=body.code, store_id=body.store_id
        ),
    )
    return convert.code_validation(response)


@router.post(
    "/codes/use",
    response_model=models.CodeUseResult,
    summary="Mark a code used, exactly once",
    description="A retry with the same Idempotency-Key succeeds again; any other use is 409.",
)
async def use_code(
    request: Request, body: models.CodeUse, principal: CodeUser, idempotency_key: IdempotencyKey
) -> models.CodeUseResult:
    services = upstreams(request)
    response = await services.call(
        services.rewards.UseCode,
        rewards_pb2.UseCodeRequest(
            program_id=principal.program_id,
            idempotency_key=await claimed_key(request, principal, idempotency_key),
            code=body.code,
            store_id=body.store_id,
            till_id=body.till_id,
            transaction_id=body.transaction_id,
        ),
    )
    return convert.code_use(response)
