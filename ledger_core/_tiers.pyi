import numpy as np
import numpy.typing as npt

def evaluate_tier_columns(
    *,
    qualifying_points: npt.NDArray[np.int64],
    current_tiers: npt.NDArray[np.int8],
    thresholds_points: npt.NDArray[np.int64],
    is_requalification: bool,
    tiers_down_max: int,
    new_tiers: npt.NDArray[np.int8],
    changed_member_indexes: npt.NDArray[np.int64],
) -> int: ...
