"""Accrue purchases and record what the ledger must post, in the caller's transaction.

`accrue` takes a batch of incoming transactions (an ingest batch or one RecordPurchase), drops the
duplicates, counts the members' purchases, accrues the fresh purchases with the live rules and the
members' cap counters, finds the milestones reached and the referrals a first purchase completes,
and writes all of it: transaction rows, the columnar archive, cap counters, awards. What is left is
posting the returned ledger items; their idempotency keys come from the transactions (and members
and milestones), so posting them again after a crash or a replay is a duplicate in the ledger.
The purchases' items come first and the bonuses (missions, milestones, referrals) after them, so
a caller can post the bonuses once the ledger has accepted the purchases that earned them
(services/campaign/withdrawal.py takes back what a refused purchase counted).
"""

import dataclasses
import hashlib
import sys
from dataclasses import dataclass, field

import asyncpg
import numpy as np

from loyalty.campaign.v1 import campaign_pb2, engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.ledger.v1 import ledger_pb2
from services.campaign import line_points, repository, targeting
from services.campaign import repository_engagement as engagement_store
from services.campaign import repository_purchases as store
from services.campaign import repository_segment_facts as segment_facts
from services.campaign.accrual import (
    BatchAccrual,
    Codes,
    PurchaseBatch,
    accrue_purchases,
    cap_candidates,
)
from services.campaign.columnar import ArchivedPurchases
from services.campaign.enrolment import MEMBER_CLOSED, Enrolments, Refusal
from services.campaign.ledger_client import ProgramSettings
from services.campaign.member_caps import PastUsage, code_parts, history_needed
from services.campaign.mission_tracker import Completion, CountedSteps, MissionTracker
from services.campaign.rule_compiler import CompiledEarningRule
from services.campaign.transactions import PURCHASE, Transactions, pick
from services.shared.idempotency import IDEMPOTENCY_KEY_LENGTH_MAX
from services.shared.outbox import Outbox
from services.shared.timestamps import from_unix_micros

POSTED = campaign_pb2.INGEST_ITEM_STATUS_POSTED
DUPLICATE = campaign_pb2.INGEST_ITEM_STATUS_DUPLICATE
REJECTED = campaign_pb2.INGEST_ITEM_STATUS_REJECTED
NO_POINTS = campaign_pb2.INGEST_ITEM_STATUS_NO_POINTS
# A batch whose members' cap counters another batch changed meanwhile is accrued again from the
# new ones (see repository_purchases.store_counters), up to this many times.
CAP_COUNTER_ATTEMPTS_MAX = 8
COUNTERS_KEPT_MOVING = "concurrent requests kept changing these members' cap counters"


@dataclass
class LedgerItem:
    """One earn for the ledger; `transaction` is the index of the transaction it comes from, -1
    for bonuses (milestones, referrals) the batch triggered."""

    member_id: str
    points: int
    key: str
    reference: str
    occurred_micros: int
    qualifying: bool
    spend_minor: int
    reasons: list[str]
    code: str
    transaction: int = -1


