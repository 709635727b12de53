import numpy as np
import numpy.typing as npt

def bare_loop(
    amounts_minor: npt.NDArray[np.int64], points: npt.NDArray[np.int64], rate: int, unit: int
) -> None: ...
