"""LLMClient: cache, retries, concurrency bound, budget, accounting — through real litellm."""

from __future__ import annotations

import asyncio

import pytest

from evalkit.llm import Budget, BudgetExceeded, LLMCallError, ModelSpec
from evalkit.testing.stub_llm import disconnect, error, malformed, ok, timeout, truncated

MSG = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("transport", ["lean", "litellm"])
def test_reply_and_request_shape(stub, make_client, transport):
    stub.push(ok({"answer": 42}))
    c = make_client()
    spec = ModelSpec(model="openai/stub", api_base=stub.api_base, transport=transport, max_tokens=99)
    r = c.complete(spec, MSG, response_format={"type": "json_object"})
    assert r.content == '{"answer": 42}' and not r.cached and r.finish_reason == "stop"
    assert r.prompt_tokens == 100 and r.completion_tokens == len(r.content) // 4
    req = stub.requests[-1]
    assert req["model"] == "stub" and req["temperature"] == 0 and req["max_tokens"] == 99
    assert req["response_format"] == {"type": "json_object"}
    assert req["messages"] == MSG


def test_cache_hit_makes_no_call_across_clients(stub, make_client, spec, store):
    stub.push(ok({"a": 1}))
    c1 = make_client()
    first = c1.complete(spec, MSG)
    c1.close()  # flushes cache and llm_calls to the store
    assert stub.calls == 1
    c2 = make_client()
    again = c2.complete(spec, MSG)
    assert stub.calls == 1, "a cached reply must not call the model"
    assert again.cached and again.content == first.content and again.cost_usd == 0.0
    c2.close()
    summary = store.llm_call_summary()
    assert summary["calls"] == 1 and summary["cached"] == 1
    # another prompt hash or other messages are other requests
    c3 = make_client()
    c3.complete(spec, MSG, prompt_hash="other")
    assert stub.calls == 2


def test_identical_requests_in_flight_share_one_call(stub, make_client, spec):
    stub.latency = 0.2
    c = make_client()

    async def both():
        return await asyncio.gather(c.acomplete(spec, MSG), c.acomplete(spec, MSG))

    a, b = c.run(both())
    assert stub.calls == 1 and a.content == b.content


@pytest.mark.parametrize("transport", ["lean", "litellm"])
def test_retries_rate_limit_server_error_disconnect_timeout_then_success(stub, make_client, transport):
    stub.push(error(429), error(500), disconnect(), timeout(), ok({"fine": True}))
    c = make_client(retries=4)
    spec = ModelSpec(model="openai/stub", api_base=stub.api_base, transport=transport, timeout=0.5)
    r = c.complete(spec, MSG)
    assert r.content == '{"fine": true}'
    assert stub.calls == 5
    assert c.stats["retries"] == 4 and c.stats["errors"] == 4 and c.stats["calls"] == 5


def test_retries_exhausted_raise_call_error(stub, make_client, spec):
    stub.push(*[error(503)] * 3)
    c = make_client(retries=2)
    with pytest.raises(LLMCallError) as ei:
        c.complete(spec, MSG)
    assert ei.value.retryable and ei.value.status == 503 and ei.value.attempts == 3
    assert stub.calls == 3
    assert "hello" not in str(ei.value)  # no prompt text in errors


def test_bad_request_is_not_retried(stub, make_client, spec):
    stub.push(error(400), ok({}))
    c = make_client(retries=4)
    with pytest.raises(LLMCallError) as ei:
        c.complete(spec, MSG)
    assert not ei.value.retryable and ei.value.status == 400
    assert stub.calls == 1


def test_malformed_and_truncated_replies_are_returned_not_cached_away(stub, make_client, spec):
    stub.push(malformed("not json {"), truncated({"claims": [1, 2, 3, 4, 5, 6]}))
    c = make_client()
    r1 = c.complete(spec, [{"role": "user", "content": "one"}])
    r2 = c.complete(spec, [{"role": "user", "content": "two"}])
    assert r1.content == "not json {"
    assert r2.truncated and r2.finish_reason == "length"


def test_concurrency_is_bounded(stub, make_client, spec):
    stub.latency = 0.1
    c = make_client(concurrency=3)

    async def many():
        return await asyncio.gather(*(c.acomplete(spec, [{"role": "user", "content": str(i)}]) for i in range(12)))

    c.run(many())
    assert stub.calls == 12
    assert stub.max_inflight == 3


def test_budget_stops_cleanly_and_resumes(stub, make_client, spec, store):
    msgs = [[{"role": "user", "content": f"case {i}"}] for i in range(5)]
    c = make_client(budget=Budget(max_calls=3), concurrency=1)
    done = []
    with pytest.raises(BudgetExceeded):
        for m in msgs:
            done.append(c.complete(spec, m))
    assert len(done) == 3 and stub.calls == 3
    c.close()
    # a new run with a fresh budget pays only for what is left
    c2 = make_client(budget=Budget(max_calls=10))
    for m in msgs:
        c2.complete(spec, m)
    assert stub.calls == 5
    assert c2.stats["cached"] == 3 and c2.stats["calls"] == 2


