"""The claims judge end to end through litellm against the stub: parsing, repair, splitting,
long transcripts, error recording."""

from __future__ import annotations

import pytest

from evalkit.llm.judge import LLMJudge, make_llm_judge
from evalkit.llm import BudgetExceeded, Budget
from evalkit.testing.stub_llm import error, malformed, ok, truncated

from .conftest import verdicts_for


@pytest.fixture
def consult(consultation_factory):
    return consultation_factory()


def _judge(spec, make_client, **kw):
    return LLMJudge(spec, client=make_client(**kw.pop("client_kw", {})), **kw)


def test_verdicts_become_claims_with_checked_evidence(stub, spec, make_client, consult):
    def responder(req):
        return verdicts_for(req, {
            "subjective.1": {"verdict": "contradicted", "type": "Negation", "severity": "MAJOR", "evidence": [3, 99]},
            "plan.0": {"verdict": "unsupported", "severity": "major", "evidence": ["T9", "x"]},
        }, omissions=[{"text": "penicillin allergy", "category": "allergy", "severity": "major", "evidence": [7]}])

    stub.core.responder = responder
    j = _judge(spec, make_client)
    res = j.judge(consult.turns, consult.reference_note, consult.case)
    assert res.error is None and res.judge == "openai/stub" and res.prompt_hash == j.prompt_hash
    by_id = {c.id: c for c in res.claims}
    assert list(by_id) == ["subjective.0#0", "subjective.1#0", "objective.0#0", "assessment.0#0", "plan.0#0",
                           "plan.1#0"]
    neg = by_id["subjective.1#0"]
    assert (neg.verdict, neg.type, neg.severity, neg.evidence, neg.section) == (
        "contradicted", "negation", "major", [3], "subjective")
    fab = by_id["plan.0#0"]
    assert (fab.verdict, fab.type, fab.evidence) == ("unsupported", "fabrication", [9])
    assert j.stats["invalid_evidence"] == 1 + 1  # turn 99 and the unparseable "x" never reach the claim
    assert [o.text for o in res.omissions] == ["penicillin allergy"] and res.omissions[0].evidence == [7]
    assert res.salient_facts == 5
    req = stub.requests[0]
    assert req["temperature"] == 0 and req["response_format"]["type"] == "json_schema"
    user = req["messages"][1]["content"]
    assert "[T3 patient] No, no chest pain." in user and "[S:plan.1] Review in four weeks." in user


def test_note_and_transcript_as_text(stub, spec, make_client):
    j = _judge(spec, make_client)
    res = j.judge("[doctor] any pain?\n[patient] no pain at all.", "PLAN\n\nNo pain reported. Return as needed.")
    assert [c.sentence_id for c in res.claims] == ["plan.0", "plan.1"]
    assert all(c.verdict == "supported" for c in res.claims)


def test_malformed_reply_is_repaired_by_asking_again(stub, spec, make_client, consult):
    stub.push(malformed("Sure! Here is my verdict: {claims: oops"))
    j = _judge(spec, make_client)
    res = j.judge(consult.turns, consult.reference_note)
    assert res.error is None and len(res.claims) == 6
    assert stub.calls == 2
    repair = stub.requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and "could not be used" in repair[-1]["content"]


def test_local_json_repair_needs_no_second_call(stub, spec, make_client, consult):
    def fenced(req):
        import json

        return "```json\n" + json.dumps(verdicts_for(req))[:-1] + ",}\n```"

    stub.core.responder = fenced
    res = _judge(spec, make_client).judge(consult.turns, consult.reference_note)
    assert res.error is None and len(res.claims) == 6 and stub.calls == 1


def test_unrepairable_reply_is_recorded_as_judge_error_and_run_continues(stub, spec, make_client, consult):
    stub.push(malformed("no json"), malformed("still none"))
    j = _judge(spec, make_client)
    bad = j.judge(consult.turns, consult.reference_note)
    assert bad.claims == [] and bad.error and "6 sentence(s) not judged" in bad.error
    assert "chest" not in bad.error  # no patient text in errors
    good = j.judge(consult.turns, consult.reference_note)  # next case: normal again
    assert good.error is None and len(good.claims) == 6


def test_failed_call_is_recorded_not_raised(stub, spec, make_client, consult):
    stub.push(error(401))
    res = _judge(spec, make_client).judge(consult.turns, consult.reference_note)
    assert res.error and "call failed" in res.error and "401" in res.error


def test_truncated_reply_keeps_complete_claims_and_asks_for_the_rest(stub, spec, make_client, consult):
    ids = [s.id for _, s in consult.reference_note.sentences()]
    full = {"claims": [{"sentence_id": i, "verdict": "supported", "evidence": [1], "rationale": "r" * 40}
                       for i in ids]}
    stub.push(truncated(full))  # cut half way: the first claims are complete
    res = _judge(spec, make_client).judge(consult.turns, consult.reference_note)
    assert res.error is None and [c.sentence_id for c in res.claims] == ids
    assert stub.calls == 2
    again = stub.requests[1]["messages"][1]["content"].rsplit("Judge all", 1)[1]
    assert "subjective.0" not in again and "plan.1" in again