@dataclass
class LedgerItems:
    """Earns for the ledger as columns, in the order they will be posted."""

    member_ids: list[str] = field(default_factory=list)
    points: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    occurred_micros: list[int] = field(default_factory=list)
    qualifying: list[bool] = field(default_factory=list)
    spends_minor: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    transactions: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.member_ids)

    def add(self, item: LedgerItem) -> None:
        self.member_ids.append(item.member_id)
        self.points.append(item.points)
        self.keys.append(item.key)
        self.references.append(item.reference)
        self.occurred_micros.append(item.occurred_micros)
        self.qualifying.append(item.qualifying)
        self.spends_minor.append(item.spend_minor)
        self.reasons.append(",".join(item.reasons))
        self.codes.append(item.code)
        self.transactions.append(item.transaction)

    def items(self) -> list[LedgerItem]:
        return [
            LedgerItem(
                member_id=self.member_ids[i],
                points=self.points[i],
                key=self.keys[i],
                reference=self.references[i],
                occurred_micros=self.occurred_micros[i],
                qualifying=self.qualifying[i],
                spend_minor=self.spends_minor[i],
                reasons=self.reasons[i].split(",") if self.reasons[i] else [],
                code=self.codes[i],
                transaction=self.transactions[i],
            )
            for i in range(len(self))
        ]

    def request(self, program_id: str, batch_id: str) -> ledger_pb2.PostBatchRequest:
        return ledger_pb2.PostBatchRequest(
            program_id=program_id,
            batch_id=batch_id,
            member_ids=self.member_ids,
            points=self.points,
            kinds=[common_pb2.POSTING_KIND_EARN] * len(self),
            source_references=self.references,
            idempotency_keys=self.keys,
            occurred_at_unix_micros=self.occurred_micros,
            qualifying_flags=self.qualifying,
            qualifying_spends_minor=self.spends_minor,
            reason_codes=[
                reasons or code for reasons, code in zip(self.reasons, self.codes, strict=True)
            ],
        )


@dataclass
class Accrued:
    """Per incoming transaction: status, points, reason code and message; and what to post."""

    statuses: list[int]
    points: list[int]
    reason_codes: list[str]
    messages: list[str]
    items: LedgerItems = field(default_factory=LedgerItems)
    accrual: BatchAccrual | None = None
    # The position of each fresh purchase (by transaction index) in the accrual.
    positions: dict[int, int] = field(default_factory=dict)
    # The row of purchase_archive holding the fresh purchases, in that order (0: none).
    archive_seq: int = 0
    # The mission steps the fresh purchases counted for, by transaction index.
    mission_steps: CountedSteps = field(default_factory=CountedSteps)

    def reject(self, index: int, reason_code: str, message: str) -> None:
        self.statuses[index], self.points[index] = REJECTED, 0
        self.reason_codes[index], self.messages[index] = reason_code, message


