"""Login throttling (issue 18 item 8): growing delays per client and per account, kept in the
database, bounded, and never a lockout a third party can impose on a clinician.

Every test drives :class:`evalkit.review.auth.Auth` with an injected clock: no sleeping, no timing.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher

from evalkit.review.auth import Auth
from evalkit.store import Store

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct-horse-9"
ATTACKER, CLINIC, WARD = "203.0.113.66", "10.1.2.3", "10.1.2.4"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "auth.duckdb"


@pytest.fixture
def auth(db, clock) -> Auth:
    a = Auth(Store(db), hasher=FAST, clock=clock)
    a.add_user("dr.ada", "clinician", PW)
    a.add_user("dr.bob", "clinician", PW)
    return a


def hammer(auth: Auth, clock: Clock, n: int, name: str = "dr.ada", client: str = ATTACKER,
           every: float = 1.0) -> None:
    """``n`` wrong passwords from ``client``, one every ``every`` seconds (refused or throttled alike)."""
    for i in range(n):
        assert auth.attempt(name, f"guess-{i:04d}", client=client).token is None
        clock.tick(every)


def test_a_third_party_cannot_lock_a_clinician_out(auth, clock):
    hammer(auth, clock, 40)
    # before issue 18 the account itself was locked: the right password was refused for 5 minutes
    res = auth.attempt("dr.ada", PW, client=CLINIC)
    assert res.token and auth.user_for_token(res.token).name == "dr.ada" and res.retry_after == 0


def test_the_failing_client_waits_longer_and_longer_but_never_more_than_the_cap(auth, clock):
    pol = auth.policy
    waits = []
    for i in range(14):
        res = auth.attempt("dr.ada", f"guess-{i}", client=ATTACKER)
        if res.retry_after:  # throttled: the password was not even checked; wait as told
            assert res.reason == "throttled"
            waits.append(res.retry_after)
            clock.tick(res.retry_after)
    assert waits == sorted(waits) and waits[0] == pol.base_s and len(set(waits)) >= 4  # growing
    assert max(waits) <= pol.client_cap_s
    # still failing long after: every wait is bounded by the cap
    for i in range(30):
        res = auth.attempt("dr.ada", f"more-{i}", client=ATTACKER)
        assert res.retry_after <= pol.client_cap_s
        clock.tick(max(res.retry_after, 1))
    # the right password from the failing client is refused while it must wait ...
    hammer(auth, clock, 1, every=0)
    res = auth.attempt("dr.ada", PW, client=ATTACKER)
    assert res.token is None and 0 < res.retry_after <= pol.client_cap_s
    # ... and accepted once it has waited, even though the account keeps being attacked elsewhere
    clock.tick(res.retry_after)
    hammer(auth, clock, 3, client="198.51.100.1", every=0)
    assert auth.attempt("dr.ada", PW, client=ATTACKER).token


def test_the_account_delay_slows_every_client_that_keeps_failing_on_it(auth, clock):
    # a distributed guesser: many addresses, each failing on the same account
    for k in range(12):
        hammer(auth, clock, 1, client=f"198.51.100.{k}", every=0)
    clock.tick(0.5)
    # one of them tries again at once: its own address has failed once only, yet it must wait
    res = auth.attempt("dr.ada", "guess-again", client="198.51.100.3")
    assert res.token is None and res.reason == "throttled" and res.retry_after > 1
    assert res.retry_after <= auth.policy.user_cap_s
    # the other account is not slowed by it, nor is an address that has not been failing
    assert auth.attempt("dr.bob", PW, client="198.51.100.3").token
    assert auth.attempt("dr.ada", PW, client=CLINIC).token


def test_a_browser_that_logged_in_before_is_never_held_up_by_others_at_its_address(auth, clock):
    assert auth.attempt("dr.ada", PW, client=CLINIC, device="ada-laptop").token  # trusted from now on
    clock.tick(3600)
    hammer(auth, clock, 60, client=CLINIC)  # an attacker behind the same hospital NAT address
    # an unknown browser at that address waits ...
    assert auth.attempt("dr.ada", PW, client=CLINIC, device="new-browser").token is None
    # ... the clinician's own browser does not
    assert auth.attempt("dr.ada", PW, client=CLINIC, device="ada-laptop").token
    # and a guessed device id is worth nothing
    assert auth.attempt("dr.ada", PW, client=CLINIC, device="ada-laptop2").token is None


def test_throttling_survives_a_restart_because_attempts_live_in_the_database(auth, db, clock):
    hammer(auth, clock, 12)
    again = Auth(Store(db), hasher=FAST, clock=clock)  # a new process: no memory of its own
    res = again.attempt("dr.ada", PW, client=ATTACKER)
    assert res.token is None and res.retry_after > 0
    assert again.attempt("dr.ada", PW, client=CLINIC).token


def test_unknown_names_are_throttled_like_real_ones(auth, clock):
    hammer(auth, clock, 12, name="dr.nobody")
    a = auth.attempt("dr.nobody", PW, client=ATTACKER)
    assert a.token is None and a.reason == "throttled"


def test_failed_attempts_reach_the_audit_trail_without_passwords(auth, db, clock):
    auth.attempt("dr.ada", "Winter2030!", client=ATTACKER)
    clock.tick(1)
    auth.attempt("Winter2031!", "dr.ada", client=ATTACKER)  # the password typed into the name field
    clock.tick(1)
    auth.attempt("dr.ada", PW, client=CLINIC)
    log = auth.store.login_attempts()
    assert list(log["outcome"]) == ["ok", "unknown_user", "wrong_password"]  # newest first
    assert list(log["client"]) == [CLINIC, ATTACKER, ATTACKER]
    assert log["name"].iloc[2] == "dr.ada" and log["name"].iloc[1] is None  # an unknown name is not kept
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.is_file())
    assert b"Winter2030!" not in raw and b"Winter2031!" not in raw and PW.encode() not in raw
