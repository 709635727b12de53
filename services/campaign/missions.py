"""Missions: their checks and how one fact (a purchase or an activity) moves a member on (no I/O).

The rules, as members see them:

- A mission is live from its start time (if any) to its end time (if any) while it is active;
  facts outside that, while it is a draft (until ActivateMission) or after it is archived, do
  not count.
- A mission naming segments counts only the facts of members who are in one of them when the
  fact is counted (membership as the segment refresh last computed it): a member who joins later
  goes on from there, one who leaves keeps the progress made but makes no more.
- A fact advances at most one step: in an ordered mission only the first unfinished step, in an
  unordered one the first unfinished step it meets (in the mission's order).
- The window (`window_days`) starts with the first fact that counts and ends at the same local
  time `window_days` calendar days later in the program's time zone (opened at 10:15 on day D,
  14 days end at 10:15 on day D + 14, however the clocks change in between). A fact that comes
  after the deadline of an unfinished attempt restarts the mission: the old attempt's progress is
  dropped and that fact counts for a new attempt (GetMissionProgress shows EXPIRED until then). A
  mission without a window never expires.
- When every step is done the mission is completed, once per member: its points and badge are
  given then, and later facts change nothing. Once per person too: a mission a member merged
  into this one completed is done for it (shown, and not counted or paid again).
- A purchase the ledger refuses (its member closed by a merge campaign had not recorded yet)
  counts for nothing: the step it counted for is taken back, and a completion that leaves short
  of the goal is re-opened, its badge withdrawn and its points never posted (withdrawal.py).
  If it opened the window, the window starts again with the first fact the attempt still counts
  (no earlier than it started), or, when it counts none, with the next fact that counts.

Facts count in the order campaign records them; the window is measured in the facts' own times.
"""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from loyalty.campaign.v1 import engagement_pb2
from loyalty.common.v1 import common_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.local_days import local_days_later

NOT_STARTED = engagement_pb2.MISSION_PROGRESS_STATE_NOT_STARTED
IN_PROGRESS = engagement_pb2.MISSION_PROGRESS_STATE_IN_PROGRESS
COMPLETED = engagement_pb2.MISSION_PROGRESS_STATE_COMPLETED
EXPIRED = engagement_pb2.MISSION_PROGRESS_STATE_EXPIRED
DRAFT = engagement_pb2.MISSION_STATUS_DRAFT
ACTIVE = engagement_pb2.MISSION_STATUS_ACTIVE
ARCHIVED = engagement_pb2.MISSION_STATUS_ARCHIVED

STEPS_MAX = 20
STEP_COUNT_MAX = 1_000
WINDOW_DAYS_MAX = 3_650
# As many as a rule may name (rules.SEGMENTS_PER_RULE_MAX).
SEGMENTS_PER_MISSION_MAX = 16
REWARD_POINTS_MAX = 1_000_000_000
NAME_LENGTH_MAX = 200
CATEGORY_LENGTH_MAX = 128
ACTIVITY_KINDS = frozenset(common_pb2.ActivityKind.values()) - {0}
CHANNELS = frozenset(common_pb2.Channel.values()) - {0}


@dataclass(frozen=True)
class Fact:
    """A purchase (activity_kind 0) or an activity of a member, as missions see it."""

    member_id: str
    at: dt.datetime
    channel: int
    activity_kind: int = 0
    amount_minor: int = 0
    currency: str = ""
    categories: frozenset[str] = frozenset()

    @property
    def is_purchase(self) -> bool:
        return self.activity_kind == 0


