"""Passwords are stored only as salted argon2id hashes with real work factors; login tokens only as
SHA-256. Checked end to end through the ``evalkit users`` command and the raw database bytes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from argon2 import PasswordHasher

from evalkit.review.auth import Auth, token_hash
from evalkit.store import Store

EVALKIT = Path(sys.executable).with_name("evalkit")
SECRET = "Zq7-canary-password-4411"


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(EVALKIT), *args], input=stdin, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def _raw(db: Path) -> bytes:
    """Every byte evalkit left on disk for this database (file and any write-ahead log)."""
    out = db.read_bytes()
    wal = db.with_name(db.name + ".wal")
    return out + (wal.read_bytes() if wal.exists() else b"")


def test_cli_stores_salted_argon2id_hashes_with_real_work_factors(tmp_path):
    db = tmp_path / "users.duckdb"
    for name, role in (("root", "admin"), ("dr.ada", "clinician"), ("dr.bob", "clinician")):
        res = _cli("users", "add", name, "--role", role, "--password-stdin", "--db", str(db), stdin=SECRET + "\n")
        assert res.returncode == 0, res.stderr
        assert SECRET not in res.stdout + res.stderr
    listing = _cli("users", "list", "--db", str(db))
    assert listing.returncode == 0 and "dr.ada" in listing.stdout
    assert SECRET not in listing.stdout and "$argon2" not in listing.stdout

    store = Store(db)
    hashes = [store.get_user(n)["password_hash"] for n in ("root", "dr.ada", "dr.bob")]
    assert len(set(hashes)) == 3  # same password, three salts
    for h in hashes:
        m = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+", h)
        assert m, h
        memory_kib, time_cost, _ = map(int, m.groups())
        assert memory_kib >= 19 * 1024 and time_cost >= 2  # OWASP minimum for argon2id
        assert PasswordHasher().verify(h, SECRET)
    raw = _raw(db)
    assert SECRET.encode() not in raw and SECRET.encode("utf-16-le") not in raw


def test_login_tokens_are_stored_hashed_and_wrong_passwords_fail(tmp_path):
    db = tmp_path / "tok.duckdb"
    auth = Auth(Store(db), hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    auth.add_user("dr.ada", "clinician", SECRET)
    token = auth.login("dr.ada", SECRET)
    assert token and len(token) >= 32
    assert auth.login("dr.ada", SECRET.upper()) is None and auth.login("dr.ada", "") is None
    assert auth.login("dr.ada' OR '1'='1", SECRET) is None
    raw = _raw(db)
    assert token.encode() not in raw and token_hash(token).encode() in raw
    assert SECRET.encode() not in raw


def test_password_never_reaches_logs(tmp_path, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    auth = Auth(Store(tmp_path / "log.duckdb"), hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    auth.add_user("dr.ada", "clinician", SECRET)
    auth.login("dr.ada", SECRET)
    auth.login("dr.ada", SECRET + "x")
    auth.set_password("dr.ada", SECRET + "-new")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert SECRET not in text
