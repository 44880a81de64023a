"""``gymctl sim bike|hr|band``: one emulated BLE device, on its own.

There is no Bluetooth radio here, so the device runs on an in-process virtual air (bumble's
``LocalLink``). By default a console client joins it: unmodified bleak code on gymctl's
bumble backend scans, connects, subscribes and prints every decoded notification (for the
bike it also requests control, starts and sets an ERG target; for the band it detects reps
with the IMU kernel). ``--hci tcp-server:HOST:PORT`` also exposes the air through an
emulated controller on an HCI transport, so that another process can be the central: a
bumble host such as ``VirtualAir(hci_transport="tcp-client:HOST:PORT")`` in gymctl, or
bumble's own tools. A real phone or bike app cannot see it: nothing is radiated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from bleak import BleakClient, BleakScanner

from controller.cli._common import Subparsers
from equipment_adapters.ble import uuids
from equipment_adapters.ble.bumble_backend import VirtualAir
from equipment_adapters.ble.codecs import band as band_codec
from equipment_adapters.ble.codecs import ftms
from equipment_adapters.ble.codecs.describe import describe
from equipment_adapters.emulators._peripheral import BlePeripheral
from equipment_adapters.emulators.athlete import DEMO_ATHLETES, SimulatedAthlete
from equipment_adapters.emulators.band import BandEmulator
from equipment_adapters.emulators.bike import BikeEmulator
from equipment_adapters.emulators.hr_strap import HrStrapEmulator
from equipment_adapters.emulators.rider import RiderModel
from kernels.errors import InvalidInputError
from kernels.imu_reps import ImuRepDetector

KINDS = {
    "bike": "an FTMS indoor bike (ERG, resistance, simulation) with a rider",
    "hr": "a heart-rate strap (HR and RR intervals from the athlete's readiness)",
    "band": "a gymctl band (tension and IMU batches, LED/haptic cue)",
}


def register(subparsers: Subparsers) -> None:
    for kind, what in KINDS.items():
        parser = subparsers.add_parser(
            kind,
            help=f"run {what} over BLE (virtual air)",
            description=f"Run {what} on an in-process virtual BLE air. " + __doc__.split("\n\n")[1],
        )
        parser.add_argument(
            "--name", default=f"gymctl {kind.upper() if kind == 'hr' else kind.title()}"
        )
        parser.add_argument(
            "--athlete",
            default=DEMO_ATHLETES[3].athlete_id,
            help="demo athlete id (" + ", ".join(a.athlete_id for a in DEMO_ATHLETES) + ")",
        )
        parser.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="simulated seconds per real second (default 1)",
        )
        parser.add_argument(
            "--duration",
            type=float,
            default=None,
            help="stop after this many real seconds (default: until Ctrl-C)",
        )
        parser.add_argument(
            "--hci",
            metavar="TRANSPORT",
            help="also expose the air on a bumble HCI transport, e.g. tcp-server:127.0.0.1:9000",
        )
        parser.add_argument(
            "--no-console", action="store_true", help="do not start the built-in console client"
        )
        if kind == "bike":
            parser.add_argument(
                "--erg", type=float, default=150.0, help="ERG target the console sets (W)"
            )
        if kind == "hr":
            parser.add_argument("--power", type=float, default=120.0, help="the rider's power (W)")
            parser.add_argument(
                "--ectopic", type=float, default=0.0, help="probability of an ectopic beat"
            )
        if kind == "band":
            parser.add_argument("--lift", default="back_squat")
            parser.add_argument("--load", type=float, default=100.0, help="load of each set (kg)")
            parser.add_argument("--reps", type=int, default=5)
            parser.add_argument(
                "--rest", type=float, default=20.0, help="rest between sets (simulated s)"
            )
        parser.set_defaults(handler=lambda args, kind=kind: run(kind, args))


def _athlete(athlete_id: str) -> SimulatedAthlete:
    for athlete in DEMO_ATHLETES:
        if athlete.athlete_id == athlete_id:
            return athlete
    known = ", ".join(a.athlete_id for a in DEMO_ATHLETES)
    raise InvalidInputError(f"unknown athlete (known: {known})", where=f"--athlete {athlete_id}")


def run(kind: str, args: argparse.Namespace) -> int:
    if args.time_scale <= 0:
        raise InvalidInputError("must be positive", where="--time-scale")
    athlete = _athlete(args.athlete)
    asyncio.run(_main(kind, args, athlete))
    return 0


def _emulator(
    kind: str, air: VirtualAir, args: argparse.Namespace, athlete: SimulatedAthlete
) -> BlePeripheral:
    scale = args.time_scale
    tick = 1.0 / max(scale, 1.0) if kind != "band" else 0.1
    if kind == "bike":
        return BikeEmulator(
            air, name=args.name, rider=RiderModel(athlete), tick_s=tick, time_scale=scale
        )
    if kind == "hr":
        return HrStrapEmulator(
            air,
            name=args.name,
            rider=RiderModel(athlete),
            drive_rider=True,
            power_w=args.power,
            ectopic_probability=args.ectopic,
            tick_s=tick,
            time_scale=scale,
        )
    return BandEmulator(air, name=args.name, athlete=athlete, tick_s=tick, time_scale=scale)


async def _main(kind: str, args: argparse.Namespace, athlete: SimulatedAthlete) -> None:
    async with VirtualAir() as air:
        if args.hci:
            await air.expose_hci(args.hci)
            print(f"HCI: an emulated controller on this air is reachable at {args.hci}", flush=True)
        async with _emulator(kind, air, args, athlete) as emulator:
            print(
                f"{kind}: '{args.name}' advertising as {emulator.address} (athlete {athlete.name}, "
                f"time x{args.time_scale:g})",
                flush=True,
            )
            limit = asyncio.timeout(args.duration) if args.duration else contextlib.nullcontext()
            with contextlib.suppress(TimeoutError):
                async with limit:
                    if args.no_console:
                        await asyncio.Event().wait()
                    else:
                        await _console(kind, air, emulator, args)


def _printer(name: str, emulator: BlePeripheral) -> Callable[[Any, bytearray], None]:
    def show(_char: Any, data: bytearray) -> None:
        fields = describe(name, bytes(data))
        fields.pop("flags", None)
        text = ", ".join(f"{k}={v}" for k, v in fields.items())
        print(f"[{emulator.sim_time_s:8.1f} s] {name}: {text}", flush=True)

    return show


async def _console(
    kind: str, air: VirtualAir, emulator: BlePeripheral, args: argparse.Namespace
) -> None:
    device = await BleakScanner.find_device_by_name(
        args.name, timeout=5.0, backend=air.scanner_class
    )
    if device is None:
        raise InvalidInputError("the emulator is not advertising", where=args.name)
    async with BleakClient(device, backend=air.client_class) as client:
        print(f"console: connected to {device.address} (MTU {client.mtu_size})", flush=True)
        if kind == "bike":
            await client.start_notify(
                uuids.FTMS_CONTROL_POINT, _printer("ftms_control_point", emulator)
            )
            await client.start_notify(
                uuids.FITNESS_MACHINE_STATUS, _printer("fitness_machine_status", emulator)
            )
            await client.start_notify(
                uuids.INDOOR_BIKE_DATA, _printer("indoor_bike_data", emulator)
            )
            for request in (
                ftms.ControlRequest(ftms.ControlOp.REQUEST_CONTROL),
                ftms.ControlRequest(ftms.ControlOp.START_OR_RESUME),
                ftms.ControlRequest(ftms.ControlOp.SET_TARGET_POWER, (args.erg,)),
            ):
                await client.write_gatt_char(
                    uuids.FTMS_CONTROL_POINT, ftms.encode_control_request(request), response=True
                )
                await asyncio.sleep(0.1)
            await asyncio.Event().wait()
        elif kind == "hr":
            await client.start_notify(
                uuids.HEART_RATE_MEASUREMENT, _printer("heart_rate_measurement", emulator)
            )
            await asyncio.Event().wait()
        else:
            assert isinstance(emulator, BandEmulator)
            await _band_console(client, emulator, args)


async def _band_console(client: BleakClient, band: BandEmulator, args: argparse.Namespace) -> None:
    info = band_codec.decode_band_info(await client.read_gatt_char(uuids.BAND_INFO))
    detector = ImuRepDetector(float(info.sample_rate_hz))

    def on_samples(_char: Any, data: bytearray) -> None:
        batch = band_codec.decode_band_samples(data)
        for rep in detector.feed(batch.imu):
            print(
                f"[{band.sim_time_s:8.1f} s] rep {rep.index + 1}: mean velocity "
                f"{rep.mean_velocity_ms:.2f} m/s, peak {rep.peak_velocity_ms:.2f} m/s, "
                f"ROM {rep.rom_m:.2f} m, tension {batch.tension_n.mean():.0f} N",
                flush=True,
            )

    await client.start_notify(uuids.BAND_SAMPLES, on_samples)
    while True:
        performed = band.perform_set(args.lift, args.load, args.reps)
        velocities = ", ".join(f"{r.mean_velocity_ms:.2f}" for r in performed)
        print(
            f"[{band.sim_time_s:8.1f} s] set: {args.lift} {args.load:g} kg x {len(performed)} "
            f"(true mean velocities {velocities} m/s)",
            flush=True,
        )
        await band.wait_idle()
        cue = band_codec.BandCue("green", 1, 500)
        await client.write_gatt_char(uuids.BAND_CUE, band_codec.encode_band_cue(cue), response=True)
        await asyncio.sleep(args.rest / band.time_scale)
