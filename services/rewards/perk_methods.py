"""RewardsService's tier perks: the perks each tier grants, and those a member holds."""

import asyncpg
import grpc

from loyalty.rewards.v1 import rewards_pb2
from services.rewards import domain, perks, repository
from services.rewards.errors import PerkCodeTaken, RewardNotFound
from services.shared import validation
from services.shared.idempotency import once
from services.shared.outbox import Outbox
from services.shared.paging import decode_page_token, encode_page_token


class PerkMethods:
    pool: asyncpg.Pool
    outbox: Outbox

    async def SetTierPerks(
        self, request: rewards_pb2.SetTierPerksRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.SetTierPerksResponse:
        domain.check_tier_perks(request)
        wanted = list(request.perks)

        async with self.pool.acquire() as connection, connection.transaction():

            async def replace() -> rewards_pb2.SetTierPerksResponse:
                owners = await perks.perk_owners(
                    connection, request.program_id, [p.perk_code for p in wanted]
                )
                for index, perk in enumerate(wanted):
                    owner = owners.get(perk.perk_code, request.tier_code)
                    if owner != request.tier_code:
                        raise PerkCodeTaken(perk.perk_code, owner, f"perks[{index}].perk_code")
                    if perk.reward_id and not await repository.fetch_reward(
                        connection, request.program_id, perk.reward_id
                    ):
                        raise RewardNotFound(perk.reward_id, f"perks[{index}].reward_id")
                await perks.replace_tier_perks(
                    connection, request.program_id, request.tier_code, wanted
                )
                await perks.sync_tier(
                    connection, self.outbox, request.program_id, request.tier_code
                )
                return rewards_pb2.SetTierPerksResponse(
                    tier_perks=rewards_pb2.TierPerks(tier_code=request.tier_code, perks=wanted)
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="SetTierPerks",
                request=request,
                response_type=rewards_pb2.SetTierPerksResponse,
                work=replace,
            )

    async def ListTierPerks(
        self, request: rewards_pb2.ListTierPerksRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ListTierPerksResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(request.page_size, maximum=domain.PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("tier",), types={"tier": str})
        tiers = await perks.tier_perks_page(
            self.pool,
            request.program_id,
            after=cursor["tier"] if cursor else "",
            limit=size + 1,
        )
        token = encode_page_token({"tier": tiers[size - 1].tier_code}) if len(tiers) > size else ""
        return rewards_pb2.ListTierPerksResponse(tier_perks=tiers[:size], next_page_token=token)

    async def ListMemberPerks(
        self, request: rewards_pb2.ListMemberPerksRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ListMemberPerksResponse:
        validation.program_id(request.program_id)
        validation.text(request.member_id, "member_id", length_max=domain.MEMBER_ID_LENGTH_MAX)
        size = validation.page_size(request.page_size, maximum=domain.PAGE_SIZE_MAX)
        cursor = decode_page_token(request.page_token, keys=("perk",), types={"perk": str})
        held = await perks.member_perks_page(
            self.pool,
            request.program_id,
            request.member_id,
            include_withdrawn=request.include_withdrawn,
            after=cursor["perk"] if cursor else "",
            limit=size + 1,
        )
        token = (
            encode_page_token({"perk": held[size - 1].perk.perk_code}) if len(held) > size else ""
        )
        return rewards_pb2.ListMemberPerksResponse(perks=held[:size], next_page_token=token)
