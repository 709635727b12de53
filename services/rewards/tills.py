"""The code methods of RewardsService: ValidateCode and UseCode at a till, ImportPartnerCodes."""

import datetime

import asyncpg
import grpc

from loyalty.events.v1 import events_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.rewards import code_store, codes, convert, domain, events, repository
from services.rewards.errors import CodeNotUsable, NotPartnerPool, RewardNotFound
from services.shared import validation
from services.shared.errors import InvalidArgument, ResourceExhausted
from services.shared.idempotency import once
from services.shared.outbox import Outbox

PRESENTED_CODE_LENGTH_MAX = 128
IMPORT_CODES_MAX = 100_000


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _check_presented(code: str) -> None:
    validation.text(code, "code", length_max=PRESENTED_CODE_LENGTH_MAX)


class TillMethods:
    pool: asyncpg.Pool
    outbox: Outbox
    partner_code_validity_left_min: datetime.timedelta

    async def ValidateCode(
        self, request: rewards_pb2.ValidateCodeRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ValidateCodeResponse:
        validation.program_id(request.program_id)
        _check_presented(request.code)
        validation.text(request.store_id, "store_id", required=False, length_max=64)
        code = await code_store.find_code(
            self.pool, request.program_id, codes.lookup_forms(request.code)
        )
        status = convert.code_status(code, _now(), request.store_id)
        if code is None or status == rewards_pb2.CODE_STATUS_UNKNOWN:
            return rewards_pb2.ValidateCodeResponse(status=rewards_pb2.CODE_STATUS_UNKNOWN)
        response = rewards_pb2.ValidateCodeResponse(
            status=status,  # type: ignore[arg-type]
            member_id=code.member_id,
            redemption_id=code.redemption_id,
            reward_id=code.reward_id,
        )
        reward = await repository.fetch_reward(self.pool, request.program_id, code.reward_id)
        if reward is not None:
            response.reward_name = reward.name
            response.reward_kind = reward.kind
            if code.discount is None and reward.HasField("discount"):
                # Issued before codes kept their discount (migration 009).
                response.discount.CopyFrom(reward.discount)
        if code.discount is not None:
            response.discount.CopyFrom(rewards_pb2.Discount.FromString(code.discount))
        if code.expires_at is not None:
            response.expires_at.CopyFrom(convert.timestamp(code.expires_at))
        if code.used_at is not None:
            response.used_at.CopyFrom(convert.timestamp(code.used_at))
        return response

    async def UseCode(
        self, request: rewards_pb2.UseCodeRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.UseCodeResponse:
        validation.program_id(request.program_id)
        _check_presented(request.code)
        validation.text(request.store_id, "store_id", required=False, length_max=64)
        validation.text(request.till_id, "till_id", required=False, length_max=64)
        validation.text(request.transaction_id, "transaction_id", required=False, length_max=128)
        forms = codes.lookup_forms(request.code)

        async with self.pool.acquire() as connection, connection.transaction():

            async def use() -> rewards_pb2.UseCodeResponse:
                used = await code_store.use_code(
                    connection,
                    request.program_id,
                    forms,
                    store_id=request.store_id,
                    till_id=request.till_id,
                    transaction_id=request.transaction_id,
                )
                if used is None:
                    found = await code_store.find_code(connection, request.program_id, forms)
                    status = convert.code_status(found, _now(), request.store_id)
                    reason, message = convert.UNUSABLE_REASONS.get(
                        status, ("CODE_NOT_USABLE", "the code cannot be used")
                    )
                    raise CodeNotUsable(reason, message)
                assert used.used_at is not None
                await self.outbox.enqueue(
                    connection,
                    events.CODE_USED,
                    events_pb2.Event(
                        program_id=request.program_id,
                        code_used=events_pb2.CodeUsed(
                            redemption_id=used.redemption_id,
                            member_id=used.member_id,
                            reward_id=used.reward_id,
                            code_suffix=codes.suffix(used.code),
                            store_id=request.store_id,
                            till_id=request.till_id,
                            transaction_id=request.transaction_id,
                        ),
                    ),
                )
                return rewards_pb2.UseCodeResponse(
                    status=rewards_pb2.CODE_STATUS_USED,
                    member_id=used.member_id,
                    reward_id=used.reward_id,
                    redemption_id=used.redemption_id,
                    used_at=convert.timestamp(used.used_at),
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="UseCode",
                request=request,
                response_type=rewards_pb2.UseCodeResponse,
                work=use,
            )

    async def ImportPartnerCodes(
        self, request: rewards_pb2.ImportPartnerCodesRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ImportPartnerCodesResponse:
        validation.program_id(request.program_id)
        validation.text(request.reward_id, "reward_id", length_max=64)
        if not request.codes:
            raise InvalidArgument("codes", "is required")
        if len(request.codes) > IMPORT_CODES_MAX:
            raise ResourceExhausted(
                f"at most {IMPORT_CODES_MAX} codes per import, got {len(request.codes)}",
                field="codes",
            )
        for index, code in enumerate(request.codes):
            if not codes.is_partner_code(code):
                raise InvalidArgument(
                    f"codes[{index}]", "must be 1-64 printable ASCII characters without spaces"
                )
        expires_at = None
        if request.HasField("expires_at"):
            validation.stored_instant(
                request.expires_at, "expires_at", unset="the reward's code validity applies"
            )
            expires_at = request.expires_at.ToDatetime(tzinfo=datetime.UTC)
        if expires_at is not None and expires_at <= datetime.datetime.now(datetime.UTC):
            raise InvalidArgument("expires_at", f"{expires_at.isoformat()} has passed already")
        if (
            expires_at is not None
            and expires_at
            <= datetime.datetime.now(datetime.UTC) + self.partner_code_validity_left_min
        ):
            # Such codes would never be handed out (see code_store.partner_code_usable).
            raise InvalidArgument(
                "expires_at",
                f"{expires_at.isoformat()} leaves less than the {self.partner_code_validity_left_min}"
                " a partner code must have left when handed out "
                "(REWARDS_PARTNER_CODE_VALIDITY_LEFT_MIN_MS)",
            )

        async with self.pool.acquire() as connection, connection.transaction():

            async def add() -> rewards_pb2.ImportPartnerCodesResponse:
                reward = await repository.lock_reward(
                    connection, request.program_id, request.reward_id
                )
                if reward is None:
                    raise RewardNotFound(request.reward_id)
                if domain.code_source(reward) != rewards_pb2.CODE_SOURCE_PARTNER_POOL:
                    raise NotPartnerPool(request.reward_id)
                imported = await repository.import_partner_codes(
                    connection,
                    request.program_id,
                    request.reward_id,
                    list(request.codes),
                    expires_at,
                )
                return rewards_pb2.ImportPartnerCodesResponse(
                    imported_count=imported,
                    duplicate_count=len(request.codes) - imported,
                    pool_available_count=await repository.partner_pool_available(
                        connection,
                        request.program_id,
                        request.reward_id,
                        validity_left_min=self.partner_code_validity_left_min,
                    ),
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ImportPartnerCodes",
                request=request,
                response_type=rewards_pb2.ImportPartnerCodesResponse,
                work=add,
            )
