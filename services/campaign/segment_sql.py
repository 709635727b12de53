"""A segment definition compiled to one set-based SQL query over campaign's tables: pure.

The query returns the `member_id` of every member who matches at `now`. Its population is every
member campaign knows of in the program (enrolled, purchased, engaged, or with a tier or consent
from events), minus erased members. Each condition reads an aggregate computed in one pass per
source table (purchases with their returns from `transactions`, `activities`,
`segment_member_consents`) with FILTER clauses, so a segment of many conditions is still one scan of each table; the
members' own rows are joined by primary key. With `members` given, every scan is restricted to
those members by the primary keys' member prefix: that is the incremental evaluation the refresh
job runs for members whose facts changed.

A return counts with its purchase: it takes the purchase's spend out of the windows the
purchase is in (whenever the return happened), and a purchase returned in full is no purchase
for frequency and recency (`purchase_nets`).

A merged member's purchases and activities count for its survivor (`merged`): the merged
member is left out like an erased one, and its history is the survivor's.

Conditions that hold no value for a member (no purchase, no consent row) are false before
`negate` applies, so a negated condition includes those members.

Windows of days ("purchased in the last 30 days", "enrolled at least 7 days ago") count local
calendar days in the program's time zone, from the same local time that many days before `now`:
across a change of the clocks that is an hour more or less than N x 24 hours.

A tier condition follows the ledger's renames (`tier_mappings`, removed code -> the tier its
members went to): a condition naming 'silver' after silver -> plus compares with both codes. The
codes are followed here, once per query, so evaluation costs what it did; the stored definition
is left as the operator wrote it.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from loyalty.campaign.v1 import segments_pb2
from loyalty.campaign.v1.engagement_pb2 import ACTIVITY_OUTCOME_REJECTED
from services.campaign.tier_codes import followed_tier_codes
from services.shared.local_days import local_days_later
from services.shared.timestamps import unix_micros

PURCHASE_KIND = 1
RETURN_KIND = 2


@dataclass
class Params:
    """Positional query arguments; `add` returns the placeholder of a new one."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{'::' + cast if cast else ''}"


@dataclass
class _Aggregates:
    purchases: list[str] = field(default_factory=list)
    activities: list[str] = field(default_factory=list)
    consents: list[str] = field(default_factory=list)
    needs_last_purchase: bool = False
    purchase_window_start: int | None = None


def membership_query(
    segment: segments_pb2.Segment,
    params: Params,
    *,
    program: str,
    entry_tier: str,
    now: dt.datetime,
    time_zone: str,
    members: str | None = None,
    tier_mappings: Mapping[str, str] | None = None,
) -> str:
    """SELECT member_id of the matching members. `program` and `members` are placeholders
    already in `params` (members: a text[] restricting the evaluation, None for all);
    `time_zone` is the program's, in which windows of days are counted; `tier_mappings` are
    the ledger's renames tier conditions follow (None: none announced)."""
    aggregates = _Aggregates()
    predicates = []
    for index, condition in enumerate(segment.conditions):
        predicate = _predicate(
            condition,
            index,
            params,
            aggregates,
            entry_tier=entry_tier,
            days_ago=_DaysAgo(now, ZoneInfo(time_zone)),
            tier_mappings=tier_mappings or {},
        )
        predicate = f"coalesce(({predicate}), false)"
        predicates.append(f"NOT {predicate}" if condition.negate else predicate)
    joiner = " OR " if segment.join == segments_pb2.CONDITION_JOIN_ANY else " AND "
    scope = _scope(members)
    ctes = [population_sql(program, members)]
    joins = [
        f"LEFT JOIN members m ON m.program_id = {program} AND m.member_id = p.member_id",
        f"LEFT JOIN segment_member_facts f ON f.program_id = {program} AND f.member_id = p.member_id",
    ]
    if aggregates.purchases or aggregates.activities:
        ctes.append(_merged_sql(program, members))
    if aggregates.purchases:
        window = ""
        if not aggregates.needs_last_purchase and aggregates.purchase_window_start is not None:
            window = (
                f" AND occurred_micros >= {params.add(aggregates.purchase_window_start, 'bigint')}"
            )
        ctes.append(purchase_nets_sql(program, members))
        ctes.append(
            f"purchases AS ("
            f"{_of_survivors('purchase_nets', aggregates.purchases, program, members)}"
            f"{window} GROUP BY 1)"
        )
        joins.append("LEFT JOIN purchases t ON t.member_id = p.member_id")
    if aggregates.activities:
        ctes.append(
            f"engagement AS ({_of_survivors('activities', aggregates.activities, program, members)} "
            f"AND outcome <> {ACTIVITY_OUTCOME_REJECTED} GROUP BY 1)"
        )
        joins.append("LEFT JOIN engagement e ON e.member_id = p.member_id")
    if aggregates.consents:
        ctes.append(
            f"consents AS (SELECT member_id, {', '.join(aggregates.consents)} "
            f"FROM segment_member_consents WHERE program_id = {program}{scope} GROUP BY member_id)"
        )
        joins.append("LEFT JOIN consents c ON c.member_id = p.member_id")
    return (
        f"WITH {', '.join(ctes)} SELECT p.member_id FROM population p {' '.join(joins)} "
        f"WHERE NOT coalesce(f.erased, false) AND ({joiner.join(predicates)})"
    )


