"""The ledger's part of a program: configuration and tiers."""

import asyncpg
import grpc

from loyalty.ledger.v1 import ledger_pb2
from services.ledger import domain, repository, tier_announcement, tier_moves
from services.ledger.errors import (
    EntryTierMissing,
    EntryTierNotLowest,
    EntryTierUndefined,
    ProgramNotFound,
    TierStillHeld,
)
from services.ledger.rpc_base import TIERS_PAGE_SIZE_MAX, LedgerRpcBase
from services.shared import validation
from services.shared.database import bound_to_call
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import from_epoch_seconds


def settings_from_proto(config: ledger_pb2.ProgramConfig) -> domain.ProgramSettings:
    return domain.ProgramSettings(
        program_id=config.program_id,
        points_name=config.points_name,
        currency=config.currency,
        time_zone=config.time_zone,
        return_window_days=config.return_window_days,
        expiry_kind=config.expiry_policy.kind,
        expiry_months=config.expiry_policy.months,
        expiry_period=config.expiry_policy.period,
        negative_balance_policy=config.negative_balance_policy,
        hold_ttl_seconds=config.hold_ttl_seconds,
        tier_window_kind=config.tier_window.kind,
        tier_window_rolling_days=config.tier_window.rolling_days,
        tier_requalification_period=config.tier_window.requalification_period,
        qualifying_basis=config.qualifying_basis,
        rounding_mode=config.rounding_mode,
        expiry_notice_days=config.expiry_notice_days,
        entry_tier_code=config.entry_tier_code,
        # Not given is the policy of programs configured before there was a choice.
        unknown_member_policy=(
            config.unknown_member_policy or ledger_pb2.UNKNOWN_MEMBER_POLICY_EARN
        ),
    )


def settings_to_proto(
    settings: domain.ProgramSettings, updated_at_s: float
) -> ledger_pb2.ProgramConfig:
    return ledger_pb2.ProgramConfig(
        program_id=settings.program_id,
        points_name=settings.points_name,
        currency=settings.currency,
        time_zone=settings.time_zone,
        return_window_days=settings.return_window_days,
        expiry_policy=ledger_pb2.ExpiryPolicy(
            kind=settings.expiry_kind, months=settings.expiry_months, period=settings.expiry_period
        ),
        negative_balance_policy=settings.negative_balance_policy,
        hold_ttl_seconds=settings.hold_ttl_seconds,
        tier_window=ledger_pb2.TierWindow(
            kind=settings.tier_window_kind,
            rolling_days=settings.tier_window_rolling_days,
            requalification_period=settings.tier_requalification_period,
        ),
        qualifying_basis=settings.qualifying_basis,
        rounding_mode=settings.rounding_mode,
        expiry_notice_days=settings.expiry_notice_days,
        entry_tier_code=settings.entry_tier_code,
        unknown_member_policy=settings.unknown_member_policy,
        update_time=from_epoch_seconds(updated_at_s),
    )


def tier_from_proto(tier: ledger_pb2.TierDefinition) -> domain.Tier:
    return domain.Tier(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        threshold=tier.threshold,
        benefits_text=tier.benefits_text,
        multiplier_bps=tier.multiplier_bps,
    )


def tier_to_proto(tier: domain.Tier) -> ledger_pb2.TierDefinition:
    return ledger_pb2.TierDefinition(
        code=tier.code,
        name=tier.name,
        rank=tier.rank,
        threshold=tier.threshold,
        benefits_text=tier.benefits_text,
        multiplier_bps=tier.multiplier_bps,
    )


def _check_entry_tier(code: str, tiers: list[domain.Tier]) -> None:
    """Once a program has tiers (sorted by rank), its entry tier must be the lowest of them, as
    SetTierDefinitions holds it; before, any code is taken and the tiers must then include it."""
    if not tiers:
        return
    if code not in {t.code for t in tiers}:
        raise EntryTierUndefined(code)
    if tiers[0].code != code:
        raise EntryTierNotLowest(field="config.entry_tier_code", code=code, lowest=tiers[0].code)


def _entry_tier_after(
    entry: str, request: ledger_pb2.SetTierDefinitionsRequest, tiers: list[domain.Tier]
) -> str:
    """The program's entry tier under `tiers` (sorted by rank): kept, or the tier it is mapped
    to (a renamed entry tier); either way it must rank lowest."""
    codes = [t.code for t in request.tiers]
    if entry in codes:
        target, field = entry, f"tiers[{codes.index(entry)}].rank"
    else:
        mapped = [m.from_tier_code for m in request.tier_code_mappings]
        if entry not in mapped:
            raise EntryTierMissing(entry)
        index = mapped.index(entry)
        target = request.tier_code_mappings[index].to_tier_code
        field = f"tier_code_mappings[{index}].to_tier_code"
    if tiers[0].code != target:
        raise EntryTierNotLowest(field=field, code=target, lowest=tiers[0].code)
    return target


async def _refuse_dropping_held_tiers(
    connection: asyncpg.Connection,
    program_id: str,
    current: list[domain.Tier],
    tiers: list[domain.Tier],
    mapped: dict[str, str],
) -> None:
    """A tier that open accounts hold is dropped only with a mapping: left on the accounts, its
    code would be evaluated as the lowest tier and shown as a tier the program does not have."""
    dropped = domain.unmapped_removals(current, tiers, mapped)
    holders = await repository.count_holders(connection, program_id, dropped)
    for code in dropped:
        if holders.get(code):
            raise TierStillHeld(code, holders[code])


