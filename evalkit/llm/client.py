"""The one place evalkit calls language models: cache, retries, concurrency, budget, accounting.

Every judge, the LLM scribe and LLM generation call :meth:`LLMClient.acomplete` (or the
blocking :meth:`LLMClient.complete`). For each request it:

1. looks the request up in the reply cache (key: model + prompt hash + input hash). The keys
   stored for a model and prompt hash — and their replies, up to 20,000 — are loaded once, so
   a miss (and usually a hit) costs no query; other hits made in the same event-loop tick are
   fetched with one ``Store.cache_get_many``. A hit makes no call. (Replies another client stores
   after this one loaded its keys are not seen by it: at worst a repeated call, never a wrong reply.)
2. otherwise checks the :class:`Budget` (``--max-calls``, ``--max-cost``), waits for one of
   ``concurrency`` slots and calls the model through litellm (:mod:`evalkit.llm.transport`),
   first waiting its turn at the model's :mod:`rate limiter <evalkit.llm.ratelimit>` (shared
   by every client and worker process). Server errors, timeouts and dropped connections are
   retried with exponential backoff and jitter; refusals by the provider's rate limit (429) are
   waited out as long as its ``Retry-After`` and ``x-ratelimit-*`` headers say, pausing every
   call to that model, and do not use up the retries;
3. records tokens, cost (litellm's price when known, else tokens only), latency and errors for
   every attempt, and the reply in the cache; both are written to the store in batches
   (``Store.llm_flush``) so an interrupted run keeps what it paid for.

A budget stop raises :class:`BudgetExceeded`, a ``BaseException`` so that per-case error
handlers (which record a failed case and go on) let it through and the run stops cleanly;
everything paid for is flushed to the cache first, so re-running resumes for free.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import json
import logging
import random
import threading
import time
import weakref
from typing import Any, Awaitable, TypeVar

from .budget import Budget, BudgetExceeded, reserve_all, spend_all
from .reply import LLMReply, key_prefix, request_key
from .ratelimit import RateLimiter, estimate_tokens, limiter_for
from .spec import ModelSpec
from .transport import LeanRoute, LLMCallError, RawReply, call_lean, call_litellm, classify, new_session

__all__ = ["Budget", "BudgetExceeded", "LLMClient", "LLMReply", "request_key"]

log = logging.getLogger("evalkit.llm")
T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for the client's own thread: uvloop's when installed (the ``llm`` extra;
    about half the per-call event-loop and socket overhead of asyncio's), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class _LoopState:
    """Per-event-loop resources: the concurrency semaphore, HTTP session, cache-lookup batch."""

    def __init__(self, concurrency: int):
        self.sem = asyncio.Semaphore(concurrency)
        self.session: Any = None  # one aiohttp ClientSession for every server the lean route posts to
        self.pending: dict[str, list[asyncio.Future]] = {}
        self.inflight: dict[str, asyncio.Future] = {}
        self.tasks: set[asyncio.Task] = set()
        self.loading: dict[str, asyncio.Future] = {}


class _Slot:
    """One of ``concurrency`` slots, then the model's turn at its rate limiter, taken only when the
    budget allows another call."""

    __slots__ = ("sem", "budget", "budgets", "t0", "limiter", "tokens")

    def __init__(self, sem: asyncio.Semaphore, budget: Budget, limiter: RateLimiter | None = None, tokens: int = 0):
        self.sem, self.budget, self.budgets, self.t0 = sem, budget, [budget], 0.0
        self.limiter, self.tokens = limiter, tokens

    async def __aenter__(self) -> "_Slot":
        await self.sem.acquire()
        try:
            if self.limiter is not None:  # paced once in a slot, right before the request leaves:
                await self.limiter.acquire(self.tokens)  # a pause set meanwhile still holds it back
            # inside the slot: at most `concurrency` calls overshoot a cost limit
            self.budgets = reserve_all(self.budget)  # the client's budget and any run budget
        except BaseException:
            self.sem.release()
            raise
        self.t0 = time.perf_counter()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.sem.release()


class LLMClient:
    """Cached, retried, bounded, budgeted model calls through litellm.

    Args:
        store: a :class:`~evalkit.store.Store` for the reply cache and ``llm_calls``; None keeps
            the cache in memory only.
        run_id: recorded on every ``llm_calls`` row.
        concurrency: model calls in flight at once (per event loop).
        budget: a shared :class:`Budget` (default: unlimited).
        retries: extra attempts after a retryable failure (rate-limit refusals not counted).
        backoff: first backoff in seconds (doubles, with jitter, up to ``max_backoff``).
        max_rate_wait: seconds one call may keep being refused by the rate limit before it fails.
        flush_every, flush_interval: write cache and call records after this many replies or
            seconds, whichever comes first. Each write opens the DuckDB file and commits (~0.1 s
            of CPU and up to ~0.5 s of I/O); writing every 500 replies cost a fast run a third of
            its CPU, so writes are paced by time: a killed process loses at most ``flush_interval``
            seconds of replies (:meth:`close`, a budget stop and interpreter exit write everything).
    """

    def __init__(self, store: Any = None, *, run_id: str | None = None, concurrency: int = 16,
                 budget: Budget | None = None, retries: int = 4, backoff: float = 0.5, max_backoff: float = 20.0,
                 flush_every: int = 5000, flush_interval: float = 5.0, max_rate_wait: float = 900.0):
        self.store = store
        self.run_id = run_id
        self.concurrency = concurrency
        self.budget = budget or Budget()
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.max_rate_wait = max_rate_wait
        self.flush_every, self.flush_interval = flush_every, flush_interval
        self.stats = {"calls": 0, "cached": 0, "errors": 0, "retries": 0, "prompt_tokens": 0,
                      "completion_tokens": 0, "cost_usd": 0.0, "priced_calls": 0, "rate_limited": 0}
        self._mem: dict[str, dict] = {}
        self._known: dict[str, set[str]] = {}  # cache keys in the store, per model + prompt hash
        self._preloaded: dict[str, str] = {}  # their values (JSON text), when few enough to load at once
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
        #: batch mode (:mod:`evalkit.llm.batch`): when set, a cache miss is handed to ``defer.add(...)``
        #: and fails with "deferred to batch" instead of calling the model
        self.defer: Any = None
        if store is not None:  # nothing paid for is lost, even if the caller never closes the client
            atexit.register(self._flush_quietly)

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
            if self.defer is not None:  # batch mode: the request goes into a provider batch instead
                kind = self.defer.add(key, spec, messages, response_format, purpose)
                raise LLMCallError(spec.label, kind or "deferred to batch", retryable=False)
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        if cache:
            st.inflight[key] = fut
        try:
            reply = await self._call(st, spec, messages, response_format, purpose, key)
            fut.set_result(reply)
        except BudgetExceeded as e:
            if self.store is not None:  # the run stops here: keep what was paid for
                await asyncio.to_thread(self._flush_quietly)
            fut.set_exception(e)
            fut.exception()
            raise
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

    async def aready(self, spec: ModelSpec, prompt_hash: str = "") -> None:
        """Load which replies are cached for this model and prompt, if not loaded yet.

        Callers fanning out many requests await this first, so that the first requests can leave
        as soon as they are built instead of after every other request has been prepared.
        """
        if self.store is not None and hasattr(self.store, "cache_keys"):
            prefix = key_prefix(spec, prompt_hash)
            if prefix not in self._known:
                await self._known_keys(self._state(), prefix)

    def remember(self, reply: LLMReply) -> None:
        """Put a fresh reply in the cache (a no-op for cached replies)."""
        if reply.cached or not reply.key:
            return
        value = {"content": reply.content, "finish_reason": reply.finish_reason,
                 "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
                 "cost_usd": reply.cost_usd, "model": reply.model}
        self._mem[reply.key] = value
        if self.store is not None:
            with self._buf_lock:
                self._buf_cache[reply.key] = value

    def prime(self, values: dict[str, dict]) -> None:
        """Make replies already written to the store (a collected batch) cache hits for this client."""
        self._mem.update(values)

    def complete(self, spec: ModelSpec, messages: list[dict], **kw: Any) -> LLMReply:
        """Blocking :meth:`acomplete` (runs on the client's own event-loop thread)."""
        return self.run(self.acomplete(spec, messages, **kw))

    def run(self, coro: Awaitable[T]) -> T:
        """Run a coroutine on the client's background event loop and wait for it (thread-safe)."""
        return self.submit(coro).result()

    def submit(self, coro: Awaitable[T]) -> "concurrent.futures.Future[T]":
        """Start a coroutine on the client's background event loop; returns its future (thread-safe)."""
        return asyncio.run_coroutine_threadsafe(coro, self._background_loop())  # type: ignore[arg-type]

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

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except Exception as e:  # at exit or on a budget stop: report, never mask the real outcome
            log.warning("could not write LLM cache and call records (%s)", type(e).__name__)

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
                    loop = new_event_loop()
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
        prefix = key.rsplit(":", 1)[0] + ":"  # llm:<model>:<prompt hash>:
        if hasattr(self.store, "cache_keys"):
            known = self._known.get(prefix)
            if known is None:
                known = await self._known_keys(st, prefix)
            if key not in known:  # a miss, known without asking the database
                return None
            raw = self._preloaded.pop(key, None)
            if raw is not None:  # a hit, loaded with the keys
                value = json.loads(raw)
                self._mem[key] = value
                return value
        fut = asyncio.get_running_loop().create_future()
        first = not st.pending
        st.pending.setdefault(key, []).append(fut)
        if first:  # every lookup made in this tick joins one batched query
            asyncio.get_running_loop().call_soon(self._spawn, st, self._load(st))
        return await fut

    async def _known_keys(self, st: _LoopState, prefix: str) -> set[str]:
        """The cache keys stored for one model and prompt hash, loaded once per client."""
        fut = st.loading.get(prefix)
        if fut is None:
            fut = st.loading[prefix] = asyncio.ensure_future(asyncio.to_thread(self.store.cache_keys, prefix))
        try:
            keys, values = await asyncio.shield(fut)
        except Exception as e:  # a busy or broken cache must not stop judging
            log.warning("reply cache unavailable (%s): calling the model", type(e).__name__)
            keys, values = set(), {}
        if prefix not in self._known:
            self._known[prefix] = keys
            self._preloaded.update(values)
        return self._known[prefix]

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
        if self.defer is None or not self.defer.dry_run:  # a batch mode dry run's hits are not counted
            self.stats["cached"] += 1
            if self.store is not None:
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

    def _session(self, st: _LoopState) -> Any:
        """This event loop's aiohttp session (one for every URL), made on first use."""
        if st.session is None or st.session.closed:
            st.session = new_session(self.concurrency)
        return st.session

    async def _call(self, st: _LoopState, spec: ModelSpec, messages: list[dict], response_format: dict | None,
                    purpose: str, key: str) -> LLMReply:
        """Call until a reply, a failure that is not retryable, ``retries`` failed retries, or — for
        refusals by the provider's rate limit, which are waited out as the provider says and do
        not use up ``retries`` — ``max_rate_wait`` seconds spent refused."""
        route = self._route(spec, response_format)
        limiter = limiter_for(spec)
        tokens = estimate_tokens(messages, spec.max_tokens)
        failures = refusals = 0
        started = time.monotonic()
        while True:
            try:
                raw, latency = await self._attempt(st, spec, route, messages, response_format, purpose, limiter,
                                                   tokens)
            except LLMCallError as e:
                e.attempts = failures + refusals + 1
                if not e.retryable:
                    raise
                if e.status == 429:
                    refusals += 1
                    self.stats["rate_limited"] += 1
                    if time.monotonic() - started > self.max_rate_wait:
                        raise
                    if e.retry_after is None:  # the server named no wait: back off
                        limiter.pause(self._backoff(refusals))
                else:
                    failures += 1
                    if failures > self.retries:
                        raise
                    await asyncio.sleep(self._backoff(failures))
                self.stats["retries"] += 1
                continue
            return LLMReply(content=raw.content, finish_reason=raw.finish_reason, prompt_tokens=raw.prompt_tokens,
                            completion_tokens=raw.completion_tokens, cost_usd=raw.cost_usd, latency_s=latency,
                            cached=False, model=spec.model, key=key)

    def _backoff(self, n: int) -> float:
        """Exponential backoff with jitter for the ``n``-th failure: ``backoff`` × 2^(n-1), at most
        ``max_backoff``, times 0.5–1.5."""
        return min(self.backoff * 2 ** min(n - 1, 16), self.max_backoff) * (0.5 + random.random())

    async def _attempt(self, st: _LoopState, spec: ModelSpec, route: LeanRoute | None, messages: list[dict],
                       response_format: dict | None, purpose: str, limiter: RateLimiter,
                       tokens: int) -> tuple[RawReply, float]:
        slot = _Slot(st.sem, self.budget, limiter, tokens)
        err: str | None = None
        raw: RawReply | None = None
        try:
            if route is not None:  # holds the slot only while the request is on the wire
                raw = await call_lean(route, self._session(st), messages, slot)
            else:
                async with slot:
                    raw = await call_litellm(spec, messages, response_format)
        except LLMCallError as e:
            err = str(e)
            self._observe_refusal(limiter, e, tokens)
            raise
        except BudgetExceeded:
            raise
        except Exception as e:  # anything unexpected from a transport: classified, never lost
            ce = classify(spec.label, e)
            err = str(ce)
            self._observe_refusal(limiter, ce, tokens)
            raise ce from None
        else:
            used = (raw.prompt_tokens or 0) + (raw.completion_tokens or 0) if raw.prompt_tokens is not None else None
            limiter.observe(getattr(raw, "headers", None), False, estimated=tokens, used=used)
        finally:
            latency = time.perf_counter() - slot.t0 if slot.t0 else 0.0
            if slot.t0:  # a call was made (not refused by the budget)
                self._record(spec, purpose, raw, latency, err, slot.budgets)
        return raw, latency

    @staticmethod
    def _observe_refusal(limiter: RateLimiter, e: LLMCallError, tokens: int) -> None:
        """Tell the limiter what a failed call's reply said (a 429 is a refusal; any reply may
        carry ``Retry-After`` or limit headers); keep the wait it named on the error."""
        headers = getattr(e, "headers", None)
        if e.status is None and not headers:
            return
        sig = limiter.observe(headers, e.status == 429, estimated=tokens)
        e.retry_after = sig.retry_after

    def _record(self, spec: ModelSpec, purpose: str, raw: RawReply | None, latency: float, err: str | None,
                budgets: list[Budget] | None = None) -> None:
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
            if raw.cost_usd is not None:
                s["cost_usd"] += raw.cost_usd
                s["priced_calls"] += 1
            spend_all(budgets or [self.budget], raw.cost_usd)
        if self.store is not None:
            with self._buf_lock:
                self._buf_calls.append(row)

    def _maybe_flush(self, st: _LoopState) -> None:
        if self.store is None or self._flush_lock.locked():
            return
        n = len(self._buf_cache)
        if n >= self.flush_every or (n and time.monotonic() - self._last_flush > self.flush_interval):
            self._last_flush = time.monotonic()
            self._spawn(st, asyncio.to_thread(self._flush_quietly))
