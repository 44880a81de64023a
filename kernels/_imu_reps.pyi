import numpy as np
import numpy.typing as npt

def vertical_motion(
    accel: npt.NDArray[np.float64],
    gyro: npt.NDArray[np.float64],
    dt: float,
    state: npt.NDArray[np.float64],
    a_vert: npt.NDArray[np.float64],
    velocity: npt.NDArray[np.float64],
    still: npt.NDArray[np.uint8],
    accel_tol: float,
    gyro_tol: float,
    still_samples: int,
    alpha: float,
) -> None: ...
