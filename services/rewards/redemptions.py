"""Redemption as a recorded state machine, driven forward by the call and finished by recovery.

    pending ──PlaceHold──> hold_placed ──reserve──> stock_reserved ──issue──> code_issued
                                                                                 │ CommitHold
    any step before committed ──failure/timeout/cancel──> voiding ──VoidHold──> voided
                                                                                 v
                                        committed ──CancelRedemption──> cancelling ──credit──> cancelled
                                            ^                              │ the ledger refuses for good
                                            └──────── codes valid again ───┘ (steps.undo_cancel)

Each step is written (with a lease: who drives it, until when) before the external call that
follows it, and every ledger call uses an idempotency key derived from the redemption id, so the
same call can be made again after a crash with no second effect. A redemption whose lease expired
was left mid-way: the recovery worker takes it over and commits it if its codes were issued (stock
reserved, codes issued, only the commit missing), otherwise voids the hold and releases the stock.
A void that finds the hold already committed (a commit whose answer was lost) completes instead.
"""

import asyncio
import contextlib
import datetime
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from loyalty.rewards.v1 import rewards_pb2
from services.rewards import code_store, domain
from services.rewards import redemption_store as store
from services.rewards.errors import RedemptionInProgress
from services.rewards.remote import CampaignTargeting, LedgerClient
from services.rewards.steps import RedemptionSteps
from services.shared.database import in_transaction
from services.shared.metrics import Metrics
from services.shared.outbox import Outbox

logger = logging.getLogger(__name__)

RECOVERY_BATCH_SIZE_MAX = 100
# How long a call waits for a redemption another driver holds before answering "in progress".
SETTLE_WAIT_MAX_S = 8.0
SETTLE_POLL_S = 0.05
PENDING_STATUS = rewards_pb2.REDEMPTION_STATUS_PENDING
# Steps at which an abandoned redemption is voided; from code_issued on it is committed.
UNDONE_WHEN_RECOVERED = frozenset({domain.PENDING, domain.HOLD_PLACED, domain.STOCK_RESERVED})
RECOVERY_JOB = "redemption_recovery"


def recovered_counter(registry: CollectorRegistry) -> Counter:
    """Per redemption, beside the per-run count of the job (loyalty_scheduled_job_runs_total)."""
    return Counter(
        "loyalty_rewards_recovered_redemptions",
        "Abandoned redemptions the recovery worker took over, by outcome: ended (committed, "
        "voided or cancelled) or failed (taken over again when its lease expires).",
        ["outcome"],
        registry=registry,
    )


