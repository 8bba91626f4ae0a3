"""Jury aggregation on scripted verdicts from three judges served by one stub."""

from __future__ import annotations

import pytest

from evalkit.llm.judge import make_llm_judge

from .conftest import verdicts_for

SCRIPT = {
    "a": {"subjective.1": {"verdict": "contradicted", "type": "negation", "severity": "major"},
          "plan.0": {"verdict": "unsupported", "type": "fabrication", "severity": "major"}},
    "b": {"subjective.1": {"verdict": "contradicted", "type": "negation", "severity": "minor"}},
    "c": {"subjective.0": {"verdict": "unsupported", "type": "fabrication", "severity": "minor"}},
}
OMISSIONS = {
    "a": [{"text": "penicillin allergy", "category": "allergy", "severity": "major", "evidence": [7]}],
    "b": [{"text": "Penicillin allergy (rash)", "category": "allergy", "severity": "minor", "evidence": [7]}],
    "c": [{"text": "wheeze at night", "category": "symptom", "severity": "minor", "evidence": [1]}],
}


@pytest.fixture
def jury_stub(stub):
    stub.core.responder = lambda req: verdicts_for(req, SCRIPT[req["model"]], OMISSIONS[req["model"]])
    return stub


def _verdicts(res):
    return {c.sentence_id: (c.verdict, c.type, c.severity) for c in res.claims}


def test_majority(jury_stub, consultation_factory):
    c = consultation_factory()
    jury = make_llm_judge({"jury": ["openai/a", "openai/b", "openai/c"], "rule": "majority"},
                          api_base=jury_stub.api_base)
    res, detail = jury.client.run(jury.ajudge_detailed(c.turns, c.reference_note))
    v = _verdicts(res)
    assert v["subjective.0"] == ("supported", None, None)
    assert v["subjective.1"] == ("contradicted", "negation", "major")  # 2/3; severity tie goes to major
    assert v["plan.0"] == ("supported", None, None)  # 1/3 is not a majority
    assert sum(1 for x in v.values() if x[0] != "supported") == 1
    assert [(o.text, o.severity) for o in res.omissions] == [("penicillin allergy", "major")]
    assert res.omissions[0].evidence == [7]
    agree = {k: d["agreement"] for k, d in detail["judges"].items()}
    assert agree == pytest.approx({"openai/a": 5 / 6, "openai/b": 1.0, "openai/c": 4 / 6})
    assert jury.agreement() == pytest.approx(agree)
    sub1 = next(x for x in res.claims if x.sentence_id == "subjective.1")
    assert "2/3" in sub1.rationale and "openai/c: supported" in sub1.rationale
    assert res.judge.startswith("jury:majority:") and res.prompt_hash == jury.prompt_hash
    jury.close()


def test_any_major(jury_stub, consultation_factory):
    c = consultation_factory()
    jury = make_llm_judge({"jury": ["openai/a", "openai/b", "openai/c"], "rule": "any_major"},
                          api_base=jury_stub.api_base)
    res = jury.judge(c.turns, c.reference_note)
    v = _verdicts(res)
    assert v["plan.0"] == ("unsupported", "fabrication", "major")  # one judge called it major
    assert v["subjective.1"] == ("contradicted", "negation", "major")
    assert v["subjective.0"] == ("supported", None, None)  # a minor minority stays supported
    assert [(o.text, o.severity) for o in res.omissions] == [("penicillin allergy", "major")]
    jury.close()


def test_a_failing_member_abstains_and_is_reported(jury_stub, consultation_factory):
    from evalkit.testing.stub_llm import malformed

    def responder(req):
        if req["model"] == "c":
            return malformed("nope")
        return verdicts_for(req, SCRIPT[req["model"]], OMISSIONS[req["model"]])

    jury_stub.core.responder = responder
    c = consultation_factory()
    jury = make_llm_judge(["openai/a", "openai/b", "openai/c"], api_base=jury_stub.api_base)
    res = jury.judge(c.turns, c.reference_note)
    assert res.error and res.error.startswith("openai/c:")
    v = _verdicts(res)
    assert v["plan.0"] == ("supported", None, None)  # 1 of the 2 voters: not a majority
    assert v["subjective.1"][0] == "contradicted"
    jury.close()


def test_suite_run_with_a_jury_stores_per_judge_agreement(jury_stub, consultation_factory, store):
    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite

    store.put_consultations([consultation_factory(dataset="jury")])
    members = [{"model": f"openai/{m}", "api_base": jury_stub.api_base} for m in "abc"]
    suite = Suite(name="jury", dataset="jury", scribes=["reference"], metrics=["hallucination"],
                  judge={"jury": members, "rule": "majority"}, concurrency=1)
    [rid] = run_suite(suite, store, progress=False)
    [sid] = store.run_sessions(rid)["session_id"]
    detail = store.session_detail(sid)
    got = detail["scores"]["jury_agreement"]
    # the same jury on the stored note, directly: the run stored its per-judge agreement
    jury = make_llm_judge({"jury": members, "rule": "majority"})
    _, expect = jury.client.run(jury.ajudge_detailed(consultation_factory().turns, detail["output"].note))
    jury.close()
    per_judge = {k: d["agreement"] for k, d in got["detail"]["judges"].items()}
    assert per_judge == pytest.approx({k: d["agreement"] for k, d in expect["judges"].items()})
    assert set(per_judge) == {"openai/a", "openai/b", "openai/c"} and per_judge["openai/b"] == 1.0
    assert per_judge["openai/a"] < 1.0 and per_judge["openai/c"] < per_judge["openai/a"]
    assert got["value"] == pytest.approx(sum(per_judge.values()) / 3) and got["detail"]["rule"] == "majority"
    assert got["detail"]["judges"]["openai/a"]["votes"] == len(detail["output"].note.sentences())
