"""The redemption methods of RewardsService: Redeem, CancelRedemption, GetRedemption,
ListRedemptions. The state machine itself is in `redemptions.py`."""

import datetime
import functools
import uuid
from typing import TYPE_CHECKING

import asyncpg
import grpc

from loyalty.rewards.v1 import rewards_pb2
from services.rewards import code_store, convert, domain, eligibility, repository
from services.rewards import redemption_store as store
from services.rewards.errors import (
    CancellationRefused,
    RedemptionInProgress,
    RedemptionNotFound,
    RedemptionRefused,
    RewardNotFound,
)
from services.shared import validation
from services.shared.database import in_transaction
from services.shared.errors import IdempotencyConflict, InvalidArgument
from services.shared.idempotency import check_idempotency_key, claim_key, request_hash
from services.shared.paging import cursor_instant, decode_page_token, encode_page_token
from services.shared.timestamps import unix_micros

if TYPE_CHECKING:
    from services.rewards.redemptions import Redemptions
    from services.rewards.remote import CampaignTargeting, LedgerClient

CANCEL_ROUNDS_MAX = 3


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# The field a refusal found later (a lost race for the last unit, a replayed failure) names, as
# the same refusal found by the checks before the redemption starts does.
FIELD_OF_REFUSAL = {
    "INSUFFICIENT_POINTS": "member_id",
    "NOT_ELIGIBLE": "member_id",
    "OUT_OF_STOCK": "reward_id",
    "CODES_EXHAUSTED": "reward_id",
    "MEMBER_LIMIT_REACHED": "quantity",
    "REWARD_NOT_AVAILABLE": "reward_id",
    "REWARD_NOT_ACTIVE": "reward_id",
}


