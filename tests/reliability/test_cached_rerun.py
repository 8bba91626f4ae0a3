"""A re-run makes no model call: scribe outputs and LLM-judge replies both come from the database."""

from __future__ import annotations

from evalkit.run.runner import run_suite
from evalkit.store import Store
from evalkit.run.suite import Suite
from evalkit.testing.stub_llm import StubLLM
from tests.conftest import make_consultation


def _case(i: int):
    """Distinct consultations (distinct prompts): the cough lasted i + 2 weeks."""
    c = make_consultation(f"cr-{i}")
    turns = list(c.turns)
    turns[1] = turns[1].model_copy(update={"text": f"I've had a cough for {i + 2} weeks and some wheeze at night."})
    return c.model_copy(update={"turns": turns})


def test_fresh_rerun_with_an_llm_judge_makes_no_model_call(tmp_path):
    store = Store(tmp_path / "c.duckdb")
    store.put_consultations([_case(i) for i in range(6)])
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder") as stub:
        suite = Suite(name="cr", dataset="unit", scribes=["reference"], metrics=["hallucination"],
                      judge={"model": "openai/cr-judge", "api_base": stub.api_base})
        (first,) = run_suite(suite, store, progress=False)
        assert stub.calls == 6
        (again,) = run_suite(suite, store, progress=False, fresh=True)
        assert again != first and stub.calls == 6  # every judge reply came from the cache
        other = Store(tmp_path / "other.duckdb")  # a different database has its own cache
        other.put_consultations([_case(0)])
        run_suite(suite, other, progress=False)
        assert stub.calls == 7
    a, b = store.scores_frame([first]), store.scores_frame([again])
    key = ["consultation_id", "metric"]
    same = lambda df: df.sort_values(key).value.fillna(-1.0).tolist()  # noqa: E731
    assert same(a) == same(b)
    assert (store.run_sessions(again).status == "ok").all()
