"""``gymctl user``: accounts made on the command line work in the panel, and only there."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from controller.cli import main
from controller.store import StoreReader

PASSWORD = "a long enough password"


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def users(db: Path) -> list[dict[str, object]]:
    return asyncio.run(StoreReader(db).staff_users())


def test_add_list_passwd_remove(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "gym.db"
    assert (
        run(
            ["user", "add", "ana", "--role", "admin", "--password-stdin", "--db", str(db)],
            monkeypatch,
            PASSWORD + "\n",
        )
        == 0
    )
    assert "created ana (admin)" in capsys.readouterr().out
    conn = sqlite3.connect(db)
    (encoded,) = conn.execute("SELECT password_hash FROM staff_users").fetchone()
    conn.close()
    assert encoded.startswith("$argon2id$")
    assert PASSWORD not in encoded
    assert PasswordHasher().verify(encoded, PASSWORD)

    assert run(["user", "list", "--json", "--db", str(db)], monkeypatch) == 0
    listed = json.loads(capsys.readouterr().out)["users"]
    assert [(u["username"], u["role"]) for u in listed] == [("ana", "admin")]
    assert "password_hash" not in listed[0]
    assert run(["user", "list", "--db", str(db)], monkeypatch) == 0
    assert "ana" in capsys.readouterr().out

    new = "another long password"
    assert (
        run(["user", "passwd", "ana", "--password-stdin", "--db", str(db)], monkeypatch, new + "\n")
        == 0
    )
    conn = sqlite3.connect(db)
    (encoded,) = conn.execute("SELECT password_hash FROM staff_users").fetchone()
    actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    conn.close()
    assert PasswordHasher().verify(encoded, new)

    assert run(["user", "remove", "ana", "--yes", "--db", str(db)], monkeypatch) == 0
    assert users(db) == []
    assert actions == ["user.add", "user.passwd"]


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (
            ["user", "add", "bo", "--role", "coach", "--password-stdin"],
            "short\n",
            "at least 10 characters",
        ),
        (
            ["user", "add", "bobobobobo", "--role", "coach", "--password-stdin"],
            "BOBOBOBOBO\n",
            "must not be the username",
        ),
        (["user", "add", "bo", "--role", "coach"], "", "use --password-stdin"),
        (["user", "passwd", "nobody", "--password-stdin"], PASSWORD + "\n", "no user"),
        (["user", "remove", "nobody", "--yes"], "", "no user"),
        (["user", "remove", "ana"], "", "--yes"),
        (["user", "token", "nobody", "--name", "x"], "", "no user"),
        (["user", "token", "ana", "--name", "x", "--expires-days", "0"], "", "1..3650"),
    ],
)
def test_bad_input_exits_2_with_one_clear_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin: str,
    message: str,
) -> None:
    db = tmp_path / "gym.db"
    run(
        ["user", "add", "ana", "--role", "admin", "--password-stdin", "--db", str(db)],
        monkeypatch,
        PASSWORD + "\n",
    )
    capsys.readouterr()
    assert run([*argv, "--db", str(db)], monkeypatch, stdin) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert [u["username"] for u in users(db)] == ["ana"]


def test_a_taken_name_and_an_unknown_role_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "gym.db"
    argv = ["user", "add", "Ana", "--role", "admin", "--password-stdin", "--db", str(db)]
    assert run(argv, monkeypatch, PASSWORD + "\n") == 0
    argv[2] = "ana"  # usernames are case-insensitive
    assert run(argv, monkeypatch, PASSWORD + "\n") == 2
    assert "taken" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        run(["user", "add", "x", "--role", "root", "--db", str(db)], monkeypatch)
    assert exit_info.value.code == 2


def test_the_store_comes_from_the_site_config_or_must_be_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gym.toml"
    config.write_text('[site]\nname = "Test"\nid = "test"\n\n[store]\npath = "data/site.db"\n')
    assert (
        run(
            ["user", "add", "ana", "--role", "coach", "--password-stdin", "--config", str(config)],
            monkeypatch,
            PASSWORD + "\n",
        )
        == 0
    )
    assert [u["username"] for u in users(tmp_path / "data" / "site.db")] == ["ana"]
    assert run(["user", "list"], monkeypatch) == 2
    assert "--db PATH" in capsys.readouterr().err
    assert run(["user", "list", "--db", str(tmp_path / "none.db")], monkeypatch) == 2


def test_tokens_are_printed_once_and_stored_as_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "gym.db"
    run(
        ["user", "add", "prom", "--role", "front_desk", "--password-stdin", "--db", str(db)],
        monkeypatch,
        PASSWORD + "\n",
    )
    capsys.readouterr()
    assert (
        run(
            [
                "user",
                "token",
                "prom",
                "--name",
                "prometheus",
                "--expires-days",
                "30",
                "--json",
                "--db",
                str(db),
            ],
            monkeypatch,
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["token"].startswith("gym_")
    assert out["role"] == "front_desk"
    assert out["token"].encode() not in db.read_bytes()
    row = asyncio.run(StoreReader(db).query("SELECT name, expires FROM api_tokens"))[0]
    assert row["name"] == "prometheus"
    assert row["expires"] > 0
