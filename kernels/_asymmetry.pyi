"""Type stub of the compiled side track (kernels/_asymmetry.pyx)."""

import numpy as np
import numpy.typing as npt

class SideTrackCore:
    origin: float
    def __init__(self, stride: int, capacity: int) -> None: ...
    def feed(
        self,
        x: npt.NDArray[np.float64],
        force: npt.NDArray[np.float64],
        t0: float,
        period: float,
    ) -> None: ...
    def at(self, t: float) -> tuple[float, float, float]: ...
