"""Calibration: exact recall on a scripted judge that catches a known subset, the same through an
LLM judge served by the stub, clinician κ, gates and storage."""

from __future__ import annotations

import re

import pytest

from evalkit.review.agreement import cohen_kappa
from evalkit.calibrate.calibrate import calibrate, clinician_agreement, gate
from evalkit.calibrate.measure import measure
from evalkit.schema import Claim, JudgeResult, Omission

KINDS = ("fabricated_medication", "fabricated_dose", "laterality_swap", "negation_flip", "deleted_plan_item")


@pytest.fixture(scope="module")
def items():
    from evalkit.synth import generate, load_cards

    return generate(load_cards(), 8, seed=3)


class Scripted:
    """Flags every altered sentence (and reports every deleted one) of the consultations in ``catch``;
    also always flags the first sentence of ``noisy`` (a known false flag)."""

    def __init__(self, items, catch, noisy):
        self.clean = {c.id: {s.id: s.text for _, s in c.reference_note.sentences()} for c in items}
        self.by_first_turn = {c.turns[0].text: c.id for c in items}
        self.catch, self.noisy = set(catch), noisy
        self.name, self.version = "scripted", "1"

    def verdicts(self, cid, sentences):
        clean = self.clean[cid]
        first = next(iter(clean))
        out = {}
        for sid, text in sentences:
            changed = clean.get(sid) != text
            flag = (changed and cid in self.catch) or (cid == self.noisy and sid == first)
            out[sid] = flag
        shown = {sid for sid, _ in sentences}
        missing = [t for sid, t in clean.items() if sid not in shown] if cid in self.catch else []
        return out, missing

    def judge(self, turns, note, case=None):
        cid = self.by_first_turn[turns[0].text]
        flags, missing = self.verdicts(cid, [(s.id, s.text) for _, s in note.sentences()])
        claims = [Claim(id=f"{sid}#0", sentence_id=sid, section=sid.split(".")[0], text="c",
                        verdict="unsupported" if f else "supported", type="fabrication" if f else None,
                        severity="major" if f else None) for sid, f in flags.items()]
        oms = [Omission(id=f"o{i}", text=t, severity="major") for i, t in enumerate(missing)]
        return JudgeResult(claims=claims, omissions=oms, judge="scripted")


def _expected(items, catch, seed):
    """Recall when exactly the consultations in ``catch`` are caught: planted there / planted overall."""
    perfect = Scripted(items, {c.id for c in items}, None)
    sub = measure(perfect.judge, [c for c in items if c.id in catch], KINDS, seed)
    full = measure(perfect.judge, items, KINDS, seed)
    assert full["recall"] and all(v == 1.0 for v in full["recall"].values())
    return {k: sub["planted"].get(k, 0) / n for k, n in full["planted"].items()}


def test_recall_is_exact_on_a_scripted_judge(items):
    catch = {c.id for c in items[::2]}
    noisy = items[1].id
    judge = Scripted(items, catch, noisy)
    res = calibrate(judge, items, kinds=KINDS, seed=11, save=False)
    assert res["recall"] == pytest.approx(_expected(items, catch, 11))
    n_claims = sum(len(c.reference_note.sentences()) for c in items)
    assert res["false_flag_claim_rate"] == pytest.approx(1 / n_claims)
    assert res["false_flag_note_rate"] == pytest.approx(1 / len(items))
    assert res["judge"] == "scripted" and res["cost"]["calls"] == 0 and res["judge_errors"] == 0
    assert gate(res, min_recall=0.0, max_false_flag=0.5) == []
    fails = gate(res, min_recall=0.99, max_false_flag=0.0)
    assert any(f.startswith("recall ") for f in fails) and any("false-flag" in f for f in fails)


def _stub_judge(scripted):
    """The scripted judge as an LLM reply: reads the prompt's [T..] and [S:..] lines."""
    def responder(req):
        user = req["messages"][1]["content"]
        first_turn = re.search(r"^\[T0 \w+\] (.*)$", user, re.M).group(1)
        cid = scripted.by_first_turn[first_turn]
        note_part = user.split("NOTE (sentences", 1)[1]
        sentences = re.findall(r"^\[S:([^\]]+)\] (.*)$", note_part, re.M)
        flags, missing = scripted.verdicts(cid, sentences)
        return {"claims": [{"sentence_id": sid, "verdict": "unsupported" if f else "supported",
                            "severity": "major" if f else None, "evidence": [0]} for sid, f in flags.items()],
                "salient_facts": 3, "omissions": [{"text": t, "severity": "major"} for t in missing]}
    return responder


