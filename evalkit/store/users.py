"""Users, login sessions and login attempts (what throttling counts, and the login audit trail)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..schema import utcnow
from .connection import StoreBase

__all__ = ["UsersMixin"]


class UsersMixin(StoreBase):
    """Users, login sessions and login attempts (what throttling counts, and the login audit trail)."""

    def count_users(self) -> int:
        with self.connect() as con:
            return int(con.execute("SELECT count(*) FROM users").fetchone()[0])

    def add_user(self, name: str, role: str, password_hash: str) -> bool:
        """Insert a user; False when the name is taken."""
        with self.connect() as con:
            if con.execute("SELECT 1 FROM users WHERE name=?", [name]).fetchone():
                return False
            con.execute("INSERT INTO users VALUES (?,?,?,FALSE,?)", [name, role, password_hash, utcnow()])
        return True

    def add_first_user(self, name: str, role: str, password_hash: str) -> bool:
        """Insert a user only while the table is empty (first-run bootstrap); False otherwise."""
        with self.connect() as con:
            if con.execute("SELECT count(*) FROM users").fetchone()[0]:
                return False
            con.execute("INSERT INTO users VALUES (?,?,?,FALSE,?)", [name, role, password_hash, utcnow()])
        return True

    def get_user(self, name: str) -> dict | None:
        with self.connect() as con:
            row = con.execute("SELECT name, role, password_hash, disabled, created_at FROM users WHERE name=?",
                              [name]).fetchone()
        if not row:
            return None
        return dict(zip(("name", "role", "password_hash", "disabled", "created_at"), row))

    def list_users(self) -> pd.DataFrame:
        """Users without their password hashes."""
        with self.connect() as con:
            return con.execute("SELECT name, role, disabled, created_at FROM users ORDER BY name").df()

    def update_user(self, name: str, *, role: str | None = None, password_hash: str | None = None,
                    disabled: bool | None = None) -> None:
        sets, args = [], []
        for col, val in (("role", role), ("password_hash", password_hash), ("disabled", disabled)):
            if val is not None:
                sets.append(f"{col}=?")
                args.append(val)
        if not sets:
            return
        with self.connect() as con:
            con.execute(f"UPDATE users SET {', '.join(sets)} WHERE name=?", args + [name])

    def add_auth_session(self, token_hash: str, name: str, expires_at: Any) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM auth_sessions WHERE expires_at < ?", [utcnow()])
            con.execute("INSERT INTO auth_sessions VALUES (?,?,?,?)", [token_hash, name, utcnow(), expires_at])

    def get_auth_session(self, token_hash: str) -> dict | None:
        """The login session with its user's current role and disabled flag."""
        with self.connect() as con:
            row = con.execute("""SELECT a.name, a.expires_at, u.role, coalesce(u.disabled, TRUE)
                                 FROM auth_sessions a LEFT JOIN users u ON u.name = a.name
                                 WHERE a.token_hash=?""", [token_hash]).fetchone()
        return dict(zip(("name", "expires_at", "role", "disabled"), row)) if row else None

    def delete_auth_sessions(self, *, token_hash: str | None = None, name: str | None = None) -> None:
        with self.connect() as con:
            if token_hash:
                con.execute("DELETE FROM auth_sessions WHERE token_hash=?", [token_hash])
            if name:
                con.execute("DELETE FROM auth_sessions WHERE name=?", [name])

    # login attempts (issue 18): what login throttling counts, and the audit trail of failed logins.
    # Never a password: an account name only when it is a real account, the client's address, a hash
    # of the browser's device id, and the outcome.
    _FAILED = "outcome IN ('wrong_password', 'unknown_user', 'disabled')"

    def add_login_attempt(self, at: Any, user_key: str, name: str | None, client: str, device: str | None,
                          outcome: str) -> None:
        with self.connect() as con:
            con.execute("INSERT INTO login_attempts VALUES (?,?,?,?,?,?)", [at, user_key, name, client, device, outcome])

    def login_attempt_stats(self, user_key: str, client: str, device: str | None, since: Any,
                            trusted_since: Any) -> dict:
        """Failed logins since ``since``: from the client (``n_c``), on the account (``n_u``), from the
        client on the account (``n_cu``), from the device on the account (``n_d``), each with the time
        of the last (``last_*``); ``trusted``: the device logged in to the account since ``trusted_since``."""
        with self.connect() as con:
            row = con.execute(f"""
                WITH f AS (SELECT * FROM login_attempts WHERE attempted_at >= $since AND {self._FAILED})
                SELECT count(*) FILTER (WHERE client = $c), max(attempted_at) FILTER (WHERE client = $c),
                       count(*) FILTER (WHERE user_key = $u),
                       count(*) FILTER (WHERE user_key = $u AND client = $c),
                       max(attempted_at) FILTER (WHERE user_key = $u AND client = $c),
                       count(*) FILTER (WHERE user_key = $u AND device = $d),
                       max(attempted_at) FILTER (WHERE user_key = $u AND device = $d),
                       (SELECT count(*) FROM login_attempts WHERE user_key = $u AND device = $d
                          AND outcome = 'ok' AND attempted_at >= $trusted)
                FROM f""", {"since": since, "c": client, "u": user_key, "d": device, "trusted": trusted_since}
                              ).fetchone()
        keys = ("n_c", "last_c", "n_u", "n_cu", "last_cu", "n_d", "last_d", "trusted")
        out = dict(zip(keys, row))
        out["trusted"] = bool(out["trusted"]) and device is not None
        return out

    def login_attempts(self, *, failed_only: bool = False, limit: int = 500) -> pd.DataFrame:
        """The login audit trail, newest first: attempted_at, name (real accounts only), client, outcome."""
        with self.connect() as con:
            df = con.execute(f"""SELECT attempted_at, name, client, outcome FROM login_attempts
                                 {"WHERE " + self._FAILED if failed_only else ""}
                                 ORDER BY attempted_at DESC, rowid DESC LIMIT ?""", [int(limit)]).df()
        df["name"] = df["name"].astype(object).where(df["name"].notna(), None)
        return df