def _merged_sql(program: str, members: str | None) -> str:
    """The CTE `merged`: members merged into another (members.merged_into, the final survivor),
    or only those merged into `members`, through the index of a program's few merged members."""
    survivors = f" AND merged_into = ANY({members})" if members else ""
    return (
        "merged AS (SELECT member_id, merged_into FROM members "
        f"WHERE program_id = {program} AND merged_into IS NOT NULL{survivors})"
    )


def purchase_nets_sql(program: str, members: str | None) -> str:
    """The CTE `purchase_nets`: each purchase with its returns, at the purchase's time. A return
    belongs with its purchase (stored under the purchase's member, naming it by
    original_transaction_id, with a negative amount): it takes the purchase's spend out of the
    windows the purchase is in, not out of those it happened in, so no window's spend goes
    below zero; and a purchase returned in full does not stand (`stands`) as a purchase for
    frequency and recency, nor for a report's participation (repository_experiments.arm_sums).
    Its points are the purchase's less those its returns took back. Restricted to `members` (and
    those merged into them, read from the CTE `merged`)."""
    scope = (
        f" AND (member_id = ANY({members}) OR member_id IN (SELECT member_id FROM merged))"
        if members
        else ""
    )
    return (
        "purchase_nets AS (SELECT x.program_id, x.member_id, x.occurred_micros, "
        "x.amount_minor + coalesce(r.returned_minor, 0) AS amount_minor, "
        "x.points + coalesce(r.returned_points, 0) AS points, "
        "(r.returned_minor IS NULL OR x.amount_minor + r.returned_minor > 0) AS stands "
        "FROM (SELECT program_id, member_id, transaction_id, amount_minor, points, occurred_micros "
        f"FROM transactions WHERE program_id = {program} AND kind = {PURCHASE_KIND}{scope}) x "
        "LEFT JOIN (SELECT member_id, original_transaction_id, sum(amount_minor) AS returned_minor, "
        f"sum(points) AS returned_points FROM transactions WHERE program_id = {program} AND kind = {RETURN_KIND}{scope} "
        "GROUP BY 1, 2) r "
        "ON r.member_id = x.member_id AND r.original_transaction_id = x.transaction_id)"
    )


def _of_survivors(table: str, columns: list[str], program: str, members: str | None) -> str:
    """SELECT the survivor's member_id and `columns` FROM `table`, whose rows of a merged member
    count for its survivor: one person's history, whichever identifier it was recorded under
    (the merged member itself is in no segment). Restricted to `members`, the rows of those
    merged into them are read too. The caller adds conditions and GROUP BY 1."""
    scope = (
        f" AND (x.member_id = ANY({members}) OR x.member_id IN (SELECT member_id FROM merged))"
        if members
        else ""
    )
    return (
        f"SELECT coalesce(g.merged_into, x.member_id) AS member_id, {', '.join(columns)} "
        f"FROM {table} x LEFT JOIN merged g ON g.member_id = x.member_id "
        f"WHERE x.program_id = {program}{scope}"
    )


def _scope(members: str | None) -> str:
    return f" AND member_id = ANY({members})" if members else ""


def population_sql(program: str, members: str | None) -> str:
    """The CTE `population`: every member campaign knows of in the program (or of `members`);
    erased members are in it and are left out by the caller through segment_member_facts."""
    scope = _scope(members)
    return (
        "population AS ("
        f"SELECT member_id FROM members WHERE program_id = {program}{scope} "
        f"UNION SELECT member_id FROM segment_member_facts WHERE program_id = {program}{scope} "
        f"UNION SELECT member_id FROM transactions WHERE program_id = {program}{scope} "
        f"UNION SELECT member_id FROM activities WHERE program_id = {program}{scope})"
    )


@dataclass(frozen=True)
class _DaysAgo:
    """The instants `days` local days before `now` in the program's time zone."""

    now: dt.datetime
    zone: ZoneInfo

    def instant(self, days: int) -> dt.datetime:
        return local_days_later(self.now, -days, self.zone)

    def micros(self, days: int) -> int:
        return unix_micros(self.instant(days))


