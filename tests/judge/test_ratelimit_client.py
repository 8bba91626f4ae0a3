"""The client against a rate-limited server: refusals are waited out, limits are learnt or obeyed."""

from __future__ import annotations

import asyncio

import pytest

from evalkit.llm.client import LLMClient
from evalkit.llm.judge import make_llm_judge
from evalkit.llm.ratelimit import HEADER, LEARNED, limiter_for
from evalkit.llm.spec import ModelSpec
from evalkit.testing.stub_limits import RateGate
from evalkit.testing.stub_llm import StubLLM



def _notes(n: int) -> list[tuple[str, str]]:
    return [(f"[doctor] any cough, visit {i}?\n[patient] yes, for {i % 9 + 2} days.",
             f"SUBJECTIVE\nCough for {i % 9 + 2} days.") for i in range(n)]


def _judge_all(judge, notes) -> list:
    async def all_() -> list:
        return list(await asyncio.gather(*(judge.ajudge(t, n) for t, n in notes), return_exceptions=True))

    return judge.client.run(all_())


def test_a_refusal_is_waited_out_even_with_no_retries_left():
    gate = RateGate(rps=1, headers=False)  # one request a second, a burst of one
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder", gate=gate) as stub:
        client = LLMClient(None, retries=0, concurrency=4)
        spec = ModelSpec(model="openai/stub", api_base=stub.api_base)
        msgs = [[{"role": "user", "content": f"[S:a.0] note {i}"}] for i in range(2)]

        async def both() -> list:
            return list(await asyncio.gather(*(client.acomplete(spec, m, cache=False) for m in msgs)))

        replies = client.run(both())
        client.close()
    assert len(replies) == 2 and all(r.content for r in replies)
    assert gate.refused >= 1 and client.stats["rate_limited"] == gate.refused and client.stats["errors"] == gate.refused


def test_configured_rpm_keeps_every_request_under_the_limit():
    gate = RateGate(rps=20)
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder", gate=gate) as stub:
        judge = make_llm_judge({"model": "openai/stub", "api_base": stub.api_base, "rpm": 18 * 60}, concurrency=16)
        results = _judge_all(judge, _notes(30))
        judge.close()
    assert gate.refused == 0 and gate.admitted == 30
    assert all(not isinstance(r, BaseException) and not r.error for r in results)


def test_with_nothing_set_the_pace_is_learnt_from_refusals_and_no_call_fails():
    gate = RateGate(rps=20)
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder", gate=gate) as stub:
        judge = make_llm_judge({"model": "openai/stub", "api_base": stub.api_base}, concurrency=32)
        results = _judge_all(judge, _notes(80))
        pace = limiter_for(judge.spec).snapshot()
        judge.close()
    assert all(not isinstance(r, BaseException) and not r.error for r in results)
    assert gate.admitted == 80 and gate.refused >= 1  # the first burst ran into the limit...
    assert pace["rpm_source"] == LEARNED and 0 < pace["rpm"] <= 20 * 60  # ...and set a pace under it
    assert gate.refused < 80  # without pacing every burst of 32 loses 12 or more


def test_limit_headers_set_the_pace_when_nothing_is_configured():
    gate = RateGate(rps=50, headers=True)
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder", gate=gate) as stub:
        judge = make_llm_judge({"model": "openai/stub", "api_base": stub.api_base}, concurrency=1)
        judge.judge(*_notes(1)[0])
        pace = limiter_for(judge.spec).snapshot()
        judge.close()
    assert pace["rpm_source"] == HEADER and pace["rpm"] == pytest.approx(50 * 60)


@pytest.mark.parametrize("transport", ["auto", "litellm"])
def test_both_transports_see_retry_after(transport):
    gate = RateGate(rps=1)
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder", gate=gate) as stub:
        client = LLMClient(None, retries=0, concurrency=2)
        spec = ModelSpec(model="openai/stub", api_base=stub.api_base, transport=transport)
        client.complete(spec, [{"role": "user", "content": "[S:a.0] one"}], cache=False)
        client.complete(spec, [{"role": "user", "content": "[S:a.0] two"}], cache=False)  # refused, waited out
        client.close()
        pace = limiter_for(spec).snapshot()
    assert gate.refused >= 1 and pace["refused"] == gate.refused
    assert pace["waited_s"] > 0  # the second call waited for the pause Retry-After named