def test_cost_budget_and_custom_prices(stub, make_client, store):
    spec = ModelSpec(model="openai/stub", api_base=stub.api_base, input_cost_per_token=0.001,
                     output_cost_per_token=0.002)
    stub.push(ok("abcdefgh"), ok("abcdefgh"), ok("abcdefgh"))
    c = make_client(budget=Budget(max_cost_usd=0.25), concurrency=1)
    r = c.complete(spec, [{"role": "user", "content": "a"}])
    assert r.cost_usd == pytest.approx(100 * 0.001 + 2 * 0.002)
    c.complete(spec, [{"role": "user", "content": "b"}])
    c.complete(spec, [{"role": "user", "content": "c"}])  # spend 0.312 > 0.25 after this one
    with pytest.raises(BudgetExceeded):
        c.complete(spec, [{"role": "user", "content": "d"}])
    c.close()
    s = store.llm_call_summary()
    assert s["calls"] == 3 and s["prompt_tokens"] == 300 and s["cost_usd"] == pytest.approx(3 * 0.104)


def test_unpriced_model_records_tokens_and_no_cost(stub, make_client, spec, store):
    c = make_client(run_id="r1")
    r = c.complete(spec, MSG)
    assert r.cost_usd is None
    c.close()
    s = store.llm_call_summary("r1")
    assert s["calls"] == 1 and s["prompt_tokens"] == 100 and s["cost_usd"] is None


def test_spec_parsing_and_keys(monkeypatch):
    from evalkit.errors import InputError

    s = ModelSpec.parse({"model": "openai/x", "api_base": "http://h/v1", "api_key_env": "MY_KEY"})
    monkeypatch.setenv("MY_KEY", "k1")
    monkeypatch.setenv("OPENAI_API_KEY", "should-not-leak")
    assert s.resolved_api_key() == "k1"
    assert ModelSpec.parse("openai/x", api_base="http://h/v1").resolved_api_key() == "no-key"
    with pytest.raises(InputError, match="temperature"):
        ModelSpec.parse({"model": "openai/x", "temperature": 9})
    with pytest.raises(InputError, match="model"):
        ModelSpec.parse("  ")
    monkeypatch.delenv("MY_KEY")
    with pytest.raises(InputError, match="MY_KEY"):
        s.resolved_api_key()


@pytest.mark.parametrize("model", ["anthropic/claude-3-haiku-20240307", "bedrock/anthropic.claude-3-haiku-20240307-v1:0",
                                   "ollama_chat/llama3.1", "openai/gpt-4o-mini"])
def test_any_provider_string_goes_through_litellm(make_client, store, model):
    """Hosted providers use litellm.acompletion (offline here via litellm's mock_response)."""
    c = make_client(run_id="p")
    spec = ModelSpec(model=model, params={"mock_response": '{"ok": true}'})
    r = c.complete(spec, MSG, response_format={"type": "json_object"})
    assert r.content == '{"ok": true}' and r.prompt_tokens and r.completion_tokens
    if model == "openai/gpt-4o-mini":  # priced in litellm's map: completion_cost
        assert r.cost_usd and r.cost_usd > 0
    c.close()
    s = store.llm_call_summary("p")
    assert s["calls"] == 1 and s["prompt_tokens"] == r.prompt_tokens


def test_known_key_set_answers_misses_without_a_query_and_batches_hits(stub, make_client, spec, store, monkeypatch):
    """The client loads the cache keys of a model + prompt once: a miss needs no query; with too many
    keys to preload their values, hits are fetched in one batched query."""
    import functools

    msgs = [[{"role": "user", "content": f"case {i}"}] for i in range(4)]
    c1 = make_client()
    for m in msgs[:3]:
        c1.complete(spec, m)
    c1.close()
    assert stub.calls == 3
    asked: list[list[str]] = []
    real_get_many = store.cache_get_many
    monkeypatch.setattr(store, "cache_keys", functools.partial(type(store).cache_keys, store, max_values=0))
    monkeypatch.setattr(store, "cache_get_many", lambda keys: asked.append(list(keys)) or real_get_many(keys))
    c2 = make_client()

    async def all_():
        return await asyncio.gather(*(c2.acomplete(spec, m) for m in msgs))

    replies = c2.run(all_())
    assert [r.cached for r in replies] == [True, True, True, False] and stub.calls == 4
    assert len(asked) == 1 and sorted(asked[0]) == sorted(r.key for r in replies[:3])  # the miss was never looked up


def test_an_unreadable_cache_falls_back_to_calling_the_model(stub, make_client, spec, store, monkeypatch):
    def broken(*a, **k):
        raise OSError("disk gone")

    monkeypatch.setattr(store, "cache_keys", broken)
    r = make_client().complete(spec, MSG)
    assert not r.cached and stub.calls == 1