def _predicate(
    condition: segments_pb2.SegmentCondition,
    index: int,
    params: Params,
    aggregates: _Aggregates,
    *,
    entry_tier: str,
    days_ago: _DaysAgo,
    tier_mappings: Mapping[str, str],
) -> str:
    kind = condition.WhichOneof("condition")
    if kind == "tier":
        codes = followed_tier_codes(condition.tier.tier_codes, tier_mappings)
        return (
            f"coalesce(nullif(m.tier_code, ''), {params.add(entry_tier, 'text')}) "
            f"= ANY({params.add(codes, 'text[]')})"
        )
    if kind == "recency":
        recency = condition.recency
        aggregates.needs_last_purchase = True
        if "last_purchase" not in " ".join(aggregates.purchases):
            aggregates.purchases.append(
                "max(occurred_micros) FILTER (WHERE stands) AS last_purchase"
            )
        parts = ["t.last_purchase IS NOT NULL"]
        if recency.days_since_purchase_min:
            bound = days_ago.micros(recency.days_since_purchase_min)
            parts.append(f"t.last_purchase <= {params.add(bound, 'bigint')}")
        if recency.days_since_purchase_max:
            bound = days_ago.micros(recency.days_since_purchase_max)
            parts.append(f"t.last_purchase >= {params.add(bound, 'bigint')}")
        return " AND ".join(parts)
    if kind == "frequency":
        frequency = condition.frequency
        start = _window_start(aggregates, days_ago.micros(frequency.window_days))
        aggregates.purchases.append(
            f"count(*) FILTER (WHERE stands AND occurred_micros >= "
            f"{params.add(start, 'bigint')}) AS c{index}"
        )
        return _between(
            f"coalesce(t.c{index}, 0)", frequency.purchases_min, frequency.purchases_max, params
        )
    if kind == "monetary":
        monetary = condition.monetary
        start = _window_start(aggregates, days_ago.micros(monetary.window_days))
        # Net spend: each purchase's amount less its returns' (purchase_nets).
        aggregates.purchases.append(
            f"sum(amount_minor) FILTER (WHERE occurred_micros >= {params.add(start, 'bigint')}) AS c{index}"
        )
        low = monetary.spend_min.amount_minor if monetary.HasField("spend_min") else None
        high = monetary.spend_max.amount_minor if monetary.HasField("spend_max") else None
        parts = []
        if low is not None:
            parts.append(f"coalesce(t.c{index}, 0) >= {params.add(low, 'bigint')}")
        if high is not None:
            parts.append(f"coalesce(t.c{index}, 0) <= {params.add(high, 'bigint')}")
        return " AND ".join(parts)
    if kind == "engagement":
        engagement = condition.engagement
        since = days_ago.instant(engagement.window_days)
        kind_filter = (
            f" AND kind = {params.add(engagement.activity_kind, 'smallint')}"
            if engagement.activity_kind
            else ""
        )
        aggregates.activities.append(
            f"count(*) FILTER (WHERE occurred_at >= {params.add(since, 'timestamptz')}{kind_filter}) "
            f"AS c{index}"
        )
        fewest = max(engagement.activities_min, 1)
        return f"coalesce(e.c{index}, 0) >= {params.add(fewest, 'bigint')}"
    if kind == "consent":
        consent = condition.consent
        aggregates.consents.append(
            f"bool_or(granted) FILTER (WHERE channel = {params.add(consent.channel, 'smallint')}) "
            f"AS c{index}"
        )
        granted = f"coalesce(c.c{index}, false)"
        return granted if consent.granted else f"NOT {granted}"
    if kind == "enrollment":
        enrollment = condition.enrollment
        parts = []
        if enrollment.channels:
            parts.append(
                f"f.enrolled_channel = ANY({params.add(list(enrollment.channels), 'smallint[]')})"
            )
        if enrollment.enrolled_days_min:
            latest = days_ago.instant(enrollment.enrolled_days_min)
            parts.append(f"m.enrolled_at <= {params.add(latest, 'timestamptz')}")
        if enrollment.enrolled_days_max:
            earliest = days_ago.instant(enrollment.enrolled_days_max)
            parts.append(f"m.enrolled_at >= {params.add(earliest, 'timestamptz')}")
        return " AND ".join(parts)
    raise AssertionError(f"conditions are checked before they are compiled: {kind}")


def _window_start(aggregates: _Aggregates, start: int) -> int:
    if aggregates.purchase_window_start is None or start < aggregates.purchase_window_start:
        aggregates.purchase_window_start = start
    return start


def _between(expression: str, low: int, high: int, params: Params) -> str:
    parts = []
    if low:
        parts.append(f"{expression} >= {params.add(low, 'bigint')}")
    if high:
        parts.append(f"{expression} <= {params.add(high, 'bigint')}")
    return " AND ".join(parts) if parts else "true"
