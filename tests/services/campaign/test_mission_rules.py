"""The pure rules of missions and notification decisions (no I/O): order, windows, completion once;
quiet hours over midnight, local days over a DST change, 'close to the next tier'."""

import datetime as dt
import zoneinfo

from hypothesis import given
from hypothesis import strategies as st

from loyalty.campaign.v1 import engagement_pb2, rules_pb2
from loyalty.common.v1 import common_pb2
from services.campaign.missions import (
    ACTIVE,
    COMPLETED,
    EXPIRED,
    IN_PROGRESS,
    NOT_STARTED,
    Fact,
    Progress,
    advance,
    count,
    required,
    take_back,
)
from services.campaign.notifications import (
    DEFERRED,
    FREQUENCY_CAP,
    NO_CONSENT,
    PUBLISHED,
    Candidate,
    LocalPeriods,
    Reach,
    decide,
    is_close_to_next_tier,
    previous_month,
    quiet_until,
)

ZONE = zoneinfo.ZoneInfo("Europe/Amsterdam")
T0 = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
STORE, WEB = common_pb2.CHANNEL_STORE, common_pb2.CHANNEL_WEBSHOP
REVIEW = common_pb2.ACTIVITY_KIND_REVIEW


def mission(*, ordered: bool, window_days: int = 0, count: int = 1) -> engagement_pb2.Mission:
    return engagement_pb2.Mission(
        mission_id="m",
        status=ACTIVE,
        ordered=ordered,
        window_days=window_days,
        steps=[
            engagement_pb2.MissionStep(
                step_code="buy",
                count=count,
                purchase=engagement_pb2.PurchaseRequirement(channels=[STORE]),
            ),
            engagement_pb2.MissionStep(step_code="review", activity_kind=REVIEW),
        ],
    )


def buy(at: dt.datetime) -> Fact:
    return Fact("ann", at, STORE, amount_minor=1_000)


def review(at: dt.datetime) -> Fact:
    return Fact("ann", at, WEB, activity_kind=REVIEW)


def test_an_ordered_mission_ignores_a_later_step_first():
    rules = mission(ordered=True)
    progress = Progress.fresh(2)
    assert not advance(rules, progress, review(T0), zone=ZONE)
    assert not progress.changed and progress.counts == [0, 0]
    assert not advance(rules, progress, buy(T0), zone=ZONE)
    assert advance(rules, progress, review(T0 + dt.timedelta(hours=1)), zone=ZONE)
    assert progress.state == COMPLETED


def test_an_unordered_mission_takes_steps_in_any_order():
    rules = mission(ordered=False)
    progress = Progress.fresh(2)
    assert not advance(rules, progress, review(T0), zone=ZONE)
    assert advance(rules, progress, buy(T0 + dt.timedelta(hours=1)), zone=ZONE)


def test_taking_back_the_completing_fact_reopens_the_mission():
    rules = mission(ordered=False)
    progress = Progress.fresh(2)
    advance(rules, progress, review(T0), zone=ZONE)
    step = count(rules, progress, buy(T0 + dt.timedelta(hours=1)), zone=ZONE)
    assert step == 0 and progress.state == COMPLETED
    assert take_back(rules, progress, attempt=1, step=step)
    assert (progress.state, progress.completed_at) == (IN_PROGRESS, None)
    assert progress.counts == [0, 1] and progress.steps_completed_at == [None, T0]
    # Taken back again (a batch finished twice): the count is not there any more.
    assert not take_back(rules, progress, attempt=1, step=step)
    assert progress.counts == [0, 1]


def test_taking_back_a_fact_of_an_attempt_restarted_since_changes_nothing():
    rules = mission(ordered=True, window_days=14)
    progress = Progress.fresh(2)
    count(rules, progress, buy(T0), zone=ZONE)
    count(rules, progress, buy(T0 + dt.timedelta(days=16)), zone=ZONE)
    assert progress.attempt == 2
    assert not take_back(rules, progress, attempt=1, step=0)
    assert progress.counts == [1, 0] and progress.started_at == T0 + dt.timedelta(days=16)
    # Taking back the restarting fact leaves the attempt not started: the next fact opens it.
    assert not take_back(rules, progress, attempt=2, step=0)
    assert (progress.state, progress.started_at, progress.deadline_at) == (NOT_STARTED, None, None)


def test_a_fact_after_the_deadline_starts_a_new_attempt():
    rules = mission(ordered=True, window_days=14)
    progress = Progress.fresh(2)
    advance(rules, progress, buy(T0), zone=ZONE)
    assert progress.deadline_at == T0 + dt.timedelta(days=14)
    assert progress.state_at(T0 + dt.timedelta(days=14)) == EXPIRED
    # A review after the deadline cannot start an attempt (the purchase comes first): no change.
    assert not advance(rules, progress, review(T0 + dt.timedelta(days=15)), zone=ZONE)
    assert progress.attempt == 1 and progress.counts == [1, 0]
    # A purchase does, and the window starts again.
    advance(rules, progress, buy(T0 + dt.timedelta(days=16)), zone=ZONE)
    assert progress.attempt == 2 and progress.counts == [1, 0]
    assert progress.started_at == T0 + dt.timedelta(days=16)
    assert progress.state_at(T0 + dt.timedelta(days=17)) == IN_PROGRESS


FACTS = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=0, max_value=40 * 24)),
    max_size=30,
)


