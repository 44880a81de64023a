"""``gymctl decode CHARACTERISTIC HEX``: decode one BLE payload, for equipment makers.

A malformed payload exits with code 2 and a message naming the field and byte offset (the
codecs raise ``DecodeError``, an ``InvalidInputError``; ``main()`` reports it).
"""

from __future__ import annotations

import argparse
import string
from typing import Any

from controller.cli._common import Subparsers, print_json
from equipment_adapters.ble.codecs.describe import CHARACTERISTICS, describe
from equipment_adapters.ble.codecs.ftms import FtmsProfile
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "decode",
        help="decode one BLE payload (FTMS, HRS, CPS, CSC, band profile)",
        description="Decode one BLE characteristic value given in hex. Fields are printed "
        "with their units; fields absent from the payload are not printed.",
    )
    parser.add_argument(
        "characteristic",
        choices=sorted(CHARACTERISTICS),
        metavar="CHARACTERISTIC",
        help="one of: " + ", ".join(CHARACTERISTICS),
    )
    parser.add_argument(
        "hex", metavar="HEX", help="the payload in hex (spaces, ':' and 0x allowed)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--resistance-form",
        choices=("auto", "s16", "u8"),
        default="auto",
        help="Indoor Bike Data resistance field form (default: by length)",
    )
    parser.add_argument(
        "--cadence-flag-inverted",
        action="store_true",
        help="quirk: cadence present when flag bit 2 is clear",
    )
    parser.add_argument(
        "--single-byte-cp-response",
        action="store_true",
        help="quirk: accept the one-byte control point response 0x80",
    )
    parser.set_defaults(handler=run)


def parse_hex(text: str) -> bytes:
    cleaned = text.strip().lower().removeprefix("0x")
    for sep in (" ", ":", "-", "_"):
        cleaned = cleaned.replace(sep, "")
    bad = next((i for i, c in enumerate(cleaned) if c not in string.hexdigits), None)
    if bad is not None:
        raise InvalidInputError(
            f"{cleaned[bad]!r} is not a hex digit", where=f"HEX at character {bad}"
        )
    if len(cleaned) % 2:
        raise InvalidInputError("odd number of hex digits (each byte needs two)", where="HEX")
    return bytes.fromhex(cleaned)


def _lines(obj: dict[str, Any], indent: str = "") -> list[str]:
    out: list[str] = []
    for key, value in obj.items():
        if isinstance(value, dict):
            out.append(f"{indent}{key}:")
            out.extend(_lines(value, indent + "  "))
        else:
            shown = "n/a" if value is None else value
            out.append(f"{indent}{key}: {shown}")
    return out


def run(args: argparse.Namespace) -> int:
    payload = parse_hex(args.hex)
    profile = FtmsProfile(
        resistance_form=args.resistance_form,
        cadence_flag_inverted=args.cadence_flag_inverted,
        single_byte_cp_response=args.single_byte_cp_response,
    )
    result = describe(args.characteristic, payload, profile)
    if args.json:
        print_json(result)
    else:
        print("\n".join(_lines(result)))
    return 0
