"""Users, passwords, login sessions and role checks for the review app.

Passwords are hashed with argon2id (argon2-cffi). A login returns a random token; only its
SHA-256 is stored (table ``auth_sessions``), with an expiry. Every page and every action of
the app calls :func:`require` on the server side with the user resolved from the token, so a
role change or a disabled account takes effect on the next click.

Roles:
    clinician — reviews and annotates sessions, adjudicates disagreements.
    engineer  — sees runs, dashboards, comparisons and the audit log; reads sessions.
    admin     — manages users and assignments; sees everything an engineer sees.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import InputError
from .schema import utcnow

if TYPE_CHECKING:
    from .store import Store

ROLES = ("clinician", "engineer", "admin")

#: permission → roles that hold it. Pages and actions ask for a permission, never a role.
PERMISSIONS: dict[str, frozenset[str]] = {
    "review": frozenset({"clinician", "engineer", "admin"}),  # open the queue and a session
    "annotate": frozenset({"clinician"}),  # label claims, add omissions, PDQI-9, status
    "adjudicate": frozenset({"clinician"}),  # settle a disagreement between two reviewers
    "agreement": frozenset({"clinician", "engineer", "admin"}),
    "runs": frozenset({"engineer", "admin"}),
    "dashboards": frozenset({"engineer", "admin"}),
    "compare": frozenset({"engineer", "admin"}),
    "audit": frozenset({"engineer", "admin"}),
    "manage_users": frozenset({"admin"}),
    "assign": frozenset({"admin"}),
}

MIN_PASSWORD = 8
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_MAX_FAILURES = 5  # failed logins per name within _FAILURE_WINDOW before a pause
_FAILURE_WINDOW = 300.0


class PermissionDenied(PermissionError):
    """The user's role does not hold the permission an action needs."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    disabled: bool = False

    def can(self, permission: str) -> bool:
        """True when this user's role holds ``permission`` (unknown permissions: False)."""
        return not self.disabled and self.role in PERMISSIONS.get(permission, frozenset())


def require(user: User | None, permission: str) -> User:
    """Return ``user`` if it holds ``permission``, else raise :class:`PermissionDenied`.

    Args:
        user: the logged-in user (None when nobody is logged in).
        permission: a key of :data:`PERMISSIONS`.
    """
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None:
        raise PermissionDenied("not logged in")
    if not user.can(permission):
        raise PermissionDenied(f"role '{user.role}' may not {permission.replace('_', ' ')}")
    return user


def validate_name(name: str, source: str = "users") -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InputError(source, "name", "user names are 1-64 letters, digits, '.', '_', '@' or '-'",
                         "pick a name like 'dr.patel' or 'jsmith'")
    return name


def validate_role(role: str, source: str = "users") -> str:
    if role not in ROLES:
        raise InputError(source, "role", f"unknown role {role!r}", f"use one of: {', '.join(ROLES)}")
    return role


