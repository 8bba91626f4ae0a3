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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import InputError
from .login_throttle import ThrottlePolicy
from ..schema import utcnow

if TYPE_CHECKING:
    from ..store import Store

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


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt gave: a session token, or None with the reason and the seconds to wait.

    ``reason``: ok, throttled, wrong_password, unknown_user or disabled. Tell the person at the
    login form only "wrong name or password" or "wait N s": the others would reveal which names exist.
    """

    token: str | None
    reason: str
    retry_after: float = 0.0


class Auth:
    """User accounts and login sessions kept in a :class:`~evalkit.store.Store`.

    Args:
        store: the database holding the ``users``, ``auth_sessions`` and ``login_attempts`` tables.
        ttl_hours: how long a login stays valid.
        hasher: an argon2 ``PasswordHasher`` (tests pass a cheap one).
        policy: login throttling (:class:`~evalkit.review.login_throttle.ThrottlePolicy`).
        clock: the current time as an aware datetime (tests pass a fake one).
    """

    def __init__(self, store: "Store", ttl_hours: float = 8.0, hasher: PasswordHasher | None = None,
                 policy: ThrottlePolicy | None = None, clock: Callable[[], datetime] = utcnow):
        self.store = store
        self.ttl = timedelta(hours=ttl_hours)
        self.hasher = hasher or PasswordHasher()
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self._dummy = self.hasher.hash("not-a-real-password")
        self._attempt_lock = threading.Lock()

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

    def login(self, name: str, password: str, *, client: str | None = None, device: str | None = None) -> str | None:
        """Check a password; return a new session token, or None (wrong, unknown, disabled, throttled).

        See :meth:`attempt` for the arguments and for why a login was refused.
        """
        return self.attempt(name, password, client=client, device=device).token

    def attempt(self, name: str, password: str, *, client: str | None = None,
                device: str | None = None) -> LoginResult:
        """One login attempt, throttled per client and per account (:mod:`evalkit.review.login_throttle`).

        Every attempt is recorded in ``login_attempts`` (the account name only if it exists, the
        client, a hash of the device id, the outcome — never the password).

        Args:
            name: login name.
            password: the password as typed.
            client: the client's address as the app sees it (None: "unknown").
            device: the browser's device id (a random cookie); a browser that logged in to this
                account before is not held up by other clients' failures.
        """
        name = name if isinstance(name, str) else ""
        client = (client or "unknown")[:128]
        user_key = token_hash("user:" + name)
        dev = token_hash("device:" + device) if device else None
        with self._attempt_lock:  # attempts one at a time (a burst cannot outrun its own record), pages go on
            with self.store.holding():
                now = self.clock()
                stats = self.store.login_attempt_stats(
                    user_key, client, dev, since=now - timedelta(seconds=self.policy.window_s),
                    trusted_since=now - timedelta(days=self.policy.device_days))
                wait = self.policy.retry_after(stats, now)
                rec = self.store.get_user(name) if _NAME_RE.fullmatch(name) else None
                known = rec["name"] if rec else None
                if wait > 0:
                    self.store.add_login_attempt(now, user_key, known, client, dev, "throttled")
                    return LoginResult(None, "throttled", wait)
            stored = rec["password_hash"] if rec else self._dummy
            try:
                ok = self.hasher.verify(stored, password or "")
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                ok = False
            reason = "unknown_user" if rec is None else "wrong_password" if not ok else \
                "disabled" if rec["disabled"] else "ok"
            self.store.add_login_attempt(now, user_key, known, client, dev, reason)
        if reason != "ok":
            return LoginResult(None, reason)
        if self.hasher.check_needs_rehash(stored):
            self.store.update_user(name, password_hash=self.hasher.hash(password))
        token = secrets.token_urlsafe(32)
        self.store.add_auth_session(token_hash(token), name, utcnow() + self.ttl)
        return LoginResult(token, "ok")

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


__all__ = ["Auth", "LoginResult", "PERMISSIONS", "PermissionDenied", "ROLES", "User", "require", "token_hash"]