class Accruer:
    def __init__(
        self,
        outbox: Outbox,
        missions: MissionTracker | None = None,
        enrolments: Enrolments | None = None,
    ) -> None:
        self.outbox = outbox
        self.missions = missions or MissionTracker(outbox)
        self.enrolments = enrolments or Enrolments(None)

    async def accrue(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        rules: list[CompiledEarningRule],
        transactions: Transactions,
        *,
        batch_id: str,
        explain: bool = False,
        assume_fresh: bool = False,
    ) -> Accrued:
        """With `assume_fresh`, the purchases are not looked up: one recorded before makes the
        transactions' insert fail (asyncpg.UniqueViolationError), and the caller, who must then
        roll back, runs the batch again without."""
        size = transactions.size
        accrued = Accrued([0] * size, [0] * size, [""] * size, [""] * size)
        for index, (reason_code, message) in transactions.rejected.items():
            accrued.reject(index, reason_code, message)
        purchases = await self._fresh(
            connection, program, transactions, accrued, assume_fresh=assume_fresh
        )
        if purchases:
            # Merged members first (they are refused whatever the policy), then, where the
            # program refuses them, members identity has not enrolled (enrolment.py).
            asked = sorted(set(pick(transactions.members, purchases)))
            refused = await _merged(connection, program.program_id, asked)
            if program.refuses_unknown_members:
                refused.update(
                    await self.enrolments.refusals(
                        connection, program.program_id, [m for m in asked if m not in refused]
                    )
                )
            purchases = _without_refused(transactions, purchases, accrued, refused)
        if not purchases:
            return accrued
        program_id = program.program_id
        # Before any row lock (a referral takes it before its own): a referral recorded at once
        # with a member's first purchase waits for this batch, or this batch for it.
        await engagement_store.lock_referrals(connection, program_id, shared=True)
        members_of = pick(transactions.members, purchases)
        amounts_of = pick(transactions.amounts, purchases)
        milestones = await milestones_of(connection, program_id)
        if milestones:
            counts = counts_of(members_of, amounts_of)
            members = sorted(counts)
            after = await store.count_purchases(connection, program_id, counts)
            tiers = {m: after[m][0] or program.entry_tier_code for m in members}
        else:
            # Without milestones nobody reads the counts: only the tiers are needed.
            members = sorted(set(members_of))
            known = await store.fetch_tiers(connection, program_id, members)
            entry = program.entry_tier_code
            tiers = dict.fromkeys(members, entry)
            tiers.update((m, tier) for m, tier in known.items() if tier)
        batch = transactions.batch_of(purchases, members=members, tiers=tiers)
        excluded = await targeting.exclusions(
            connection,
            program_id,
            [targeting.RuleTarget(rule.rule_id, rule.segment_ids) for rule in rules],
            members,
            batch.member_index,
            batch.times_micros(),
        )
        if excluded:
            batch = dataclasses.replace(batch, excluded=excluded)
        caps = await cap_state(connection, program_id, rules, batch, members)
        accrual = accrue_purchases(rules, batch, caps.counters, past=caps.past, explain=explain)
        accrued.accrual = accrual
        for rule_id, before in caps.counters.items():
            await store.store_counters(
                connection,
                program_id,
                rule_id,
                members,
                before,
                accrual.counters[rule_id],
                caps.versions[rule_id],
                touched=caps.late_members.get(rule_id),
            )
            await _store_history(connection, program_id, rule_id, members, accrual.history)
        points = accrual.points.tolist()
        statuses = np.where(accrual.points != 0, POSTED, NO_POINTS).tolist()
        if len(purchases) == size:
            accrued.points, accrued.statuses = points, statuses
        else:
            for position, index in enumerate(purchases):
                accrued.points[index] = points[position]
                accrued.statuses[index] = statuses[position]
        accrued.positions = dict(zip(purchases, range(len(purchases)), strict=True))
        ids_of = pick(transactions.ids, purchases)
        micros_of = pick(transactions.micros, purchases)
        await store.insert_purchases(
            connection,
            program_id=program_id,
            batch_id=batch_id,
            members=members_of,
            transaction_ids=ids_of,
            amounts_minor=amounts_of,
            points=accrual.points,
            occurred_micros=micros_of,
            applications=accrual.applications_texts(),
        )
        await _store_lines(connection, program_id, transactions, purchases, batch, accrual)
        _purchase_items(
            accrued.items, accrual, purchases, members_of, ids_of, micros_of, amounts_of
        )
        accrued.archive_seq = await self._archive(connection, program_id, members, batch, accrual)
        counted = await self.missions.on_purchases(connection, program, transactions, purchases)
        accrued.mission_steps = counted.steps
        for completion in counted.completions:
            if completion.points:
                accrued.items.add(mission_item(completion))
        if milestones:
            counted_before = {
                m: (after[m][1] - counts[m][0], after[m][2] - counts[m][1]) for m in members
            }
            for item in await self._milestones(
                connection, program_id, milestones, members, counted_before, after
            ):
                accrued.items.add(item)
        # A referral still pending waits for the first purchase, and this is it.
        for item in await _referral_items(connection, program_id, members):
            accrued.items.add(item)
        await _without_held_out_bonuses(connection, program_id, accrued, members_of, micros_of)
        # The members' recency, frequency and spend changed: segments re-evaluate them.
        await segment_facts.mark_dirty(connection, program_id, members)
        return accrued

    async def _fresh(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        transactions: Transactions,
        accrued: Accrued,
        *,
        assume_fresh: bool,
    ) -> list[int]:
        """The purchases not seen before; the duplicates are answered with their first points.
        With `assume_fresh` only the other transactions (returns) are looked up."""
        candidates = [i for i in range(transactions.size) if i not in transactions.rejected]
        looked_up = (
            [i for i in candidates if transactions.kinds[i] != PURCHASE]
            if assume_fresh
            else candidates
        )
        seen = (
            await store.fetch_transactions(
                connection,
                program.program_id,
                pick(transactions.members, looked_up),
                pick(transactions.ids, looked_up),
            )
            if looked_up
            else {}
        )
        if not seen:
            return transactions.purchases()
        fresh = []
        for index in candidates:
            stored = seen.get((transactions.members[index], transactions.ids[index]))
            if stored is None:
                if transactions.kinds[index] == PURCHASE:
                    fresh.append(index)
            elif stored.kind != transactions.kinds[index] or (
                stored.kind == PURCHASE and stored.amount_minor != transactions.amounts[index]
            ):
                accrued.reject(
                    index,
                    "transaction_id_reused",
                    "transaction_ids: recorded before with other content",
                )
            else:
                accrued.statuses[index], accrued.points[index] = DUPLICATE, stored.points
        return fresh

    async def _archive(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        members: list[str],
        batch: PurchaseBatch,
        accrual: BatchAccrual,
    ) -> int:
        """Archive the batch's fresh purchases; returns the row's archive_seq."""
        # `members` are the batch's members, whose index codes each purchase's member.
        archived = ArchivedPurchases(
            members=Codes(members, batch.member_index),
            tiers=Codes(batch.member_tiers.values, batch.member_tiers.codes[batch.member_index]),
            amounts=batch.amounts_minor,
            channels=batch.channels,
            stores=batch.stores,
            micros=batch.times_micros(),
            line_transaction=batch.line_transaction,
            line_amounts=batch.line_amounts_minor,
            line_categories=batch.line_categories,
            line_skus=batch.line_skus,
            points=accrual.points,
        )
        return await store.insert_archive(
            connection,
            program_id,
            first=from_unix_micros(int(archived.micros.min())),
            last=from_unix_micros(int(archived.micros.max())),
            count=batch.size,
            columns=archived.encode(),
        )

    async def _milestones(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        config: list[engagement_pb2.Milestone],
        members: list[str],
        before: dict[str, tuple[int, int]],
        after: dict[str, tuple[str, int, int]],
    ) -> list[LedgerItem]:
        reached: list[tuple[str, str, int]] = []
        milestones = {m.code: m for m in config}
        for member in members:
            for milestone in config:
                old, new = (
                    (before[member][0], after[member][1])
                    if milestone.kind == engagement_pb2.MILESTONE_KIND_NTH_PURCHASE
                    else (before[member][1], after[member][2])
                )
                if old < milestone.threshold <= new:
                    reached.append((member, milestone.code, milestone.points))
        awarded = await engagement_store.award_bonuses(connection, program_id, "milestone", reached)
        items = []
        for member, code, points in reached:
            if (member, code) not in awarded:
                continue
            milestone = milestones[code]
            if milestone.badge_code:
                # Recorded for ListMemberBadges and announced, once per member and badge.
                await self.missions.award_badge(
                    connection,
                    program_id,
                    member,
                    badge_code=milestone.badge_code,
                    name=milestone.badge_code,
                    milestone_code=code,
                )
            if points:
                items.append(bonus_item(member, points, key=milestone_key(code), code="milestone"))
        return items


