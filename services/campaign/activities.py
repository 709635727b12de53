"""Engagement activities: rewarded by engagement rules, capped, verified, and referrals.

How points vest after verification: an activity whose rule requires verification (and that the
channel did not report verified already) is held PENDING in campaign with its points computed and
its place under the caps taken; nothing is posted. VerifyActivity APPROVE posts the points then
(with the rule's vesting delay, if any); REJECT frees the cap place and posts nothing. So the
ledger never holds points that a rejection would have to claw back.

Referrals: the member who refers is the activity's member, the referred member is
`referred_member_id`. Self-referrals, loops (the referred member referred the referrer, directly
or through others) and a second referral of the same member are rejected. With
`requires_first_purchase`, both sides are posted when the referred member's first purchase is
accrued (services/campaign/purchases.py); otherwise at once.
"""

import datetime as dt
import itertools
import zoneinfo
from dataclasses import dataclass

import asyncpg

from loyalty.campaign.v1 import engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign import events, targeting
from services.campaign import repository_engagement as store
from services.campaign import repository_rules as rule_store
from services.campaign.enrolment import Enrolments
from services.campaign.ledger_client import LedgerClient, ProgramSettings
from services.campaign.mission_tracker import MissionTracker
from services.campaign.purchases import (
    LedgerItem,
    bonus_item,
    earn_request,
    mission_item,
    referral_items,
)
from services.campaign.rpc_base import check_member_id, check_reference, now
from services.campaign.rule_compiler import rule_ref
from services.campaign.transactions import check_occurred_at
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.outbox import Outbox
from services.shared.timestamps import instant, unix_micros

REWARDED = engagement_pb2.ACTIVITY_OUTCOME_REWARDED
PENDING = engagement_pb2.ACTIVITY_OUTCOME_PENDING
CAPPED = engagement_pb2.ACTIVITY_OUTCOME_CAPPED
NO_RULE = engagement_pb2.ACTIVITY_OUTCOME_NO_RULE
REJECTED = engagement_pb2.ACTIVITY_OUTCOME_REJECTED
STATE_NOT_REQUIRED = common_pb2.VERIFICATION_STATE_NOT_REQUIRED
STATE_PENDING = common_pb2.VERIFICATION_STATE_PENDING
STATE_VERIFIED = common_pb2.VERIFICATION_STATE_VERIFIED
STATE_REJECTED = common_pb2.VERIFICATION_STATE_REJECTED
REFERRAL = common_pb2.ACTIVITY_KIND_REFERRAL
BEST_OF_PRIORITY = rules_pb2.STACKING_MODE_BEST_OF_PRIORITY
ATTRIBUTES_MAX = 20
URL_LENGTH_MAX = 2_000
REFERRAL_CHAIN_DEPTH_MAX = 100
# Why an activity earned nothing, in its attributes.
REJECTION_ATTRIBUTE = "campaign.rejection"


def check_activity(
    activity: engagement_pb2.Activity, field: str = "activity", *, ahead_max_ms: int
) -> None:
    """`ahead_max_ms`: how far its occurred_at may be after the server's time (unset: now)."""
    check_reference(activity.activity_id, f"{field}.activity_id")
    check_member_id(activity.member_id, f"{field}.member_id")
    if activity.kind not in common_pb2.ActivityKind.values() or activity.kind == 0:
        raise InvalidArgument(f"{field}.kind", "is required (a known activity kind)")
    if activity.channel not in common_pb2.Channel.values():
        raise InvalidArgument(f"{field}.channel", "is not a known channel")
    if activity.kind == REFERRAL:
        check_member_id(activity.referred_member_id, f"{field}.referred_member_id")
    elif activity.referred_member_id:
        raise InvalidArgument(f"{field}.referred_member_id", "is for referrals only")
    validation.text(activity.url, f"{field}.url", required=False, length_max=URL_LENGTH_MAX)
    for name in ("reference", "sku", "store_id"):
        validation.text(getattr(activity, name), f"{field}.{name}", required=False, length_max=128)
    if len(activity.attributes) > ATTRIBUTES_MAX:
        raise InvalidArgument(f"{field}.attributes", f"at most {ATTRIBUTES_MAX} entries")
    if activity.verification_state not in common_pb2.VerificationState.values():
        raise InvalidArgument(f"{field}.verification_state", "is not a known state")
    if activity.HasField("occurred_at"):
        check_occurred_at(
            activity.occurred_at.ToMicroseconds(),
            f"{field}.occurred_at",
            now_micros=unix_micros(now()),
            ahead_max_ms=ahead_max_ms,
        )