class ProgramRpcs(LedgerRpcBase):
    async def ConfigureProgram(
        self, request: ledger_pb2.ConfigureProgramRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ConfigureProgramResponse:
        validation.program_id(request.program_id)
        if request.config.program_id != request.program_id:
            raise InvalidArgument("config.program_id", "must equal program_id")
        settings = settings_from_proto(request.config).validate()

        try:
            async with self.pool.acquire() as connection, connection.transaction():

                async def configure() -> ledger_pb2.ConfigureProgramResponse:
                    if await repository.lock_program(connection, settings.program_id):
                        # Locked, so SetTierDefinitions cannot change the tiers under the check.
                        tiers = await repository.fetch_tiers(
                            connection,
                            settings.program_id,
                            after_rank=-validation.INT32_MAX - 1,
                            limit=domain.TIERS_MAX,
                        )
                        _check_entry_tier(settings.entry_tier_code, tiers)
                    await repository.upsert_program(connection, settings)
                    stored = await repository.fetch_program(connection, settings.program_id)
                    assert stored is not None
                    return ledger_pb2.ConfigureProgramResponse(config=settings_to_proto(*stored))

                return await once(
                    connection,
                    program_id=request.program_id,
                    key=request.idempotency_key,
                    method="ConfigureProgram",
                    request=request,
                    response_type=ledger_pb2.ConfigureProgramResponse,
                    work=configure,
                )
        finally:
            # After the commit (or the failure): the next call reads the program anew.
            self.programs.forget(request.program_id)

    async def GetProgram(
        self, request: ledger_pb2.GetProgramRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetProgramResponse:
        validation.program_id(request.program_id)
        stored = await repository.fetch_program(self.pool, request.program_id)
        if stored is None:
            raise ProgramNotFound(request.program_id)
        return ledger_pb2.GetProgramResponse(config=settings_to_proto(*stored))

    async def SetTierDefinitions(
        self, request: ledger_pb2.SetTierDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.SetTierDefinitionsResponse:
        validation.program_id(request.program_id)
        tiers = domain.validate_tiers([tier_from_proto(t) for t in request.tiers])
        mapped = domain.validate_tier_mappings(
            [(m.from_tier_code, m.to_tier_code) for m in request.tier_code_mappings], tiers
        )

        try:
            async with self.pool.acquire() as connection, connection.transaction():

                async def set_tiers() -> ledger_pb2.SetTierDefinitionsResponse:
                    # The move is one statement over all the tier's accounts: it may take as
                    # long as the call's deadline (LEDGER_ADMIN_DEADLINE_MS), and no longer.
                    await bound_to_call(connection)
                    if not await repository.lock_program(connection, request.program_id):
                        raise ProgramNotFound(request.program_id)
                    stored = await repository.fetch_program(connection, request.program_id)
                    assert stored is not None
                    entry = _entry_tier_after(stored[0].entry_tier_code, request, tiers)
                    current = await repository.fetch_tiers(
                        connection,
                        request.program_id,
                        after_rank=-validation.INT32_MAX - 1,
                        limit=domain.TIERS_MAX,
                    )
                    await _refuse_dropping_held_tiers(
                        connection, request.program_id, current, tiers, mapped
                    )
                    await repository.replace_tiers(connection, request.program_id, tiers)
                    await repository.set_entry_tier(connection, request.program_id, entry)
                    moves = domain.tier_moves(current, tiers, mapped)
                    now = self.clock()
                    # Kept for the accounts a replica with the old tiers cached writes a
                    # removed code to afterwards; the tier job moves them (tiering.py).
                    await repository.record_tier_mappings(
                        connection, request.program_id, tiers, moves, now
                    )
                    moved = await tier_moves.move_accounts(
                        connection, self.outbox, request.program_id, moves, now
                    )
                    # Identity, rewards and campaign keep tier codes too; they follow this.
                    await tier_announcement.announce_tiers(
                        connection,
                        self.outbox,
                        request.program_id,
                        tiers=tiers,
                        entry_tier_code=entry,
                    )
                    return ledger_pb2.SetTierDefinitionsResponse(
                        tiers=[tier_to_proto(t) for t in tiers],
                        moved_accounts_count=moved,
                        entry_tier_code=entry,
                    )

                return await once(
                    connection,
                    program_id=request.program_id,
                    key=request.idempotency_key,
                    method="SetTierDefinitions",
                    request=request,
                    response_type=ledger_pb2.SetTierDefinitionsResponse,
                    work=set_tiers,
                )
        finally:
            # After the commit (or the failure): the next call reads the program anew.
            self.programs.forget(request.program_id)

    async def ListTierDefinitions(
        self, request: ledger_pb2.ListTierDefinitionsRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.ListTierDefinitionsResponse:
        validation.program_id(request.program_id)
        size = validation.page_size(
            request.page_size, default=TIERS_PAGE_SIZE_MAX, maximum=TIERS_PAGE_SIZE_MAX
        )
        cursor = decode_page_token(request.page_token, keys=("rank",), types={"rank": int})
        after_rank = cursor["rank"] if cursor else -validation.INT32_MAX - 1
        if not -validation.INT32_MAX - 1 <= after_rank <= validation.INT32_MAX:
            # Ranks are int32 (proto and column); a wider one is forged and cannot be bound.
            raise InvalidArgument("page_token", "is not a token this service issued")
        if await repository.fetch_program(self.pool, request.program_id) is None:
            raise ProgramNotFound(request.program_id)
        tiers = await repository.fetch_tiers(
            self.pool, request.program_id, after_rank=after_rank, limit=size + 1
        )
        next_token = encode_page_token({"rank": tiers[size - 1].rank}) if len(tiers) > size else ""
        return ledger_pb2.ListTierDefinitionsResponse(
            tiers=[tier_to_proto(t) for t in tiers[:size]], next_page_token=next_token
        )
