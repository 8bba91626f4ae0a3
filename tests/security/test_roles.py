"""Roles are enforced on the server side: every review action, called as every role.

The policy is written out here, independently of :data:`evalkit.review.auth.PERMISSIONS`: clinicians
annotate and adjudicate; admins assign; engineers and admins read the audit log; everyone who is
logged in and enabled may open the queue and sessions. A refused call raises PermissionDenied
and writes nothing. The user a page acts as comes from the login token, re-read on every call,
so a role change or a disabled account takes effect at once.
"""

from __future__ import annotations

import pytest

from evalkit.review import queue as review
from evalkit.review.auth import PermissionDenied, User
from evalkit.review.session_view import load_session

ROLES = ("clinician", "engineer", "admin", "disabled", "anonymous")

#: action → roles that may perform it (the intended policy)
POLICY = {
    "review_queue": {"clinician", "engineer", "admin"},
    "neighbours": {"clinician", "engineer", "admin"},
    "load_session": {"clinician", "engineer", "admin"},
    "label_claim": {"clinician"},
    "add_omission": {"clinician"},
    "rate_pdqi": {"clinician"},
    "comment": {"clinician"},
    "flag_session": {"clinician"},
    "clear_flag": {"clinician"},
    "set_status": {"clinician"},
    "adjudicate": {"clinician"},
    "assign": {"admin"},
    "audit_log": {"engineer", "admin"},
}


def _claims(sec) -> list[str]:
    d = sec["store"].session_detail(sec["payload_session"])
    return [f.id for f in d["findings"] if f.kind == "claim"]


def _actions(sec) -> dict:
    s, sid = sec["store"], sec["payload_session"]
    claim, other = _claims(sec)[:2]  # one to label, one to adjudicate (nobody labelled it)
    return {
        "review_queue": lambda u: review.review_queue(s, u),
        "neighbours": lambda u: review.neighbours(s, u, sid),
        "load_session": lambda u: load_session(s, u, sid),
        "label_claim": lambda u: review.label_claim(s, u, sid, claim, agree=False, judge_verdict="supported",
                                                    verdict="unsupported", type="fabrication", severity="major"),
        "add_omission": lambda u: review.add_omission(s, u, sid, "allergy to penicillin", category="allergy"),
        "rate_pdqi": lambda u: review.rate_pdqi(s, u, sid, {"accurate": 3}),
        "comment": lambda u: review.comment(s, u, sid, "looks wrong"),
        "flag_session": lambda u: review.flag_session(s, u, sid, "unsafe"),
        "clear_flag": lambda u: review.clear_flag(s, u, sid, "fine"),
        "set_status": lambda u: review.set_status(s, u, sid, "in_review"),
        "adjudicate": lambda u: review.adjudicate(s, u, sid, other, verdict="supported"),
        "assign": lambda u: review.assign(s, u, [sid], "dr.bob"),
        "audit_log": lambda u: review.audit_log(s, u),
    }


def _user(sec, role: str) -> User | None:
    return {"clinician": sec["clinician"], "engineer": sec["engineer"], "admin": sec["admin"],
            "disabled": sec["disabled"], "anonymous": None}[role]


def _written(sec) -> tuple[int, int]:
    s = sec["store"]
    return len(s.annotations()), len(s.list_assignments())


def test_policy_covers_every_action(sec):
    assert set(POLICY) == set(_actions(sec))


@pytest.mark.parametrize("role", ROLES)
def test_every_action_checks_the_role_on_the_server(sec, role):
    user = _user(sec, role)
    actions = _actions(sec)
    for name, allowed_roles in POLICY.items():
        before = _written(sec)
        if role in allowed_roles:
            actions[name](user)  # allowed: must not raise
        else:
            with pytest.raises(PermissionDenied):
                actions[name](user)
            assert _written(sec) == before, f"{name} as {role} was refused but still wrote"


def test_role_comes_from_the_token_and_changes_take_effect_at_once(sec):
    auth, store, sid = sec["auth"], sec["store"], sec["payload_session"]
    token = auth.login("dr.bob", "correct-horse-9")
    user = auth.user_for_token(token)
    review.comment(store, user, sid, "first")
    auth.set_role("dr.bob", "engineer")  # an admin demotes dr.bob
    demoted = auth.user_for_token(token)
    assert demoted.role == "engineer"
    n = len(store.annotations())
    with pytest.raises(PermissionDenied):
        review.comment(store, demoted, sid, "second")
    auth.set_disabled("dr.bob")
    assert auth.user_for_token(token) is None  # disabled: the token no longer resolves
    with pytest.raises(PermissionDenied):
        review.review_queue(store, auth.user_for_token(token))
    assert len(store.annotations()) == n


def test_a_forged_role_string_grants_nothing(sec):
    store, sid = sec["store"], sec["payload_session"]
    for fake in ("superuser", "Clinician", "clinician ", "admin,clinician", "' OR '1'='1"):
        with pytest.raises(PermissionDenied):
            review.comment(store, User("dr.ada", fake), sid, "x")
    assert store.annotations() == []


def test_assignments_go_to_enabled_clinicians_only(sec):
    from evalkit.errors import InputError

    store, admin, sid = sec["store"], sec["admin"], sec["payload_session"]
    for who in ("eng", "root", "nobody", "dr.ada' OR '1'='1"):
        with pytest.raises(InputError):
            review.assign(store, admin, [sid], who)
    assert store.list_assignments().empty
