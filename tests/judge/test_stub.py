"""The loopback stub itself, spoken to with plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from evalkit.testing.stub_llm import StubLLM, error, ok, truncated


def _post(base: str, body: dict, timeout: float = 5) -> tuple[int, dict]:
    req = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_scripted_replies_then_responder_then_default():
    with StubLLM([ok({"a": 1}), error(429), truncated({"long": "x" * 40})],
                 responder=lambda req: {"echo": req["model"]} if req["model"] == "echo" else None) as s:
        st, r = _post(s.api_base, {"model": "m", "messages": []})
        assert st == 200 and json.loads(r["choices"][0]["message"]["content"]) == {"a": 1}
        assert r["usage"]["prompt_tokens"] == 100 and r["model"] == "m"
        st, r = _post(s.api_base, {"model": "m", "messages": []})
        assert st == 429 and r["error"]["type"] == "rate_limit_error"
        st, r = _post(s.api_base, {"model": "m", "messages": []})
        assert r["choices"][0]["finish_reason"] == "length" and not r["choices"][0]["message"]["content"].endswith("}")
        st, r = _post(s.api_base, {"model": "echo", "messages": []})
        assert json.loads(r["choices"][0]["message"]["content"]) == {"echo": "echo"}
        st, r = _post(s.api_base, {"model": "other", "messages": []})
        assert json.loads(r["choices"][0]["message"]["content"]) == {}
        assert s.calls == 5 and [q["model"] for q in s.requests] == ["m", "m", "m", "echo", "other"]


def test_spawned_stub_runs_in_its_own_process():
    with StubLLM.spawn(replies=[ok({"first": True})], responder="evalkit.testing.stub_llm:echo_responder") as s:
        _, r = _post(s.api_base, {"model": "x", "messages": []})
        assert json.loads(r["choices"][0]["message"]["content"]) == {"first": True}
        _, r = _post(s.api_base, {"model": "x", "messages": [{"role": "user", "content": "hi"}],
                                  "response_format": {"type": "json_object"}})
        assert json.loads(r["choices"][0]["message"]["content"]) == {"model": "x", "messages": 1,
                                                                     "response_format": "json_object"}
        assert s.calls == 2
    assert s.proc.poll() is not None


def test_evalkit_responder_answers_every_prompt(consultation_factory):
    from evalkit.llm.judge import LLMJudge
    from evalkit.llm import LLMClient, ModelSpec

    c = consultation_factory()
    with StubLLM(responder="evalkit.testing.stub_llm:evalkit_responder") as s:
        client = LLMClient(None)
        j = LLMJudge(ModelSpec(model="openai/x", api_base=s.api_base), client=client)
        assert j.judge(c.turns, c.reference_note).error is None
        assert all(x.value is not None for x in j.rubric_scores("s", c.turns, c.reference_note, "SOAP"))
        client.close()


@pytest.mark.parametrize("path", ["/v1/models", "/v1/stub/stats"])
def test_other_endpoints(path):
    with StubLLM() as s:
        with urllib.request.urlopen(f"http://127.0.0.1:{s.port}{path}", timeout=5) as r:
            assert r.status == 200 and json.loads(r.read())
