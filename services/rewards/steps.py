"""The steps of a redemption (see `redemptions.py` for the machine and its recovery).

Each step makes at most one external call and then moves the redemption on with a conditional
transition that only succeeds for the driver holding its lease; a step that cannot go ahead
(no stock, limit reached, hold lapsed) moves it to `voiding` instead.
"""

import asyncio
import contextlib
import datetime
import functools
import logging
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client import Counter

from loyalty.events.v1 import events_pb2
from loyalty.ledger.v1 import ledger_pb2
from loyalty.rewards.v1 import rewards_pb2
from services.rewards import code_store, codes, domain, eligibility, events, repository
from services.rewards import redemption_store as store
from services.rewards.errors import (
    CampaignUnavailable,
    LedgerUnavailable,
    MemberNotFound,
    ProgramNotConfigured,
)
from services.rewards.remote import CampaignTargeting, LedgerClient, LedgerRefused
from services.shared.database import in_transaction
from services.shared.metrics import Metrics
from services.shared.outbox import Outbox

logger = logging.getLogger(__name__)

CODE_GENERATION_ATTEMPTS_MAX = 3
# Times the stock reservation asks again for a member's targeting when the reward's eligibility
# changed meanwhile (an operator editing it at that very moment).
ELIGIBILITY_ROUNDS_MAX = 3
HOLD_RETRY_DELAY_FIRST_S = 0.1
HOLD_RETRY_DELAY_MAX_S = 1.0
# Reasons after which no hold exists: a retried PlaceHold would be refused the same way.
NO_HOLD_REASONS = {"INSUFFICIENT_POINTS", "MEMBER_NOT_FOUND"}
# Refusals of VoidHold after which the hold's own status tells what happened: it was closed
# already, or the void's key was used (the ledger keeps a key only with its work done, so a void
# of this redemption happened, sent with another reason or note: before a cancel was asked for,
# or by a version that sent no note).
VOIDED_BEFORE_REASONS = {"HOLD_CLOSED", "IDEMPOTENCY_KEY_REUSED"}


class EligibilityMoved(Exception):
    """The reward's eligibility changed after the member's targeting was asked for: ask again."""