@dataclass(frozen=True)
class LocalDays:
    day: dt.date
    week_start: dt.date
    month_start: dt.date

    @classmethod
    def of(cls, moment: dt.datetime, time_zone: str) -> "LocalDays":
        day = moment.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
        return cls(day, day - dt.timedelta(days=day.weekday()), day.replace(day=1))

    @property
    def week_end(self) -> dt.date:
        return self.week_start + dt.timedelta(days=7)

    @property
    def month_end(self) -> dt.date:
        return (self.month_start + dt.timedelta(days=31)).replace(day=1)


class Activities:
    def __init__(
        self,
        ledger: LedgerClient,
        outbox: Outbox,
        missions: MissionTracker | None = None,
        enrolments: Enrolments | None = None,
    ) -> None:
        self.ledger = ledger
        self.outbox = outbox
        self.missions = missions or MissionTracker(outbox)
        self.enrolments = enrolments or Enrolments(None)

    async def stamped(
        self, pool: asyncpg.Pool, program_id: str, given: engagement_pb2.Activity
    ) -> engagement_pb2.Activity:
        """The activity with its time: its own, or the one its first attempt was given.

        Kept outside the recording transaction so that a retry after a lost transaction asks the
        ledger for the very earn the first attempt posted."""
        if given.HasField("occurred_at"):
            return given
        activity = engagement_pb2.Activity()
        activity.CopyFrom(given)
        activity.occurred_at.FromDatetime(
            await store.stamp_activity(pool, program_id, given.member_id, given.activity_id)
        )
        return activity

    async def record(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        given: engagement_pb2.Activity,
    ) -> tuple[engagement_pb2.Activity, bool]:
        """Record and reward the activity once; (the activity with its outcome, duplicate)."""
        program_id = program.program_id
        await store.lock_member_activities(connection, program_id, given.member_id)
        earlier = await store.fetch_activity(
            connection, program_id, given.member_id, given.activity_id
        )
        await store.forget_activity_stamp(
            connection, program_id, given.member_id, given.activity_id
        )
        if earlier is not None:
            return earlier, True
        activity = engagement_pb2.Activity()
        activity.CopyFrom(given)
        activity.ClearField("outcome")
        activity.ClearField("points")
        activity.ClearField("rule_ids")
        if not activity.HasField("occurred_at"):
            activity.occurred_at.GetCurrentTime()
        refusal = (
            (await self.enrolments.refusals(connection, program_id, [activity.member_id])).get(
                activity.member_id
            )
            if program.refuses_unknown_members
            else None
        )
        rules = _applicable(
            await rule_store.active_rules(connection, program_id, "engagement", activity.kind),
            activity,
        )
        if rules:
            # Segments, experiment arms and the holdout decide whether the member may earn. A
            # referral has two sides: the holdout withholds the held-out side's bonus when it is
            # paid (_refer, purchases.py), so it does not keep the referral from being recorded
            # and the other side from being paid.
            allowed = await targeting.allowed_rule_ids(
                connection,
                program_id,
                [targeting.RuleTarget(r.rule_id, tuple(r.segment_ids)) for r in rules],
                activity.member_id,
                instant(activity.occurred_at),
                with_holdout=activity.kind != REFERRAL,
            )
            rules = [rule for rule in rules if rule.rule_id in allowed]
        days = LocalDays.of(instant(activity.occurred_at), program.time_zone)
        if activity.verification_state == STATE_REJECTED:
            _reject(activity, "rejected_by_channel")
        elif refusal is not None:
            # Recorded as refused, so a redelivery is a duplicate and a verification finds it
            # not pending.
            _reject(activity, refusal.reason_code)
        elif not rules:
            activity.outcome = NO_RULE
        elif activity.kind == REFERRAL:
            await self._refer(connection, program, activity, rules[0], days)
        else:
            await self._reward(connection, program, activity, rules, days)
        if not activity.verification_state:
            activity.verification_state = STATE_NOT_REQUIRED
        inserted = await store.insert_activity(connection, program_id, activity)
        assert inserted, "the activity's row was checked above in this transaction"
        if activity.verification_state not in (STATE_PENDING, STATE_REJECTED):
            await self._count_for_missions(connection, program, activity)
        return activity, False

    async def _count_for_missions(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        activity: engagement_pb2.Activity,
    ) -> None:
        """An activity counts for missions once it stands: recorded, or verified if it waited.
        A member the holdout keeps out completes the mission (and gets its badge) without its
        points: the tracker gives such a completion no points (mission_tracker._held_out)."""
        completions = await self.missions.on_activity(connection, program, activity)
        for completion in completions:
            if completion.points:
                await self.ledger.earn(
                    earn_request(
                        program.program_id, mission_item(completion), currency=program.currency
                    )
                )

    async def _reward(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        activity: engagement_pb2.Activity,
        rules: list[rules_pb2.Rule],
        days: LocalDays,
    ) -> None:
        # The stacking order of earning rules (rules.proto): by priority; among one priority's
        # best-of rules only the one giving most points (the first on a tie); a rule that
        # applies as exclusive leaves the later priorities out.
        chosen: list[rules_pb2.Rule] = []
        for _, grouped in itertools.groupby(rules, key=lambda rule: rule.priority):
            group = [
                rule
                for rule in grouped
                if not await self._capped(connection, program, activity, rule, days)
            ]
            best_of = [rule for rule in group if rule.stacking_mode == BEST_OF_PRIORITY]
            if len(best_of) > 1:
                best = max(best_of, key=lambda rule: rule.engagement.points)
                group = [rule for rule in group if rule is best or rule not in best_of]
            chosen += group
            if any(rule.stacking_mode == rules_pb2.STACKING_MODE_EXCLUSIVE for rule in group):
                break
        if not chosen:
            activity.outcome = CAPPED
            return
        for rule in chosen:
            await store.insert_reward(
                connection,
                program.program_id,
                activity.member_id,
                rule.rule_id,
                activity.activity_id,
                day=days.day,
                points=rule.engagement.points,
            )
        activity.points = sum(rule.engagement.points for rule in chosen)
        activity.rule_ids.extend(rule_ref(rule.rule_id, rule.version) for rule in chosen)
        # A channel that sends the activity as pending will verify it (a review under moderation):
        # its points wait for that too, so a rejection never has points to take back.
        needs_verification = activity.verification_state == STATE_PENDING or any(
            rule.engagement.requires_verification for rule in chosen
        )
        if needs_verification and activity.verification_state != STATE_VERIFIED:
            activity.verification_state = STATE_PENDING
            activity.outcome = PENDING
            return
        await self._post(program, activity, chosen)
        activity.outcome = REWARDED

    async def _capped(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        activity: engagement_pb2.Activity,
        rule: rules_pb2.Rule,
        days: LocalDays,
    ) -> bool:
        caps = rule.engagement.caps
        if not any(
            (
                caps.per_day_count_max,
                caps.per_week_count_max,
                caps.per_month_count_max,
                caps.lifetime_count_max,
            )
        ):
            return False
        counts = await store.count_rewards(
            connection,
            program.program_id,
            activity.member_id,
            rule.rule_id,
            day=days.day,
            week=(days.week_start, days.week_end),
            month=(days.month_start, days.month_end),
        )
        limits = (
            caps.per_day_count_max,
            caps.per_week_count_max,
            caps.per_month_count_max,
            caps.lifetime_count_max,
        )
        return any(limit and count >= limit for count, limit in zip(counts, limits, strict=True))

    async def _post(
        self,
        program: ProgramSettings,
        activity: engagement_pb2.Activity,
        rules: list[rules_pb2.Rule],
    ) -> None:
        if activity.points <= 0:
            return
        delay_s = max(rule.engagement.vesting_delay_seconds for rule in rules)
        vests_micros = activity.occurred_at.ToMicroseconds() + delay_s * 1_000_000 if delay_s else 0
        item = LedgerItem(
            member_id=activity.member_id,
            points=activity.points,
            key=f"activity:{activity.activity_id}",
            reference=activity.activity_id,
            occurred_micros=activity.occurred_at.ToMicroseconds(),
            qualifying=any(rule.engagement.qualifying for rule in rules),
            spend_minor=0,
            reasons=list(activity.rule_ids),
            code=common_pb2.ActivityKind.Name(activity.kind).removeprefix("ACTIVITY_KIND_").lower(),
        )
        await self.ledger.earn(
            earn_request(
                program.program_id,
                item,
                currency=program.currency,
                # Without a delay of its own, an activity's points vest at once.
                vests_micros=vests_micros or activity.occurred_at.ToMicroseconds(),
            )
        )

    async def _refer(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        activity: engagement_pb2.Activity,
        rule: rules_pb2.Rule,
        days: LocalDays,
    ) -> None:
        referrer, referred = activity.member_id, activity.referred_member_id
        program_id = program.program_id
        if referrer == referred:
            _reject(activity, "self_referral")
            return
        # After the referrer's lock (record), never before it: one order, no deadlock.
        await store.lock_referrals(connection, program_id)
        if await self._loops(connection, program_id, referrer=referrer, referred=referred):
            _reject(activity, "referral_loop")
            return
        if await store.fetch_referral(connection, program_id, referred) is not None:
            _reject(activity, "already_referred")
            return
        if await self._capped(connection, program, activity, rule, days):
            activity.outcome = CAPPED
            return
        engagement = rule.engagement
        ref = rule_ref(rule.rule_id, rule.version)
        waits = engagement.requires_first_purchase and not (
            await store.has_purchased(connection, program_id, referred)
        )
        # Either side may be held out: its bonus is withheld, the other side's paid. A referral
        # that waits is judged again by the time of the first purchase (purchases.py).
        held = await targeting.held_out_members(
            connection, program_id, [referrer, referred], instant(activity.occurred_at)
        )
        referrer_points = 0 if referrer in held else engagement.points
        referral = store.Referral(
            referred_member_id=referred,
            referrer_member_id=referrer,
            activity_id=activity.activity_id,
            state=store.REFERRAL_PENDING if waits else store.REFERRAL_REWARDED,
            rule_ref=ref,
            referrer_points=engagement.points,
            referred_points=engagement.referred_points,
        )
        await store.insert_referral(connection, program_id, referral)
        await store.insert_reward(
            connection,
            program_id,
            referrer,
            rule.rule_id,
            activity.activity_id,
            day=days.day,
            points=referrer_points,
        )
        activity.points = referrer_points
        activity.rule_ids.append(ref)
        if waits:
            activity.outcome = PENDING
            return
        for item in referral_items(referral):
            if item.member_id not in held:
                await self.ledger.earn(earn_request(program_id, item, currency=program.currency))
        activity.outcome = REWARDED

    async def _loops(
        self, connection: asyncpg.Connection, program_id: str, *, referrer: str, referred: str
    ) -> bool:
        """Whether `referred` is up the chain of those who referred `referrer`."""
        member = referrer
        for _ in range(REFERRAL_CHAIN_DEPTH_MAX):
            member = await store.referrer_of(connection, program_id, member)
            if not member:
                return False
            if member == referred:
                return True
        return True

    async def verify(
        self,
        connection: asyncpg.Connection,
        program: ProgramSettings,
        activity: engagement_pb2.Activity,
        *,
        approve: bool,
        verifier_id: str,
        note: str,
    ) -> engagement_pb2.Activity:
        """Approve (post the held points) or reject (free the cap places) a pending activity."""
        program_id = program.program_id
        if approve:
            rules = [
                stored.rule
                for ref in activity.rule_ids
                if (stored := await _rule_of(connection, program_id, ref)) is not None
            ]
            await self._post(program, activity, rules)
            activity.verification_state, activity.outcome = STATE_VERIFIED, REWARDED
        else:
            await store.delete_rewards(
                connection, program_id, activity.member_id, activity.activity_id
            )
            activity.verification_state, activity.outcome = STATE_REJECTED, REJECTED
        if verifier_id:
            activity.attributes["campaign.verifier_id"] = verifier_id
        if note:
            activity.attributes["campaign.verification_note"] = note
        points = activity.points
        if not approve:
            activity.points = 0
        await store.update_activity(connection, program_id, activity)
        if approve:
            await self._count_for_missions(connection, program, activity)
        await self.outbox.enqueue(
            connection,
            events.ACTIVITY_VERIFIED,
            events_pb2.Event(
                program_id=program_id,
                activity_verified=events_pb2.ActivityVerified(
                    activity_id=activity.activity_id,
                    member_id=activity.member_id,
                    kind=activity.kind,
                    verification_state=activity.verification_state,
                    verifier_id=verifier_id,
                    points=points,
                ),
            ),
        )
        return activity


async def _rule_of(
    connection: asyncpg.Connection, program_id: str, ref: str
) -> rule_store.StoredRule | None:
    rule_id, _, version = ref.rpartition("@")
    return await rule_store.fetch_version(connection, program_id, rule_id, int(version))


def _applicable(
    rules: list[rules_pb2.Rule], activity: engagement_pb2.Activity
) -> list[rules_pb2.Rule]:
    occurred = activity.occurred_at.ToMicroseconds()
    applicable = []
    for rule in rules:
        if rule.engagement.channels and activity.channel not in rule.engagement.channels:
            continue
        if rule.HasField("start_time") and occurred < rule.start_time.ToMicroseconds():
            continue
        if rule.HasField("end_time") and occurred >= rule.end_time.ToMicroseconds():
            continue
        applicable.append(rule)
    return applicable


def _reject(activity: engagement_pb2.Activity, reason: str) -> None:
    activity.outcome = REJECTED
    activity.verification_state = STATE_REJECTED
    activity.points = 0
    activity.attributes[REJECTION_ATTRIBUTE] = reason


__all__ = ["Activities", "LocalDays", "bonus_item", "check_activity"]