@dataclass
class CapState:
    """Per rule id with member caps: the members' counters and their rows' versions (see
    repository_purchases.store_counters); for purchases of a period before their counter's,
    what the history holds of those periods (services/campaign/member_caps.py) and the members
    (indexes) it was read for."""

    counters: dict[str, np.ndarray] = field(default_factory=dict)
    versions: dict[str, np.ndarray] = field(default_factory=dict)
    past: dict[str, PastUsage] = field(default_factory=dict)
    late_members: dict[str, np.ndarray] = field(default_factory=dict)


async def cap_state(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    rules: list[CompiledEarningRule],
    batch: PurchaseBatch,
    members: list[str],
) -> CapState:
    state = CapState()
    for rule in rules:
        if not rule.member_caps or rule.totals is None:
            continue
        # Only the purchases the rule may give points to use its caps: the counters of the
        # other members stay as they are, unread, and so does the history of their periods.
        candidates = cap_candidates(rule, batch)
        counters, state.versions[rule.rule_id] = await store.fetch_counters(
            connection,
            program_id,
            rule.rule_id,
            members,
            wanted=np.unique(batch.member_index[candidates]),
        )
        state.counters[rule.rule_id] = counters
        needed = history_needed(
            rule.totals, batch.member_index[candidates], batch.seconds[candidates], counters
        )
        if not needed:
            continue
        # Their counters are written (with their versions checked) even if unchanged: a
        # concurrent batch that wrote the same history makes this one run again.
        state.late_members[rule.rule_id] = np.unique(
            np.concatenate([code_parts(coded)[0] for coded in needed.values()])
        )
        # One read of the history for every capped period.
        periods = [period for period, coded in needed.items() for _ in range(len(coded))]
        code_members, code_keys = code_parts(np.concatenate(list(needed.values())))
        found = await store.fetch_cap_history(
            connection,
            program_id,
            rule.rule_id,
            [members[index] for index in code_members.tolist()],
            periods,
            code_keys.tolist(),
        )
        past: PastUsage = {}
        start = 0
        for period, coded in needed.items():
            past[period] = (coded, found[start : start + len(coded)])
            start += len(coded)
        state.past[rule.rule_id] = past
    return state


