"""Encrypted exports: AES-256 zips that an independent tool (7-Zip) opens with the
passphrase and nothing opens without it; no byte of the athlete's data in clear."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import pyzipper

from controller.store import Store
from kernels.errors import InvalidInputError

from .test_subjects import MARKER_NAME, two_athletes

PASSPHRASE = "copper kettle ninety lanterns"
SEVEN_ZIP = shutil.which("7z")


def exports(tmp_path: Path) -> tuple[str, Path, Path]:
    async def make() -> tuple[str, Path, Path]:
        async with Store(tmp_path / "gym.db", retention=False) as store:
            zelda, _ = await two_athletes(store)
            plain = await store.export_athlete(zelda, tmp_path / "plain.zip")
            secret = await store.export_athlete(
                zelda, tmp_path / "secret.zip", passphrase=PASSPHRASE
            )
        return zelda, plain, secret

    return asyncio.run(make())


def test_the_encrypted_export_holds_what_the_plain_one_does(tmp_path: Path) -> None:
    zelda, plain, secret = exports(tmp_path)
    with zipfile.ZipFile(plain) as zf:
        expected = {n: zf.read(n) for n in zf.namelist()}
    with pyzipper.AESZipFile(secret) as zf:
        zf.setpassword(PASSPHRASE.encode())
        assert sorted(zf.namelist()) == sorted(expected)
        for info in zf.infolist():
            assert info.flag_bits & 0x1, f"{info.filename} is not encrypted"
        tables = json.loads(zf.read("athlete.json"))
    assert tables["encrypted"] is True
    plain_tables = json.loads(expected["athlete.json"])
    assert tables["tables"] == plain_tables["tables"]
    with pyzipper.AESZipFile(secret) as zf:
        zf.setpassword(PASSPHRASE.encode())
        for name, content in expected.items():
            if name != "athlete.json":
                assert zf.read(name) == content
    raw = secret.read_bytes()
    assert MARKER_NAME.encode() not in raw
    assert zelda.encode() not in raw
    assert b"mean_velocity_ms" not in raw  # compressed then encrypted: no column in clear


def test_nothing_opens_it_without_the_passphrase(tmp_path: Path) -> None:
    _, _, secret = exports(tmp_path)
    with pyzipper.AESZipFile(secret) as zf:
        zf.setpassword(b"copper kettle ninety lantern")  # one letter off
        with pytest.raises(RuntimeError, match=r"[Bb]ad password"):
            zf.read("athlete.json")
    with zipfile.ZipFile(secret) as zf, pytest.raises((RuntimeError, NotImplementedError)):
        zf.read("athlete.json")  # the standard library needs a password and AES


@pytest.mark.skipif(SEVEN_ZIP is None, reason="7-Zip is not installed (apt-get install p7zip-full)")
def test_7zip_opens_it_with_the_passphrase(tmp_path: Path) -> None:
    """What the athlete does (docs/threat-model.md): ``7z x FILE`` and the passphrase."""
    assert SEVEN_ZIP is not None
    zelda, _, secret = exports(tmp_path)
    out = tmp_path / "opened"
    wrong = subprocess.run(
        [SEVEN_ZIP, "x", f"-o{out}", "-pnot-the-passphrase", "-y", str(secret)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode != 0
    assert "Wrong password" in wrong.stdout + wrong.stderr
    shutil.rmtree(out, ignore_errors=True)
    listing = subprocess.run(
        [SEVEN_ZIP, "l", "-slt", str(secret)], capture_output=True, text=True, check=True
    )
    assert "Method = AES-256 Deflate" in listing.stdout
    subprocess.run(
        [SEVEN_ZIP, "x", f"-o{out}", f"-p{PASSPHRASE}", "-y", str(secret)],
        capture_output=True,
        check=True,
    )
    data = json.loads((out / "athlete.json").read_text(encoding="utf-8"))
    assert data["tables"]["athletes"][0]["display_name"] == MARKER_NAME
    assert data["tables"]["athletes"][0]["id"] == zelda
    assert (out / "csv" / "reps.csv").read_text().count("\n") == 4  # header + 3 reps


@pytest.mark.parametrize(
    ("passphrase", "problem"),
    [("short", "at least 12"), ("x" * 1025, "at most 1024"), ("twelve chars\nok", "printable")],
)
async def test_weak_or_odd_passphrases_are_refused(
    tmp_path: Path, passphrase: str, problem: str
) -> None:
    async with Store(tmp_path / "gym.db", retention=False) as store:
        zelda, _ = await two_athletes(store)
        with pytest.raises(InvalidInputError, match=problem) as info:
            await store.export_athlete(zelda, tmp_path / "x.zip", passphrase=passphrase)
    assert info.value.where == "passphrase"
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob("*.zip*")))
