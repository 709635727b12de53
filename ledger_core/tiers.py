"""evaluate_tiers: the checked Python face of the tier kernel (ledger_core/_tiers.pyx).

A member's earned tier is the highest tier whose threshold the member's qualifying points reach
(tier 0 at least; thresholds_points[0] is the entry tier's and does not matter). Upgrades happen
at once; a downgrade only on a re-qualification run, by at most `tiers_down_max` tiers.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledger_core import _tiers, limits
from ledger_core.batches import ArrayLike, integer_column
from ledger_core.errors import InputError


@dataclass(frozen=True)
class TierPolicy:
    """Whether this run is a re-qualification, and how far one may take a member down."""

    is_requalification: bool = False
    tiers_down_max: int = limits.TIERS_MAX


@dataclass(frozen=True, eq=False)
class TierEvaluation:
    tiers: npt.NDArray[np.int8]
    changed_member_indexes: npt.NDArray[np.int64]


def checked_tier_inputs(
    qualifying_points: ArrayLike, current_tiers: ArrayLike, thresholds_points: ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    thresholds = integer_column("thresholds_points", thresholds_points, np.int64)
    if not 1 <= len(thresholds) <= limits.TIERS_MAX:
        raise InputError("thresholds_points", f"one per tier, 1 to {limits.TIERS_MAX}")
    if np.any(np.diff(thresholds) < 0):
        raise InputError("thresholds_points", "must not decrease from one tier to the next")
    points = integer_column("qualifying_points", qualifying_points, np.int64)
    tiers = integer_column("current_tiers", current_tiers, np.int8)
    if len(points) > limits.MEMBERS_MAX:
        raise InputError("qualifying_points", f"at most {limits.MEMBERS_MAX} members")
    if len(tiers) != len(points):
        raise InputError(
            "current_tiers", f"length {len(tiers)}, qualifying_points has {len(points)}"
        )
    if len(tiers) and (int(tiers.min()) < 0 or int(tiers.max()) >= len(thresholds)):
        bad = int(np.flatnonzero((tiers < 0) | (tiers >= len(thresholds)))[0])
        raise InputError("current_tiers", f"tier {tiers[bad]} of member {bad} has no threshold")
    return points, tiers, thresholds


def evaluate_tiers(
    *,
    qualifying_points: ArrayLike,
    current_tiers: ArrayLike,
    thresholds_points: ArrayLike,
    policy: TierPolicy,
) -> TierEvaluation:
    """The new tier of every member and the indexes of the members whose tier changed."""
    if not 0 <= policy.tiers_down_max <= limits.TIERS_MAX:
        raise InputError("policy.tiers_down_max", f"must be 0 to {limits.TIERS_MAX}")
    points, tiers, thresholds = checked_tier_inputs(
        qualifying_points, current_tiers, thresholds_points
    )
    new_tiers = np.empty(len(tiers), dtype=np.int8)
    changed = np.empty(len(tiers), dtype=np.int64)
    changed_count = _tiers.evaluate_tier_columns(
        qualifying_points=points,
        current_tiers=tiers,
        thresholds_points=thresholds,
        is_requalification=policy.is_requalification,
        tiers_down_max=policy.tiers_down_max,
        new_tiers=new_tiers,
        changed_member_indexes=changed,
    )
    return TierEvaluation(tiers=new_tiers, changed_member_indexes=changed[:changed_count].copy())