class Redemptions:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        ledger: LedgerClient,
        metrics: Metrics,
        *,
        targeting: CampaignTargeting,
        partner_code_validity_left_min: datetime.timedelta,
        lease_s: float,
        recovery_interval_s: float,
        pause_after_hold_s: float = 0.0,
        pause_before_commit_s: float = 0.0,
        hold_retry_s: float = 0.0,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.ledger = ledger
        self.metrics = metrics
        # Exported at zero: the alert on failing jobs sees the first failed run.
        metrics.expect_job("rewards", RECOVERY_JOB, outcomes=("ok", "failed"))
        self.recovered = recovered_counter(metrics.registry)
        for outcome in ("ended", "failed"):
            self.recovered.labels(outcome)
        self.lease_s = lease_s
        self.recovery_interval_s = recovery_interval_s
        self.pause_after_hold_s = pause_after_hold_s
        self.pause_before_commit_s = pause_before_commit_s
        # Set when the process stops: test pauses end, recovery stops taking work.
        self.stopping = asyncio.Event()
        self.steps = RedemptionSteps(
            pool,
            outbox,
            ledger,
            metrics,
            targeting=targeting,
            partner_code_validity_left_min=partner_code_validity_left_min,
            lease_s=lease_s,
            pause_after_hold_s=pause_after_hold_s,
            stopping=self.stopping,
            hold_retry_s=hold_retry_s,
        )
        self._drivers: set[asyncio.Task[store.RedemptionRow]] = set()

    # -- entry points ---------------------------------------------------------------------------

    async def start(
        self,
        request: rewards_pb2.RedeemRequest,
        *,
        points: int,
        reward_definition: bytes,
        request_hash: bytes,
        claim_key: Callable[[asyncpg.Connection], Awaitable[bool]],
    ) -> store.RedemptionRow:
        """Record a new redemption and drive it to its end; a duplicate settles the first one."""
        owner = uuid.uuid4()
        redemption_id = uuid.uuid4().hex

        async def insert(connection: asyncpg.Connection) -> bool:
            if not await claim_key(connection):
                return False
            return await store.insert(
                connection,
                program_id=request.program_id,
                member_id=request.member_id,
                redemption_id=redemption_id,
                key=request.idempotency_key,
                request_hash=request_hash,
                reward_id=request.reward_id,
                reward_definition=reward_definition,
                quantity=request.quantity,
                points=points,
                channel=request.channel,
                store_id=request.store_id,
                status=PENDING_STATUS,
                lease_owner=owner,
                lease_s=self.lease_s,
            )

        if not await in_transaction(self.pool, insert):
            existing = await self.find_by_key(request.program_id, request.idempotency_key)
            assert existing is not None
            return await self.settle(existing)
        redemption = await self._fetch(request.program_id, request.member_id, redemption_id)
        return await self._in_background(self._drive(redemption, owner, recovering=False))

    async def find_by_key(self, program_id: str, key: str) -> store.RedemptionRow | None:
        owner = await store.key_owner(self.pool, program_id, key)
        if owner is None:
            return None
        return await self._fetch(program_id, *owner)

    async def settle(self, redemption: store.RedemptionRow) -> store.RedemptionRow:
        """Wait for a redemption to end; take it over if its driver's lease expired."""
        deadline = time.monotonic() + min(SETTLE_WAIT_MAX_S, self.lease_s * 2)
        while True:
            redemption = await self._refetch(redemption)
            if redemption.step in domain.FINAL_STEPS:
                return redemption
            owner = uuid.uuid4()
            if await store.claim(self.pool, redemption, owner=owner, lease_s=self.lease_s):
                redemption = await self._refetch(redemption)
                return await self._in_background(self._drive(redemption, owner, recovering=False))
            if time.monotonic() > deadline:
                raise RedemptionInProgress(redemption.redemption_id)
            await asyncio.sleep(SETTLE_POLL_S)

    async def begin_cancel(
        self,
        connection: asyncpg.Connection,
        redemption: store.RedemptionRow,
        *,
        owner: uuid.UUID,
        fields: dict[str, Any],
    ) -> tuple[str, str] | None:
        """Inside the caller's transaction, with the redemption locked: a completed redemption
        starts cancelling (its codes cancelled, unless one cannot be taken back: then why is
        returned, domain.cancel_refusal, and nothing changes); one still in progress is asked to
        void instead (its codes were never shown: a partner's go back to the pool)."""
        if redemption.step != domain.COMMITTED:
            await connection.execute(
                "UPDATE redemptions SET cancel_requested = true, cancel_idempotency_key = $4, "
                "cancel_request_hash = $5, cancel_reason = $6, cancel_operator_id = $7 "
                "WHERE program_id = $1 AND member_id = $2 AND redemption_id = $3",
                redemption.program_id,
                redemption.member_id,
                redemption.redemption_id,
                fields["cancel_idempotency_key"],
                fields["cancel_request_hash"],
                fields["cancel_reason"],
                fields["cancel_operator_id"],
            )
            return None
        codes = await code_store.cancel_codes(connection, redemption)
        refusal = domain.cancel_refusal(
            used=codes.used, partner=codes.partner, expired=codes.expired
        )
        if refusal is not None:
            return refusal
        await connection.execute(
            "UPDATE redemptions SET step = 'cancelling', lease_owner = $4, "
            "lease_until = now() + make_interval(secs => $5), updated_at = now(), "
            "cancel_idempotency_key = coalesce(cancel_idempotency_key, $6), "
            "cancel_request_hash = coalesce(cancel_request_hash, $7), "
            "cancel_reason = $8, cancel_operator_id = $9 "
            "WHERE program_id = $1 AND member_id = $2 AND redemption_id = $3",
            redemption.program_id,
            redemption.member_id,
            redemption.redemption_id,
            owner,
            self.lease_s,
            fields["cancel_idempotency_key"],
            fields["cancel_request_hash"],
            fields["cancel_reason"],
            fields["cancel_operator_id"],
        )
        return None

    async def drive_owned(
        self, redemption: store.RedemptionRow, owner: uuid.UUID
    ) -> store.RedemptionRow:
        redemption = await self._refetch(redemption)
        return await self._in_background(self._drive(redemption, owner, recovering=False))

    # -- recovery ---------------------------------------------------------------------------------

    async def recover_forever(self, stop: asyncio.Event) -> None:
        """The recovery worker: at start and then periodically, finish abandoned redemptions."""
        try:
            while not stop.is_set():
                await self.recover_once()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.recovery_interval_s)
        finally:
            self.stopping.set()
            if self._drivers:
                await asyncio.wait(self._drivers, timeout=self.lease_s)

    async def recover_once(self) -> int:
        """Take over every redemption whose lease expired; returns how many ended. The run counts
        once, as failed if any redemption failed (each is tried again when its lease expires)."""
        ended = failed = 0
        for redemption in await store.abandoned(self.pool, limit=RECOVERY_BATCH_SIZE_MAX):
            owner = uuid.uuid4()
            if not await store.claim(self.pool, redemption, owner=owner, lease_s=self.lease_s):
                continue
            try:
                redemption = await self._drive(
                    await self._refetch(redemption), owner, recovering=True
                )
            except Exception as error:
                failed += 1
                self.recovered.labels("failed").inc()
                logger.warning(
                    "recovery of redemption %s stopped: %r", redemption.redemption_id, error
                )
                continue
            self.recovered.labels("ended").inc()
            logger.info("recovered redemption %s: %s", redemption.redemption_id, redemption.step)
            ended += 1
        outcome = "failed" if failed else "ok"
        self.metrics.job_runs.labels("rewards", RECOVERY_JOB, outcome).inc()
        return ended

    # -- the machine ----------------------------------------------------------------------------

    async def _in_background(
        self, driving: Coroutine[Any, Any, store.RedemptionRow]
    ) -> store.RedemptionRow:
        """Drive in a task of its own: a caller that goes away (deadline, disconnect) does not
        stop a redemption half-way; it runs on to its end."""
        task = asyncio.create_task(driving)
        self._drivers.add(task)
        task.add_done_callback(self._driver_done)
        return await asyncio.shield(task)

    def _driver_done(self, task: asyncio.Task[store.RedemptionRow]) -> None:
        self._drivers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.info("redemption driver stopped: %r", task.exception())

    async def _drive(
        self, redemption: store.RedemptionRow, owner: uuid.UUID, *, recovering: bool
    ) -> store.RedemptionRow:
        steps: dict[str, Callable[[store.RedemptionRow, uuid.UUID], Awaitable[None]]] = {
            domain.PENDING: self.steps.place_hold,
            domain.HOLD_PLACED: self.steps.reserve_stock,
            domain.STOCK_RESERVED: self.steps.issue_codes,
            domain.CODE_ISSUED: self.steps.commit,
            domain.VOIDING: self.steps.void,
            domain.CANCELLING: self.steps.credit_back,
        }
        paused = recovering or not self.pause_before_commit_s
        while True:
            if redemption.step in domain.FINAL_STEPS:
                return redemption
            if redemption.lease_owner != owner:
                # Someone else took it over (our lease expired): they finish it.
                return await self.settle(redemption)
            if redemption.step == domain.CODE_ISSUED and not paused:
                paused = True
                await self.steps.pause(self.pause_before_commit_s)
                redemption = await self._refetch(redemption)
                continue
            undo = redemption.cancel_requested or (
                recovering and redemption.step in UNDONE_WHEN_RECOVERED
            )
            if undo and redemption.step not in (domain.VOIDING, domain.CANCELLING):
                code, message = (
                    ("CANCELLED", "cancelled before it completed")
                    if redemption.cancel_requested
                    else ("INTERRUPTED", "interrupted before its codes were issued; nothing spent")
                )
                await self.steps.to_voiding(redemption, owner, code, message)
            else:
                await steps[redemption.step](redemption, owner)
            redemption = await self._refetch(redemption)

    async def _fetch(
        self, program_id: str, member_id: str, redemption_id: str
    ) -> store.RedemptionRow:
        redemption = await store.fetch(self.pool, program_id, member_id, redemption_id)
        assert redemption is not None
        return redemption

    async def _refetch(self, redemption: store.RedemptionRow) -> store.RedemptionRow:
        return await self._fetch(
            redemption.program_id, redemption.member_id, redemption.redemption_id
        )
