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


class _Gate:
    """Refuses requests for model "blocked" with 429; adds a header to the others."""

    def check(self, req: dict):
        if req.get("model") == "blocked":
            return 429, {"retry-after": "7", "x-ratelimit-remaining-requests": "0"}
        return None, {"x-ratelimit-remaining-requests": "41"}


def _post_full(base: str, body: dict) -> tuple[int, dict, dict]:
    req = urllib.request.Request(f"{base}/chat/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(e.read())


def test_gate_refuses_without_using_the_script_and_adds_headers_to_answers():
    with StubLLM([ok({"first": 1}), error(429)], gate=_Gate()) as s:
        st, h, r = _post_full(s.api_base, {"model": "blocked", "messages": []})
        assert st == 429 and r["error"]["type"] == "rate_limit_error"
        assert h["retry-after"] == "7" and h["x-ratelimit-remaining-requests"] == "0"
        assert s.calls == 0 and s.refused == 1 and s.requests == []
        st, h, r = _post_full(s.api_base, {"model": "m", "messages": []})
        assert st == 200 and json.loads(r["choices"][0]["message"]["content"]) == {"first": 1}  # the script's first
        assert h["x-ratelimit-remaining-requests"] == "41"
        st, h, r = _post_full(s.api_base, {"model": "m", "messages": []})  # a scripted 429: the gate's headers
        assert st == 429 and h["x-ratelimit-remaining-requests"] == "41" and "retry-after" not in h
        with urllib.request.urlopen(f"{s.api_base}/stub/stats", timeout=5) as resp:
            assert json.loads(resp.read()) == {"calls": 2, "max_inflight": 1, "refused": 1}


def test_scripted_429_without_gate_sends_retry_after_0():
    with StubLLM([error(429)]) as s:
        st, h, r = _post_full(s.api_base, {"model": "m", "messages": []})
        assert st == 429 and h["retry-after"] == "0" and s.refused == 0 and s.calls == 1


def test_gate_given_as_text_is_built_by_stub_limits(monkeypatch):
    import sys
    import types

    mod = types.ModuleType("evalkit.testing.stub_limits")
    built = []
    mod.parse_gate = lambda text: built.append(text) or _Gate()
    monkeypatch.setitem(sys.modules, "evalkit.testing.stub_limits", mod)
    with StubLLM(gate="rpm=1") as s:
        st, _, _ = _post_full(s.api_base, {"model": "blocked", "messages": []})
        assert st == 429 and built == ["rpm=1"] and s.refused == 1


def test_requests_waiting_out_their_latency_count_in_flight_and_a_hung_up_one_stops_counting():
    import concurrent.futures
    import socket
    import time

    from evalkit.testing.stub_llm import timeout

    with StubLLM(latency=1.0) as s:
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda i: _post(s.api_base, {"model": "m", "messages": []}), range(4)))
        assert s.calls == 4 and s.max_inflight == 4
        s.push(timeout())
        body = json.dumps({"model": "m", "messages": []}).encode()
        with socket.create_connection(("127.0.0.1", s.port)) as sock:  # a client that gives up and hangs up
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            for _ in range(200):
                if s.calls == 5:
                    break
                time.sleep(0.01)
            assert s.core.inflight == 1
        for _ in range(200):  # the server notices the hang-up
            if s.core.inflight == 0:
                break
            time.sleep(0.01)
        assert s.core.inflight == 0
