"""RewardsService: proto ⇄ domain translation around transactions.

The methods are grouped by what they serve: the catalog here, tier perks in `perk_methods.py`,
redemptions in `redeeming.py`, codes at the till in `tills.py`.
"""

import datetime
import uuid

import asyncpg
import grpc

from loyalty.common.v1 import common_pb2
from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards import domain, repository, tier_codes
from services.rewards import redemption_store as store
from services.rewards.errors import (
    InsufficientStock,
    RewardArchived,
    RewardExists,
    RewardNotFound,
    StockUnlimited,
)
from services.rewards.perk_methods import PerkMethods
from services.rewards.redeeming import RedeemingMethods
from services.rewards.redemptions import Redemptions
from services.rewards.remote import CampaignTargeting, LedgerClient, MemberStanding
from services.rewards.tills import TillMethods
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once, stored_response
from services.shared.outbox import Outbox
from services.shared.paging import decode_page_token, encode_page_token

KINDS_MAX = 16
# A member's listing filters what it reads; one call reads at most this many rewards.
LISTING_SCAN_MAX = 2_000


class RewardsServicer(
    RedeemingMethods, TillMethods, PerkMethods, rewards_pb2_grpc.RewardsServiceServicer
):
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        *,
        ledger: LedgerClient,
        targeting: CampaignTargeting,
        redemptions: Redemptions,
        partner_code_validity_left_min: datetime.timedelta,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.ledger = ledger
        self.targeting = targeting
        self.redemptions = redemptions
        self.partner_code_validity_left_min = partner_code_validity_left_min

    # -- catalog --------------------------------------------------------------------------------

    async def CreateReward(
        self, request: rewards_pb2.CreateRewardRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.CreateRewardResponse:
        validation.program_id(request.program_id)
        # A retry is answered from its record before the reward is checked: it may have been
        # stored before a rule it fails (image_url), and the currency check asks the ledger.
        replayed = await stored_response(
            self.pool,
            program_id=request.program_id,
            key=request.idempotency_key,
            method="CreateReward",
            request=request,
            response_type=rewards_pb2.CreateRewardResponse,
        )
        if replayed is not None:
            return replayed
        domain.check_new_reward(request.reward)
        if domain.discount_money(request.reward):
            currency = await self.ledger.program_currency(request.program_id)
            domain.check_program_currency(request.reward, currency)
        reward = rewards_pb2.Reward()
        reward.CopyFrom(request.reward)
        reward.program_id = request.program_id
        reward.status = reward.status or rewards_pb2.REWARD_STATUS_DRAFT

        async with self.pool.acquire() as connection, connection.transaction():

            async def create() -> rewards_pb2.CreateRewardResponse:
                # An id made here is fixed by the first attempt: a retry replays its response.
                reward.reward_id = reward.reward_id or uuid.uuid4().hex
                if not await repository.insert_reward(connection, reward):
                    raise RewardExists(reward.reward_id)
                stored = await repository.fetch_reward(
                    connection, request.program_id, reward.reward_id
                )
                assert stored is not None
                await tier_codes.recheck_reward(connection, stored)
                return rewards_pb2.CreateRewardResponse(reward=stored)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CreateReward",
                request=request,
                response_type=rewards_pb2.CreateRewardResponse,
                work=create,
            )

    async def UpdateReward(
        self, request: rewards_pb2.UpdateRewardRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.UpdateRewardResponse:
        validation.program_id(request.program_id)
        # A retry is answered from its record before the ledger is asked for the currency.
        replayed = await stored_response(
            self.pool,
            program_id=request.program_id,
            key=request.idempotency_key,
            method="UpdateReward",
            request=request,
            response_type=rewards_pb2.UpdateRewardResponse,
        )
        if replayed is not None:
            return replayed
        validation.text(request.reward.reward_id, "reward.reward_id", length_max=64)
        paths = list(request.update_mask.paths)
        # A new discount's money is checked against the program's currency; asked before the
        # reward is locked, so no lock waits on the ledger.
        currency = ""
        if "discount" in paths and domain.discount_money(request.reward):
            currency = await self.ledger.program_currency(request.program_id)

        async with self.pool.acquire() as connection, connection.transaction():

            async def update() -> rewards_pb2.UpdateRewardResponse:
                stored = await self._locked_reward(
                    connection, request.program_id, request.reward.reward_id, "reward.reward_id"
                )
                merged = domain.merge_update(stored, request.reward, paths)
                if currency:
                    domain.check_program_currency(merged, currency)
                await repository.update_reward(connection, merged)
                await tier_codes.recheck_reward(connection, merged)
                return rewards_pb2.UpdateRewardResponse(
                    reward=await self._reward(connection, request.program_id, merged.reward_id)
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="UpdateReward",
                request=request,
                response_type=rewards_pb2.UpdateRewardResponse,
                work=update,
            )

    async def GetReward(
        self, request: rewards_pb2.GetRewardRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.GetRewardResponse:
        validation.program_id(request.program_id)
        validation.text(request.reward_id, "reward_id", length_max=64)
        if request.member_id:
            validation.text(request.member_id, "member_id", length_max=64)
        reward = await repository.fetch_reward(self.pool, request.program_id, request.reward_id)
        # A reward hidden from the member is not found, as an unknown one: its id tells them
        # nothing (a draft, another tier's reward, another experiment arm's offer).
        if reward is None or (
            request.member_id
            and not await self._offered(request.program_id, request.member_id, reward)
        ):
            raise RewardNotFound(request.reward_id)
        return rewards_pb2.GetRewardResponse(reward=reward)

    async def ListRewards(
        self, request: rewards_pb2.ListRewardsRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ListRewardsResponse:
        validation.program_id(request.program_id)
        if request.member_id:
            # Given, it must be a member id: a blank one would reach the ledger.
            validation.text(request.member_id, "member_id", length_max=64)
        if request.affordable_only and not request.member_id:
            raise InvalidArgument("affordable_only", "requires member_id")
        if request.include_inactive and request.member_id:
            # A member is offered only active rewards inside their validity: listed for a member,
            # a draft or an archived reward would read as eligible while Redeem refuses it.
            raise InvalidArgument(
                "include_inactive",
                "cannot be combined with member_id (a member is offered active rewards only; "
                "list without member_id to see drafts and archived rewards)",
            )
        _check_kinds(list(request.kinds))
        size = validation.page_size(request.page_size, maximum=domain.PAGE_SIZE_MAX)
        cursor = decode_page_token(
            request.page_token, keys=("price", "id"), types={"price": int, "id": str}
        )
        after = (cursor["price"], cursor["id"]) if cursor else None
        standing = None
        if request.member_id:
            standing = await self._standing(request.program_id, request.member_id)

        listings: list[rewards_pb2.RewardListing] = []
        scanned = 0
        more = True
        while more and len(listings) < size and scanned < LISTING_SCAN_MAX:
            batch = await repository.list_rewards(
                self.pool,
                request.program_id,
                kinds=list(request.kinds),
                active_only=not request.include_inactive,
                after=after,
                limit=size,
                undefined_tier_codes_only=request.undefined_tier_codes_only,
            )
            scanned += len(batch)
            more = len(batch) == size
            accepted = await self._listings(request, batch, standing)
            taken = accepted[: size - len(listings)]
            listings.extend(taken)
            last = taken[-1].reward if len(taken) < len(accepted) else (batch or [None])[-1]
            if len(taken) < len(accepted):
                more = True
            if last is not None:
                after = (last.points_price, last.reward_id)
        token = encode_page_token({"price": after[0], "id": after[1]}) if more and after else ""
        return rewards_pb2.ListRewardsResponse(
            listings=listings,
            available_points=standing.available_points if standing else 0,
            next_page_token=token,
        )

    async def _standing(self, program_id: str, member_id: str) -> MemberStanding:
        """The member's points and tier; a member the ledger has no account for has neither."""
        standing = await self.ledger.standing(program_id, member_id)
        return standing or MemberStanding(available_points=0, tier_code="")

    async def _offered(self, program_id: str, member_id: str, reward: rewards_pb2.Reward) -> bool:
        """Whether the member's listing (ListRewards with member_id) shows the reward."""
        if not domain.is_available(reward, utc_now()):
            return False
        listing = rewards_pb2.ListRewardsRequest(program_id=program_id, member_id=member_id)
        standing = await self._standing(program_id, member_id)
        return bool(await self._listings(listing, [reward], standing))

    async def _listings(
        self,
        request: rewards_pb2.ListRewardsRequest,
        rewards: list[rewards_pb2.Reward],
        standing: MemberStanding | None,
    ) -> list[rewards_pb2.RewardListing]:
        if standing is None:
            return [rewards_pb2.RewardListing(reward=r, remaining_member_limit=-1) for r in rewards]
        wanted_segments = {s for r in rewards for s in r.eligibility.segment_ids}
        segments = await self.targeting.member_segments(
            request.program_id, request.member_id, wanted_segments, strict=False
        )
        withheld = await self.targeting.withheld_rewards(
            request.program_id, request.member_id, [r.reward_id for r in rewards]
        )
        counts = await store.member_counts(
            self.pool, request.program_id, request.member_id, [r.reward_id for r in rewards]
        )
        listings = []
        for reward in rewards:
            if not domain.is_eligible(reward, tier_code=standing.tier_code, segment_ids=segments):
                continue
            if reward.reward_id in withheld:
                continue
            affordable = standing.available_points >= reward.points_price
            if request.affordable_only and not affordable:
                continue
            limit = reward.per_member_limit
            remaining = -1 if limit == 0 else max(limit - counts.get(reward.reward_id, 0), 0)
            listings.append(
                rewards_pb2.RewardListing(
                    reward=reward,
                    eligible=True,
                    affordable=affordable,
                    remaining_member_limit=remaining,
                )
            )
        return listings

    async def ArchiveReward(
        self, request: rewards_pb2.ArchiveRewardRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ArchiveRewardResponse:
        validation.program_id(request.program_id)
        validation.text(request.reward_id, "reward_id", length_max=64)

        async with self.pool.acquire() as connection, connection.transaction():

            async def archive() -> rewards_pb2.ArchiveRewardResponse:
                await self._locked_reward(connection, request.program_id, request.reward_id)
                await repository.set_status(
                    connection,
                    request.program_id,
                    request.reward_id,
                    rewards_pb2.REWARD_STATUS_ARCHIVED,
                )
                return rewards_pb2.ArchiveRewardResponse(
                    reward=await self._reward(connection, request.program_id, request.reward_id)
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ArchiveReward",
                request=request,
                response_type=rewards_pb2.ArchiveRewardResponse,
                work=archive,
            )

    async def AdjustStock(
        self, request: rewards_pb2.AdjustStockRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.AdjustStockResponse:
        validation.program_id(request.program_id)
        validation.text(request.reward_id, "reward_id", length_max=64)
        if request.delta == 0:
            raise InvalidArgument("delta", "must not be zero")
        validation.in_range(request.delta, "delta", low=-domain.STOCK_MAX, high=domain.STOCK_MAX)
        validation.text(request.reason, "reason", required=False)

        async with self.pool.acquire() as connection, connection.transaction():

            async def adjust() -> rewards_pb2.AdjustStockResponse:
                reward = await self._locked_reward(
                    connection, request.program_id, request.reward_id, allow_archived=True
                )
                if reward.stock.unlimited:
                    raise StockUnlimited(request.reward_id)
                stock = await repository.adjust_stock(
                    connection, request.program_id, request.reward_id, request.delta, request.reason
                )
                if stock is None:
                    raise InsufficientStock(available=reward.stock.available, delta=request.delta)
                return rewards_pb2.AdjustStockResponse(stock=stock)

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="AdjustStock",
                request=request,
                response_type=rewards_pb2.AdjustStockResponse,
                work=adjust,
            )

    async def _locked_reward(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        reward_id: str,
        field: str = "reward_id",
        *,
        allow_archived: bool = False,
    ) -> rewards_pb2.Reward:
        reward = await repository.lock_reward(connection, program_id, reward_id)
        if reward is None:
            raise RewardNotFound(reward_id, field)
        if reward.status == rewards_pb2.REWARD_STATUS_ARCHIVED and not allow_archived:
            raise RewardArchived(reward_id)
        return reward

    async def _reward(
        self, connection: asyncpg.Connection, program_id: str, reward_id: str
    ) -> rewards_pb2.Reward:
        reward = await repository.fetch_reward(connection, program_id, reward_id)
        assert reward is not None
        return reward


def _check_kinds(kinds: list[int]) -> None:
    if len(kinds) > KINDS_MAX:
        raise InvalidArgument("kinds", f"has more than {KINDS_MAX} kinds")
    known = set(common_pb2.RewardKind.values()) - {common_pb2.REWARD_KIND_UNSPECIFIED}
    for index, kind in enumerate(kinds):
        if kind not in known:
            raise InvalidArgument(f"kinds[{index}]", f"{kind} is not a reward kind")


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
