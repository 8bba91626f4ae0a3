"""A small database whose notes, transcript, specialty, run label and scribe output carry
XSS and SQL-injection payloads, plus one account per role (cheap argon2 parameters)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from evalkit.review.auth import Auth, User
from evalkit.run.runner import run_suite
from evalkit.store import Store
from evalkit.run.suite import FlagRule, Suite
from tests.conftest import make_consultation

FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PW = "correct-horse-9"

XSS = [
    "<script>window.__xss = 1</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg/onload=alert(1)>",
    "</div><iframe src=//evil.invalid></iframe>",
    "[click me](javascript:alert(1))",
]
SQLI = [
    "' OR '1'='1",
    "'; DROP TABLE annotations; --",
    "\" OR 1=1 --",
    "x') UNION SELECT name, password_hash FROM users --",
    "%' OR 1=1 --",
    "\\'; DELETE FROM users; --",
    "1; SELECT * FROM users",
]
PAYLOADS = XSS + SQLI
#: the specialty of the payload case (a filter value that must match exactly)
SPECIALTY = "cardiology' OR '1'='1 <b>x</b>"
LABEL = "candidate<script>alert('run')</script>' OR 1=1 --"


def payload_consultation():
    """A consultation whose dialogue and reference note carry every payload (verbatim)."""
    from evalkit.schema import NoteSentence

    c = make_consultation("sec-payload")
    turns = list(c.turns) + [c.turns[-1].model_copy(update={"id": len(c.turns) + i, "text": f"Also {p} today."})
                             for i, p in enumerate(PAYLOADS)]
    note = c.reference_note.model_copy(deep=True)
    plan = next(s for s in note.sections if s.key == "plan")
    plan.sentences += [NoteSentence(id=f"plan.{2 + i}", text=f"Patient says {p} again.") for i, p in enumerate(PAYLOADS)]
    case = c.case.model_copy(update={"specialty": SPECIALTY, "chief_complaint": XSS[1]})
    return c.model_copy(update={"turns": turns, "reference_note": note, "case": case})


def payload_note_text() -> str:
    return "SUBJECTIVE\n" + "\n".join(f"Reports {p} pain." for p in PAYLOADS) + "\n\nPLAN\nReview in four weeks."


@pytest.fixture(scope="session")
def sec_template(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("sec")
    store = Store(d / "sec.duckdb")
    store.put_consultations([payload_consultation(), make_consultation("sec-plain")])
    replay = d / "replay.jsonl"
    replay.write_text("\n".join(json.dumps({"id": cid, "note": payload_note_text()})
                                for cid in ("sec-payload", "sec-plain")) + "\n", encoding="utf-8")
    suite = Suite(name="sec<script>", dataset="unit", scribes=["replay"], scribe_options={"replay": {"path": str(replay)}},
                  metrics=["adherence", "hallucination"],
                  flag_rules=[FlagRule(name="any_claim", metric="hallucination_rate", op=">=", value=0)])
    (rid,) = run_suite(suite, store, label=LABEL, progress=False)
    auth = Auth(store, hasher=FAST)
    for name, role in (("dr.ada", "clinician"), ("dr.bob", "clinician"), ("eng", "engineer"), ("root", "admin"),
                       ("dr.off", "clinician")):
        auth.add_user(name, role, PW)
    auth.set_disabled("dr.off")
    return {"dir": d, "run_id": rid, "payload_session": f"{rid}:sec-payload", "plain_session": f"{rid}:sec-plain"}


@pytest.fixture
def sec(sec_template, tmp_path) -> dict:
    """A fresh copy of the payload database for one test."""
    d = tmp_path / "sec"
    shutil.copytree(sec_template["dir"], d)
    store = Store(d / "sec.duckdb")
    users = {u.name: u for u in Auth(store, hasher=FAST).users()}
    return {**sec_template, "dir": d, "db": d / "sec.duckdb", "store": store, "auth": Auth(store, hasher=FAST),
            "users": users, "clinician": users["dr.ada"], "engineer": users["eng"], "admin": users["root"],
            "disabled": users["dr.off"]}


__all__ = ["FAST", "LABEL", "PAYLOADS", "PW", "SPECIALTY", "SQLI", "XSS", "User"]