class RedeemingMethods:
    pool: asyncpg.Pool
    ledger: "LedgerClient"
    targeting: "CampaignTargeting"
    redemptions: "Redemptions"
    partner_code_validity_left_min: datetime.timedelta

    async def Redeem(
        self, request: rewards_pb2.RedeemRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RedeemResponse:
        domain.check_redeem(request)
        check_idempotency_key(request.idempotency_key)
        digest = request_hash(request)
        existing = await self.redemptions.find_by_key(request.program_id, request.idempotency_key)
        if existing is not None:
            if existing.request_hash != digest:
                raise IdempotencyConflict(request.idempotency_key)
            return await self._redeemed(await self.redemptions.settle(existing))
        domain.check_new_redemption(request)
        reward = await self._check_redeemable(request)

        async def claim(connection: asyncpg.Connection) -> bool:
            return await claim_key(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="Redeem",
                request=request,
            )

        # The reward as read now is what the member is charged for: its price held, and its
        # discount on the codes (steps.issue_codes), whatever edits come while the points are held.
        redemption = await self.redemptions.start(
            request,
            points=reward.points_price * request.quantity,
            reward_definition=repository.stored_definition(reward),
            request_hash=digest,
            claim_key=claim,
        )
        return await self._redeemed(redemption)

    async def _check_redeemable(self, request: rewards_pb2.RedeemRequest) -> rewards_pb2.Reward:
        """The reward as read now, after the checks that need no change: a request that cannot
        succeed is refused before any points are held."""
        reward = await repository.fetch_reward(self.pool, request.program_id, request.reward_id)
        if reward is None:
            raise RewardNotFound(request.reward_id)
        if not domain.is_available(reward, _now()):
            raise RedemptionRefused(
                "REWARD_NOT_AVAILABLE",
                "the reward is not active or outside its validity",
                field="reward_id",
            )
        if request.store_id and reward.store_ids and request.store_id not in reward.store_ids:
            # Its codes would be refused by this store's tills (CODE_STATUS_WRONG_STORE).
            raise RedemptionRefused(
                "STORE_NOT_ACCEPTED",
                f"the reward's codes are not accepted in store {request.store_id!r}",
                field="store_id",
            )
        points = reward.points_price * request.quantity
        standing = await self.ledger.require_standing(request.program_id, request.member_id)
        member = await eligibility.ask(
            self.ledger,
            self.targeting,
            program_id=request.program_id,
            member_id=request.member_id,
            reward=reward,
            tier_code=standing.tier_code,
        )
        refused = eligibility.refusal(reward, member)
        if refused is not None:
            raise RedemptionRefused(eligibility.NOT_ELIGIBLE, refused, field="member_id")
        if standing.available_points < points:
            raise RedemptionRefused(
                "INSUFFICIENT_POINTS",
                f"{standing.available_points} points available, {points} needed",
                field="member_id",
            )
        if not reward.stock.unlimited and reward.stock.available < request.quantity:
            raise RedemptionRefused("OUT_OF_STOCK", "the reward is out of stock", field="reward_id")
        if reward.per_member_limit:
            count = await store.member_count(
                self.pool, request.program_id, request.member_id, request.reward_id
            )
            if count + request.quantity > reward.per_member_limit:
                raise RedemptionRefused(
                    "MEMBER_LIMIT_REACHED",
                    f"a member may redeem {reward.per_member_limit} of this reward",
                    field="quantity",
                )
        if domain.code_source(reward) == rewards_pb2.CODE_SOURCE_PARTNER_POOL:
            pool = await repository.partner_pool_available(
                self.pool,
                request.program_id,
                request.reward_id,
                validity_left_min=self.partner_code_validity_left_min,
            )
            if pool < request.quantity:
                raise RedemptionRefused(
                    "CODES_EXHAUSTED", "the reward's partner code pool is empty", field="reward_id"
                )
        return reward

    async def _redeemed(self, redemption: store.RedemptionRow) -> rewards_pb2.RedeemResponse:
        if redemption.status == rewards_pb2.REDEMPTION_STATUS_FAILED:
            raise RedemptionRefused(
                redemption.failure_code or "REDEMPTION_FAILED",
                f"{redemption.failure_reason}; nothing was spent",
                field=FIELD_OF_REFUSAL.get(redemption.failure_code, ""),
            )
        return rewards_pb2.RedeemResponse(redemption=await self._redemption(redemption))

    async def _redemption(self, redemption: store.RedemptionRow) -> rewards_pb2.Redemption:
        codes = await code_store.codes_of(
            self.pool, redemption.program_id, [redemption.redemption_id]
        )
        return convert.redemption(redemption, codes.get(redemption.redemption_id, []), _now())

    async def CancelRedemption(
        self, request: rewards_pb2.CancelRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.CancelRedemptionResponse:
        validation.program_id(request.program_id)
        validation.text(request.redemption_id, "redemption_id", length_max=64)
        validation.text(request.reason, "reason", required=False)
        validation.text(request.operator_id, "operator_id", required=False, length_max=64)
        check_idempotency_key(request.idempotency_key)
        member_id = await store.member_of(self.pool, request.program_id, request.redemption_id)
        if member_id is None:
            raise RedemptionNotFound(request.redemption_id)
        owner = uuid.uuid4()
        fields = {
            "cancel_idempotency_key": request.idempotency_key,
            "cancel_request_hash": request_hash(request),
            "cancel_reason": request.reason,
            "cancel_operator_id": request.operator_id,
        }

        async def begin(connection: asyncpg.Connection) -> store.RedemptionRow:
            first = await claim_key(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CancelRedemption",
                request=request,
            )
            redemption = await store.fetch(
                connection, request.program_id, member_id, request.redemption_id, lock=True
            )
            assert redemption is not None
            if first:
                _check_cancellable(redemption)
                await self._begin_cancel(connection, redemption, owner, fields)
            return redemption

        redemption = await in_transaction(self.pool, begin)
        for _ in range(CANCEL_ROUNDS_MAX):
            redemption = await self._settle_cancel(redemption, owner)
            if not (redemption.step == domain.COMMITTED and redemption.cancel_requested):
                break
            # Committed although asked to cancel (the commit was already under way): undo it.
            owner = uuid.uuid4()
            redemption = await in_transaction(
                self.pool, functools.partial(self._restart_cancel, redemption, owner, fields)
            )
        if redemption.status == rewards_pb2.REDEMPTION_STATUS_CANCELLED:
            return rewards_pb2.CancelRedemptionResponse(
                redemption=await self._redemption(redemption),
                returned_points=redemption.returned_points,
                debt_paid_points=redemption.debt_paid_points,
            )
        if redemption.step == domain.VOIDED:
            raise CancellationRefused("REDEMPTION_FAILED", "the redemption failed; nothing spent")
        if redemption.step == domain.COMMITTED and redemption.cancel_refused_code:
            # Undone (steps.undo_cancel): retrying cannot help, so this is no UNAVAILABLE.
            raise CancellationRefused(
                "LEDGER_REFUSED",
                f"the ledger refused to return the points ({redemption.cancel_refused_code}: "
                f"{redemption.cancel_refused_reason}); the redemption stands and its codes are "
                "valid again",
            )
        raise RedemptionInProgress(redemption.redemption_id)

    async def _restart_cancel(
        self,
        redemption: store.RedemptionRow,
        owner: uuid.UUID,
        fields: dict[str, object],
        connection: asyncpg.Connection,
    ) -> store.RedemptionRow:
        locked = await store.fetch(
            connection,
            redemption.program_id,
            redemption.member_id,
            redemption.redemption_id,
            lock=True,
        )
        assert locked is not None
        if locked.step == domain.COMMITTED:
            await self._begin_cancel(connection, locked, owner, fields)
        return locked

    async def _begin_cancel(
        self,
        connection: asyncpg.Connection,
        redemption: store.RedemptionRow,
        owner: uuid.UUID,
        fields: dict[str, object],
    ) -> None:
        refusal = await self.redemptions.begin_cancel(
            connection, redemption, owner=owner, fields=fields
        )
        if refusal is not None:
            raise CancellationRefused(*refusal)

    async def _settle_cancel(
        self, redemption: store.RedemptionRow, owner: uuid.UUID
    ) -> store.RedemptionRow:
        redemption = (
            await store.fetch(
                self.pool, redemption.program_id, redemption.member_id, redemption.redemption_id
            )
            or redemption
        )
        if redemption.step in domain.FINAL_STEPS:
            return redemption
        if redemption.lease_owner == owner:
            return await self.redemptions.drive_owned(redemption, owner)
        return await self.redemptions.settle(redemption)

    async def GetRedemption(
        self, request: rewards_pb2.GetRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.GetRedemptionResponse:
        validation.program_id(request.program_id)
        validation.text(request.redemption_id, "redemption_id", length_max=64)
        member_id = await store.member_of(self.pool, request.program_id, request.redemption_id)
        redemption = (
            None
            if member_id is None
            else await store.fetch(self.pool, request.program_id, member_id, request.redemption_id)
        )
        if redemption is None:
            raise RedemptionNotFound(request.redemption_id)
        return rewards_pb2.GetRedemptionResponse(redemption=await self._redemption(redemption))

    async def ListRedemptions(
        self, request: rewards_pb2.ListRedemptionsRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ListRedemptionsResponse:
        validation.program_id(request.program_id)
        validation.text(request.member_id, "member_id", required=False, length_max=64)
        validation.text(request.reward_id, "reward_id", required=False, length_max=64)
        if request.status not in rewards_pb2.RedemptionStatus.values():
            raise InvalidArgument("status", f"{request.status} is not a redemption status")
        size = validation.page_size(request.page_size, maximum=domain.PAGE_SIZE_MAX)
        cursor = decode_page_token(
            request.page_token, keys=("micros", "id"), types={"micros": int, "id": str}
        )
        before = (cursor_instant(cursor["micros"]), cursor["id"]) if cursor else None
        rows = await store.list_page(
            self.pool,
            request.program_id,
            member_id=request.member_id,
            reward_id=request.reward_id,
            status=request.status,
            before=before,
            limit=size + 1,
        )
        codes = await code_store.codes_of(
            self.pool, request.program_id, [row.redemption_id for row in rows[:size]]
        )
        now = _now()
        token = ""
        if len(rows) > size:
            last = rows[size - 1]
            token = encode_page_token(
                {"micros": unix_micros(last.created_at), "id": last.redemption_id}
            )
        return rewards_pb2.ListRedemptionsResponse(
            redemptions=[
                convert.redemption(row, codes.get(row.redemption_id, []), now)
                for row in rows[:size]
            ],
            next_page_token=token,
        )


def _check_cancellable(redemption: store.RedemptionRow) -> None:
    if redemption.status == rewards_pb2.REDEMPTION_STATUS_CANCELLED or redemption.step in (
        domain.CANCELLING,
        domain.CANCELLED,
    ):
        raise CancellationRefused("REDEMPTION_CANCELLED", "the redemption was cancelled already")
    if redemption.step == domain.VOIDED:
        raise CancellationRefused("REDEMPTION_FAILED", "the redemption failed; nothing spent")
    if redemption.cancel_requested:
        raise CancellationRefused("REDEMPTION_CANCELLED", "a cancellation is under way")