async def _store_history(
    connection: asyncpg.Connection,
    program_id: str,
    rule_id: str,
    members: list[str],
    history: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]],
) -> None:
    added = history.get(rule_id, {})
    if not any(len(coded) for coded, _ in added.values()):
        return
    code_members, code_keys = code_parts(np.concatenate([coded for coded, _ in added.values()]))
    await store.add_cap_history(
        connection,
        program_id,
        rule_id,
        [members[index] for index in code_members.tolist()],
        [period for period, (coded, _) in added.items() for _ in range(len(coded))],
        code_keys.tolist(),
        np.concatenate([points for _, points in added.values()]).tolist(),
    )


async def _merged(
    connection: asyncpg.Connection, program_id: str, members: list[str]
) -> dict[str, Refusal]:
    """The merged members of `members`: their purchases are refused as the ledger would refuse
    their points (its reason code)."""
    merged = await store.fetch_merged(connection, program_id, members)
    return {
        member: Refusal(MEMBER_CLOSED, f"merged into {survivor!r}")
        for member, survivor in merged.items()
    }


def _without_refused(
    transactions: Transactions,
    purchases: list[int],
    accrued: Accrued,
    refused: dict[str, Refusal],
) -> list[int]:
    """The purchases of members not refused. The others are rejected before anything counts
    them: no milestone, referral, mission, cap or archived purchase comes of them."""
    if not refused:
        return purchases
    kept = []
    for index in purchases:
        refusal = refused.get(transactions.members[index])
        if refusal is None:
            kept.append(index)
        else:
            accrued.reject(index, refusal.reason_code, f"member_ids: {refusal.detail}")
    return kept


async def _without_held_out_bonuses(
    connection: asyncpg.Connection,
    program_id: str,
    accrued: Accrued,
    buyers: list[str],
    micros: list[int],
) -> None:
    """Members in the program-wide holdout get no milestone, referral or mission bonus either,
    for purchases from the holdout's start: a purchase from before it (ingested late) is judged
    by its own time, as earning rules judge it (targeting.exclusions). `buyers` and `micros` are
    the batch's purchases. A referral's sides take the time of the referred member's first
    purchase, its earliest in the batch; a milestone or mission that of the member's latest, by
    which the batch's purchases had reached it (one member's batch across the start is judged
    by its last purchase)."""
    if -1 not in accrued.items.transactions:
        return
    holdout = await targeting.holdout_of(connection, program_id)
    if holdout is None:
        return
    bonuses = [item for item in accrued.items.items() if item.transaction == -1]
    members = sorted({item.member_id for item in bonuses})
    held = {m for m, out in zip(members, holdout.members(members), strict=True) if out}
    if not held:
        return
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for buyer, moment in zip(buyers, micros, strict=True):
        first[buyer] = min(first.get(buyer, moment), moment)
        last[buyer] = max(last.get(buyer, moment), moment)
    kept = LedgerItems()
    for item in accrued.items.items():
        withheld = (
            item.transaction == -1
            and item.member_id in held
            and _bonus_micros(item, first, last) >= holdout.start_micros
        )
        if not withheld:
            kept.add(item)
    accrued.items = kept


