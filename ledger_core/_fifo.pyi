import numpy as np
import numpy.typing as npt

def allocate_columns(
    *,
    account_offsets: npt.NDArray[np.int64],
    remaining_points: npt.NDArray[np.int64],
    vests_at_seconds: npt.NDArray[np.int64],
    expires_at_seconds: npt.NDArray[np.int64],
    account_indexes: npt.NDArray[np.int64],
    points: npt.NDArray[np.int64],
    as_of_seconds: int,
    consumed_points: npt.NDArray[np.int64],
    shortfall_points: npt.NDArray[np.int64],
) -> None: ...