def validate_password(password: str, source: str = "users") -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InputError(source, "password", f"shorter than {MIN_PASSWORD} characters",
                         f"use at least {MIN_PASSWORD} characters")
    return password


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class Auth:
    """User accounts and login sessions kept in a :class:`~evalkit.store.Store`.

    Args:
        store: the database holding the ``users`` and ``auth_sessions`` tables.
        ttl_hours: how long a login stays valid.
        hasher: an argon2 ``PasswordHasher`` (tests pass a cheap one).
    """

    def __init__(self, store: "Store", ttl_hours: float = 8.0, hasher: PasswordHasher | None = None):
        self.store = store
        self.ttl = timedelta(hours=ttl_hours)
        self.hasher = hasher or PasswordHasher()
        self._dummy = self.hasher.hash("not-a-real-password")
        self._failures: dict[str, list[float]] = {}
        self._flock = threading.Lock()

    # -------------------------------------------------------------- accounts

    def needs_bootstrap(self) -> bool:
        """True while the database has no user at all (first run)."""
        return self.store.count_users() == 0

    def add_user(self, name: str, role: str, password: str) -> User:
        """Create an account.

        Args:
            name: login name (letters, digits, '.', '_', '@', '-').
            role: clinician, engineer or admin.
            password: at least 8 characters; only its argon2 hash is stored.

        Raises:
            InputError: bad name, role or password, or the name is taken.
        """
        validate_name(name)
        validate_role(role)
        validate_password(password)
        if not self.store.add_user(name, role, self.hasher.hash(password)):
            raise InputError("users", "name", f"user {name!r} already exists",
                             "pick another name or change that user's password")
        return User(name, role)

    def bootstrap_admin(self, name: str, password: str) -> User:
        """Create the first account, an admin, only while no account exists.

        Raises:
            InputError: bad input, or an account exists already.
        """
        validate_name(name)
        validate_password(password)
        if not self.store.add_first_user(name, "admin", self.hasher.hash(password)):
            raise InputError("users", None, "the first administrator already exists",
                             "log in, or ask an admin to create your account")
        return User(name, "admin")

    def set_password(self, name: str, password: str) -> None:
        validate_password(password)
        self._existing(name)
        self.store.update_user(name, password_hash=self.hasher.hash(password))
        self.store.delete_auth_sessions(name=name)  # log out everywhere

    def set_role(self, name: str, role: str) -> None:
        validate_role(role)
        self._existing(name)
        self.store.update_user(name, role=role)

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        self._existing(name)
        self.store.update_user(name, disabled=disabled)
        if disabled:
            self.store.delete_auth_sessions(name=name)

    def get(self, name: str) -> User | None:
        rec = self.store.get_user(name)
        return User(rec["name"], rec["role"], bool(rec["disabled"])) if rec else None

    def users(self) -> list[User]:
        df = self.store.list_users()
        return [User(r.name, r.role, bool(r.disabled)) for r in df.itertuples()]

    def _existing(self, name: str) -> None:
        if self.store.get_user(name) is None:
            raise InputError("users", "name", f"no user {name!r}", "run 'evalkit users list' to see accounts")

    # -------------------------------------------------------------- login sessions

    def _throttled(self, name: str) -> bool:
        now = time.monotonic()
        with self._flock:
            recent = [t for t in self._failures.get(name, []) if now - t < _FAILURE_WINDOW]
            self._failures[name] = recent
            return len(recent) >= _MAX_FAILURES

    def _record_failure(self, name: str) -> None:
        with self._flock:
            self._failures.setdefault(name, []).append(time.monotonic())

    def login(self, name: str, password: str) -> str | None:
        """Check a password; return a new session token, or None (wrong, unknown, disabled, throttled).

        Args:
            name: login name.
            password: the password as typed.
        """
        if self._throttled(name):
            return None
        rec = self.store.get_user(name) if _NAME_RE.fullmatch(name or "") else None
        stored = rec["password_hash"] if rec else self._dummy
        try:
            ok = self.hasher.verify(stored, password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or rec is None or rec["disabled"]:
            self._record_failure(name)
            return None
        if self.hasher.check_needs_rehash(stored):
            self.store.update_user(name, password_hash=self.hasher.hash(password))
        token = secrets.token_urlsafe(32)
        self.store.add_auth_session(token_hash(token), name, utcnow() + self.ttl)
        return token

    def user_for_token(self, token: str | None) -> User | None:
        """The user a token belongs to, or None if it is unknown, expired or the user is disabled."""
        if not token:
            return None
        rec = self.store.get_auth_session(token_hash(token))
        if not rec or rec["expires_at"] <= utcnow() or rec["disabled"] or rec["role"] is None:
            return None
        return User(rec["name"], rec["role"], bool(rec["disabled"]))

    def logout(self, token: str | None) -> None:
        if token:
            self.store.delete_auth_sessions(token_hash=token_hash(token))


__all__ = ["Auth", "PERMISSIONS", "PermissionDenied", "ROLES", "User", "require", "token_hash"]
