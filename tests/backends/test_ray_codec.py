"""The Ray executor's transport codec (pydantic models as JSON) round-trips runner objects."""

from __future__ import annotations

import pickle

from evalkit.executors.ray_executor import pack, unpack
from evalkit.run.runner import process_case
from evalkit.store import SessionResult
from evalkit.run.suite import Suite
from tests.conftest import make_consultation


def test_consultation_and_session_result_roundtrip(tmp_path):
    c = make_consultation("rc1")
    assert unpack(pickle.loads(pickle.dumps(pack(c)))) == c
    suite = Suite(name="t", dataset="unit", scribes=["reference"], metrics=["adherence", "hallucination"])
    r = process_case(c, None, "reference", suite, str(tmp_path), "run")
    assert r.error is None and r.scores and r.findings
    back = unpack(pickle.loads(pickle.dumps(pack(r))))
    assert isinstance(back, SessionResult)
    for k in SessionResult.__slots__:
        assert getattr(back, k) == getattr(r, k), k
    failed = SessionResult("run:x", "x", "reference", error="boom")
    assert unpack(pack(failed)).error == "boom" and unpack(pack(failed)).output is None


def test_plain_values_pass_through():
    v = {"a": [1, "x", (1, 2)], "b": None}
    assert unpack(pack(v)) == v and unpack(pack(3)) == 3