@dataclass
class Progress:
    """A member's attempt at a mission; the step lists are parallel to the mission's steps."""

    attempt: int
    state: int
    counts: list[int]
    steps_completed_at: list[dt.datetime | None]
    started_at: dt.datetime | None = None
    deadline_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    # The points the attempt's completion gave and announced (none for a held-out member); None
    # for one recorded before campaign migration 027, announced with the mission's reward.
    completed_points: int | None = None
    changed: bool = field(default=False, compare=False)

    @classmethod
    def fresh(cls, steps: int, attempt: int = 1) -> "Progress":
        return cls(attempt, NOT_STARTED, [0] * steps, [None] * steps)

    def state_at(self, now: dt.datetime) -> int:
        """The state a member sees now: an unfinished attempt past its deadline has expired."""
        if self.state == IN_PROGRESS and self.deadline_at is not None and now >= self.deadline_at:
            return EXPIRED
        return self.state


def required(step: engagement_pb2.MissionStep) -> int:
    return max(step.count, 1)


def live(mission: engagement_pb2.Mission, at: dt.datetime) -> bool:
    if mission.status != ACTIVE:
        return False
    if mission.HasField("start_time") and at < mission.start_time.ToDatetime(tzinfo=dt.UTC):
        return False
    return not (mission.HasField("end_time") and at >= mission.end_time.ToDatetime(tzinfo=dt.UTC))


def step_matches(step: engagement_pb2.MissionStep, fact: Fact) -> bool:
    if step.WhichOneof("requirement") == "activity_kind":
        return not fact.is_purchase and fact.activity_kind == step.activity_kind
    if not fact.is_purchase:
        return False
    purchase = step.purchase
    if purchase.channels and fact.channel not in purchase.channels:
        return False
    if purchase.category and purchase.category not in fact.categories:
        return False
    return fact.amount_minor >= purchase.minimum_spend.amount_minor


def concerns(mission: engagement_pb2.Mission, fact: Fact) -> bool:
    """Whether the fact could count for some step of the mission (a cheap filter)."""
    return live(mission, fact.at) and any(step_matches(step, fact) for step in mission.steps)


def _step_for(mission: engagement_pb2.Mission, progress: Progress, fact: Fact) -> int | None:
    for index, step in enumerate(mission.steps):
        if progress.counts[index] >= required(step):
            continue
        if step_matches(step, fact):
            return index
        if mission.ordered:
            return None
    return None


def advance(
    mission: engagement_pb2.Mission, progress: Progress, fact: Fact, *, zone: ZoneInfo
) -> bool:
    """Count the fact in the member's progress; True when it completes the mission."""
    return count(mission, progress, fact, zone=zone) is not None and progress.state == COMPLETED


