"""Fixtures for the LLM judge tests: a loopback stub server and clients with fast backoff."""

from __future__ import annotations

import pytest

from evalkit.testing.stub_llm import StubLLM


@pytest.fixture
def stub():
    """A scripted OpenAI-compatible server on 127.0.0.1 (replies default to the judge responder)."""
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder") as s:
        yield s


@pytest.fixture
def make_client(store):
    """LLMClient factory with a fast retry backoff, closed at teardown."""
    from evalkit.llm import LLMClient

    made = []

    def make(**kw):
        kw.setdefault("backoff", 0.01)
        kw.setdefault("max_backoff", 0.05)
        c = LLMClient(kw.pop("store", store), **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def spec(stub):
    from evalkit.llm import ModelSpec

    return ModelSpec(model="openai/stub", api_base=stub.api_base, timeout=2.0)


def verdicts_for(req: dict, overrides: dict[str, dict] | None = None, omissions: list | None = None) -> dict:
    """A judge reply for exactly the sentence ids a request asks about (overrides by sentence id)."""
    from evalkit.testing.stub_llm import requested_sentence_ids

    claims = []
    for sid in requested_sentence_ids(req):
        c = {"sentence_id": sid, "text": f"claim {sid}", "verdict": "supported", "evidence": [1]}
        c.update((overrides or {}).get(sid, {}))
        claims.append(c)
    return {"claims": claims, "salient_facts": 5, "omissions": omissions or []}
