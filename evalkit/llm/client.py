"""The one place evalkit calls language models: cache, retries, concurrency, budget, accounting.

Every judge, the LLM scribe and LLM generation call :meth:`LLMClient.acomplete` (or the
blocking :meth:`LLMClient.complete`). For each request it:

1. looks the request up in the reply cache (key: model + prompt hash + input hash; lookups
   made in the same event-loop tick are batched into one ``Store.cache_get_many``) — a hit
   makes no call;
2. otherwise checks the :class:`Budget` (``--max-calls``, ``--max-cost``), waits for one of
   ``concurrency`` slots and calls the model through litellm (:mod:`evalkit.llm.transport`),
   retrying rate limits, server errors, timeouts and dropped connections with exponential
   backoff and jitter (tenacity);
3. records tokens, cost (litellm's price when known, else tokens only), latency and errors for
   every attempt, and the reply in the cache; both are written to the store in batches
   (``Store.llm_flush``) so an interrupted run keeps what it paid for.

A budget stop raises :class:`BudgetExceeded`, a ``BaseException`` so that per-case error
handlers (which record a failed case and go on) let it through and the run stops cleanly;
everything paid for is flushed to the cache first, so re-running resumes for free.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Awaitable, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from .spec import ModelSpec
from .transport import LeanRoute, LLMCallError, RawReply, call_lean, call_litellm, classify

log = logging.getLogger("evalkit.llm")
T = TypeVar("T")


class BudgetExceeded(BaseException):
    """The run's call or cost budget is spent. Not an ``Exception``: it stops the run."""


class Budget:
    """A per-run budget shared by every call of a client (thread-safe).

    Args:
        max_calls: model calls allowed (cache hits are free); None for no limit.
        max_cost_usd: spend allowed; checked before each call, so the calls in flight when the
            limit is reached (at most ``concurrency``) may overshoot it.
    """

    def __init__(self, max_calls: int | None = None, max_cost_usd: float | None = None):
        self.max_calls, self.max_cost_usd = max_calls, max_cost_usd
        self.calls = 0
        self.cost_usd = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> None:
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise BudgetExceeded(f"call budget of {self.max_calls} reached")
            if self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd:
                raise BudgetExceeded(f"cost budget of ${self.max_cost_usd:g} reached (${self.cost_usd:.4f} spent)")
            self.calls += 1

    def spend(self, cost: float | None) -> None:
        if cost:
            with self._lock:
                self.cost_usd += cost


@dataclass
class LLMReply:
    """A model reply (fresh or from the cache)."""

    content: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None  # spent by this call: 0 for a cache hit, None when unpriced
    latency_s: float = 0.0
    cached: bool = False
    model: str = ""
    key: str = ""

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


def request_key(spec: ModelSpec, messages: list[dict], response_format: dict | None, prompt_hash: str) -> str:
    """Cache key: ``llm:<model>:<prompt hash>:<input hash>`` (input: messages, response format, and
    the spec's model, server, temperature, max_tokens and params)."""
    h = _key_prefix(spec, response_format).copy()
    for m in messages:
        h.update(f"\x00{m.get('role')}\x00".encode())
        h.update(str(m.get("content")).encode())
    return f"llm:{spec.model}:{(prompt_hash or '-')[:12]}:{h.hexdigest()[:32]}"


_PREFIXES: dict[tuple[int, int], tuple[ModelSpec, Any, Any]] = {}


def _key_prefix(spec: ModelSpec, response_format: dict | None) -> Any:
    """sha256 state over the spec identity and response format, memoised per object pair."""
    got = _PREFIXES.get((id(spec), id(response_format)))
    if got is not None and got[0] is spec and got[1] is response_format:
        return got[2]
    h = hashlib.sha256(json.dumps(spec.cache_identity(), sort_keys=True).encode())
    h.update(json.dumps(response_format, sort_keys=True).encode() if response_format is not None else b"-")
    if len(_PREFIXES) > 1024:
        _PREFIXES.clear()
    _PREFIXES[(id(spec), id(response_format))] = (spec, response_format, h)
    return h


class _LoopState:
    """Per-event-loop resources: the concurrency semaphore, HTTP session, cache-lookup batch."""

    def __init__(self, concurrency: int):
        self.sem = asyncio.Semaphore(concurrency)
        self.session: Any = None
        self.pending: dict[str, list[asyncio.Future]] = {}
        self.inflight: dict[str, asyncio.Future] = {}
        self.tasks: set[asyncio.Task] = set()


