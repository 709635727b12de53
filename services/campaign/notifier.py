"""Notification intents from the ledger's facts and the monthly job, decided and published.

Sources (services/campaign/notifications.py has the decision rules):

- `ledger.points_posted` with earned points: POINTS_EARNED for each member whose latest earn
  of the batch happened within a day of it (POINTS_EARNED_RECENT_MAX: an import of past
  purchases is no news) with the points when the batch is one member's, and the new available
  balance; and CLOSE_TO_NEXT_TIER for those within the policy's distance of their next tier's
  threshold, once per member, next tier and local month;
- `ledger.tier_changed` upwards: TIER_REACHED;
- `ledger.points_expiring`: POINTS_EXPIRING_SOON;
- the monthly job: MONTHLY_SUMMARY of the month before `as_of` (the program's months) for every
  member identity told campaign about, once per member and month. The first month summarised is
  the one in which summaries were switched on (all of it), sent when it ends; never the month
  before, which would reach every member in the middle of a month, about a month the program
  sent no summaries in. "Switched on" is the first run that sees MONTHLY_SUMMARY enabled, by the
  job's own clock (`as_of`), recorded per program in monthly_summary_starts, as top of the month
  does (recognition.py); ConfigureNotificationPolicy forgets it when summaries are switched off
  or on, so months that ended while they were off are not summarised either.

Each intent is decided once per member and cause in one transaction that locks the member's
row, writes the intent (published, deferred or suppressed, for audit) and, when it is published,
its event to the outbox with the intent id as event id. A redelivered event or a job run again
finds the cause decided and does nothing. One deferred by quiet hours is held (not published)
until they end; the release job (`release_held`) then decides it again for the day it goes out,
under the same member lock, and publishes it with deliver_after at the end of the quiet hours.
"""

import datetime as dt
import json
import logging
import zoneinfo

import asyncpg

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from loyalty.events.v1 import events_pb2
from services.campaign import events
from services.campaign import repository_engagement as engagement_store
from services.campaign import repository_notifications as store
from services.campaign.errors import CampaignError
from services.campaign.ledger_client import LedgerClient
from services.campaign.metrics import CampaignMetrics
from services.campaign.notifications import (
    CLOSE_TO_NEXT_TIER,
    DEFERRED,
    DISABLED,
    MONTHLY_SUMMARY,
    OUTCOMES,
    POINTS_EARNED,
    POINTS_EXPIRING_SOON,
    PUBLISHED,
    SENT_STATUSES,
    TIER_REACHED,
    Candidate,
    LocalPeriods,
    Reach,
    close_bps,
    decide,
    decide_release,
    earned_recently,
    goes_out_at,
    intent_id,
    is_close_to_next_tier,
    last_day,
    month_key,
    previous_month,
)
from services.shared.outbox import Outbox
from services.shared.periodic import IncompleteRun
from services.shared.timestamps import timestamp, unix_micros

logger = logging.getLogger(__name__)

MEMBERS_PER_TRANSACTION_MAX = 1_000
MONTHLY_JOB = "monthly_summary"
# Members whose held intents one release pass takes (the job runs again at its next interval).
RELEASE_BATCH_MAX = 500


