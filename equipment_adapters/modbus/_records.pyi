"""Type stub of the compiled FIFO record decode (equipment_adapters/modbus/_records.pyx)."""

import numpy as np
import numpy.typing as npt

def decode_words(
    registers: list[int],
    width: int,
    first: int,
    scales: tuple[float, ...],
    offsets: tuple[float, ...],
    swap: bool,
    signed: bool,
) -> npt.NDArray[np.float64] | None: ...
