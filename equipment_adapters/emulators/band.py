"""A sensorized band speaking the gymctl band profile (docs/band-profile.md) on bumble.

It streams tension and IMU samples at ``sample_rate_hz`` in packed batches sized to the
connection's MTU, numbered by a u16 sequence, stamped with the device clock (simulated
time). Sets are scripted: :meth:`perform_set` queues reps whose velocities come from the
athlete model (load-velocity relation and fatigue) or are given; between reps and sets the
band is held still. Cue writes (LED colour, haptic pulses) are recorded in :attr:`cues`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from bumble import att, core
from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from equipment_adapters.ble import uuids
from equipment_adapters.ble.bumble_backend import VirtualAir
from equipment_adapters.ble.codecs import band as codec
from equipment_adapters.emulators._peripheral import BlePeripheral, not_readable
from equipment_adapters.emulators.athlete import DEMO_ATHLETES, SimulatedAthlete
from equipment_adapters.emulators.imu_motion import (
    DEFAULT_SENSOR,
    RepSpec,
    SensorModel,
    imu_trace,
    rest_samples,
)
from equipment_adapters.errors import DecodeError


class BandEmulator(BlePeripheral):
    def __init__(
        self,
        air: VirtualAir,
        *,
        name: str = "gymctl Band",
        athlete: SimulatedAthlete | None = None,
        sample_rate_hz: int = 100,
        sensor: SensorModel = DEFAULT_SENSOR,
        max_tension_n: int = 1500,
        tick_s: float = 0.1,
        time_scale: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__(air, name=name, tick_s=tick_s, time_scale=time_scale)
        self.athlete = athlete or DEMO_ATHLETES[3]
        self.sample_rate_hz = sample_rate_hz
        self.sensor = sensor
        self.max_tension_n = max_tension_n
        self._rng = np.random.default_rng(seed)
        self._queue: list[npt.NDArray[np.float64]] = []
        self._carry = 0.0
        self.sequence = 0
        self.samples_sent = 0
        self.cues: list[codec.BandCue] = []
        self.reps_performed: list[RepSpec] = []
        self._rest_position_m = 0.0  #: band stretch beyond its anchor while at rest
        self._idle = asyncio.Event()
        self._idle.set()

    def services(self) -> list[Service]:
        self.samples_char: Characteristic[bytes] = Characteristic(
            core.UUID(uuids.BAND_SAMPLES),
            Characteristic.Properties.NOTIFY,
            Characteristic.Permissions.READABLE,
            b"",
        )
        self.cue_char: Characteristic[bytes] = Characteristic(
            core.UUID(uuids.BAND_CUE),
            Characteristic.Properties.WRITE | Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            Characteristic.Permissions.WRITEABLE,
            CharacteristicValue(read=not_readable, write=self._on_cue),
        )
        self.info_char: Characteristic[bytes] = Characteristic(
            core.UUID(uuids.BAND_INFO),
            Characteristic.Properties.READ,
            Characteristic.Permissions.READABLE,
            codec.encode_band_info(codec.BandInfo(self.sample_rate_hz, self.max_tension_n)),
        )
        return [
            Service(
                core.UUID(uuids.BAND_SERVICE), [self.samples_char, self.cue_char, self.info_char]
            )
        ]

    def advertised_uuids(self) -> list[core.UUID]:
        return [core.UUID(uuids.BAND_SERVICE)]

    def _on_cue(self, connection: Connection, value: bytes) -> None:
        if len(value) != 4:
            raise att.ATT_Error(att.ErrorCode.INVALID_ATTRIBUTE_LENGTH)
        try:
            self.cues.append(codec.decode_band_cue(value))
        except DecodeError as exc:
            raise att.ATT_Error(att.ErrorCode.VALUE_NOT_ALLOWED) from exc

    # -- scripting --

    def queue_reps(self, reps: Sequence[RepSpec]) -> None:
        """Queue reps exactly as given (their velocities are the truth to recover)."""
        # lowering-first lifts rest at the top (band stretched), lifting-first at the bottom
        start = 0.0 if reps and reps[0].bottom_start else (reps[0].rom_m if reps else 0.0)
        trace = imu_trace(
            reps,
            float(self.sample_rate_hz),
            self.sensor,
            seed=int(self._rng.integers(1 << 31)),
            lead_s=0.5,
            tail_s=0.5,
            start_position_m=start,
        )
        self._rest_position_m = float(trace.position_m[-1])
        rows = np.column_stack((trace.tension_n, trace.accel_ms2, trace.gyro_rads))
        self._queue.append(rows)
        self.reps_performed.extend(reps)
        self._idle.clear()

    def perform_set(self, lift: str, load_kg: float, reps: int) -> list[RepSpec]:
        """Queue a set: each rep's mean concentric velocity from the athlete model (the
        load-velocity relation with fatigue); reps the athlete would fail are not queued."""
        profile = self.athlete.lift(lift)
        specs: list[RepSpec] = []
        for index in range(reps):
            velocity = self.athlete.rep_velocity(lift, load_kg, index)
            if velocity <= 0:
                break
            specs.append(RepSpec(velocity, rom_m=profile.rom_m, bottom_start=lift == "deadlift"))
        if specs:
            self.queue_reps(specs)
        return specs

    async def wait_idle(self) -> None:
        """Wait until every queued rep has been streamed."""
        await self._idle.wait()

    # -- streaming --

    def _take(self, n: int) -> npt.NDArray[np.float64]:
        parts: list[npt.NDArray[np.float64]] = []
        needed = n
        while needed and self._queue:
            head = self._queue[0]
            parts.append(head[:needed])
            needed -= min(needed, head.shape[0])
            if head.shape[0] <= len(parts[-1]):
                self._queue.pop(0)
            else:
                self._queue[0] = head[len(parts[-1]) :]
        if needed:
            parts.append(rest_samples(needed, self.sensor, self._rest_position_m, self._rng))
        if not self._queue:
            self._idle.set()
        return np.concatenate(parts)

    async def step(self, dt_s: float) -> None:
        self._carry += dt_s * self.sample_rate_hz
        n = int(self._carry)
        self._carry -= n
        if n == 0:
            return
        rows = self._take(n)
        mtu = min((c.att_mtu for c in self.connections), default=247)
        per = max(1, codec.samples_per_notification(mtu))
        period = 1.0 / self.sample_rate_hz
        for start in range(0, n, per):
            chunk = rows[start : start + per]
            t0 = self.samples_sent * period
            payload = codec.encode_band_samples(
                self.sequence,
                t0,
                period,
                tension_n=chunk[:, 0],
                accel_ms2=chunk[:, 1:4],
                gyro_rads=chunk[:, 4:7],
            )
            self.sequence = (self.sequence + chunk.shape[0]) & 0xFFFF
            self.samples_sent += chunk.shape[0]
            await self.notify(self.samples_char, payload)