class Refusal(Exception):
    """A step cannot go ahead (no stock, limit reached...): the redemption is voided."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def hold_key(redemption: store.RedemptionRow) -> str:
    return f"rewards.{redemption.redemption_id}.hold"


def cancellations_refused_counter(metrics: Metrics) -> Counter:
    """Cancellations undone because the ledger refused for good to give the points back (the
    ledger's reason as the label: a short list of codes); each needs someone to look at it."""
    return Counter(
        "loyalty_rewards_cancellations_refused",
        "Redemption cancellations undone because the ledger refused to return the points, by "
        "the ledger's reason.",
        ["reason"],
        registry=metrics.registry,
    )


class RedemptionSteps:
    def __init__(
        self,
        pool: asyncpg.Pool,
        outbox: Outbox,
        ledger: LedgerClient,
        metrics: Metrics,
        *,
        targeting: CampaignTargeting,
        lease_s: float,
        pause_after_hold_s: float,
        partner_code_validity_left_min: datetime.timedelta,
        stopping: asyncio.Event,
        hold_retry_s: float = 0.0,
    ) -> None:
        self.pool = pool
        self.outbox = outbox
        self.ledger = ledger
        self.targeting = targeting
        # See RewardsConfig.partner_code_validity_left_min_ms.
        self.partner_code_validity_left_min = partner_code_validity_left_min
        self.cancellations_refused = cancellations_refused_counter(metrics)
        self.lease_s = lease_s
        self.hold_retry_s = hold_retry_s
        self.pause_after_hold_s = pause_after_hold_s
        self.stopping = stopping

    async def transition(
        self,
        connection: asyncpg.Connection,
        redemption: store.RedemptionRow,
        owner: uuid.UUID,
        step: str,
        **fields: Any,
    ) -> bool:
        status = fields.pop("status", domain.STEP_STATUS[step])
        return await store.transition(
            connection,
            redemption,
            owner=owner,
            expected=redemption.step,
            step=step,
            status=status,
            lease_s=self.lease_s,
            **fields,
        )

    async def to_voiding(
        self, redemption: store.RedemptionRow, owner: uuid.UUID, code: str, message: str
    ) -> None:
        async with self.pool.acquire() as connection:
            await self.transition(
                connection,
                redemption,
                owner,
                domain.VOIDING,
                failure_code=code,
                failure_reason=message,
            )

    async def place_hold(self, redemption: store.RedemptionRow, owner: uuid.UUID) -> None:
        try:
            hold = await self.hold_with_retries(redemption)
        except LedgerRefused as refused:
            if refused.reason in NO_HOLD_REASONS:
                await self.finish_void(redemption, owner, failure=(refused.reason, refused.details))
            else:
                await self.to_voiding(redemption, owner, "LEDGER_UNAVAILABLE", str(refused))
            return
        async with self.pool.acquire() as connection:
            placed = await self.transition(
                connection, redemption, owner, domain.HOLD_PLACED, hold_id=hold.hold_id
            )
        if placed and self.pause_after_hold_s:
            await self.pause(self.pause_after_hold_s)

    async def _ask_hold(self, redemption: store.RedemptionRow) -> ledger_pb2.Hold:
        """PlaceHold under the redemption's own key: asked again, it answers the same hold."""
        return await self.ledger.place_hold(
            program_id=redemption.program_id,
            key=hold_key(redemption),
            member_id=redemption.member_id,
            points=redemption.points,
            reference=redemption.redemption_id,
        )

    async def hold_with_retries(self, redemption: store.RedemptionRow) -> ledger_pb2.Hold:
        """The hold, asked again (same key, so at most one is placed) while the ledger's answer is
        unknown, for up to `hold_retry_s`: a ledger restart or a failover should not fail a
        member's redemption at the till."""
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + self.hold_retry_s
        delay = HOLD_RETRY_DELAY_FIRST_S
        while True:
            try:
                return await self._ask_hold(redemption)
            except LedgerRefused as refused:
                if (
                    not refused.outcome_unknown
                    or self.stopping.is_set()
                    or loop.time() + delay > give_up_at
                ):
                    raise
                logger.info(
                    "redemption %s: hold unanswered (%s), asking again in %.1f s",
                    redemption.redemption_id,
                    refused,
                    delay,
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, HOLD_RETRY_DELAY_MAX_S)

    async def reserve_stock(self, redemption: store.RedemptionRow, owner: uuid.UUID) -> None:
        """Reserve the stock, checking again that the reward is on offer and that the member is
        still eligible (tier, segment, experiment arm), in the transaction whose reservation
        locks the reward's row: a change while the points were held is not charged."""
        for _ in range(ELIGIBILITY_ROUNDS_MAX):
            try:
                member = await self._targeting(redemption)
                await in_transaction(
                    self.pool, functools.partial(self._reserve, redemption, owner, member)
                )
            except EligibilityMoved:
                continue  # the reward's eligibility changed between asking and locking
            except Refusal as refusal:
                await self.to_voiding(redemption, owner, refusal.code, refusal.message)
            return
        await self.to_voiding(
            redemption,
            owner,
            eligibility.NOT_ELIGIBLE,
            "the reward's eligibility kept changing while the redemption was made",
        )

    async def _targeting(self, redemption: store.RedemptionRow) -> eligibility.MemberTargeting:
        """What the ledger and campaign say of the member now, for the reward as it is now
        (asked outside the transaction: no row lock waits on another service)."""
        reward = await repository.fetch_reward(
            self.pool, redemption.program_id, redemption.reward_id
        )
        assert reward is not None
        try:
            return await eligibility.ask(
                self.ledger,
                self.targeting,
                program_id=redemption.program_id,
                member_id=redemption.member_id,
                reward=reward,
            )
        except MemberNotFound as error:
            raise Refusal("MEMBER_NOT_FOUND", str(error)) from None
        except (LedgerUnavailable, CampaignUnavailable) as error:
            # Eligibility cannot be known: nothing is spent, and the member may try again.
            raise Refusal(
                error.reason,
                "the member's eligibility could not be checked again (the ledger or campaign did "
                "not answer); try again with a new idempotency key",
            ) from None

    async def _reserve(
        self,
        redemption: store.RedemptionRow,
        owner: uuid.UUID,
        member: eligibility.MemberTargeting,
        connection: asyncpg.Connection,
    ) -> None:
        if not await self.transition(
            connection, redemption, owner, domain.STOCK_RESERVED, stock_reserved=True
        ):
            return
        reward = await repository.fetch_reward(
            connection, redemption.program_id, redemption.reward_id
        )
        assert reward is not None
        if not await store.count_member_units(
            connection,
            redemption.program_id,
            redemption.member_id,
            redemption.reward_id,
            redemption.quantity,
            limit=reward.per_member_limit,
        ):
            raise Refusal(
                "MEMBER_LIMIT_REACHED",
                f"a member may redeem {reward.per_member_limit} of this reward",
            )
        reserved = await repository.reserve_stock(
            connection, redemption.program_id, redemption.reward_id, redemption.quantity
        )
        # Read again: the reward as the reservation found it (its row now locked by it, so an
        # edit either came before and is read here, or waits for this transaction).
        found = await repository.fetch_reward(
            connection, redemption.program_id, redemption.reward_id
        )
        assert found is not None
        if not reserved:
            if found.status != rewards_pb2.REWARD_STATUS_ACTIVE:
                raise Refusal("REWARD_NOT_ACTIVE", "the reward is no longer active")
            if not domain.is_available(found, _now()):
                raise Refusal("REWARD_NOT_AVAILABLE", "the reward is outside its validity")
            raise Refusal("OUT_OF_STOCK", "the reward is out of stock")
        if found.eligibility != member.asked_for:
            raise EligibilityMoved()
        refused = eligibility.refusal(found, member)
        if refused is not None:
            raise Refusal(eligibility.NOT_ELIGIBLE, refused)

    async def issue_codes(self, redemption: store.RedemptionRow, owner: uuid.UUID) -> None:
        reward = await repository.fetch_reward(
            self.pool, redemption.program_id, redemption.reward_id
        )
        assert reward is not None
        # Where codes come from is the reward's now (its partner pool); what they are worth,
        # where and for how long is what the member accepted at Redeem, as the price held is.
        source = domain.code_source(reward)
        offered = domain.offered_reward(reward, redemption.reward_definition)
        zone = None
        if offered.code_validity_days:
            # "Valid for N days" counts the program's local days, in the zone the ledger holds.
            try:
                zone = ZoneInfo(await self.ledger.program_time_zone(redemption.program_id))
            except (LedgerUnavailable, ProgramNotConfigured) as error:
                # Nothing is spent before the commit: voiding gives the points back.
                await self.to_voiding(redemption, owner, "LEDGER_UNAVAILABLE", str(error))
                return
        now = _now()
        expires_at = domain.code_expiry(offered, now, zone=zone)
        # A code valid until the reward's end, issued after it (a redemption held up past the
        # end it was redeemed under), would be spent points for a code expired on arrival.
        expired = expires_at is not None and expires_at <= now
        # What the member pays for: the till applies it even if the reward's discount changes.
        discount = domain.offered_discount(offered)

        async def issue(connection: asyncpg.Connection) -> None:
            if not await self.transition(
                connection, redemption, owner, domain.CODE_ISSUED, codes_issued=True
            ):
                return
            if source == rewards_pb2.CODE_SOURCE_NONE:
                return
            if expired:
                raise Refusal("REWARD_NOT_AVAILABLE", "the reward is outside its validity")
            if source == rewards_pb2.CODE_SOURCE_PARTNER_POOL:
                taken = await code_store.take_partner_codes(
                    connection,
                    redemption,
                    validity_left_min=self.partner_code_validity_left_min,
                )
                issued = [(code, own or expires_at) for code, own in taken]
                if len(taken) < redemption.quantity or await code_store.insert_codes(
                    connection,
                    redemption,
                    issued,
                    partner=True,
                    store_ids=list(offered.store_ids),
                    discount=discount,
                ) < len(issued):
                    raise Refusal("CODES_EXHAUSTED", "the reward's partner code pool is empty")
                return
            missing = redemption.quantity
            for _ in range(CODE_GENERATION_ATTEMPTS_MAX):
                fresh = [(codes.generate(), expires_at) for _ in range(missing)]
                missing -= await code_store.insert_codes(
                    connection,
                    redemption,
                    fresh,
                    partner=False,
                    store_ids=list(offered.store_ids),
                    discount=discount,
                )
                if missing == 0:
                    return
            raise AssertionError("80-bit codes clashed repeatedly")

        try:
            await in_transaction(self.pool, issue)
        except Refusal as refusal:
            await self.to_voiding(redemption, owner, refusal.code, refusal.message)

    async def commit(self, redemption: store.RedemptionRow, owner: uuid.UUID) -> None:
        try:
            hold = await self.ledger.commit_hold(
                program_id=redemption.program_id,
                key=f"rewards.{redemption.redemption_id}.commit",
                hold_id=redemption.hold_id,
                reward_id=redemption.reward_id,
            )
        except LedgerRefused as refused:
            if refused.reason != "HOLD_CLOSED":
                # The commit may or may not have happened: voiding finds out which.
                await self.to_voiding(redemption, owner, "LEDGER_UNAVAILABLE", str(refused))
                return
            try:
                hold = await self.ledger.get_hold(
                    program_id=redemption.program_id, hold_id=redemption.hold_id
                )
            except LedgerRefused as unknown:
                await self.to_voiding(redemption, owner, "LEDGER_UNAVAILABLE", str(unknown))
                return
            if hold.status != ledger_pb2.HOLD_STATUS_COMMITTED:
                await self.to_voiding(
                    redemption, owner, "HOLD_EXPIRED", "the points hold lapsed; nothing spent"
                )
                return
        await self._complete(redemption, owner, posting_id=hold.posting_id)

    async def _complete(
        self, redemption: store.RedemptionRow, owner: uuid.UUID, *, posting_id: str
    ) -> None:
        reward = await repository.fetch_reward(
            self.pool, redemption.program_id, redemption.reward_id
        )
        assert reward is not None

        async def complete(connection: asyncpg.Connection) -> None:
            if not await self.transition(
                connection,
                redemption,
                owner,
                domain.COMMITTED,
                posting_id=posting_id,
                completed_at=_now(),
            ):
                return
            await repository.redeem_stock(
                connection, redemption.program_id, redemption.reward_id, redemption.quantity
            )
            await code_store.activate_codes(connection, redemption)
            await self.outbox.enqueue(
                connection,
                events.REWARD_REDEEMED,
                events_pb2.Event(
                    program_id=redemption.program_id,
                    reward_redeemed=events_pb2.RewardRedeemed(
                        redemption_id=redemption.redemption_id,
                        member_id=redemption.member_id,
                        reward_id=redemption.reward_id,
                        reward_kind=reward.kind,
                        quantity=redemption.quantity,
                        points_spent=redemption.points,
                        hold_id=redemption.hold_id,
                        channel=redemption.channel,
                    ),
                ),
            )

        await in_transaction(self.pool, complete)

    async def void(self, redemption: store.RedemptionRow, owner: uuid.UUID) -> None:
        hold_id = redemption.hold_id or await self._find_hold(redemption)
        # What of the points did not come back to the balance (they paid the member's debt).
        debt_paid = 0
        if hold_id:
            try:
                voided = await self.ledger.void_hold(
                    program_id=redemption.program_id,
                    key=f"rewards.{redemption.redemption_id}.void",
                    hold_id=hold_id,
                    cancelled=redemption.cancel_requested,
                    note=domain.void_note(
                        redemption_id=redemption.redemption_id,
                        failure_code=redemption.failure_code,
                        failure_reason=redemption.failure_reason,
                    ),
                )
                debt_paid = voided.debt_paid_points
            except LedgerRefused as refused:
                if refused.reason == "HOLD_NOT_FOUND":
                    pass
                elif refused.reason not in VOIDED_BEFORE_REASONS:
                    raise LedgerUnavailable(str(refused)) from None
                else:
                    hold = await self._get_hold(redemption, hold_id)
                    if hold.status == ledger_pb2.HOLD_STATUS_COMMITTED:
                        # The commit happened though its answer was lost: the redemption stands.
                        assert redemption.codes_issued, "a hold was committed before codes issued"
                        await self._complete(redemption, owner, posting_id=hold.posting_id)
                        return
                    debt_paid = hold.debt_paid_points
        await self.finish_void(redemption, owner, debt_paid=debt_paid)

    async def _find_hold(self, redemption: store.RedemptionRow) -> str:
        """The hold of a redemption that was interrupted before its id was recorded: PlaceHold
        again with the same key answers the first hold, or places one (voided next), or is
        refused because none can be placed."""
        try:
            hold = await self._ask_hold(redemption)
        except LedgerRefused as refused:
            if refused.outcome_unknown:
                raise LedgerUnavailable(str(refused)) from None
            return ""
        return hold.hold_id

    async def _get_hold(self, redemption: store.RedemptionRow, hold_id: str) -> ledger_pb2.Hold:
        try:
            return await self.ledger.get_hold(program_id=redemption.program_id, hold_id=hold_id)
        except LedgerRefused as refused:
            raise LedgerUnavailable(str(refused)) from None

    async def finish_void(
        self,
        redemption: store.RedemptionRow,
        owner: uuid.UUID,
        *,
        failure: tuple[str, str] | None = None,
        debt_paid: int = 0,
    ) -> None:
        fields: dict[str, Any] = {}
        if failure is not None:
            fields.update(failure_code=failure[0], failure_reason=failure[1])
        if redemption.cancel_requested:
            fields.update(
                status=rewards_pb2.REDEMPTION_STATUS_CANCELLED,
                returned_points=redemption.points - debt_paid,
                debt_paid_points=debt_paid,
                cancelled_at=_now(),
            )

        async def finish(connection: asyncpg.Connection) -> None:
            if not await self.transition(connection, redemption, owner, domain.VOIDED, **fields):
                return
            if redemption.stock_reserved:
                await repository.release_stock(
                    connection, redemption.program_id, redemption.reward_id, redemption.quantity
                )
                await store.uncount_member_units(
                    connection,
                    redemption.program_id,
                    redemption.member_id,
                    redemption.reward_id,
                    redemption.quantity,
                )
            if redemption.codes_issued:
                await code_store.withdraw_codes(connection, redemption)
            if redemption.cancel_requested:
                await self._announce_cancel(connection, redemption, debt_paid=debt_paid)

        await in_transaction(self.pool, finish)

    async def credit_back(self, redemption: store.RedemptionRow, owner: uuid.UUID) -> None:
        note = f"redemption {redemption.redemption_id} cancelled"
        debt_paid = 0
        try:
            if redemption.posting_id:
                _, debt_paid = await self.ledger.give_back(
                    program_id=redemption.program_id,
                    key=f"rewards.{redemption.redemption_id}.cancel",
                    member_id=redemption.member_id,
                    posting_id=redemption.posting_id,
                    operator_id=redemption.cancel_operator_id,
                    note=note,
                )
            else:  # committed before the commit's posting id was recorded
                await self.ledger.credit(
                    program_id=redemption.program_id,
                    key=f"rewards.{redemption.redemption_id}.cancel",
                    member_id=redemption.member_id,
                    points=redemption.points,
                    operator_id=redemption.cancel_operator_id,
                    note=note,
                )
        except LedgerRefused as refused:
            if not refused.refused_for_good:
                raise LedgerUnavailable(str(refused)) from None
            await self.undo_cancel(redemption, owner, refused)
            return

        async def finish(connection: asyncpg.Connection) -> None:
            if not await self.transition(
                connection,
                redemption,
                owner,
                domain.CANCELLED,
                returned_points=redemption.points - debt_paid,
                debt_paid_points=debt_paid,
                cancelled_at=_now(),
            ):
                return
            await repository.return_stock(
                connection, redemption.program_id, redemption.reward_id, redemption.quantity
            )
            await store.uncount_member_units(
                connection,
                redemption.program_id,
                redemption.member_id,
                redemption.reward_id,
                redemption.quantity,
            )
            await self._announce_cancel(connection, redemption, debt_paid=debt_paid)

        await in_transaction(self.pool, finish)

    async def undo_cancel(
        self, redemption: store.RedemptionRow, owner: uuid.UUID, refused: LedgerRefused
    ) -> None:
        """The ledger refused for good to give the points back: retrying (the caller, or the
        recovery worker every lease) could never succeed. The codes were cancelled first, so
        that none is used while the points come back; left so, the member would have neither.
        So the cancellation is undone: the redemption is completed again, its codes valid again
        (none can have been used meanwhile), the points still spent and the stock still taken;
        the refusal is kept for CancelRedemption to answer (FAILED_PRECONDITION), logged and
        counted. A cancellation asked for later tries again."""

        async def undo(connection: asyncpg.Connection) -> bool:
            if not await self.transition(
                connection,
                redemption,
                owner,
                domain.COMMITTED,
                cancel_requested=False,
                cancel_idempotency_key=None,
                cancel_request_hash=None,
                cancel_refused_code=refused.reason or refused.code.name,
                cancel_refused_reason=refused.details,
            ):
                return False  # another driver took the redemption over: it decides
            await code_store.reinstate_codes(connection, redemption)
            return True

        if not await in_transaction(self.pool, undo):
            return
        self.cancellations_refused.labels(refused.reason or refused.code.name).inc()
        logger.warning(
            "cancellation of redemption %s undone, the ledger refused to give its points back "
            "(%s); the redemption stands and its codes are valid again",
            redemption.redemption_id,
            refused,
        )

    async def _announce_cancel(
        self, connection: asyncpg.Connection, redemption: store.RedemptionRow, *, debt_paid: int = 0
    ) -> None:
        await self.outbox.enqueue(
            connection,
            events.REDEMPTION_CANCELLED,
            events_pb2.Event(
                program_id=redemption.program_id,
                redemption_cancelled=events_pb2.RedemptionCancelled(
                    redemption_id=redemption.redemption_id,
                    member_id=redemption.member_id,
                    reward_id=redemption.reward_id,
                    returned_points=redemption.points - debt_paid,
                    reason=redemption.cancel_reason,
                    debt_paid_points=debt_paid,
                ),
            ),
        )

    # -- helpers --------------------------------------------------------------------------------

    async def pause(self, seconds: float) -> None:
        """A test-only pause between steps (see RewardsConfig); ends early when stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
