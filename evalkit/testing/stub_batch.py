"""A loopback OpenAI-compatible files + batches server (``aiohttp.web``), for tests and benchmarks.

Endpoints: ``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches`` (list),
``GET /v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``, ``POST /v1/chat/completions`` (live
calls) and ``GET /v1/stub/stats``.

Each request in a batch is answered by a responder (default
:func:`evalkit.testing.responders.judge_responder`) rendered exactly as the chat stub renders a
reply (:class:`evalkit.testing._stub_http.Core`). A batch moves ``validating`` → ``in_progress``
(requests answered a few at a time over ``duration`` seconds) → ``finalizing`` → ``completed``.

Knobs: ``fail_every=N`` (every Nth request of a batch fails: written to the error file, not
charged), ``expire=True`` (the batch ends ``expired`` after half its requests; the rest go to the
error file as ``batch_expired``). The server *charges* every request answered successfully, in a
batch or live, keyed by a hash of the request body: :attr:`StubBatch.duplicates` counts requests
paid for more than once (a client that resubmits after a restart shows up there).

In a thread (tests)::

    with StubBatch(duration=0.5) as stub:
        ... api_base=stub.api_base ...
        assert stub.stats()["duplicates"] == 0

In its own process (benchmarks, kill tests): ``StubBatch.spawn(duration=2.0)``, or
``python -m evalkit.testing.stub_batch --port 8766``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
import uuid
from collections import Counter
from typing import Any

from ._spawn import BackgroundServer, SpawnedServer, serve_forever, spawn_server
from ._stub_http import Core
from .stub_llm import load_responder
from .stub_replies import ok

__all__ = ["SpawnedBatchStub", "StubBatch"]

_TERMINAL = ("completed", "failed", "expired", "cancelled")


def _body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:24]


class _State:
    """Files, batches and the charge ledger (shared by the handlers on one event loop)."""

    def __init__(self, responder: Any, fail_every: int, expire: bool, duration: float, step: float):
        self.core = Core([], load_responder(responder), ok({}), 0.0, keep_requests=False)
        self.fail_every, self.expire, self.duration, self.step = fail_every, expire, duration, step
        self.files: dict[str, dict] = {}
        self.batches: dict[str, dict] = {}
        self.charged: Counter[str] = Counter()  # body hash → times paid for
        self.custom_ids: Counter[str] = Counter()  # custom_id → times answered in any batch
        self.live_calls = 0
        self.failed = 0
        self.tasks: set[asyncio.Task] = set()

    def stats(self) -> dict:
        return {"charged": sum(self.charged.values()), "unique": len(self.charged),
                "duplicates": sum(n - 1 for n in self.charged.values() if n > 1),
                "custom_id_duplicates": sum(n - 1 for n in self.custom_ids.values() if n > 1),
                "batch_requests": sum(self.custom_ids.values()), "live_calls": self.live_calls,
                "failed": self.failed, "batches": len(self.batches), "files": len(self.files)}

    def answer(self, body: dict) -> tuple[int, bytes]:
        reply = self.core.next_reply(body)
        return self.core.render_body(reply, str(body.get("model", "stub")), self.core.calls)

    def add_file(self, data: bytes, purpose: str, filename: str) -> dict:
        fid = f"file-{uuid.uuid4().hex[:20]}"
        meta = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed"}
        self.files[fid] = {"meta": meta, "data": data}
        return meta

    async def process(self, bid: str) -> None:
        b = self.batches[bid]
        lines = [json.loads(x) for x in self.files[b["input_file_id"]]["data"].splitlines() if x.strip()]
        b["request_counts"]["total"] = len(lines)
        await asyncio.sleep(self.step)
        if b["status"] == "cancelling":
            return self._finish(b, [], [], "cancelled")
        b["status"], b["in_progress_at"] = "in_progress", int(time.time())
        stop_at = len(lines) // 2 if self.expire else len(lines)
        out: list[dict] = []
        errs: list[dict] = []
        ticks = max(1, min(stop_at, int(self.duration / 0.05)))  # answered a few at a time over `duration`
        per, pause = max(1, -(-stop_at // ticks)), self.duration / ticks
        for i, line in enumerate(lines[:stop_at]):
            if b["status"] == "cancelling":
                break
            cid = line.get("custom_id")
            rid = f"batch_req_{uuid.uuid4().hex[:16]}"
            if self.fail_every and (i + 1) % self.fail_every == 0:
                self.failed += 1
                errs.append({"id": rid, "custom_id": cid, "response": {
                    "status_code": 500, "request_id": rid,
                    "body": {"error": {"message": "stub failure", "type": "server_error"}}}, "error": None})
                b["request_counts"]["failed"] += 1
            else:
                status, body = self.answer(line.get("body") or {})
                self.custom_ids[cid] += 1
                self.charged[_body_hash(line.get("body"))] += 1
                out.append({"id": rid, "custom_id": cid, "response": {"status_code": status, "request_id": rid,
                                                                     "body": json.loads(body)}, "error": None})
                b["request_counts"]["completed"] += 1
            if (i + 1) % per == 0:
                await asyncio.sleep(pause)
        if b["status"] == "cancelling":
            return self._finish(b, out, errs, "cancelled")
        if self.expire:
            for line in lines[stop_at:]:
                errs.append({"id": f"batch_req_{uuid.uuid4().hex[:16]}", "custom_id": line.get("custom_id"),
                             "response": None, "error": {"code": "batch_expired",
                                                         "message": "This request could not be executed before "
                                                                    "the completion window expired."}})
                b["request_counts"]["failed"] += 1
            return self._finish(b, out, errs, "expired")
        b["status"], b["finalizing_at"] = "finalizing", int(time.time())
        await asyncio.sleep(self.step)
        self._finish(b, out, errs, "completed")

    def _finish(self, b: dict, out: list[dict], errs: list[dict], status: str) -> None:
        if out:
            b["output_file_id"] = self.add_file("\n".join(json.dumps(x) for x in out).encode() + b"\n",
                                                "batch_output", "output.jsonl")["id"]
        if errs:
            b["error_file_id"] = self.add_file("\n".join(json.dumps(x) for x in errs).encode() + b"\n",
                                               "batch_output", "errors.jsonl")["id"]
        b["status"] = status
        b[{"completed": "completed_at", "expired": "expired_at", "cancelled": "cancelled_at"}.get(status, "failed_at")] = \
            int(time.time())


def _app(state: _State) -> Any:
    from aiohttp import web

    routes = web.RouteTableDef()

    def not_found(what: str) -> Any:
        return web.json_response({"error": {"message": f"no such {what}", "type": "invalid_request_error"}},
                                 status=404)

    @routes.post("/v1/files")
    async def create_file(request: web.Request) -> web.Response:
        form = await request.post()
        f = form.get("file")
        if not isinstance(f, web.FileField):
            return web.json_response({"error": {"message": "file is required"}}, status=400)
        return web.json_response(state.add_file(f.file.read(), str(form.get("purpose") or ""), f.filename or "f"))

    @routes.get("/v1/files/{fid}")
    async def get_file(request: web.Request) -> web.Response:
        f = state.files.get(request.match_info["fid"])
        return web.json_response(f["meta"]) if f else not_found("file")

    @routes.get("/v1/files/{fid}/content")
    async def file_content(request: web.Request) -> web.Response:
        f = state.files.get(request.match_info["fid"])
        return web.Response(body=f["data"], content_type="application/octet-stream") if f else not_found("file")

    @routes.post("/v1/batches")
    async def create_batch(request: web.Request) -> web.Response:
        req = await request.json()
        fid = req.get("input_file_id")
        if fid not in state.files:
            return not_found("file")
        bid = f"batch_{uuid.uuid4().hex[:20]}"
        b = {"id": bid, "object": "batch", "endpoint": req.get("endpoint"), "errors": None,
             "input_file_id": fid, "completion_window": req.get("completion_window", "24h"),
             "status": "validating", "output_file_id": None, "error_file_id": None,
             "created_at": int(time.time()), "in_progress_at": None, "expires_at": int(time.time()) + 86400,
             "finalizing_at": None, "completed_at": None, "failed_at": None, "expired_at": None,
             "cancelling_at": None, "cancelled_at": None,
             "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": req.get("metadata")}
        state.batches[bid] = b
        t = asyncio.ensure_future(state.process(bid))
        state.tasks.add(t)
        t.add_done_callback(state.tasks.discard)
        return web.json_response(b)

    @routes.get("/v1/batches")
    async def list_batches(request: web.Request) -> web.Response:
        data = sorted(state.batches.values(), key=lambda b: b["created_at"], reverse=True)
        return web.json_response({"object": "list", "data": data, "has_more": False,
                                  "first_id": data[0]["id"] if data else None,
                                  "last_id": data[-1]["id"] if data else None})

    @routes.get("/v1/batches/{bid}")
    async def get_batch(request: web.Request) -> web.Response:
        b = state.batches.get(request.match_info["bid"])
        return web.json_response(b) if b else not_found("batch")

    @routes.post("/v1/batches/{bid}/cancel")
    async def cancel_batch(request: web.Request) -> web.Response:
        b = state.batches.get(request.match_info["bid"])
        if not b:
            return not_found("batch")
        if b["status"] not in _TERMINAL:
            b["status"], b["cancelling_at"] = "cancelling", int(time.time())
        return web.json_response(b)

    @routes.post("/v1/chat/completions")
    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        status, raw = state.answer(body)
        state.live_calls += 1
        if status == 200:
            state.charged[_body_hash(body)] += 1
        return web.Response(body=raw, status=status, content_type="application/json")

    @routes.get("/v1/stub/stats")
    async def stats(request: web.Request) -> web.Response:
        return web.json_response(state.stats())

    app = web.Application(client_max_size=1024 ** 3)
    app.add_routes(routes)
    return app


class StubBatch(BackgroundServer):
    """The files + batches stub on a background thread of this process.

    Args:
        responder: ``request body -> reply`` for every request (a callable or ``module:function``).
        fail_every: every Nth request of a batch fails (0: none).
        expire: batches end ``expired`` after half their requests.
        duration: seconds a batch spends ``in_progress``.
        step: seconds spent ``validating`` and ``finalizing``.
        host, port: where to listen (port 0 picks a free port).
    """

    def __init__(self, *, responder: Any = "evalkit.testing.responders:judge_responder", fail_every: int = 0,
                 expire: bool = False, duration: float = 0.5, step: float = 0.1, host: str = "127.0.0.1",
                 port: int = 0):
        self.state = _State(responder, fail_every, expire, duration, step)
        self.host, self.port = host, port
        super().__init__()

    def _app(self) -> Any:
        return _app(self.state)

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def stats(self) -> dict:
        """Charges (``charged``, ``unique``, ``duplicates``), ``batch_requests``, ``live_calls``, ``failed``..."""
        return self.state.stats()

    @staticmethod
    def spawn(*, fail_every: int = 0, expire: bool = False, duration: float = 0.5, step: float = 0.1,
              responder: str = "evalkit.testing.responders:judge_responder") -> "SpawnedBatchStub":
        """Start the stub in its own Python process."""
        args = [sys.executable, "-m", "evalkit.testing.stub_batch", "--port", "0", "--duration", str(duration),
                "--step", str(step), "--fail-every", str(fail_every), "--responder", responder]
        if expire:
            args.append("--expire")
        proc, port = spawn_server(args, "stub batch server")
        return SpawnedBatchStub(proc, "127.0.0.1", port)


class SpawnedBatchStub(SpawnedServer):
    """A batch stub in a child process (see :meth:`StubBatch.spawn`)."""


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Loopback OpenAI-compatible files + batches stub server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--duration", type=float, default=0.5)
    p.add_argument("--step", type=float, default=0.1)
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--expire", action="store_true")
    p.add_argument("--responder", default="evalkit.testing.responders:judge_responder")
    a = p.parse_args(argv)
    stub = StubBatch(responder=a.responder, fail_every=a.fail_every, expire=a.expire, duration=a.duration,
                     step=a.step, host=a.host, port=a.port)
    serve_forever(stub, "stub batch server")


if __name__ == "__main__":
    main()
