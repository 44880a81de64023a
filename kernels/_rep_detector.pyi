"""Type stub of the compiled position rep detector (kernels/_rep_detector.pyx)."""

from kernels.reps import RepMetrics

#: a batch this large is analysed without the GIL (kernels/_gil.pxd)
NOGIL_MIN_SAMPLES: int

class NotSamplesError(TypeError): ...

class RepDetectorCore:
    mode: int
    partial_reps: int
    reps_completed: int
    load_kg: float | None

    def __init__(
        self,
        sample_rate_hz: float,
        start: int,
        min_rom_m: float,
        partial_min_m: float,
        significant_m: float,
        reversal_m: float,
        return_fraction: float,
        rom_fraction: float,
        settle_s: float,
        max_gap_s: float,
        set_gap_s: float,
        half_window: int,
        diff_span: int,
        band_low_ms: float,
        band_high_ms: float,
        load_kg: float | None = None,
    ) -> None: ...
    # Any object is accepted; all but C-contiguous 1-D float64 ndarrays raise NotSamplesError.
    def feed(self, values: object, t0: float, period: float) -> tuple[RepMetrics, ...]: ...
    def feed_timed(self, t_array: object, values: object) -> tuple[RepMetrics, ...]: ...
    def finish(self) -> tuple[RepMetrics, ...]: ...
