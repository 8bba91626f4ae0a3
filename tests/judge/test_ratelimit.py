"""Pacing to a provider's limits: header parsing, the limiter's arithmetic, sharing between processes."""

from __future__ import annotations

import multiprocessing as mp
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from evalkit.llm import ratelimit
from evalkit.llm.limit_headers import parse_duration, read_signal
from evalkit.llm.ratelimit import RateLimiter, estimate_tokens, limiter_for
from evalkit.llm.spec import ModelSpec
from evalkit.testing.stub_limits import RateGate, parse_gate


@pytest.mark.parametrize("text,seconds", [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5),
                                          ("2.5", 2.5), ("0", 0.0), ("soon", None), ("5x", None), (None, None)])
def test_durations_as_providers_write_them(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_openai_headers():
    sig = read_signal({"X-RateLimit-Limit-Requests": "600", "x-ratelimit-remaining-requests": "0",
                       "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "90000",
                       "x-ratelimit-remaining-tokens": "1200", "x-ratelimit-reset-tokens": "6m0s",
                       "retry-after": "2", "retry-after-ms": "1500"})
    assert (sig.limit_requests, sig.remaining_requests, sig.reset_requests) == (600, 0, pytest.approx(0.12))
    assert (sig.limit_tokens, sig.remaining_tokens, sig.reset_tokens) == (90000, 1200, 360)
    assert sig.retry_after == 2.0  # the larger of retry-after and retry-after-ms


def test_anthropic_headers_and_http_date():
    now = datetime(2026, 12, 7, 12, 0, 0, tzinfo=timezone.utc)
    sig = read_signal({"anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "0",
                       "anthropic-ratelimit-requests-reset": (now + timedelta(seconds=30)).isoformat().replace("+00:00", "Z"),
                       "retry-after": format_datetime(now + timedelta(seconds=7), usegmt=True)},
                      now_wall=now.timestamp())
    assert sig.limit_requests == 50 and sig.remaining_requests == 0
    assert sig.reset_requests == pytest.approx(30) and sig.retry_after == pytest.approx(7)


def test_garbled_headers_are_ignored():
    sig = read_signal({"retry-after": "later", "x-ratelimit-limit-requests": "lots", "x-ratelimit-reset-requests": "?"})
    assert sig.retry_after is None and sig.limit_requests is None and sig.reset_requests is None


def test_configured_rpm_spaces_requests_evenly():
    lim = limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1", rpm=600))
    assert lim.reserve(100.0) == 0
    assert lim.reserve(100.0) == pytest.approx(0.1)  # the next may leave 60/600 s later
    assert lim.reserve(100.1) == 0
    assert lim.reserve(100.15) == pytest.approx(0.05)


def test_configured_tpm_spreads_tokens():
    lim = limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1", tpm=6000))  # 100 tokens a second
    assert lim.reserve(0.0, tokens=250) == 0
    assert lim.reserve(0.0, tokens=10) == pytest.approx(2.5)
    assert lim.reserve(2.5, tokens=10) == 0
    lim.observe({}, False, estimated=10, used=110, now=2.5)  # the reply used more than reserved
    assert lim.reserve(2.6, tokens=1) == pytest.approx(1.0)


def test_token_estimate_counts_prompt_and_reply_budget():
    msgs = [{"role": "system", "content": "x" * 400}, {"role": "user", "content": [{"type": "text", "text": "y" * 40}]}]
    assert estimate_tokens(msgs, 256) == 110 + 256


def test_retry_after_pauses_every_call_to_the_model():
    lim = limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1"))
    sig = lim.observe({"retry-after": "3"}, True, now=10.0)
    assert sig.retry_after == 3
    assert lim.reserve(10.5) == pytest.approx(2.5)
    other = limiter_for(ModelSpec(model="openai/other", api_base="http://h/v1"))
    assert other.reserve(10.5) == 0  # another model is not paused


def test_remaining_zero_pauses_until_reset():
    lim = limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1"))
    lim.observe({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "800ms"}, False, now=5.0)
    assert lim.reserve(5.0) == pytest.approx(0.8)


def test_limit_headers_set_the_pace_unless_configured():
    learnt = limiter_for(ModelSpec(model="openai/a", api_base="http://h/v1"))
    learnt.observe({"x-ratelimit-limit-requests": "120"}, False, now=1.0)
    assert learnt.snapshot()["rpm"] == pytest.approx(120)
    configured = limiter_for(ModelSpec(model="openai/b", api_base="http://h/v1", rpm=60))
    configured.observe({"x-ratelimit-limit-requests": "120"}, False, now=1.0)
    assert configured.snapshot()["rpm"] == pytest.approx(60)


def test_refusals_with_no_limit_known_set_the_pace_under_what_was_accepted():
    """64 requests leave at once; the server takes 10 and refuses 54: the pace becomes 90 % of 10 a second."""
    lim = limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1"))
    for _ in range(64):
        assert lim.reserve(50.0) == 0  # nothing known yet: no waiting
    for k in range(54):
        lim.observe({"retry-after": "1"}, True, now=50.01 + k * 1e-4)
    snap = lim.snapshot()
    assert snap["rpm"] == pytest.approx(0.9 * 10 * 60) and snap["refused"] == 54
    # calls that succeed raise the pace slowly, never past 97 % of the refused rate
    for k in range(600):
        lim.observe({}, False, now=52.0 + k * 0.1)
    assert 0.9 * 600 < lim.snapshot()["rpm"] <= 0.97 * 600 * 1.05


def test_a_lone_refusal_pauses_but_sets_no_pace():
    lim = limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1"))
    assert lim.reserve(1.0) == 0
    lim.observe({"retry-after": "2"}, True, now=1.1)
    assert lim.snapshot()["rpm"] == 0 and lim.reserve(1.5) == pytest.approx(1.6)
    assert lim.reserve(3.2) == 0 and lim.reserve(3.2) == 0  # then no pace: as fast as concurrency allows


def test_cli_defaults_apply_to_models_without_their_own():
    ratelimit.set_default_limits(rpm=30, tpm=None)
    assert limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1")).snapshot()["rpm"] == pytest.approx(30)
    assert limiter_for(ModelSpec(model="openai/y", api_base="http://h/v1", rpm=90)).snapshot()["rpm"] == pytest.approx(90)


def _take_a_place(table, out):
    ratelimit.install_table(table)
    out.put(limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1", rpm=60)).reserve(100.0))


def test_worker_processes_share_one_allowance():
    ctx = mp.get_context("spawn")
    limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1", rpm=60))
    table = ratelimit.share_table(ctx)
    q = ctx.Queue()
    p = ctx.Process(target=_take_a_place, args=(table, q))
    p.start()
    assert q.get(timeout=60) == 0  # the worker took the place at t=100...
    p.join(30)
    mine = limiter_for(ModelSpec(model="openai/x", api_base="http://h/v1", rpm=60))
    assert mine.reserve(100.0) == pytest.approx(1.0)  # ...so this process waits one interval


def test_stub_gate_meters_like_a_provider():
    gate = RateGate(rps=2, headers=True)
    first = [gate.check({"messages": []}) for _ in range(3)]
    assert [s for s, _ in first] == [None, None, 429]
    status, h = first[2]
    assert h["retry-after"] == "1" and h["x-ratelimit-limit-requests"] == "120"
    assert h["x-ratelimit-remaining-requests"] == "0"
    tok = RateGate(tpm=600)  # 10 tokens a second, a bucket of 10
    assert tok.check({"messages": [{"role": "user", "content": "x" * 20}], "max_tokens": 5})[0] is None
    assert tok.check({"messages": [{"role": "user", "content": "x" * 20}], "max_tokens": 5})[0] == 429
    with pytest.raises(ValueError, match="rps="):
        parse_gate("qps=3")
    assert parse_gate("rps=10,headers=1").headers is True
