"""RecordPurchase, RecordReturn and PreviewBasket."""

import dataclasses
from typing import Any

import grpc

from loyalty.campaign.v1 import campaign_pb2
from loyalty.common.v1 import common_pb2
from services.campaign import repository_purchases as store
from services.campaign import repository_rules as rule_store
from services.campaign import targeting
from services.campaign.accrual import accrue_purchases
from services.campaign.errors import PurchaseNotPosted
from services.campaign.grouped_purchases import GroupedPurchases, PurchaseCall, rule_applications
from services.campaign.ingest import Ingest
from services.campaign.ledger_client import ProgramSettings
from services.campaign.purchases import cap_state
from services.campaign.return_lines import ReturnedLine, request_field
from services.campaign.returns import Refund, record_return
from services.campaign.rpc_base import RpcBase, check_member_id, check_reference, now
from services.campaign.rule_compiler import CompiledEarningRule
from services.campaign.transactions import (
    CHANNELS,
    LINE_QUANTITY_MAX,
    OCCURRED_MICROS_MAX,
    OCCURRED_MICROS_MIN,
    check_occurred_at,
    of_purchase,
)
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import check_idempotency_key, once
from services.shared.logs import request_id_var
from services.shared.timestamps import from_unix_micros, unix_micros

DRAFTS_MAX = 20


def check_money(
    money: common_pb2.Money, field: str, program: ProgramSettings, *, positive: bool = False
) -> int:
    if money.currency != program.currency:
        raise InvalidArgument(
            f"{field}.currency", f"must be the program's currency {program.currency}"
        )
    validation.in_range(
        money.amount_minor, f"{field}.amount_minor", low=1 if positive else 0, high=10**12
    )
    return int(money.amount_minor)


def check_return_line(
    line: campaign_pb2.ReturnLine, index: int, program: ProgramSettings
) -> ReturnedLine:
    amount = check_money(line.amount, request_field(index, "amount"), program)
    validation.text(line.sku, request_field(index, "sku"), required=False, length_max=128)
    validation.in_range(
        line.quantity, request_field(index, "quantity"), low=0, high=LINE_QUANTITY_MAX
    )
    return ReturnedLine(sku=line.sku, amount_minor=amount, quantity=line.quantity)


def check_channel(channel: int) -> int:
    if channel not in CHANNELS:
        raise InvalidArgument("channel", "is not a known channel")
    return channel


def occurred_micros(request: object, *, ahead_max_ms: int | None = None) -> int:
    """The request's occurred_at (unset: now); with `ahead_max_ms`, at most that long after
    the server's time (a preview may ask about a basket of a time to come)."""
    if not request.HasField("occurred_at"):  # type: ignore[attr-defined]
        return unix_micros(now())
    micros = int(request.occurred_at.ToMicroseconds())  # type: ignore[attr-defined]
    if ahead_max_ms is None:
        if not OCCURRED_MICROS_MIN <= micros <= OCCURRED_MICROS_MAX:
            raise InvalidArgument("occurred_at", "must be between 2000 and 2099")
        return micros
    return check_occurred_at(
        micros, "occurred_at", now_micros=unix_micros(now()), ahead_max_ms=ahead_max_ms
    )