def _bonus_micros(item: LedgerItem, first: dict[str, int], last: dict[str, int]) -> int:
    """When the purchase that gave a bonus item happened (unix microseconds); a buyer not in the
    batch, which cannot be, counts as the end of time (held out)."""
    if item.code == "referral":
        # The key is referral:<referred member>:<side> (referral_items).
        referred = item.key.removeprefix("referral:").rsplit(":", 1)[0]
        return first.get(referred, sys.maxsize)
    return last.get(item.member_id, sys.maxsize)


async def milestones_of(
    connection: asyncpg.Connection, program_id: str
) -> list[engagement_pb2.Milestone]:
    stored = await repository.fetch_recognition_shared(connection, program_id)
    if stored is None:
        return []
    return list(engagement_pb2.RecognitionConfig.FromString(stored).milestones)


def milestone_key(code: str) -> str:
    """The ledger key of a member's milestone bonus: once per member and milestone."""
    return f"milestone:{code}"


def mission_key(mission_id: str) -> str:
    """The ledger key of a member's mission points: once per member and mission."""
    return f"mission:{mission_id}"


def counts_of(members: list[str], amounts: list[int]) -> dict[str, tuple[int, int]]:
    """Per member, the purchases and spend of the batch."""
    counts: dict[str, tuple[int, int]] = {}
    for member, amount in zip(members, amounts, strict=True):
        purchases_before, spend_before = counts.get(member, (0, 0))
        counts[member] = (purchases_before + 1, spend_before + amount)
    return counts


def bonus_item(
    member: str, points: int, *, key: str, code: str, reasons: list[str] | None = None
) -> LedgerItem:
    return LedgerItem(
        member_id=member,
        points=points,
        key=key,
        reference=key,
        occurred_micros=0,
        qualifying=False,
        spend_minor=0,
        reasons=reasons or [],
        code=code,
    )


def mission_item(completion: Completion) -> LedgerItem:
    """The points of a completed mission; the key names the mission (once per member)."""
    return bonus_item(
        completion.member_id,
        completion.points,
        key=mission_key(completion.mission_id),
        code="mission",
    )


async def _referral_items(
    connection: asyncpg.Connection, program_id: str, buyers: list[str]
) -> list[LedgerItem]:
    """Both sides of the pending referrals of these buyers: a referral only waits while the
    referred member has not purchased, so this purchase is the first."""
    items = []
    for referral in await engagement_store.claim_pending_referrals(connection, program_id, buyers):
        items += referral_items(referral)
    return items


def referral_items(referral: engagement_store.Referral) -> list[LedgerItem]:
    reasons = [referral.rule_ref] if referral.rule_ref else []
    items = []
    if referral.referrer_points:
        items.append(
            bonus_item(
                referral.referrer_member_id,
                referral.referrer_points,
                key=f"referral:{referral.referred_member_id}:referrer",
                code="referral",
                reasons=reasons,
            )
        )
    if referral.referred_points:
        items.append(
            bonus_item(
                referral.referred_member_id,
                referral.referred_points,
                key=f"referral:{referral.referred_member_id}:referred",
                code="referral",
                reasons=reasons,
            )
        )
    return items


