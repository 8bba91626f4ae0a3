"""A loopback OpenAI-compatible chat-completions server, scripted, for tests and benchmarks.

It serves ``POST /v1/chat/completions`` (on ``aiohttp.web``) to litellm's ``openai/`` provider
through ``api_base``, so tests exercise the real litellm path end to end with no network and no
model.

Replies come from a script (a list consumed in order), then from a *responder*
(``request dict -> reply``), then from a default reply. Each reply can be slow, an HTTP
error (429, 500...), a timeout (the server never answers), malformed JSON, a truncated
reply (``finish_reason="length"``) or a dropped connection.

A *gate* (any object with ``check(request dict) -> (status, headers)``, e.g. a rate limiter) is
asked first about every chat request: a status refuses the request with it (429: an OpenAI-style
``rate_limit_error``) and the gate's headers, without using a scripted reply or counting it in
:attr:`StubLLM.calls` (it counts in :attr:`StubLLM.refused`); a None status lets the request be
answered as usual, with the gate's headers added to the reply.

Use it in a thread (tests)::

    with StubLLM([ok({"claims": []}), error(429)], latency=0.01) as stub:
        litellm.completion(model="openai/stub", api_base=stub.api_base, api_key="x", ...)
        assert stub.calls == 1

or in its own process (benchmarks: the client keeps a whole core)::

    stub = StubLLM.spawn(latency=0.05, responder="evalkit.testing.stub_llm:judge_responder")
    ...
    stub.stop()

``python -m evalkit.testing.stub_llm --port 8765 --latency 0.05`` serves from the command line.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import asdict
from typing import Any

from .stub_replies import (Responder, ReplyKind, StubReply, _as_reply, disconnect, error, malformed,  # noqa: F401
                           ok, timeout, truncated)

from .responders import echo_responder, evalkit_responder, judge_responder, requested_sentence_ids  # noqa: E402,F401  (module:function paths)


def load_responder(spec: str | Responder | None) -> Responder | None:
    """A responder from a callable or a ``module:function`` path."""
    if spec is None or callable(spec):
        return spec
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


from ._spawn import BackgroundServer, SpawnedServer, serve_forever, spawn_server  # noqa: E402
from ._stub_http import Core as _Core  # noqa: E402
from ._stub_http import make_app as _make_app  # noqa: E402


def load_gate(gate: Any) -> Any:
    """A gate object as given, or built from its text by :func:`evalkit.testing.stub_limits.parse_gate`."""
    if gate is None or not isinstance(gate, str):
        return gate
    from .stub_limits import parse_gate

    return parse_gate(gate)


class StubLLM(BackgroundServer):
    """The stub server running on a background thread of this process.

    Args:
        replies: scripted replies, consumed one per request in order.
        responder: ``request dict -> reply`` for requests after the script (or a
            ``module:function`` path).
        latency: seconds before each reply (a reply's own ``delay`` overrides it).
        default: the reply when the script is exhausted and there is no responder.
        host, port: where to listen (port 0 picks a free port).
        keep_requests: keep every request body in :attr:`requests` (turn off for benchmarks).
        gate: an object with ``check(request dict) -> (status or None, headers)`` asked before
            each chat request is answered (see the module docstring), or its text for
            ``evalkit.testing.stub_limits.parse_gate``.
    """

    def __init__(self, replies: list[StubReply | dict | str] | None = None, *,
                 responder: Responder | str | None = None, latency: float = 0.0,
                 default: StubReply | None = None, host: str = "127.0.0.1", port: int = 0,
                 keep_requests: bool = True, gate: Any = None):
        self.core = _Core([_as_reply(r) for r in replies or []], load_responder(responder),
                          default or ok({}), latency, keep_requests, load_gate(gate))
        self.host, self.port = host, port
        super().__init__()

    def _app(self) -> Any:
        return _make_app(self.core)

    # -- scripting
    def push(self, *replies: StubReply | dict | str) -> None:
        """Append replies to the script."""
        with self.core.lock:
            self.core.script.extend(_as_reply(r) for r in replies)

    @property
    def calls(self) -> int:
        """Chat-completion requests received so far."""
        return self.core.calls

    @property
    def refused(self) -> int:
        """Chat requests the gate refused so far (not in :attr:`calls`)."""
        return self.core.refused

    @property
    def max_inflight(self) -> int:
        """Most chat requests being answered at once so far."""
        return self.core.max_inflight

    @property
    def requests(self) -> list[dict]:
        """Request bodies received so far (when ``keep_requests``)."""
        return self.core.requests

    @property
    def latency(self) -> float:
        return self.core.latency

    @latency.setter
    def latency(self, v: float) -> None:
        self.core.latency = v

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- lifecycle
    # -- other process
    @staticmethod
    def spawn(*, latency: float = 0.0, responder: str | None = None,
              replies: list[StubReply] | None = None, port: int = 0, gate: str | None = None) -> "SpawnedStub":
        """Start the stub in its own Python process (so it does not share the client's GIL).

        ``gate``: the gate's text, built in the child by ``stub_limits.parse_gate``."""
        args = [sys.executable, "-m", "evalkit.testing.stub_llm", "--port", str(port),
                "--latency", str(latency)]
        if responder:
            args += ["--responder", responder]
        if gate is not None:
            args += ["--gate", gate]
        if replies:
            args += ["--replies", json.dumps([{**asdict(_as_reply(r)), "__stub__": 1} for r in replies])]
        proc, port = spawn_server(args, "stub LLM server")
        return SpawnedStub(proc, "127.0.0.1", port)


class SpawnedStub(SpawnedServer):
    """A stub server running in a child process (see :meth:`StubLLM.spawn`); :meth:`stats` gives
    ``{"calls", "max_inflight", "refused"}``."""

    @property
    def calls(self) -> int:
        return int(self.stats()["calls"])

    @property
    def refused(self) -> int:
        return int(self.stats()["refused"])


__all__ = ["SpawnedStub", "StubLLM", "StubReply", "disconnect", "echo_responder", "error", "evalkit_responder",
           "judge_responder", "load_gate", "load_responder", "malformed", "ok", "requested_sentence_ids", "timeout",
           "truncated"]


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Loopback OpenAI-compatible stub server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--responder", default=None, help="module:function building replies")
    p.add_argument("--replies", default=None, help="JSON list of scripted replies")
    p.add_argument("--gate", default=None, help="a gate for evalkit.testing.stub_limits.parse_gate")
    a = p.parse_args(argv)
    replies = json.loads(a.replies) if a.replies else None
    stub = StubLLM(replies, responder=a.responder, latency=a.latency, host=a.host, port=a.port,
                   keep_requests=False, gate=a.gate)
    serve_forever(stub, "stub LLM")


if __name__ == "__main__":
    main()