@given(
    facts=FACTS,
    ordered=st.booleans(),
    window_days=st.integers(0, 20),
    count=st.integers(1, 3),
)
def test_completion_comes_once_and_only_with_every_step_done(facts, ordered, window_days, count):
    rules = mission(ordered=ordered, window_days=window_days, count=count)
    progress = Progress.fresh(2)
    completions = 0
    for is_purchase, hours in sorted(facts, key=lambda fact: fact[1]):
        at = T0 + dt.timedelta(hours=hours)
        if advance(rules, progress, buy(at) if is_purchase else review(at), zone=ZONE):
            completions += 1
            assert all(
                done >= required(step)
                for done, step in zip(progress.counts, rules.steps, strict=True)
            )
            if window_days:
                assert progress.completed_at < progress.deadline_at
        assert all(
            done <= required(step) for done, step in zip(progress.counts, rules.steps, strict=True)
        )
    assert completions <= 1
    assert (completions == 1) == (progress.state == COMPLETED)


def test_quiet_hours_wrap_midnight():
    policy = engagement_pb2.NotificationPolicy(
        quiet_hours_start=rules_pb2.LocalTime(hour=22),
        quiet_hours_end=rules_pb2.LocalTime(hour=7, minute=30),
    )
    late = dt.datetime(2025, 6, 2, 23, 15, tzinfo=ZONE)
    early = dt.datetime(2025, 6, 3, 6, 0, tzinfo=ZONE)
    end = dt.datetime(2025, 6, 3, 7, 30, tzinfo=ZONE)
    assert quiet_until(policy, late, ZONE) == end
    assert quiet_until(policy, early, ZONE) == end
    assert quiet_until(policy, dt.datetime(2025, 6, 3, 12, tzinfo=ZONE), ZONE) is None


def test_local_days_follow_the_program_time_zone_over_dst():
    # 30 March 2025: Amsterdam moves to summer time, the local day is 23 hours long. The next
    # midnight is a Monday: the next day and the next week.
    periods = LocalPeriods.of(dt.datetime(2025, 3, 30, 12, tzinfo=dt.UTC), ZONE)
    assert periods.day_end - periods.day_start == dt.timedelta(hours=23)
    assert periods.week_start == dt.datetime(2025, 3, 24, tzinfo=ZONE)
    assert periods.counts([periods.day_start, periods.day_end, periods.week_start]) == (1, 2)


def test_the_month_before_is_the_program_month():
    month, start, end = previous_month(dt.datetime(2025, 6, 1, 0, 30, tzinfo=ZONE), ZONE)
    assert month == "2025-05"
    assert start == dt.datetime(2025, 5, 1, tzinfo=ZONE)
    assert end == dt.datetime(2025, 6, 1, tzinfo=ZONE)


def test_close_to_the_next_tier_is_within_the_distance_of_its_threshold():
    assert is_close_to_next_tier(qualifying=4_500, to_next=500, bps=1_000)
    assert not is_close_to_next_tier(qualifying=4_499, to_next=501, bps=1_000)
    assert not is_close_to_next_tier(qualifying=5_000, to_next=0, bps=1_000)


def test_decisions_in_order_consent_cap_quiet_hours():
    policy = engagement_pb2.NotificationPolicy(
        per_member_day_max=2,
        channel_preferences=[common_pb2.CONSENT_CHANNEL_PUSH, common_pb2.CONSENT_CHANNEL_EMAIL],
    )
    candidate = Candidate("ann", common_pb2.NOTIFICATION_KIND_POINTS_EARNED, "c", T0)
    email = Reach(channels=frozenset({common_pb2.CONSENT_CHANNEL_EMAIL}))
    chosen = decide(policy, candidate, email, sent_today=1, sent_this_week=1, zone=ZONE)
    assert (chosen.status, chosen.channel) == (PUBLISHED, common_pb2.CONSENT_CHANNEL_EMAIL)
    closed = Reach(channels=email.channels, closed=True)
    refused = decide(policy, candidate, closed, sent_today=0, sent_this_week=0, zone=ZONE)
    assert (refused.status, refused.channel) == (NO_CONSENT, common_pb2.CONSENT_CHANNEL_PUSH)
    capped = decide(policy, candidate, email, sent_today=2, sent_this_week=2, zone=ZONE)
    assert capped.status == FREQUENCY_CAP
    policy.quiet_hours_start.hour, policy.quiet_hours_end.hour = 12, 14
    deferred = decide(policy, candidate, email, sent_today=0, sent_this_week=0, zone=ZONE)
    assert deferred.status == DEFERRED
    assert deferred.deliver_after == dt.datetime(2025, 3, 1, 14, tzinfo=ZONE)


@given(facts=FACTS, kept=st.integers(0, 30), ordered=st.booleans(), count_=st.integers(1, 3))
def test_taking_back_the_latest_facts_leaves_what_the_others_counted(facts, kept, ordered, count_):
    """Refused purchases are the latest a member made (a merge closed the member): taking back
    the steps they counted for, in any order, leaves what counting only the others gives."""
    rules = mission(ordered=ordered, count=count_)
    facts = sorted(facts, key=lambda fact: fact[1])
    progress, before = Progress.fresh(2), Progress.fresh(2)
    steps = []
    for position, (is_purchase, hours) in enumerate(facts):
        at = T0 + dt.timedelta(hours=hours)
        fact = buy(at) if is_purchase else review(at)
        if position < kept:
            count(rules, before, fact, zone=ZONE)
        step = count(rules, progress, fact, zone=ZONE)
        if position >= kept and step is not None:
            steps.append((progress.attempt, step))
    for attempt, step in reversed(steps):
        take_back(rules, progress, attempt=attempt, step=step)
    assert progress.counts == before.counts
    assert progress.steps_completed_at == before.steps_completed_at
    assert (progress.state, progress.completed_at) == (before.state, before.completed_at)
    assert progress.started_at == before.started_at
