"""Who a rule may reward: its segments, the experiment arm it belongs to, and the holdout.

- A rule with `segment_ids` rewards only members in one of those segments (current membership).
- A rule named by an experiment arm rewards only members assigned to that arm, and only for
  transactions inside the experiment's period ([start_time, end_time or EndExperiment)); before
  and after, and for every other member (control included), it gives nothing.
- A reward (an offer) named by an arm of an experiment that has not ended is for the members
  assigned to that arm only; before the experiment starts it is for no one, and once it has ended
  the reward's own availability governs (see `withheld_rewards`).
- A member in the program-wide holdout earns nothing from any rule for transactions from the
  holdout's start, and no milestone, referral or mission bonus for purchases from it either
  (see purchases.py); a referral is still recorded and its other side paid; nor points
  for a mission an activity completes or a referral paid at once (activities.py), a sign-up
  bonus (consumers.py), a birthday bonus or a top-of-the-month place (recognition.py):
  `held_out_members`.

Assignment is the stable hash of services/campaign/assignment.py; members outside an
experiment's segment or in the holdout are in no arm.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import numpy as np
import numpy.typing as npt

from loyalty.campaign.v1 import experiments_pb2
from services.campaign import repository_experiments as experiment_store
from services.campaign import repository_segments as segment_store
from services.campaign.assignment import arm_index, bucket, held_out
from services.campaign.experiment_definitions import active_period_micros
from services.shared.errors import InvalidArgument
from services.shared.timestamps import unix_micros

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.signedinteger]  # type: ignore[type-arg]
Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RuleTarget:
    rule_id: str
    segment_ids: tuple[str, ...]


@dataclass(frozen=True)
class ArmOf:
    """The experiment arm a rule belongs to."""

    experiment: experiments_pb2.Experiment
    arm: int
    # The experiment's period [start, stop) in unix microseconds (experiment_definitions).
    start_micros: int
    stop_micros: int | None


@dataclass(frozen=True)
class Holdout:
    bps: int
    salt: str
    # Transactions from this instant on (unix microseconds) are held out.
    start_micros: int

    def members(self, members: Sequence[str]) -> BoolArray:
        return np.fromiter(
            (held_out(self.salt, self.bps, member) for member in members),
            dtype=np.bool_,
            count=len(members),
        )


async def holdout_of(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str
) -> Holdout | None:
    stored = await experiment_store.fetch_holdout(connection, program_id)
    if stored is None or stored.holdout_bps == 0:
        return None
    return Holdout(stored.holdout_bps, stored.salt, unix_micros(stored.start_at))


async def held_out_members(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    members: Sequence[str],
    at: dt.datetime,
) -> set[str]:
    """The members among `members` the holdout keeps out of an incentive for `at` (a bonus
    whose period ends at `at`, or a fact at `at`): none before the holdout's start."""
    holdout = await holdout_of(connection, program_id)
    if holdout is None or unix_micros(at) < holdout.start_micros or not members:
        return set()
    return {m for m, out in zip(members, holdout.members(members), strict=True) if out}


async def check_segments_exist(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    segment_ids: Sequence[str],
    *,
    field: str,
) -> None:
    """INVALID_ARGUMENT on `field`[i] for the first of `segment_ids` the program lacks: a rule
    or mission naming a segment that does not exist would silently reward no one."""
    if not segment_ids:
        return
    known = await segment_store.existing_segments(connection, program_id, segment_ids)
    for index, segment_id in enumerate(segment_ids):
        if segment_id not in known:
            raise InvalidArgument(f"{field}[{index}]", f"segment {segment_id!r} does not exist")