def deadline(mission: engagement_pb2.Mission, start: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """The end of a window started at `start`: `window_days` local days later in the program's
    time zone `zone` (the caller checks the mission has a window)."""
    return local_days_later(start, mission.window_days, zone)


def count(
    mission: engagement_pb2.Mission, progress: Progress, fact: Fact, *, zone: ZoneInfo
) -> int | None:
    """Count the fact in the member's progress; the index of the step it counted for (in the
    attempt progress.attempt then names), None if it counted for none. `zone` is the program's
    time zone, in which the window's days are counted."""
    if progress.state == COMPLETED or not live(mission, fact.at):
        return None
    attempt = progress
    if progress.state_at(fact.at) == EXPIRED:
        attempt = Progress.fresh(len(mission.steps), progress.attempt + 1)
    index = _step_for(mission, attempt, fact)
    if index is None:
        return None
    if attempt is not progress:
        _replace(progress, attempt)
    progress.changed = True
    progress.counts[index] += 1
    if progress.counts[index] >= required(mission.steps[index]):
        progress.steps_completed_at[index] = fact.at
    if progress.started_at is None:
        progress.started_at = fact.at
        if mission.window_days:
            progress.deadline_at = deadline(mission, fact.at, zone)
    progress.state = IN_PROGRESS
    if all(at is not None for at in progress.steps_completed_at):
        progress.state, progress.completed_at = COMPLETED, fact.at
    return index


def take_back(
    mission: engagement_pb2.Mission, progress: Progress, *, attempt: int, step: int
) -> bool:
    """Undo a fact that counted for `step` in `attempt` (a purchase the ledger refused); True when
    that leaves a completed mission short of its goal again, which re-opens it.

    A fact only ever counts for an unfinished step, so the step is unfinished again after. An
    attempt a later fact restarted has dropped the fact's count already: nothing is left to undo.
    An attempt left with no count is not started, so the next fact opens a new window; one with
    counts left has its window measured again from the first fact it still counts, which the
    caller reads from the facts recorded (`window_from`)."""
    if progress.attempt != attempt or step >= len(progress.counts) or not progress.counts[step]:
        return False
    progress.changed = True
    progress.counts[step] -= 1
    if progress.counts[step] < required(mission.steps[step]):
        progress.steps_completed_at[step] = None
    reopened = progress.state == COMPLETED and any(at is None for at in progress.steps_completed_at)
    if reopened:
        progress.state, progress.completed_at = IN_PROGRESS, None
    if not any(progress.counts):
        progress.state, progress.started_at, progress.deadline_at = NOT_STARTED, None, None
    return reopened


def window_from(
    mission: engagement_pb2.Mission, progress: Progress, first_at: dt.datetime, *, zone: ZoneInfo
) -> None:
    """Measure the attempt's window again from `first_at`, the first fact it still counts, once
    a fact that counted in it was taken back: a refused purchase that opened the window must not
    leave the member the shorter window it gave. The start never moves earlier than it was (a
    fact recorded late but dated before the start counted within the window as it stood), so
    every fact still counted stays inside the window."""
    if progress.started_at is None or first_at <= progress.started_at or not any(progress.counts):
        return
    progress.changed = True
    progress.started_at = first_at
    if mission.window_days:
        progress.deadline_at = deadline(mission, first_at, zone)


def _replace(progress: Progress, attempt: Progress) -> None:
    progress.attempt, progress.state = attempt.attempt, attempt.state
    progress.counts, progress.steps_completed_at = attempt.counts, attempt.steps_completed_at
    progress.started_at = progress.deadline_at = progress.completed_at = None


def check_mission(mission: engagement_pb2.Mission, *, program_id: str, currency: str) -> None:
    """INVALID_ARGUMENT naming the field of the first problem of a mission to create."""
    if mission.mission_id:
        validation.code(mission.mission_id, "mission.mission_id")
    if mission.program_id and mission.program_id != program_id:
        raise InvalidArgument("mission.program_id", "must be empty or the request's program_id")
    validation.text(mission.name, "mission.name", length_max=NAME_LENGTH_MAX)
    validation.text(mission.description, "mission.description", required=False)
    if mission.status not in (engagement_pb2.MISSION_STATUS_UNSPECIFIED, DRAFT, ACTIVE):
        raise InvalidArgument(
            "mission.status", "a mission is created DRAFT or ACTIVE (unspecified means ACTIVE)"
        )
    if not mission.steps:
        raise InvalidArgument("mission.steps", "at least one step is required")
    if len(mission.steps) > STEPS_MAX:
        raise InvalidArgument("mission.steps", f"at most {STEPS_MAX} steps")
    codes: set[str] = set()
    for index, step in enumerate(mission.steps):
        _check_step(step, f"mission.steps[{index}]", currency=currency)
        if step.step_code in codes:
            raise InvalidArgument(f"mission.steps[{index}].step_code", "must be unique")
        codes.add(step.step_code)
    validation.in_range(mission.window_days, "mission.window_days", low=0, high=WINDOW_DAYS_MAX)
    validation.in_range(
        mission.reward_points, "mission.reward_points", low=0, high=REWARD_POINTS_MAX
    )
    if mission.badge_code:
        validation.code(mission.badge_code, "mission.badge_code")
        validation.text(
            mission.badge_name, "mission.badge_name", required=False, length_max=NAME_LENGTH_MAX
        )
    elif mission.badge_name:
        raise InvalidArgument("mission.badge_name", "needs a badge_code")
    if not mission.reward_points and not mission.badge_code:
        raise InvalidArgument(
            "mission.reward_points", "the mission gives neither points nor a badge"
        )
    if (
        mission.HasField("start_time")
        and mission.HasField("end_time")
        and mission.end_time.ToMicroseconds() <= mission.start_time.ToMicroseconds()
    ):
        raise InvalidArgument("mission.end_time", "must be after start_time")
    if len(mission.segment_ids) > SEGMENTS_PER_MISSION_MAX:
        raise InvalidArgument("mission.segment_ids", f"at most {SEGMENTS_PER_MISSION_MAX} segments")
    for index, segment_id in enumerate(mission.segment_ids):
        validation.code(segment_id, f"mission.segment_ids[{index}]")


def _check_step(step: engagement_pb2.MissionStep, field: str, *, currency: str) -> None:
    validation.code(step.step_code, f"{field}.step_code")
    validation.text(step.description, f"{field}.description", required=False)
    validation.in_range(step.count, f"{field}.count", low=0, high=STEP_COUNT_MAX)
    requirement = step.WhichOneof("requirement")
    if requirement is None:
        raise InvalidArgument(f"{field}.requirement", "set purchase or activity_kind")
    if requirement == "activity_kind":
        if step.activity_kind not in ACTIVITY_KINDS:
            raise InvalidArgument(f"{field}.activity_kind", "is not a known activity kind")
        return
    purchase = step.purchase
    for index, channel in enumerate(purchase.channels):
        if channel not in CHANNELS:
            raise InvalidArgument(f"{field}.purchase.channels[{index}]", "is not a known channel")
    validation.text(
        purchase.category,
        f"{field}.purchase.category",
        required=False,
        length_max=CATEGORY_LENGTH_MAX,
    )
    if purchase.HasField("minimum_spend"):
        spend = purchase.minimum_spend
        if spend.currency != currency:
            raise InvalidArgument(
                f"{field}.purchase.minimum_spend.currency", f"must be the program's ({currency})"
            )
        if spend.amount_minor < 0:
            raise InvalidArgument(
                f"{field}.purchase.minimum_spend.amount_minor", "must not be negative"
            )


def survivor_progress(own: Progress | None, merged: list[Progress]) -> Progress | None:
    """The progress a member shows, given its own and that of the members merged into it.

    A mission is completed once per person, whichever identifier completed it: a completion of
    any of them shows, the earliest (the survivor's own on a tie). Failing
    that the survivor's own attempt shows, even if a merged member's went further: only the
    survivor's attempt counts the facts to come, so showing the other would promise steps the
    next fact does not finish."""
    completions = [p for p in (own, *merged) if p is not None and p.state == COMPLETED]
    if completions:
        return min(
            completions, key=lambda p: p.completed_at or dt.datetime.max.replace(tzinfo=dt.UTC)
        )
    return own


def progress_message(
    mission: engagement_pb2.Mission,
    member_id: str,
    progress: Progress | None,
    now: dt.datetime,
) -> engagement_pb2.MissionProgress:
    # An expired attempt's steps are shown as they were: the member sees what was missing.
    shown = progress or Progress.fresh(len(mission.steps))
    message = engagement_pb2.MissionProgress(
        mission_id=mission.mission_id,
        member_id=member_id,
        state=shown.state_at(now),
        mission=mission,
    )
    for index, step in enumerate(mission.steps):
        step_progress = message.steps.add(
            step_code=step.step_code,
            done_count=min(shown.counts[index], required(step)),
            required_count=required(step),
        )
        completed = shown.steps_completed_at[index]
        if completed is not None:
            step_progress.completed_at.FromDatetime(completed)
    for name in ("started_at", "deadline_at", "completed_at"):
        value = getattr(shown, name)
        if value is not None:
            getattr(message, name).FromDatetime(value)
    return message
