"""No secret reaches a log line, the audit log or the database file in clear: passwords and
tokens handled by ``gymctl user`` (the panel's and MQTT's have their own tests:
tests/web_ui/test_auth.py, tests/controller/mqtt/test_security.py)."""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from controller.cli import main

PASSWORDS = ("Plum-wagon-7-turbines", "Second-orbit-41-lamps")


def test_user_add_passwd_and_token_log_no_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    db = tmp_path / "gym.db"
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS[0] + "\n"))
    assert main(["user", "add", "ana", "--role", "admin", "--password-stdin", "--db", str(db)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS[1] + "\n"))
    assert main(["user", "passwd", "ana", "--password-stdin", "--db", str(db)]) == 0
    before, _ = capsys.readouterr()  # what add and passwd printed
    assert main(["user", "token", "ana", "--name", "scraper", "--json", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    token = json.loads(out)["token"]
    out = before + out
    assert token.startswith("gym_")
    secrets = (*PASSWORDS, token)
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    conn = sqlite3.connect(db)
    try:
        audit = json.dumps(conn.execute("SELECT * FROM audit_log").fetchall())
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log ORDER BY id")]
    finally:
        conn.close()
    assert actions == ["user.add", "user.passwd", "token.create"]
    wal = db.with_name(db.name + "-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    for secret in secrets:
        assert secret not in logged
        assert secret not in audit
        assert secret.encode() not in raw  # stored as argon2id and SHA-256 hashes only
    assert token in out  # shown once, to the person who asked for it
    assert PASSWORDS[0] not in out + err
