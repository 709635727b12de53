"""Backtest: replay one rule over the archived purchases of a period; nothing is written.

The archive holds each accrued batch as columns (services/campaign/columnar.py), so the replay
reads a few rows per million purchases, concatenates them into one batch and accrues it with the
rule alone in one kernel pass per rule part, with member caps counted from zero over the period.

The rule rewards only whom live accrual would let it reward, by the same code (services/campaign/
targeting.py): the members of its segments if it names any, the members of its experiment arm
within the experiment's period if an arm names it, and no held-out member from the holdout's
start. Membership and settings are read as they are now (segment membership is not kept per day,
nor are earlier holdout and experiment settings), each purchase judged at its own time.
"""

import asyncio
import dataclasses
import datetime as dt

import grpc
import numpy as np

from loyalty.campaign.v1 import campaign_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from services.campaign import repository_purchases as store
from services.campaign import repository_rules as rule_store
from services.campaign import rules, targeting
from services.campaign.accrual import Int64Array, PurchaseBatch, accrue_purchases
from services.campaign.columnar import ArchivedPurchases, concatenate
from services.campaign.errors import RuleNotFound
from services.campaign.rpc_base import RpcBase, now
from services.campaign.rule_compiler import CompiledEarningRule, compile_earning
from services.campaign.tier_codes import with_tier_multipliers
from services.shared import validation
from services.shared.errors import InvalidArgument, ResourceExhausted
from services.shared.timestamps import instant, unix_micros

TOP_MEMBERS_MAX = 100
# Upper bounds (exclusive) of the distribution's buckets of points per rewarded member.
BUCKET_BOUNDS = (10, 100, 1_000, 10_000, 100_000)


class BacktestRpcs(RpcBase):
    async def Backtest(
        self, request: campaign_pb2.BacktestRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.BacktestResponse:
        validation.program_id(request.program_id)
        program = await self.ledger.program(request.program_id)
        rule = await self._subject(request)
        if not rule.HasField("earning"):
            raise InvalidArgument("rule_ref", "a backtest replays an earning rule")
        compiled = compile_earning(
            with_tier_multipliers(rule, program.tier_multipliers),
            time_zone=program.time_zone,
            default_rounding=program.rounding_mode,
        )
        if not request.HasField("start_time"):
            raise InvalidArgument("start_time", "is required")
        start = instant(request.start_time)
        end = instant(request.end_time) if request.HasField("end_time") else now()
        if end <= start:
            raise InvalidArgument("end_time", "must be after start_time")
        validation.in_range(
            request.top_members_count, "top_members_count", low=0, high=TOP_MEMBERS_MAX
        )
        cost = request.cost_per_thousand_points
        if request.HasField("cost_per_thousand_points"):
            if cost.currency != program.currency:
                raise InvalidArgument(
                    "cost_per_thousand_points.currency", f"must be {program.currency}"
                )
            validation.in_range(
                cost.amount_minor, "cost_per_thousand_points.amount_minor", low=0, high=10**9
            )
        blobs = await store.fetch_archive(self.pool, program.program_id, start, end)
        batch, member_ids, live_points = await asyncio.to_thread(self._load, blobs, start, end)
        # Who the rule may reward, as RecordPurchase and IngestTransactions decide it.
        excluded = await targeting.exclusions(
            self.pool,
            program.program_id,
            [targeting.RuleTarget(compiled.rule_id, compiled.segment_ids)],
            member_ids,
            batch.member_index,
            batch.times_micros(),
        )
        if excluded:
            batch = dataclasses.replace(batch, excluded=excluded)
        return await asyncio.to_thread(
            self._replay,
            batch,
            member_ids,
            live_points,
            compiled,
            request.top_members_count,
            cost,
            program.currency,
        )

    async def _subject(self, request: campaign_pb2.BacktestRequest) -> rules_pb2.Rule:
        subject = request.WhichOneof("subject")
        if subject == "rule_draft":
            rule = rules_pb2.Rule()
            rule.CopyFrom(request.rule_draft)
            rule.rule_id = rule.rule_id or "draft"
            rules.check_rule(rule, field="rule_draft")
            await targeting.check_segments_exist(
                self.pool, request.program_id, rule.segment_ids, field="rule_draft.segment_ids"
            )
            return rule
        if subject != "rule_ref":
            raise InvalidArgument("subject", "set rule_ref or rule_draft")
        rule_id, _, version = request.rule_ref.rpartition("@")
        if not rule_id:
            raise InvalidArgument("rule_ref", "must be rule_id@version")
        number = validation.decimal_id(
            version, "rule_ref", what="a rule version", high=validation.INT32_MAX
        )
        stored = await rule_store.fetch_version(self.pool, request.program_id, rule_id, number)
        if stored is None:
            raise RuleNotFound(rule_id, number, field="rule_ref")
        return stored.rule

    def _load(
        self, blobs: list[bytes], start: dt.datetime, end: dt.datetime
    ) -> tuple[PurchaseBatch, list[str], Int64Array]:
        """The archived purchases of [start, end) as one batch, their member ids and the points
        the live rules gave them."""
        start_micros, end_micros = unix_micros(start), unix_micros(end)
        parts = [ArchivedPurchases.decode(blob).within(start_micros, end_micros) for blob in blobs]
        count = sum(part.size for part in parts)
        if count > self.limits.backtest_transactions_max:
            raise ResourceExhausted(
                f"{count} purchases in the period, at most {self.limits.backtest_transactions_max}",
                field="start_time",
            )
        return concatenate(parts)

    def _replay(
        self,
        batch: PurchaseBatch,
        member_ids: list[str],
        live_points: Int64Array,
        compiled: CompiledEarningRule,
        top_count: int,
        cost: common_pb2.Money,
        currency: str,
    ) -> campaign_pb2.BacktestResponse:
        count = batch.size
        accrual = accrue_purchases([compiled], batch, {})
        points = accrual.points
        per_member = np.zeros(len(member_ids), dtype=np.int64)
        np.add.at(per_member, batch.member_index, points)
        rewarded_transactions = np.zeros(len(member_ids), dtype=np.int64)
        np.add.at(rewarded_transactions, batch.member_index, (points > 0).astype(np.int64))
        rewarded = np.flatnonzero(per_member > 0)
        total = int(points.sum())
        order = sorted(rewarded.tolist(), key=lambda m: (-int(per_member[m]), member_ids[m]))
        response = campaign_pb2.BacktestResponse(
            transactions_count=count,
            rewarded_transactions_count=int((points > 0).sum()),
            members_rewarded_count=len(rewarded),
            points_total=total,
            baseline_points_total=int(live_points.sum()),
            top_members=[
                campaign_pb2.MemberPoints(
                    member_id=member_ids[m],
                    points=int(per_member[m]),
                    transactions_count=int(rewarded_transactions[m]),
                )
                for m in order[:top_count]
            ],
        )
        if cost.currency:
            response.cost.CopyFrom(
                common_pb2.Money(
                    amount_minor=(total * cost.amount_minor + 500) // 1000, currency=currency
                )
            )
        low = 1
        for high in (*BUCKET_BOUNDS, 0):
            in_bucket = per_member[rewarded] >= low
            if high:
                in_bucket &= per_member[rewarded] < high
            response.distribution.append(
                campaign_pb2.PointsBucket(
                    points_min=low, points_max=high, member_count=int(in_bucket.sum())
                )
            )
            low = high
        return response
