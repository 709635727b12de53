from typing import Any

import numpy as np
import numpy.typing as npt

def accrue_columns(
    compiled: Any,
    *,
    transitions_seconds: npt.NDArray[np.int64],
    offsets_seconds: npt.NDArray[np.int64],
    table_end_seconds: int,
    member_indexes: npt.NDArray[np.int32],
    amounts_minor: npt.NDArray[np.int64],
    categories: npt.NDArray[np.int32],
    skus: npt.NDArray[np.int64],
    channels: npt.NDArray[np.int32],
    stores: npt.NDArray[np.int32],
    timestamps_seconds: npt.NDArray[np.int64],
    member_tiers: npt.NDArray[np.int8],
    cap_counters: npt.NDArray[np.int64],
    points: npt.NDArray[np.int64],
    attribution_counts: npt.NDArray[np.uint8],
    attribution_rule_indexes: npt.NDArray[np.uint8],
    attribution_points: npt.NDArray[np.int64],
    start_index: int,
    attribution_used: int,
) -> tuple[int, int, int]: ...
def use_vector_path(enabled: bool) -> bool: ...
def use_vector_instructions(name: str | None) -> str | None: ...
def vector_instructions_supported() -> list[str]: ...
def vector_path_available() -> bool: ...
def vector_transaction_count() -> int: ...
