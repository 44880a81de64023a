"""Type stub of the compiled weighted line fit (kernels/_line_fit.pyx)."""

import numpy as np
import numpy.typing as npt

def weighted_line_fit(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], w: npt.NDArray[np.float64]
) -> tuple[float, float, float]: ...
