"""RewardsService: proto ⇄ domain translation around transactions."""

import uuid

import asyncpg
import grpc

from loyalty.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from services.rewards import domain, repository
from services.rewards.errors import RewardExists, RewardNotFound
from services.shared import validation
from services.shared.idempotency import once


class RewardsServicer(rewards_pb2_grpc.RewardsServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def CreateReward(
        self, request: rewards_pb2.CreateRewardRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.CreateRewardResponse:
        validation.program_id(request.program_id)
        domain.check_new_reward(request.reward)
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

    async def GetReward(
        self, request: rewards_pb2.GetRewardRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.GetRewardResponse:
        validation.program_id(request.program_id)
        validation.text(request.reward_id, "reward_id", length_max=64)
        reward = await repository.fetch_reward(self.pool, request.program_id, request.reward_id)
        if reward is None:
            raise RewardNotFound(request.reward_id)
        return rewards_pb2.GetRewardResponse(reward=reward)
