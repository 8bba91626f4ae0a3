"""Accounts, argon2 hashing, expiring login sessions and role checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from evalkit.review.auth import PERMISSIONS, Auth, PermissionDenied, User, require, token_hash
from evalkit.errors import InputError
from evalkit.schema import utcnow

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def auth(store):
    return Auth(store, hasher=FAST)


def test_passwords_are_argon2_hashes_and_login_checks_them(auth, store):
    auth.add_user("dr.ada", "clinician", "s3cret-pass")
    rec = store.get_user("dr.ada")
    assert rec["password_hash"].startswith("$argon2id$") and "s3cret-pass" not in rec["password_hash"]
    assert "password_hash" not in store.list_users().columns
    token = auth.login("dr.ada", "s3cret-pass")
    assert token and auth.user_for_token(token) == User("dr.ada", "clinician")
    assert store.get_auth_session(token_hash(token))["name"] == "dr.ada"  # only the hash is stored
    assert store.get_auth_session(token) is None
    assert auth.login("dr.ada", "wrong-password") is None
    assert auth.login("nobody", "s3cret-pass") is None
    assert auth.user_for_token("made-up-token") is None


def test_sessions_expire_and_logout_ends_them(store):
    short = Auth(store, ttl_hours=-1 / 3600, hasher=FAST)  # already expired when issued
    short.add_user("eng", "engineer", "s3cret-pass")
    assert short.user_for_token(short.login("eng", "s3cret-pass")) is None
    auth = Auth(store, hasher=FAST)
    token = auth.login("eng", "s3cret-pass")
    assert auth.user_for_token(token).role == "engineer"
    auth.logout(token)
    assert auth.user_for_token(token) is None
    # an expiry in the past stored directly is refused too
    store.add_auth_session(token_hash("t2"), "eng", utcnow() - timedelta(seconds=1))
    assert auth.user_for_token("t2") is None


def test_role_change_and_disable_take_effect_on_the_next_check(auth):
    auth.add_user("dr.bob", "clinician", "s3cret-pass")
    token = auth.login("dr.bob", "s3cret-pass")
    auth.set_role("dr.bob", "engineer")
    assert auth.user_for_token(token).role == "engineer"
    auth.set_disabled("dr.bob")
    assert auth.user_for_token(token) is None
    assert auth.login("dr.bob", "s3cret-pass") is None
    auth.set_disabled("dr.bob", False)
    assert auth.login("dr.bob", "s3cret-pass")
    auth.set_password("dr.bob", "another-pass")
    assert auth.login("dr.bob", "s3cret-pass") is None and auth.login("dr.bob", "another-pass")


def test_repeated_failures_slow_the_failing_client_not_the_account(auth):
    auth.add_user("dr.cy", "clinician", "s3cret-pass")
    for _ in range(5):
        assert auth.login("dr.cy", "guess", client="10.9.9.9") is None
    # the failing client waits (even with the right password); another client is let in
    assert auth.attempt("dr.cy", "s3cret-pass", client="10.9.9.9").reason == "throttled"
    assert auth.login("dr.cy", "s3cret-pass", client="10.0.0.1")  # (timings: tests/security/test_login_throttle.py)


def test_bad_input_is_rejected_with_one_line_errors(auth):
    for args, field in ((("bad name!", "clinician", "s3cret-pass"), "name"),
                        (("ok", "nurse", "s3cret-pass"), "role"), (("ok", "clinician", "short"), "password")):
        with pytest.raises(InputError) as e:
            auth.add_user(*args)
        assert e.value.field == field and "\n" not in str(e.value)
    auth.add_user("ok", "clinician", "s3cret-pass")
    with pytest.raises(InputError):
        auth.add_user("ok", "admin", "s3cret-pass")


def test_first_admin_bootstrap_happens_once(auth):
    assert auth.needs_bootstrap()
    assert auth.bootstrap_admin("root", "s3cret-pass").role == "admin"
    assert not auth.needs_bootstrap()
    with pytest.raises(InputError):
        auth.bootstrap_admin("mallory", "s3cret-pass")
    assert auth.get("mallory") is None


def test_permissions_per_role():
    c, e, a = User("c", "clinician"), User("e", "engineer"), User("a", "admin")
    assert c.can("annotate") and c.can("adjudicate") and not c.can("dashboards") and not c.can("manage_users")
    assert e.can("dashboards") and e.can("compare") and e.can("review") and not e.can("annotate")
    assert a.can("manage_users") and a.can("assign") and not a.can("annotate")
    assert not User("x", "clinician", disabled=True).can("review")
    with pytest.raises(PermissionDenied):
        require(e, "annotate")
    with pytest.raises(PermissionDenied):
        require(None, "review")
    with pytest.raises(KeyError):
        require(a, "no_such_permission")
    assert set(PERMISSIONS) >= {"review", "annotate", "dashboards", "manage_users", "assign"}