async def _store_lines(
    connection: asyncpg.Connection,
    program_id: str,
    transactions: Transactions,
    purchases: list[int],
    batch: PurchaseBatch,
    accrual: BatchAccrual,
) -> None:
    """The lines of the purchases given with line detail, with the points each earned
    (line_points.py), for returns by line; nothing (and no cost) for a batch without any."""
    if not any(transactions.detailed):
        return
    detailed = [position for position, i in enumerate(purchases) if transactions.detailed[i]]
    if not detailed:
        return
    points = line_points.attribute(accrual, batch).tolist()
    counts = np.array(transactions.line_counts, dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts))).tolist()
    batch_offsets = np.concatenate(([0], np.cumsum(counts[purchases]))).tolist()
    members: list[str] = []
    ids: list[str] = []
    lines: list[int] = []
    line_points_of: list[int] = []
    for position in detailed:
        index = purchases[position]
        count = int(counts[index])
        members += [transactions.members[index]] * count
        ids += [transactions.ids[index]] * count
        lines += range(offsets[index], offsets[index] + count)
        start = batch_offsets[position]
        line_points_of += points[start : start + count]
    skus = pick(transactions.line_skus, lines)
    categories = pick(transactions.line_categories, lines)
    if "\x00" in "".join(skus) or "\x00" in "".join(categories):
        # PostgreSQL's text cannot hold NUL (the accrual never stored SKUs before).
        skus = [sku.replace("\x00", "\ufffd") for sku in skus]
        categories = [category.replace("\x00", "\ufffd") for category in categories]
    await store.insert_purchase_lines(
        connection,
        program_id,
        members=members,
        transaction_ids=ids,
        skus=skus,
        quantities=pick(transactions.line_quantities, lines),
        amounts_minor=pick(transactions.line_amounts, lines),
        points=line_points_of,
        categories=categories,
    )


def _purchase_items(
    items: LedgerItems,
    accrual: BatchAccrual,
    purchases: list[int],
    members: list[str],
    ids: list[str],
    micros: list[int],
    amounts: list[int],
) -> None:
    """At most two earns per purchase: the points of qualifying rules and those of the others
    (both with the transaction id as source reference, so a refund reverses both pro rata)."""
    qualifying = accrual.qualifying_points()
    for part_qualifying, part_points, suffix in (
        (True, qualifying, ""),
        (False, accrual.points - qualifying, ":other"),
    ):
        chosen = np.flatnonzero(part_points > 0).tolist()
        if not chosen:
            continue
        reasons = accrual.contributing_refs(qualifying=part_qualifying)
        chosen_ids = pick(ids, chosen)
        items.member_ids += pick(members, chosen)
        items.points += part_points[chosen].tolist()
        items.keys += [f"purchase:{transaction_id}{suffix}" for transaction_id in chosen_ids]
        items.references += chosen_ids
        items.occurred_micros += pick(micros, chosen)
        items.qualifying += [part_qualifying] * len(chosen)
        items.spends_minor += pick(amounts, chosen) if part_qualifying else [0] * len(chosen)
        items.reasons += pick(reasons, chosen)
        items.codes += ["purchase"] * len(chosen)
        items.transactions += pick(purchases, chosen)


def post_batch_request(
    program_id: str, batch_id: str, items: list[LedgerItem]
) -> ledger_pb2.PostBatchRequest:
    columns = LedgerItems()
    for item in items:
        columns.add(item)
    return columns.request(program_id, batch_id)


def earn_key(item: LedgerItem) -> str:
    """A unary earn's key: the item key (unique per member, as in a batch) and the member."""
    key = f"{item.key}@{item.member_id}"
    if len(key) > IDEMPOTENCY_KEY_LENGTH_MAX:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def earn_request(
    program_id: str, item: LedgerItem, *, currency: str, vests_micros: int = 0
) -> ledger_pb2.EarnRequest:
    request = ledger_pb2.EarnRequest(
        program_id=program_id,
        idempotency_key=earn_key(item),
        member_id=item.member_id,
        points=item.points,
        source_reference=item.reference,
        reason=ledger_pb2.PostingReason(rule_ids=item.reasons, code=item.code),
        qualifying=item.qualifying,
    )
    if item.occurred_micros:
        request.occurred_at.FromMicroseconds(item.occurred_micros)
    if vests_micros:
        request.vests_at.FromMicroseconds(vests_micros)
    if item.spend_minor:
        request.qualifying_spend.amount_minor = item.spend_minor
        request.qualifying_spend.currency = currency
    return request
