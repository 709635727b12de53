"""Checks of experiments and of the holdout as they come in, and an experiment's status: pure."""

import datetime as dt

from loyalty.campaign.v1 import experiments_pb2
from services.campaign.assignment import BUCKETS
from services.campaign.instants import bound_micros
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.timestamps import unix_micros

ARMS_MAX = 10
RULES_PER_ARM_MAX = 16
SALT_LENGTH_MAX = 128
DRAFT = experiments_pb2.EXPERIMENT_STATUS_DRAFT
RUNNING = experiments_pb2.EXPERIMENT_STATUS_RUNNING
ENDED = experiments_pb2.EXPERIMENT_STATUS_ENDED


def check_experiment(experiment: experiments_pb2.Experiment, field: str = "experiment") -> None:
    if experiment.experiment_id:
        validation.code(experiment.experiment_id, f"{field}.experiment_id")
    validation.text(experiment.name, f"{field}.name", length_max=200)
    validation.text(experiment.description, f"{field}.description", required=False)
    if experiment.segment_id:
        validation.code(experiment.segment_id, f"{field}.segment_id")
    validation.text(
        experiment.assignment_salt,
        f"{field}.assignment_salt",
        required=False,
        length_max=SALT_LENGTH_MAX,
    )
    if experiment.status not in (0, DRAFT, RUNNING):
        raise InvalidArgument(f"{field}.status", "is set by the server; leave it unspecified")
    if experiment.HasField("start_time"):
        validation.stored_instant(
            experiment.start_time, f"{field}.start_time", unset="starts when it is started"
        )
    if experiment.HasField("end_time"):
        validation.stored_instant(
            experiment.end_time, f"{field}.end_time", unset="runs until it is ended"
        )
    if (
        experiment.HasField("start_time")
        and experiment.HasField("end_time")
        and experiment.end_time.ToMicroseconds() <= experiment.start_time.ToMicroseconds()
    ):
        raise InvalidArgument(f"{field}.end_time", "must be after start_time")
    _check_arms(experiment.arms, f"{field}.arms")


def _check_arms(arms: "list[experiments_pb2.ExperimentArm]", field: str) -> None:
    if not 2 <= len(arms) <= ARMS_MAX:
        raise InvalidArgument(field, f"an experiment has 2 to {ARMS_MAX} arms")
    codes: set[str] = set()
    rules: set[str] = set()
    for index, arm in enumerate(arms):
        where = f"{field}[{index}]"
        validation.code(arm.arm_code, f"{where}.arm_code")
        if arm.arm_code in codes:
            raise InvalidArgument(f"{where}.arm_code", f"{arm.arm_code!r} names two arms")
        codes.add(arm.arm_code)
        validation.text(arm.name, f"{where}.name", required=False, length_max=200)
        validation.in_range(arm.allocation_bps, f"{where}.allocation_bps", low=1, high=BUCKETS - 1)
        if arm.control and (arm.rule_ids or arm.reward_ids):
            raise InvalidArgument(
                f"{where}.rule_ids", "the control arm gets no incentive: name no rules or rewards"
            )
        if len(arm.rule_ids) > RULES_PER_ARM_MAX:
            raise InvalidArgument(f"{where}.rule_ids", f"at most {RULES_PER_ARM_MAX} rules")
        for position, rule_id in enumerate(arm.rule_ids):
            validation.code(rule_id, f"{where}.rule_ids[{position}]")
            if rule_id in rules:
                raise InvalidArgument(
                    f"{where}.rule_ids[{position}]", f"rule {rule_id!r} is in two arms"
                )
            rules.add(rule_id)
        for position, reward_id in enumerate(arm.reward_ids):
            validation.text(reward_id, f"{where}.reward_ids[{position}]", length_max=64)
    total = sum(arm.allocation_bps for arm in arms)
    if total != BUCKETS:
        raise InvalidArgument(
            f"{field}.allocation_bps", f"the arms' allocations sum to {total}, not {BUCKETS}"
        )
    controls = sum(1 for arm in arms if arm.control)
    if controls != 1:
        raise InvalidArgument(f"{field}.control", f"exactly one arm is control, not {controls}")


def check_holdout(config: experiments_pb2.HoldoutConfig, field: str = "config") -> None:
    validation.in_range(config.holdout_bps, f"{field}.holdout_bps", low=0, high=BUCKETS - 1)
    validation.text(
        config.assignment_salt,
        f"{field}.assignment_salt",
        required=False,
        length_max=SALT_LENGTH_MAX,
    )
    if config.HasField("start_time"):
        validation.stored_instant(
            config.start_time, f"{field}.start_time", unset="from now, or as configured before"
        )


def status_at(
    experiment: experiments_pb2.Experiment, ended_at: dt.datetime | None, now: dt.datetime
) -> int:
    if ended_at is not None:
        return ENDED
    start_micros, stop_micros = active_period_micros(experiment, None)
    moment = unix_micros(now)
    if stop_micros is not None and stop_micros <= moment:
        return ENDED
    if start_micros > moment:
        return DRAFT
    return RUNNING


def active_period_micros(
    experiment: experiments_pb2.Experiment, ended_at: dt.datetime | None
) -> tuple[int, int | None]:
    """[start, stop) in unix microseconds during which the arms' rules apply; stop None is open.

    To the microsecond, as purchases and rules' bounds are: in whole seconds an experiment
    starting at 12:00:00.5 rewarded a purchase at 12:00:00.2."""
    stops = []
    if experiment.HasField("end_time"):
        stops.append(bound_micros(experiment.end_time))
    if ended_at is not None:
        stops.append(unix_micros(ended_at))
    return bound_micros(experiment.start_time), min(stops) if stops else None


def default_salt(experiment_id: str) -> str:
    return experiment_id


def holdout_salt(program_id: str) -> str:
    return f"holdout:{program_id}"