class PurchaseRpcs(RpcBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purchases = GroupedPurchases(
            self.pool,
            self.outbox,
            self.missions,
            self.ledger,
            self.earning_rules,
            self.enrolments,
            self.forgetting,
        )

    def ingest(self) -> Ingest:
        return Ingest(
            self.pool,
            self.ledger,
            self.outbox,
            self.limits,
            self.earning_rules,
            self.missions,
            self.enrolments,
        )

    async def RecordPurchase(
        self, request: campaign_pb2.RecordPurchaseRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.RecordPurchaseResponse:
        validation.program_id(request.program_id)
        member = check_member_id(request.member_id)
        transaction_id = check_reference(request.transaction_id, "transaction_id")
        check_idempotency_key(request.idempotency_key)
        program = await self.ledger.program(request.program_id)
        check_money(request.amount, "amount", program)
        check_channel(request.channel)
        validation.text(request.store_id, "store_id", required=False, length_max=128)
        micros = occurred_micros(request, ahead_max_ms=self.limits.occurred_at_ahead_max_ms)
        transactions = of_purchase(
            request, transaction_id=transaction_id, member_id=member, occurred_micros=micros
        )
        # Written with the other purchases of the moment, as one batch (grouped_purchases.py).
        return await self.purchases.record(
            PurchaseCall(request, program, transactions, micros, request_id_var.get())
        )

    async def RecordReturn(
        self, request: campaign_pb2.RecordReturnRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.RecordReturnResponse:
        validation.program_id(request.program_id)
        member = check_member_id(request.member_id)
        return_id = check_reference(request.return_id, "return_id")
        original = check_reference(request.original_transaction_id, "original_transaction_id")
        program = await self.ledger.program(request.program_id)
        lines: tuple[ReturnedLine, ...] = ()
        if request.WhichOneof("refund") == "lines":
            if not request.lines.lines:
                raise InvalidArgument("lines.lines", "name at least one returned line")
            lines = tuple(
                check_return_line(line, index, program)
                for index, line in enumerate(request.lines.lines)
            )
            refunded = sum(line.amount_minor for line in lines)
            if refunded <= 0:
                raise InvalidArgument("lines.lines", "refund nothing")
        elif request.WhichOneof("refund") == "refunded_amount":
            refunded = check_money(
                request.refunded_amount, "refunded_amount", program, positive=True
            )
        else:
            raise InvalidArgument("refund", "set lines or refunded_amount")
        check_channel(request.channel)
        occurred = occurred_micros(request, ahead_max_ms=self.limits.occurred_at_ahead_max_ms)
        refund = Refund(
            member_id=member,
            return_id=return_id,
            original_transaction_id=original,
            refunded_minor=refunded,
            occurred_at=from_unix_micros(occurred),
            channel=request.channel,
            store_id=request.store_id,
            lines=lines,
        )
        try:
            return await self._record_return(request, program, refund)
        except PurchaseNotPosted as error:
            # The purchase's batch is finishing, or a crash left it to the recovery job: it is
            # finished here, as the recovery would, and the return goes again. Outside the
            # return's transaction, whose lock on the purchase the batch's withdrawal of
            # refused purchases would wait for.
            await self.ingest().finish_unposted(program, error.batch_id)
            return await self._record_return(request, program, refund)

    async def _record_return(
        self, request: campaign_pb2.RecordReturnRequest, program: ProgramSettings, refund: Refund
    ) -> campaign_pb2.RecordReturnResponse:
        async with self.pool.acquire() as connection, connection.transaction():

            async def record() -> campaign_pb2.RecordReturnResponse:
                outcome = await record_return(connection, self.ledger, self.outbox, program, refund)
                return campaign_pb2.RecordReturnResponse(
                    reversed_points=outcome.reversed_points,
                    debt_points=outcome.debt_points,
                    posting_ids=outcome.posting_ids,
                    member_id=refund.member_id,
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="RecordReturn",
                request=request,
                response_type=campaign_pb2.RecordReturnResponse,
                work=record,
                forgetting=self.forgetting,
            )

    async def PreviewBasket(
        self, request: campaign_pb2.PreviewBasketRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.PreviewBasketResponse:
        validation.program_id(request.program_id)
        member = check_member_id(request.member_id) if request.member_id else "(preview)"
        program = await self.ledger.program(request.program_id)
        check_money(request.amount, "amount", program)
        check_channel(request.channel)
        if len(request.draft_rule_ids) > DRAFTS_MAX:
            raise InvalidArgument("draft_rule_ids", f"at most {DRAFTS_MAX}")
        transactions = of_purchase(
            request,
            transaction_id="preview",
            member_id=member,
            occurred_micros=occurred_micros(request),
        )
        rules = await self.earning_rules(self.pool, program)
        rules = await self._with_drafts(program, rules, list(request.draft_rule_ids))
        tiers = await store.fetch_tiers(self.pool, program.program_id, [member])
        tier = tiers.get(member) or program.entry_tier_code
        batch = transactions.batch_of([0], members=[member], tiers={member: tier})
        # The member's segments, experiment arm and the holdout, as RecordPurchase applies them.
        excluded = await targeting.exclusions(
            self.pool,
            program.program_id,
            [targeting.RuleTarget(rule.rule_id, rule.segment_ids) for rule in rules],
            [member],
            batch.member_index,
            batch.times_micros(),
        )
        if excluded:
            batch = dataclasses.replace(batch, excluded=excluded)
        caps = await cap_state(self.pool, program.program_id, rules, batch, [member])
        accrual = accrue_purchases(rules, batch, caps.counters, past=caps.past, explain=True)
        return campaign_pb2.PreviewBasketResponse(
            points=int(accrual.points[0]), applications=rule_applications(accrual, 0)
        )

    async def _with_drafts(
        self, program: ProgramSettings, rules: list[CompiledEarningRule], drafts: list[str]
    ) -> list[CompiledEarningRule]:
        """The live rules with the given versions in place of (or besides) their live versions."""
        chosen = {rule.rule_id: rule for rule in rules}
        for index, ref in enumerate(drafts):
            field = f"draft_rule_ids[{index}]"
            rule_id, _, version = ref.partition("@")
            number = validation.decimal_id(
                version, field, what="a rule version", high=validation.INT32_MAX
            )
            stored = await rule_store.fetch_version(self.pool, program.program_id, rule_id, number)
            if stored is None:
                raise InvalidArgument(field, f"rule {ref} does not exist")
            if not stored.rule.HasField("earning"):
                raise InvalidArgument(field, "is not an earning rule")
            tiers = await self.tiers.get(self.pool, program.program_id)
            chosen[rule_id] = self.compile(program, stored.rule, tiers)
        return list(chosen.values())
