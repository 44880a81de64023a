"""Type stub of the compiled HRV kernels (kernels/_hrv.pyx)."""

import numpy as np
import numpy.typing as npt

def time_domain_values(
    rr: npt.NDArray[np.float64],
) -> tuple[int, float, float, float, float, float, float, int]: ...
def first_outside(x: npt.NDArray[np.float64], lo: float, hi: float) -> int: ...
def classify_into(
    rr: npt.NDArray[np.float64],
    cls: npt.NDArray[np.int8],
    c1: float,
    c2: float,
    alpha: float,
    window: int,
    medfilt: int,
    threads: int = 1,
) -> None: ...
def correct_into(
    rr: npt.NDArray[np.float64], cls: npt.NDArray[np.int8], out: npt.NDArray[np.float64]
) -> int: ...
def correct_pass(
    rr: npt.NDArray[np.float64],
    c1: float,
    c2: float,
    alpha: float,
    window: int,
    medfilt: int,
    threads: int = 1,
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64] | None, int]: ...