def test_unreadable_truncated_reply_splits_the_batch(stub, spec, make_client, consult):
    from evalkit.testing.stub_llm import StubReply

    stub.push(StubReply(kind="truncated", content='{"claims": [{"sentence_id": "subjective.0", "verd'))
    res = _judge(spec, make_client).judge(consult.turns, consult.reference_note)
    assert res.error is None and len(res.claims) == 6
    asked = sorted(r["messages"][1]["content"].rsplit("Judge all", 1)[1][:13] for r in stub.requests[1:])
    assert asked == [" 3 sentences:", " 3 sentences:"]


def test_repeated_claims_are_not_multiplied(stub, spec, make_client, consult):
    def twice(req):
        r = verdicts_for(req)
        r["claims"] = r["claims"] * 2
        return r

    stub.core.responder = twice
    res = _judge(spec, make_client).judge(consult.turns, consult.reference_note)
    assert len(res.claims) == 6


def test_skipped_sentences_are_asked_again(stub, spec, make_client, consult):
    def skip_plan(req):
        r = verdicts_for(req)
        if len(r["claims"]) == 6:
            r["claims"] = [c for c in r["claims"] if not c["sentence_id"].startswith("plan")]
        return r

    stub.core.responder = skip_plan
    res = _judge(spec, make_client).judge(consult.turns, consult.reference_note)
    assert res.error is None and len(res.claims) == 6
    assert stub.calls == 2
    assert "Judge all 2 sentences: plan.0, plan.1" in stub.requests[1]["messages"][1]["content"]
    assert '"omissions": []' in stub.requests[1]["messages"][1]["content"]  # omissions asked once only


def test_invalid_claim_items_are_rejudged_and_bad_omissions_reported(stub, spec, make_client, consult):
    stub.push(ok({"claims": [{"sentence_id": "plan.0", "verdict": "supported", "evidence": [9]},
                             {"sentence_id": "plan.1", "verdict": "maybe"}],
                  "omissions": [{"text": "x"}]}))
    res = _judge(spec, make_client).judge(consult.turns, consult.reference_note)
    assert len(res.claims) == 6  # the invalid verdict was asked again with the unjudged sentences
    assert "plan.1" in stub.requests[1]["messages"][1]["content"].rsplit("Judge all", 1)[1]
    assert res.error and "omission 0 unusable" in res.error and "severity" in res.error


def test_long_transcript_is_judged_in_windows(stub, make_client, consult):
    from evalkit.llm import ModelSpec
    from evalkit.schema import SpeakerRole, Turn

    filler = [Turn(id=10 + i, speaker=SpeakerRole.PATIENT, text=f"Filler remark number {i} about the weather " * 6)
              for i in range(60)]
    turns = consult.turns + filler

    def by_window(req):
        text = req["messages"][1]["content"]
        supported_here = "[T9 clinician]" in text  # only the window with turn 9 supports the plan
        return verdicts_for(req, {s: {"verdict": "supported" if supported_here else "unsupported",
                                      "severity": "major", "evidence": [9] if supported_here else []}
                                  for s in ("plan.0", "plan.1")})

    stub.core.responder = by_window
    spec = ModelSpec(model="openai/stub", api_base=stub.api_base, context_tokens=2600, max_tokens=600)
    res = _judge(spec, make_client).judge(turns, consult.reference_note)
    assert stub.calls >= 2
    prompts = [r["messages"][1]["content"] for r in stub.requests]
    assert all("part " in p and " of " in p for p in prompts)
    assert sum("[T9 clinician]" in p for p in prompts) >= 1 and sum("[T69 patient]" in p for p in prompts) >= 1
    plan = [c for c in res.claims if c.sentence_id.startswith("plan")]
    assert [c.verdict for c in plan] == ["supported", "supported"] and plan[0].evidence == [9]
    assert res.error is None


def test_budget_exceeded_propagates(stub, spec, make_client, consult):
    j = LLMJudge(spec, client=make_client(budget=Budget(max_calls=0)))
    with pytest.raises(BudgetExceeded):
        j.judge(consult.turns, consult.reference_note)


def test_make_llm_judge_specs(stub):
    from evalkit.errors import InputError
    from evalkit.llm.jury import Jury

    j = make_llm_judge("openai/a", api_base=stub.api_base)
    assert isinstance(j, LLMJudge) and j.spec.api_base == stub.api_base and j.version == "claims-1"
    j2 = make_llm_judge({"model": "openai/b", "api_base": "http://x/v1", "repairs": 2}, api_base=stub.api_base)
    assert j2.spec.api_base == "http://x/v1" and j2.repairs == 2
    jury = make_llm_judge({"jury": ["openai/a", {"model": "openai/b"}], "rule": "any_major"}, api_base=stub.api_base)
    assert isinstance(jury, Jury) and jury.rule == "any_major" and jury.judges[0].client is jury.judges[1].client
    assert isinstance(make_llm_judge(["openai/a", "openai/a"]), Jury)
    with pytest.raises(InputError, match="rule"):
        make_llm_judge({"jury": ["openai/a", "openai/b"], "rule": "loudest"})
    with pytest.raises(InputError, match="max_tokens"):
        make_llm_judge({"model": "openai/a", "max_tokens": "lots"})
    for x in (j, j2, jury):
        x.close()


def test_runner_make_judge_uses_llm_judge(stub):
    from evalkit.run.runner import make_judge

    j = make_judge({"model": "openai/stub", "api_base": stub.api_base})
    assert isinstance(j, LLMJudge)
    j.close()
