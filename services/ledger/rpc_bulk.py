"""The program-wide calls: PostBatch, verify, liability, tier evaluation, maintenance jobs."""

import datetime as dt
from collections.abc import AsyncIterator

import asyncpg
import grpc

from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.ledger import convert, repository, tiering, verification
from services.ledger.batch_window import BatchWindow
from services.ledger.book import ADJUSTED, EXPIRED, ISSUED, REDEEMED, REVERSED
from services.ledger.errors import BatchIdReused
from services.ledger.operations import Program, load_program
from services.ledger.rpc_base import (
    BALANCES_PER_CALL_MAX,
    MAINTENANCE_JOBS,
    LedgerRpcBase,
    check_member,
)
from services.shared import validation
from services.shared.database import bound_to_call, in_transaction
from services.shared.errors import IdempotencyConflict, InvalidArgument, ResourceExhausted
from services.shared.idempotency import check_idempotency_key, once, once_spanning

# EvaluateTiers answers with at most this many of its changes (its counts count them all).
TIER_CHANGES_SHOWN_MAX = 1_000


class BulkRpcs(LedgerRpcBase):
    async def PostBatch(
        self,
        request_iterator: AsyncIterator[ledger_pb2.PostBatchRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[ledger_pb2.PostBatchResponse]:
        """Each batch of the stream commits on its own; answers come in the order batches came.

        Up to BATCHES_IN_FLIGHT batches are posted at once, each on its own connection, so one
        batch's statements overlap another's commit and Python work. A batch that shares a
        member with an earlier one still in flight waits for it, so a member's items apply in
        stream order. A batch after a failed one may already have committed when the stream
        ends with the error; resending it replays its answer (batch ids are idempotency keys).
        """
        window = BatchWindow(self._post_batch)
        async for response in window.run(request_iterator):
            yield response

    async def _post_batch(
        self, request: ledger_pb2.PostBatchRequest
    ) -> ledger_pb2.PostBatchResponse:
        validation.program_id(request.program_id)
        validation.text(request.batch_id, "batch_id", length_max=200)
        if not request.member_ids:
            raise InvalidArgument("member_ids", "a batch has at least one item")
        if len(request.member_ids) > self.batch_size_max:
            raise ResourceExhausted(
                f"{len(request.member_ids)} items; a batch has at most {self.batch_size_max}",
                field="member_ids",
            )

        # Items of concurrent batches may lock the same members in other orders; a deadlock
        # aborts one batch, which then runs again from the start (nothing of it was kept).
        async def attempt(connection: asyncpg.Connection) -> ledger_pb2.PostBatchResponse:
            program = await self.programs.get(connection, request.program_id)
            now = self.clock()
            return await once(
                connection,
                program_id=request.program_id,
                key=f"batch:{request.batch_id}",
                method="PostBatch",
                request=request,
                response_type=ledger_pb2.PostBatchResponse,
                work=lambda: self.batches.post(connection, program, now, request),
            )

        try:
            return await in_transaction(self.pool, attempt)
        except IdempotencyConflict:
            # The key is the batch id the client sent, not "batch:<id>" on idempotency_key,
            # a field PostBatchRequest does not have.
            raise BatchIdReused(request.batch_id) from None

    async def Verify(
        self, request: ledger_pb2.VerifyRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.VerifyResponse:
        validation.program_id(request.program_id)
        if len(request.member_ids) > BALANCES_PER_CALL_MAX:
            raise ResourceExhausted(
                f"at most {BALANCES_PER_CALL_MAX} members per call", field="member_ids"
            )
        for index, member_id in enumerate(request.member_ids):
            check_member(member_id, f"member_ids[{index}]")
        differences_max = validation.page_size(request.differences_max, default=100, maximum=10_000)
        # One snapshot for the whole check, so concurrent postings cannot look like differences.
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            # Every account of the program: as long as the call may run (an admin method).
            await bound_to_call(connection)
            await load_program(connection, request.program_id)
            result = await verification.verify(
                connection,
                request.program_id,
                member_ids=list(request.member_ids) or None,
                differences_max=differences_max,
            )
        return ledger_pb2.VerifyResponse(
            accounts_checked_count=result.accounts_checked,
            differences_count=result.differences_found,
            differences=[
                ledger_pb2.AccountDifference(
                    account_id=d.account_id,
                    field=d.field,
                    stored_value=d.stored,
                    recomputed_value=d.recomputed,
                )
                for d in result.differences
            ],
            program_sum_points=result.program_sum,
        )

    async def GetLiabilityReport(
        self, request: ledger_pb2.GetLiabilityReportRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.GetLiabilityReportResponse:
        validation.program_id(request.program_id)
        if request.HasField("as_of"):
            raise InvalidArgument(
                "as_of", "only the current liability is reported; leave as_of unset"
            )
        now = self.clock()
        async with (
            self.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            # Sums over every account and lot of the program (an admin method).
            await bound_to_call(connection)
            program = await load_program(connection, request.program_id)
            report = await verification.liability(
                connection, request.program_id, time_zone=program.settings.time_zone
            )
        accounts = report.program_accounts
        return ledger_pb2.GetLiabilityReportResponse(
            program_id=request.program_id,
            as_of=convert.timestamp(now),
            outstanding_points=report.outstanding,
            pending_points=report.pending,
            vested_points=report.vested,
            held_points=report.held,
            debt_points=report.debt,
            member_count=report.member_count,
            rows=[
                ledger_pb2.LiabilityRow(
                    expiry_year=year,
                    expiry_month=month,
                    pending_points=pending,
                    vested_points=vested,
                )
                for year, month, pending, vested in report.by_expiry_month
            ],
            issued_account_points=accounts.get(ISSUED, 0),
            redeemed_account_points=accounts.get(REDEEMED, 0),
            expired_account_points=accounts.get(EXPIRED, 0),
            adjusted_account_points=accounts.get(ADJUSTED, 0),
            reversed_account_points=accounts.get(REVERSED, 0),
        )

    async def EvaluateTiers(
        self, request: ledger_pb2.EvaluateTiersRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.EvaluateTiersResponse:
        validation.program_id(request.program_id)
        if len(request.member_ids) > BALANCES_PER_CALL_MAX:
            raise ResourceExhausted(
                f"at most {BALANCES_PER_CALL_MAX} members per call", field="member_ids"
            )
        for index, member_id in enumerate(request.member_ids):
            check_member(member_id, f"member_ids[{index}]")
        if request.HasField("as_of"):
            raise InvalidArgument("as_of", "tiers are evaluated as of now; leave as_of unset")

        async def evaluate(
            connection: asyncpg.Connection, program: Program, now: dt.datetime
        ) -> ledger_pb2.EvaluateTiersResponse:
            # Every account of the program without member ids (an admin method).
            await bound_to_call(connection)
            # The window as of now, as the re-qualification job leaves it: what left it is taken
            # off first (and on 1 January a calendar year's amounts kept), so this judges last
            # year's amount even before the job's first run of the year. The program is locked
            # before any account, as SetTierDefinitions locks it first.
            if await repository.share_program(connection, program.program_id):
                await tiering.decay_qualifying(connection, program, now)
            evaluated, changes = await tiering.evaluate(
                connection,
                self.outbox,
                program,
                now,
                member_ids=list(request.member_ids) or None,
                requalify=request.requalify,
            )
            upgrade = common_pb2.TIER_CHANGE_DIRECTION_UPGRADE
            shown = changes[:TIER_CHANGES_SHOWN_MAX]  # in member id order
            return ledger_pb2.EvaluateTiersResponse(
                evaluated_count=evaluated,
                upgraded_count=sum(1 for c in changes if c[3] == upgrade),
                downgraded_count=sum(
                    1 for c in changes if c[3] == common_pb2.TIER_CHANGE_DIRECTION_DOWNGRADE
                ),
                tier_changes=[
                    ledger_pb2.TierChange(
                        member_id=member,
                        from_tier_code=before,
                        to_tier_code=after,
                        direction=direction,
                        reason=reason,
                        qualifying_amount=qualifying,
                        changed_at=convert.timestamp(now),
                    )
                    for member, before, after, direction, reason, qualifying in shown
                ],
            )

        return await self._mutate(
            request, "EvaluateTiers", ledger_pb2.EvaluateTiersResponse, evaluate
        )

    async def RunMaintenance(
        self, request: ledger_pb2.RunMaintenanceRequest, context: grpc.aio.ServicerContext
    ) -> ledger_pb2.RunMaintenanceResponse:
        validation.program_id(request.program_id)
        check_idempotency_key(request.idempotency_key)
        job = MAINTENANCE_JOBS.get(request.job)
        if job is None:
            raise InvalidArgument("job", "name a maintenance job")
        if request.HasField("as_of"):
            raise InvalidArgument("as_of", "jobs run as of now; leave as_of unset")
        await load_program(self.pool, request.program_id)

        async def run() -> ledger_pb2.RunMaintenanceResponse:
            started = self.clock()
            result = await self.jobs.run_locked(job, program_id=request.program_id, force=True)
            return ledger_pb2.RunMaintenanceResponse(
                job=request.job,
                processed_count=result.processed,
                affected_points=result.points,
                started_at=convert.timestamp(started),
                finished_at=convert.timestamp(self.clock()),
            )

        # The job commits as it goes, for minutes on a large program, so the key is not bound in
        # one transaction with it (once_spanning). Jobs do only what is due, so the run that a
        # crash cut off before its answer was stored is safely run again by a retry.
        return await once_spanning(
            self.pool,
            program_id=request.program_id,
            key=request.idempotency_key,
            method="RunMaintenance",
            request=request,
            response_type=ledger_pb2.RunMaintenanceResponse,
            work=run,
        )
