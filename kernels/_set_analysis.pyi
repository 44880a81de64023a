"""Type stub of the compiled set analysis (kernels/_set_analysis.pyx)."""

import numpy as np
import numpy.typing as npt

def velocity_losses(
    v: npt.NDArray[np.float64], best_of: int, out: npt.NDArray[np.float64]
) -> int: ...