class LLMClient:
    """Cached, retried, bounded, budgeted model calls through litellm.

    Args:
        store: a :class:`~evalkit.store.Store` for the reply cache and ``llm_calls``; None keeps
            the cache in memory only.
        run_id: recorded on every ``llm_calls`` row.
        concurrency: model calls in flight at once (per event loop).
        budget: a shared :class:`Budget` (default: unlimited).
        retries: extra attempts after a retryable failure.
        backoff: first backoff in seconds (doubles, with jitter, up to ``max_backoff``).
        flush_every, flush_interval: write cache and call records after this many calls or seconds.
    """

    def __init__(self, store: Any = None, *, run_id: str | None = None, concurrency: int = 16,
                 budget: Budget | None = None, retries: int = 4, backoff: float = 0.5, max_backoff: float = 20.0,
                 flush_every: int = 500, flush_interval: float = 5.0):
        self.store = store
        self.run_id = run_id
        self.concurrency = concurrency
        self.budget = budget or Budget()
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.flush_every, self.flush_interval = flush_every, flush_interval
        self.stats = {"calls": 0, "cached": 0, "errors": 0, "retries": 0, "prompt_tokens": 0,
                      "completion_tokens": 0, "cost_usd": 0.0}
        self._mem: dict[str, dict] = {}
        self._buf_cache: dict[str, dict] = {}
        self._buf_calls: list[dict] = []
        self._buf_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._states: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState]" = weakref.WeakKeyDictionary()
        self._routes: dict[str, LeanRoute | None] = {}
        self._route_ids: dict[tuple[int, int], tuple[ModelSpec, dict | None, LeanRoute | None]] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_lock = threading.Lock()

    # ------------------------------------------------------------------ public API

    async def acomplete(self, spec: ModelSpec, messages: list[dict], *, response_format: dict | None = None,
                        purpose: str = "judge", prompt_hash: str = "", cache: bool = True,
                        remember: bool = True) -> LLMReply:
        """One chat completion: from the cache, or from the model (retried).

        Args:
            spec: the model.
            messages: OpenAI-style chat messages.
            response_format: litellm ``response_format`` (a JSON schema or ``{"type": "json_object"}``).
            purpose: recorded in ``llm_calls`` (``judge``, ``scribe``, ``generate``...).
            prompt_hash: the rubric's content hash (part of the cache key).
            cache: read and write the reply cache.
            remember: write a fresh reply to the cache now; with False the caller decides later
                with :meth:`remember` (e.g. only once the reply proved usable).

        Raises:
            LLMCallError: the call failed for good (after retries, or not retryable).
            BudgetExceeded: the budget is spent.
        """
        key = request_key(spec, messages, response_format, prompt_hash)
        st = self._state()
        if cache:
            hit = await self._lookup(st, key)
            if hit is not None:
                return self._from_cache(spec, key, hit, purpose)
            if key in st.inflight:  # the same request is already being made: share its reply
                return await asyncio.shield(st.inflight[key])
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        if cache:
            st.inflight[key] = fut
        try:
            reply = await self._call(st, spec, messages, response_format, purpose, key)
            fut.set_result(reply)
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved
            raise
        finally:
            st.inflight.pop(key, None)
        if cache and remember:
            self.remember(reply)
        self._maybe_flush(st)
        return reply

    def remember(self, reply: LLMReply) -> None:
        """Put a fresh reply in the cache (a no-op for cached replies)."""
        if reply.cached or not reply.key:
            return
        value = {"content": reply.content, "finish_reason": reply.finish_reason,
                 "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                 "cost_usd": reply.cost_usd, "model": reply.model}
        self._mem[reply.key] = value
        with self._buf_lock:
            self._buf_cache[reply.key] = value

    def complete(self, spec: ModelSpec, messages: list[dict], **kw: Any) -> LLMReply:
        """Blocking :meth:`acomplete` (runs on the client's own event-loop thread)."""
        return self.run(self.acomplete(spec, messages, **kw))

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the client's background event loop and wait for it (thread-safe)."""
        loop = self._background_loop()
        return asyncio.run_coroutine_threadsafe(coro, loop).result()  # type: ignore[arg-type]

    def flush(self) -> None:
        """Write buffered cache entries and call records to the store now."""
        with self._flush_lock:
            with self._buf_lock:
                cache, calls = self._buf_cache, self._buf_calls
                self._buf_cache, self._buf_calls = {}, []
            self._last_flush = time.monotonic()
            if self.store is None or (not cache and not calls):
                return
            try:
                self.store.llm_flush(cache, calls)
            except Exception:
                with self._buf_lock:  # keep them for the next flush
                    self._buf_cache.update(cache)
                    self._buf_calls[:0] = calls
                raise

    async def aflush(self) -> None:
        await asyncio.to_thread(self.flush)

    def close(self) -> None:
        """Finish pending writes, close HTTP sessions, stop the background loop, flush."""
        if self._loop is not None:
            loop = self._loop
            asyncio.run_coroutine_threadsafe(self._drain(everything=True), loop).result(60)
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(10)
            self._loop = self._thread = None
        self.flush()

    async def aclose(self) -> None:
        """Flush and close this loop's HTTP session (for callers running their own loop)."""
        await self._drain()
        await self.aflush()

    async def _drain(self, everything: bool = False) -> None:
        """Finish this client's background writes and close its session; with ``everything``
        (the client's own loop, about to stop) also cancel tasks others left on it (litellm's
        logging worker)."""
        st = self._states.get(asyncio.get_running_loop())
        if st is not None:
            if st.tasks:
                await asyncio.gather(*list(st.tasks), return_exceptions=True)
            if st.session is not None:
                await st.session.close()
                st.session = None
        if everything:
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in others:
                t.cancel()
            if others:
                await asyncio.gather(*others, return_exceptions=True)
            await asyncio.get_running_loop().shutdown_asyncgens()

    def __enter__(self) -> "LLMClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        st = self._states.get(loop)
        if st is None:
            st = self._states[loop] = _LoopState(self.concurrency)
        return st

    def _background_loop(self) -> asyncio.AbstractEventLoop:
        with self._start_lock:
            if self._loop is None:
                ready = threading.Event()

                def run() -> None:
                    loop = asyncio.new_event_loop()
                    asyncio.set_event_loop(loop)
                    self._loop = loop
                    ready.set()
                    loop.run_forever()
                    loop.close()

                self._thread = threading.Thread(target=run, name="evalkit-llm", daemon=True)
                self._thread.start()
                ready.wait()
            assert self._loop is not None
            return self._loop

    async def _lookup(self, st: _LoopState, key: str) -> dict | None:
        hit = self._mem.get(key)
        if hit is not None or self.store is None:
            return hit
        fut = asyncio.get_running_loop().create_future()
        first = not st.pending
        st.pending.setdefault(key, []).append(fut)
        if first:  # every lookup made in this tick joins one batched query
            asyncio.get_running_loop().call_soon(self._spawn, st, self._load(st))
        return await fut

    def _spawn(self, st: _LoopState, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        st.tasks.add(t)
        t.add_done_callback(st.tasks.discard)

    async def _load(self, st: _LoopState) -> None:
        pending, st.pending = st.pending, {}
        try:
            found = await asyncio.to_thread(self.store.cache_get_many, list(pending))
        except Exception as e:  # a busy or broken cache must not stop judging
            log.warning("reply cache unavailable (%s): calling the model", type(e).__name__)
            found = {}
        for k, v in found.items():
            self._mem[k] = v
        for k, futs in pending.items():
            for f in futs:
                if not f.done():
                    f.set_result(found.get(k))

    def _from_cache(self, spec: ModelSpec, key: str, hit: dict, purpose: str) -> LLMReply:
        self.stats["cached"] += 1
        with self._buf_lock:
            self._buf_calls.append({"run_id": self.run_id, "model": spec.model, "purpose": purpose,
                                    "prompt_tokens": None, "completion_tokens": None, "cost_usd": 0.0,
                                    "latency_s": 0.0, "cached": True, "error": None})
        return LLMReply(content=hit.get("content") or "", finish_reason=hit.get("finish_reason") or "stop",
                        prompt_tokens=hit.get("prompt_tokens"), completion_tokens=hit.get("completion_tokens"),
                        cost_usd=0.0, cached=True, model=spec.model, key=key)

    def _route(self, spec: ModelSpec, response_format: dict | None) -> LeanRoute | None:
        if spec.transport == "litellm" or (spec.transport == "auto" and not spec.api_base):
            return None
        fast = self._route_ids.get((id(spec), id(response_format)))
        if fast is not None and fast[0] is spec and fast[1] is response_format:
            return fast[2]
        rk = json.dumps([spec.model_dump(mode="json"), response_format], sort_keys=True)
        if rk not in self._routes:
            try:
                self._routes[rk] = LeanRoute(spec, response_format)
            except Exception as e:
                if spec.transport == "lean":
                    raise LLMCallError(spec.label, f"no lean route ({type(e).__name__})") from None
                self._routes[rk] = None
        self._route_ids[(id(spec), id(response_format))] = (spec, response_format, self._routes[rk])
        return self._routes[rk]

    async def _session(self, st: _LoopState) -> Any:
        if st.session is None:
            import aiohttp

            st.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                limit=max(self.concurrency, 1), ttl_dns_cache=300, enable_cleanup_closed=True))
        return st.session

    async def _call(self, st: _LoopState, spec: ModelSpec, messages: list[dict], response_format: dict | None,
                    purpose: str, key: str) -> LLMReply:
        route = self._route(spec, response_format)
        try:  # the common case, a first attempt that works, without building a retry controller
            raw, latency = await self._attempt(st, spec, route, messages, response_format, purpose)
        except LLMCallError as e:
            if not e.retryable or self.retries < 1:
                raise
        else:
            return LLMReply(content=raw.content, finish_reason=raw.finish_reason, prompt_tokens=raw.prompt_tokens,
                            completion_tokens=raw.completion_tokens, cost_usd=raw.cost_usd, latency_s=latency,
                            cached=False, model=spec.model, key=key)
        retrying = AsyncRetrying(stop=stop_after_attempt(self.retries),
                                 wait=wait_exponential_jitter(initial=self.backoff, max=self.max_backoff),
                                 retry=retry_if_exception(lambda e: isinstance(e, LLMCallError) and e.retryable),
                                 reraise=True)
        await asyncio.sleep(self.backoff * (0.5 + random.random()))  # backoff after the first failure
        attempts = 1
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    self.stats["retries"] += 1
                    raw, latency = await self._attempt(st, spec, route, messages, response_format, purpose)
        except LLMCallError as e:
            e.attempts = attempts
            raise
        return LLMReply(content=raw.content, finish_reason=raw.finish_reason, prompt_tokens=raw.prompt_tokens,
                        completion_tokens=raw.completion_tokens, cost_usd=raw.cost_usd, latency_s=latency,
                        cached=False, model=spec.model, key=key)

    async def _attempt(self, st: _LoopState, spec: ModelSpec, route: LeanRoute | None, messages: list[dict],
                       response_format: dict | None, purpose: str) -> tuple[RawReply, float]:
        async with st.sem:
            self.budget.reserve()  # inside the slot: at most `concurrency` calls overshoot a cost limit
            t0 = time.perf_counter()
            err: str | None = None
            raw: RawReply | None = None
            try:
                if route is not None:
                    raw = await call_lean(route, await self._session(st), messages)
                else:
                    raw = await call_litellm(spec, messages, response_format)
            except LLMCallError as e:
                err = str(e)
                raise
            except Exception as e:  # anything unexpected from a transport: classified, never lost
                ce = classify(spec.label, e)
                err = str(ce)
                raise ce from None
            finally:
                latency = time.perf_counter() - t0
                self._record(spec, purpose, raw, latency, err)
        return raw, latency

    def _record(self, spec: ModelSpec, purpose: str, raw: RawReply | None, latency: float, err: str | None) -> None:
        s = self.stats
        s["calls"] += 1
        row = {"run_id": self.run_id, "model": spec.model, "purpose": purpose, "prompt_tokens": None,
               "completion_tokens": None, "cost_usd": None, "latency_s": latency, "cached": False, "error": err}
        if err:
            s["errors"] += 1
        if raw is not None:
            row.update(prompt_tokens=raw.prompt_tokens, completion_tokens=raw.completion_tokens,
                       cost_usd=raw.cost_usd)
            s["prompt_tokens"] += raw.prompt_tokens or 0
            s["completion_tokens"] += raw.completion_tokens or 0
            if raw.cost_usd:
                s["cost_usd"] += raw.cost_usd
            self.budget.spend(raw.cost_usd)
        with self._buf_lock:
            self._buf_calls.append(row)

    def _maybe_flush(self, st: _LoopState) -> None:
        if self.store is None or self._flush_lock.locked():
            return
        n = len(self._buf_cache)
        if n >= self.flush_every or (n and time.monotonic() - self._last_flush > self.flush_interval):
            self._last_flush = time.monotonic()
            self._spawn(st, self.aflush())
