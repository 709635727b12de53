"""The campaign service's pure rules (no I/O)."""

from loyalty.campaign.v1 import engagement_pb2
from services.shared import validation
from services.shared.errors import InvalidArgument

BONUS_POINTS_MAX = 10_000_000
MILESTONES_MAX = 50
TOP_MEMBERS_MAX = 10_000
# A month is settled at most this long after it ends (31 days).
SETTLE_DELAY_HOURS_MAX = 744


def check_recognition(config: engagement_pb2.RecognitionConfig) -> None:
    """Refuse a recognition configuration that could not be applied, naming the field."""
    validation.in_range(
        config.birthday_bonus_points, "config.birthday_bonus_points", low=0, high=BONUS_POINTS_MAX
    )
    validation.in_range(
        config.signup_bonus_points, "config.signup_bonus_points", low=0, high=BONUS_POINTS_MAX
    )
    if len(config.milestones) > MILESTONES_MAX:
        raise InvalidArgument("config.milestones", f"at most {MILESTONES_MAX} milestones")
    codes: set[str] = set()
    for index, milestone in enumerate(config.milestones):
        field = f"config.milestones[{index}]"
        validation.code(milestone.code, f"{field}.code")
        if milestone.code in codes:
            raise InvalidArgument(f"{field}.code", f"{milestone.code!r} is used twice")
        codes.add(milestone.code)
        if milestone.kind == 0:
            raise InvalidArgument(f"{field}.kind", "is required")
        validation.in_range(milestone.threshold, f"{field}.threshold", low=1, high=2**62)
        validation.in_range(milestone.points, f"{field}.points", low=0, high=BONUS_POINTS_MAX)
        if milestone.points == 0 and not milestone.badge_code:
            raise InvalidArgument(field, "gives neither points nor a badge")
        if milestone.badge_code:
            validation.code(milestone.badge_code, f"{field}.badge_code")
    top = config.top_members_of_month
    validation.in_range(top.count, "config.top_members_of_month.count", low=0, high=TOP_MEMBERS_MAX)
    if top.count:
        validation.in_range(
            top.points, "config.top_members_of_month.points", low=1, high=BONUS_POINTS_MAX
        )
        if top.basis == 0:
            raise InvalidArgument(
                "config.top_members_of_month.basis", "is required when count is set"
            )
        validation.in_range(
            top.settle_delay_hours,
            "config.top_members_of_month.settle_delay_hours",
            low=0,
            high=SETTLE_DELAY_HOURS_MAX,
        )