def test_llm_judge_calibration_matches_and_is_stored(stub, items, store):
    from evalkit.calibrate.calibrate import make_calibration_judge
    from evalkit.llm import LLMClient

    catch = {c.id for c in items[1::2]}
    scripted = Scripted(items, catch, items[0].id)
    stub.core.responder = _stub_judge(scripted)
    stub.latency = 0.02
    client = LLMClient(store, concurrency=8, backoff=0.01)
    judge = make_calibration_judge({"model": "openai/stub", "api_base": stub.api_base}, client=client)
    res = calibrate(judge, items, kinds=KINDS, seed=5, store=store, dataset="synthetic")
    direct = calibrate(scripted, items, kinds=KINDS, seed=5, save=False)
    assert res["recall"] == direct["recall"] and res["false_flag_claim_rate"] == direct["false_flag_claim_rate"]
    assert res["recall"] == pytest.approx(_expected(items, catch, 5))
    assert stub.max_inflight > 1  # judged concurrently
    assert res["cost"]["calls"] == stub.calls == res["judged_notes"]
    client.close()
    rows = store.calibrations("openai/stub")
    assert len(rows) == 1 and rows.iloc[0]["judge_version"] == f"{judge.version}+{judge.prompt_hash}"
    assert rows.iloc[0]["result"]["recall"] == res["recall"] and rows.iloc[0]["dataset"] == "synthetic"
    # a second calibration of the same judge version is free: every reply is cached
    client2 = LLMClient(store, concurrency=8)
    judge2 = make_calibration_judge({"model": "openai/stub", "api_base": stub.api_base}, client=client2)
    before = stub.calls
    again = calibrate(judge2, items, kinds=KINDS, seed=5, store=store, dataset="synthetic")
    assert stub.calls == before and again["recall"] == res["recall"] and again["cost"]["cached"] > 0
    client2.close()


def _annotated_store(store, consult):
    from evalkit.schema import Annotation, Finding, ScribeOutput
    from evalkit.store import SessionResult

    store.put_consultations([consult])
    rid = store.create_run(run_id="r1", dataset="unit", scribe="reference")
    sid = f"{rid}:{consult.id}"
    out = ScribeOutput(consultation_id=consult.id, transcript=consult.turns, note=consult.reference_note,
                       backend="reference")
    stored = [Finding(kind="claim", id=f"{s.id}#0", text=s.text, sentence_id=s.id, verdict="supported")
              for _, s in consult.reference_note.sentences()]
    store.write_results(rid, [SessionResult(sid, consult.id, "reference", output=out, findings=stored)])
    labels = {
        "r1": {"subjective.0#0": {"agree": True}, "subjective.1#0": {"agree": False, "severity": "major"},
               "plan.0#0": {"verdict": "unsupported", "severity": "minor"}},
        "r2": {"subjective.0#0": {"agree": False, "severity": "minor"},
               "subjective.1#0": {"agree": False, "severity": "major"}, "plan.0#0": {"verdict": "supported"}},
    }
    for reviewer, by_target in labels.items():
        for target, payload in by_target.items():
            store.add_annotation(Annotation(session_id=sid, reviewer=reviewer, kind="claim_label", target=target,
                                            payload=payload), run_id=rid)
    return sid


class FlagTwo:
    name, version = "flag-two", "1"

    def judge(self, turns, note, case=None):
        sev = {"subjective.1": "major", "plan.0": "minor"}
        return JudgeResult(claims=[Claim(id=f"{s.id}#0", sentence_id=s.id, section=sec.key, text=s.text,
                                         verdict="unsupported" if s.id in sev else "supported",
                                         type="fabrication" if s.id in sev else None, severity=sev.get(s.id))
                                   for sec, s in note.sentences()])


def test_kappa_between_judge_and_clinicians(store, consultation_factory):
    _annotated_store(store, consultation_factory())
    got = clinician_agreement(store, FlagTwo())
    j = [False, True, True, False, True, True]
    c = [False, True, True, True, True, False]
    assert got["items"] == 6 and got["reviewers"] == ["r1", "r2"]
    assert got["kappa_judge_clinician"] == pytest.approx(cohen_kappa(j, c, labels=[False, True]))
    js = ["none", "major", "minor", "none", "major", "minor"]
    cs = ["none", "major", "minor", "minor", "major", "none"]
    assert got["weighted_kappa_severity"] == pytest.approx(
        cohen_kappa(js, cs, labels=["none", "minor", "major"], weights="linear"))
    assert got["kappa_between_clinicians"]["r1|r2"]["kappa"] == pytest.approx(
        cohen_kappa([False, True, True], [True, True, False], labels=[False, True]))
    res = {"recall": {"x": 1.0}, "clinicians": got}
    assert gate(res, min_kappa=got["kappa_judge_clinician"]) == []
    assert gate(res, min_kappa=0.99)[0].startswith("κ judge–clinician")
    assert gate({"recall": {}}, min_kappa=0.1) == ["no clinician claim labels to compute κ on"]
