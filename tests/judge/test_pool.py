"""JudgePool: notes judged in worker processes; the parent writes cache and call records."""

from __future__ import annotations

import pytest

from evalkit.llm.pool import JudgePool
from evalkit.testing.stub_llm import StubLLM


@pytest.fixture
def server():
    with StubLLM.spawn(responder="evalkit.testing.stub_llm:judge_responder") as s:
        yield s


def _items(factory, n):
    out = []
    for i in range(n):
        c = factory(f"c{i}")
        note = c.reference_note.model_copy(deep=True)
        note.sections[-1].sentences[-1].text = f"Review in {i + 2} weeks."
        out.append((c.turns, note, c.case))
    return out


@pytest.mark.slow  # starts worker processes (each imports litellm)
def test_pool_judges_in_order_and_the_parent_keeps_the_cache(server, store, consultation_factory):
    items = _items(consultation_factory, 6)
    spec = {"model": "openai/stub", "api_base": server.api_base}
    with JudgePool(spec, processes=2, store=store, concurrency=4, max_calls=4) as pool:
        results, budget_hit = pool.judge_many(items)
    assert budget_hit and sum(r is not None for r in results) == 4  # 2 calls per worker
    assert server.calls == 4 and store.llm_call_summary()["calls"] == 4
    with JudgePool(spec, processes=2, store=store, concurrency=4) as pool:
        results, budget_hit = pool.judge_many(items)
    assert not budget_hit and all(r is not None and r.error is None for r in results)
    assert server.calls == 6  # the first four came from the cache
    assert [len(r.claims) for r in results] == [6] * 6
    assert pool.stats["cached"] == 4 and pool.stats["calls"] == 2