async def exclusions(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    rules: Sequence[RuleTarget],
    members: Sequence[str],
    member_index: IntArray,
    micros: Int64Array,
    *,
    with_holdout: bool = True,
) -> dict[str, BoolArray]:
    """Per rule id, which transactions (members[member_index[i]] at micros[i], unix
    microseconds) it must not reward; rules that may reward all of them are left out. Without
    the holdout (`with_holdout` false), held-out members are still in no experiment arm."""
    holdout = await holdout_of(connection, program_id)
    arms = await _arms_of(connection, program_id, [rule.rule_id for rule in rules])
    segment_ids = {s for rule in rules for s in rule.segment_ids} | {
        arm.experiment.segment_id for arm in arms.values() if arm.experiment.segment_id
    }
    membership = (
        await segment_store.members_in(connection, program_id, sorted(segment_ids), members)
        if segment_ids
        else set()
    )
    held = holdout.members(members) if holdout is not None else np.zeros(len(members), np.bool_)
    held_transactions = (
        held[member_index] & (micros >= holdout.start_micros)
        if holdout is not None and with_holdout
        else np.zeros(len(micros), np.bool_)
    )
    assigned: dict[str, np.ndarray] = {}
    excluded: dict[str, BoolArray] = {}
    for rule in rules:
        mask = held_transactions.copy()
        if rule.segment_ids:
            inside = np.fromiter(
                (any((m, s) in membership for s in rule.segment_ids) for m in members),
                dtype=np.bool_,
                count=len(members),
            )
            mask |= ~inside[member_index]
        arm = arms.get(rule.rule_id)
        if arm is not None:
            experiment = arm.experiment
            if experiment.experiment_id not in assigned:
                assigned[experiment.experiment_id] = _assign(experiment, members, held, membership)
            in_arm = assigned[experiment.experiment_id] == arm.arm
            in_period = micros >= arm.start_micros
            if arm.stop_micros is not None:
                in_period &= micros < arm.stop_micros
            mask |= ~(in_arm[member_index] & in_period)
        if mask.any():
            excluded[rule.rule_id] = mask
    return excluded


async def allowed_rule_ids(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    rules: Sequence[RuleTarget],
    member_id: str,
    at: dt.datetime,
    *,
    with_holdout: bool = True,
) -> set[str]:
    """The rules that may reward this one member at `at` (engagement activities); with
    `with_holdout` false, whatever the holdout (a referral withholds the held-out side's bonus
    itself)."""
    excluded = await exclusions(
        connection,
        program_id,
        rules,
        [member_id],
        np.zeros(1, dtype=np.int32),
        np.array([unix_micros(at)], dtype=np.int64),
        with_holdout=with_holdout,
    )
    return {rule.rule_id for rule in rules if rule.rule_id not in excluded}


async def withheld_rewards(
    connection: asyncpg.Connection | asyncpg.Pool,
    program_id: str,
    member_id: str,
    reward_ids: Sequence[str],
    now: dt.datetime,
) -> set[str]:
    """The rewards among `reward_ids` that experiments keep from this member."""
    wanted = set(reward_ids)
    experiments = [
        stored
        for stored in await experiment_store.unended_experiments(connection, program_id, now)
        if any(wanted.intersection(arm.reward_ids) for arm in stored.experiment.arms)
    ]
    if not experiments:
        return set()
    holdout = await holdout_of(connection, program_id)
    held = holdout.members([member_id]) if holdout is not None else np.zeros(1, np.bool_)
    segment_ids = sorted({s.experiment.segment_id for s in experiments if s.experiment.segment_id})
    membership = (
        await segment_store.members_in(connection, program_id, segment_ids, [member_id])
        if segment_ids
        else set()
    )
    withheld: set[str] = set()
    for stored in experiments:
        experiment = stored.experiment
        named = {r for arm in experiment.arms for r in arm.reward_ids} & wanted
        started = unix_micros(now) >= active_period_micros(experiment, stored.ended_at)[0]
        arm = int(_assign(experiment, [member_id], held, membership)[0]) if started else -1
        withheld |= named - set(experiment.arms[arm].reward_ids) if arm >= 0 else named
    return withheld


def _assign(
    experiment: experiments_pb2.Experiment,
    members: Sequence[str],
    held: BoolArray,
    membership: set[tuple[str, str]],
) -> np.ndarray:
    """Each member's arm index, -1 for members outside the experiment."""
    allocations = [arm.allocation_bps for arm in experiment.arms]
    arms = np.full(len(members), -1, dtype=np.int32)
    for position, member in enumerate(members):
        if held[position]:
            continue
        if experiment.segment_id and (member, experiment.segment_id) not in membership:
            continue
        arms[position] = arm_index(allocations, bucket(experiment.assignment_salt, member))
    return arms


async def _arms_of(
    connection: asyncpg.Connection | asyncpg.Pool, program_id: str, rule_ids: Sequence[str]
) -> dict[str, ArmOf]:
    arms: dict[str, ArmOf] = {}
    for stored in await experiment_store.experiments_of_rules(connection, program_id, rule_ids):
        start_micros, stop_micros = active_period_micros(stored.experiment, stored.ended_at)
        for index, arm in enumerate(stored.experiment.arms):
            for rule_id in arm.rule_ids:
                arms[rule_id] = ArmOf(stored.experiment, index, start_micros, stop_micros)
    return arms