def _occurred(event: events_pb2.Event) -> dt.datetime:
    if event.HasField("occurred_at"):
        return event.occurred_at.ToDatetime(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


class Notifier:
    def __init__(
        self,
        pool: asyncpg.Pool,
        ledger: LedgerClient,
        outbox: Outbox,
        metrics: CampaignMetrics,
    ) -> None:
        self.pool = pool
        self.ledger = ledger
        self.outbox = outbox
        self.metrics = metrics

    async def policy(self, program_id: str) -> engagement_pb2.NotificationPolicy | None:
        stored = await store.fetch_policy(self.pool, program_id)
        return None if stored is None else engagement_pb2.NotificationPolicy.FromString(stored[0])

    async def on_event(self, event: events_pb2.Event) -> int:
        """Decide the intents a ledger event calls for; returns how many were decided."""
        payload = event.WhichOneof("payload")
        if payload not in ("points_posted", "tier_changed", "points_expiring"):
            return 0
        policy = await self.policy(event.program_id)
        if policy is None:
            return 0
        at = _occurred(event)
        candidates: list[Candidate] = []
        if payload == "points_posted":
            candidates = await self._points_posted(event, policy, at)
        elif payload == "tier_changed":
            changed = event.tier_changed
            if changed.direction == common_pb2.TIER_CHANGE_DIRECTION_UPGRADE:
                candidates = [
                    Candidate(
                        changed.member_id,
                        TIER_REACHED,
                        f"tier_reached:{changed.to_tier_code}:{event.event_id}",
                        at,
                        {
                            "tier_code": changed.to_tier_code,
                            "from_tier_code": changed.from_tier_code,
                        },
                    )
                ]
        else:
            candidates = await self._points_expiring(event, at)
        return await self.intend(event.program_id, policy, candidates)

    async def _points_expiring(self, event: events_pb2.Event, at: dt.datetime) -> list[Candidate]:
        expiring = event.points_expiring
        expires_at = expiring.expires_at.ToDatetime(tzinfo=dt.UTC)
        program = await self.ledger.program(event.program_id)
        return [
            Candidate(
                expiring.member_id,
                POINTS_EXPIRING_SOON,
                f"points_expiring:{event.event_id}",
                at,
                {
                    "points": str(expiring.points),
                    "expires_at": expires_at.isoformat(),
                    # The last day to spend them, in the program's time zone: an expiry at local
                    # midnight on 1 January ends 31 December, which its UTC instant does not say.
                    "last_day": last_day(
                        expires_at, zoneinfo.ZoneInfo(program.time_zone)
                    ).isoformat(),
                    "days_ahead": str(expiring.days_ahead),
                },
            )
        ]

    async def _points_posted(
        self, event: events_pb2.Event, policy: engagement_pb2.NotificationPolicy, at: dt.datetime
    ) -> list[Candidate]:
        posted = event.points_posted
        # Earned points are the sum of the batch's earn postings, so they say there was one. The
        # event's kinds say it too now, but events the ledger published before it filled them
        # carry none from PostBatch (every purchase campaign posts) and only the last posting's
        # kind from a single call: the total reads both alike.
        if posted.earned_points_total <= 0:
            return []
        members = list(posted.member_ids)
        single = len(members) == 1
        # Only members whose latest earn of the batch is recent are told (an import of past
        # purchases is no news; nor is a batch that earned a member nothing). An event without
        # the times (published before the ledger sent them) tells every member, as it did.
        earned_at = list(posted.earned_occurred_at_unix_micros) or [unix_micros(at)] * len(members)
        candidates = []
        for member, available, earned in zip(
            members, posted.available_points, earned_at, strict=False
        ):
            if not earned_recently(earned, at):
                continue
            data = {"available_points": str(available)}
            if single:
                # The batch's earned total is this member's only when the batch is one member's.
                data["points"] = str(posted.earned_points_total)
            candidates.append(
                Candidate(member, POINTS_EARNED, f"points_earned:{event.event_id}", at, data)
            )
        if CLOSE_TO_NEXT_TIER in policy.enabled_kinds:
            program = await self.ledger.program(event.program_id)
            month = month_key(at, zoneinfo.ZoneInfo(program.time_zone))
            bps = close_bps(policy)
            for balance in await self.ledger.balances(event.program_id, members):
                if not is_close_to_next_tier(
                    qualifying=balance.qualifying_amount,
                    to_next=balance.to_next_tier_amount,
                    bps=bps,
                ):
                    continue
                candidates.append(
                    Candidate(
                        balance.member_id,
                        CLOSE_TO_NEXT_TIER,
                        f"close_to_next_tier:{balance.next_tier_code}:{month}",
                        at,
                        {
                            "tier_code": balance.tier_code,
                            "next_tier_code": balance.next_tier_code,
                            "to_next_tier_amount": str(balance.to_next_tier_amount),
                            "qualifying_amount": str(balance.qualifying_amount),
                        },
                    )
                )
        return candidates

    async def intend(
        self,
        program_id: str,
        policy: engagement_pb2.NotificationPolicy,
        candidates: list[Candidate],
    ) -> int:
        """Decide and record the candidates; the sent ones go to the outbox. Returns how many
        were decided now (those decided before are skipped)."""
        enabled = set(policy.enabled_kinds)
        for candidate in candidates:
            if candidate.kind not in enabled:
                self._count(program_id, candidate.kind, DISABLED)
        wanted = [c for c in candidates if c.kind in enabled]
        if not wanted:
            return 0
        zone = zoneinfo.ZoneInfo((await self.ledger.program(program_id)).time_zone)
        members = sorted({c.member_id for c in wanted})
        decided = 0
        for start in range(0, len(members), MEMBERS_PER_TRANSACTION_MAX):
            chunk = set(members[start : start + MEMBERS_PER_TRANSACTION_MAX])
            decided += await self._decide(
                program_id, policy, zone, [c for c in wanted if c.member_id in chunk]
            )
        return decided

    async def _decide(
        self,
        program_id: str,
        policy: engagement_pb2.NotificationPolicy,
        zone: zoneinfo.ZoneInfo,
        candidates: list[Candidate],
    ) -> int:
        members = [c.member_id for c in candidates]
        async with self.pool.acquire() as connection, connection.transaction():
            reach = await store.lock_reach(connection, program_id, members)
            done = await store.decided_causes(
                connection, program_id, members, [c.cause for c in candidates]
            )
            fresh: dict[tuple[str, str], Candidate] = {}
            for candidate in candidates:
                fresh.setdefault((candidate.member_id, candidate.cause), candidate)
            for key in done:
                fresh.pop(key, None)
            if not fresh:
                return 0
            ordered = sorted(fresh.values(), key=lambda c: (c.at, c.member_id, c.cause))
            # The cap counts each intent on the local day and week it goes out: a held one on
            # the morning the quiet hours end, with that morning's others.
            out_at = {id(c): goes_out_at(policy, c.at, zone) for c in ordered}
            since = min(LocalPeriods.of(moment, zone).week_start for moment in out_at.values())
            sent = await store.sent_since(connection, program_id, members, since)
            rows = []
            for candidate in ordered:
                member_reach = reach.get(candidate.member_id, Reach())
                today, week = LocalPeriods.of(out_at[id(candidate)], zone).counts(
                    sent[candidate.member_id]
                )
                decision = decide(
                    policy,
                    candidate,
                    member_reach,
                    sent_today=today,
                    sent_this_week=week,
                    zone=zone,
                )
                if decision.status in SENT_STATUSES:
                    sent[candidate.member_id].append(out_at[id(candidate)])
                row = store.IntentRow(
                    member_id=candidate.member_id,
                    intent_id=intent_id(program_id, candidate.member_id, candidate.cause),
                    cause=candidate.cause,
                    kind=candidate.kind,
                    channel=decision.channel,
                    status=decision.status,
                    template_data=candidate.template_data,
                    created_at=candidate.at,
                    publish_at=(decision.deliver_after or candidate.at)
                    if decision.status in SENT_STATUSES
                    else None,
                    held=decision.status == DEFERRED,
                )
                rows.append(row)
                # A deferred one is published by release_held at the end of the quiet hours.
                if decision.status == PUBLISHED:
                    await self._publish(
                        connection, program_id, row, member_reach, decision.deliver_after
                    )
            await store.insert_intents(connection, program_id, rows)
        for row in rows:
            self._count(program_id, row.kind, row.status)
        return len(rows)

    async def _publish(
        self,
        connection: asyncpg.Connection,
        program_id: str,
        row: store.IntentRow,
        reach: Reach,
        deliver_after: dt.datetime | None,
    ) -> None:
        event = events_pb2.Event(
            event_id=str(row.intent_id),
            program_id=program_id,
            notification_intent=events_pb2.NotificationIntent(
                intent_id=str(row.intent_id),
                member_id=row.member_id,
                kind=row.kind,  # type: ignore[arg-type]
                channel=row.channel,  # type: ignore[arg-type]
                locale=reach.locale,
                template_data=row.template_data,
                deliver_after=timestamp(deliver_after),
            ),
        )
        event.occurred_at.FromDatetime(row.created_at)
        await self.outbox.enqueue(connection, events.NOTIFICATION_INTENT, event)

    async def release_held(self, now: dt.datetime) -> int:
        """Publish the intents held by quiet hours that are due by `now`, each decided again
        for the day it goes out (decide_release); returns how many were published. Safe with
        several replicas: each member's are released under the member's row lock, and those
        released already are no longer held."""
        published = 0
        for program_id, member_id in await store.held_members(
            self.pool, now=now, limit=RELEASE_BATCH_MAX
        ):
            policy = await self.policy(program_id)
            zone = zoneinfo.ZoneInfo((await self.ledger.program(program_id)).time_zone)
            published += await self._release(program_id, member_id, policy, zone, now)
        return published

    async def _release(
        self,
        program_id: str,
        member_id: str,
        policy: engagement_pb2.NotificationPolicy | None,
        zone: zoneinfo.ZoneInfo,
        now: dt.datetime,
    ) -> int:
        outcomes = []
        async with self.pool.acquire() as connection, connection.transaction():
            reach = (await store.lock_reach(connection, program_id, [member_id])).get(
                member_id, Reach()
            )
            held = await store.lock_held(connection, program_id, member_id, now=now)
            if not held:
                return 0  # another replica released them
            # Counted on the day they go out now (the end of the quiet hours, or later if the
            # release is late), with what went out or is held for then, these ones apart.
            periods = LocalPeriods.of(now, zone)
            sent = (
                await store.sent_since(
                    connection,
                    program_id,
                    [member_id],
                    periods.week_start,
                    excluding=[row["intent_id"] for row in held],
                )
            )[member_id]
            for record in held:
                today, week = periods.counts(sent)
                status = decide_release(
                    policy, record["channel"], reach, sent_today=today, sent_this_week=week
                )
                sent_now = status in SENT_STATUSES
                await store.release(
                    connection,
                    program_id,
                    member_id,
                    record["intent_id"],
                    status=status,
                    publish_at=now if sent_now else None,
                )
                outcomes.append((record["kind"], status))
                if not sent_now:
                    continue
                sent.append(now)
                row = store.IntentRow(
                    member_id=member_id,
                    intent_id=record["intent_id"],
                    cause=record["cause"],
                    kind=record["kind"],
                    channel=record["channel"],
                    status=status,
                    template_data=_template_data(record["template_data"]),
                    created_at=record["created_at"],
                    publish_at=now,
                )
                # deliver_after: the end of the quiet hours it waited for, as before.
                await self._publish(connection, program_id, row, reach, record["publish_at"])
        # Only a suppression is a new outcome: the intent was counted "deferred" when decided.
        for kind, status in outcomes:
            if status not in SENT_STATUSES:
                self._count(program_id, kind, status)
        return sum(1 for _, status in outcomes if status in SENT_STATUSES)

    def _count(self, program_id: str, kind: int, status: int) -> None:
        name = common_pb2.NotificationKind.Name(kind).removeprefix("NOTIFICATION_KIND_").lower()  # type: ignore[arg-type]
        self.metrics.notification_intents.labels(program_id, name, OUTCOMES[status]).inc()

    async def monthly_summaries(self, as_of: dt.datetime) -> int:
        """The summaries of the month before `as_of` for every program that enables them, once
        per program and month; returns the intents decided, or ends with IncompleteRun naming
        the programs it could not serve (after serving the others)."""
        decided = 0
        problems = []
        for program_id, definition in await store.all_policies(self.pool):
            policy = engagement_pb2.NotificationPolicy.FromString(definition)
            if MONTHLY_SUMMARY not in policy.enabled_kinds:
                continue
            try:
                decided += await self._monthly(program_id, policy, as_of)
            except CampaignError as error:
                # One program's trouble (the ledger down) does not hold up the others.
                logger.warning("monthly summary of %s: %s", program_id, error.details())
                problems.append(f"{program_id}: {error.details()}")
        if problems:
            raise IncompleteRun(problems)
        return decided

    async def _monthly(
        self, program_id: str, policy: engagement_pb2.NotificationPolicy, as_of: dt.datetime
    ) -> int:
        program = await self.ledger.program(program_id)
        zone = zoneinfo.ZoneInfo(program.time_zone)
        month, start, end = previous_month(as_of, zone)
        async with self.pool.acquire() as connection:
            since = await store.claim_monthly_summary_start(connection, program_id, as_of)
        # A month that ended before summaries were switched on is nobody's summary: not sent, and
        # not recorded as done either (it never becomes due).
        if end <= since:
            return 0
        done = await self.pool.fetchval(
            "SELECT true FROM job_runs WHERE program_id = $1 AND job = $2 AND period = $3",
            program_id,
            MONTHLY_JOB,
            month,
        )
        if done:
            return 0
        decided = 0
        after = ""
        while True:
            members = await store.member_page(
                self.pool, program_id, after=after, limit=MEMBERS_PER_TRANSACTION_MAX
            )
            if not members:
                break
            decided += await self.intend(
                program_id,
                policy,
                await self._summaries(program_id, members, month, start, end, as_of),
            )
            after = members[-1]
        # Marked after every member's intent: a run cut short is run again, and the members
        # decided already are skipped by their cause.
        async with self.pool.acquire() as connection:
            await engagement_store.claim_job_run(connection, program_id, MONTHLY_JOB, month)
        return decided

    async def _summaries(
        self,
        program_id: str,
        members: list[str],
        month: str,
        start: dt.datetime,
        end: dt.datetime,
        as_of: dt.datetime,
    ) -> list[Candidate]:
        # Summarised members are identity's enrolled ones (notification_members): one whose
        # account the ledger has not opened yet reads as the fresh account, so its summary has
        # the balance lines too.
        balances = {
            b.member_id: b for b in await self.ledger.balances(program_id, members, enrolled=True)
        }
        months = await store.month_transactions(
            self.pool,
            program_id,
            members,
            start_micros=_micros(start),
            end_micros=_micros(end),
        )
        candidates = []
        for member in members:
            # The month's purchases and its returns apart: spend and points of the purchases
            # alike (the points were net of the returns, the spend was not), the returns'
            # refunds and the points they took back beside them.
            done = months.get(member, store.MonthTransactions())
            data = {
                "month": month,
                "purchases": str(done.purchases),
                "spend_minor": str(done.spend_minor),
                "purchase_points": str(done.purchase_points),
                "returns": str(done.returns),
                "returned_minor": str(done.returned_minor),
                "returned_points": str(done.returned_points),
            }
            balance = balances.get(member)
            if balance is not None:
                data["available_points"] = str(balance.available_points)
                data["tier_code"] = balance.tier_code
                data["expiring_30_days_points"] = str(balance.expiring_30_days_points)
            candidates.append(
                Candidate(member, MONTHLY_SUMMARY, f"monthly_summary:{month}", as_of, data)
            )
        return candidates


def _template_data(stored: str | dict[str, str]) -> dict[str, str]:
    # jsonb comes back as its text unless the connection has a codec for it.
    return json.loads(stored) if isinstance(stored, str) else dict(stored)


def _micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000
