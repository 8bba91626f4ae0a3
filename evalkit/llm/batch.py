"""Batch mode: judge through a provider's batch endpoint (OpenAI-compatible ``/v1/files`` + ``/v1/batches``).

:func:`run_batched` runs a piece of work (e.g. "judge these notes") in rounds:

1. a dry run with the client's deferral hook on (:attr:`LLMClient.defer`): every request that is
   not a cache hit is collected instead of sent (the judge records that part as not judged and goes
   on; the dry run's results are thrown away);
2. batches of this model and server left open by an earlier, stopped process (``llm_batches`` in the
   DuckDB file) are picked up — polled and collected — and their requests are not submitted again;
3. the other misses are written as a JSONL batch (``custom_id`` = the cache key, ``body`` = the
   request body a live call sends, built by :class:`~evalkit.llm.transport.LeanRoute`), uploaded
   and created with ``completion_window=24h``; the batch is recorded in the store before it is
   created at the provider (with its submission id as batch metadata, so a process killed between
   the two finds it again by listing the provider's batches);
4. the batch is polled (a progress display on stderr) until it is completed, failed, expired or
   cancelled; its output is parsed into the reply cache exactly like live replies, with
   ``llm_calls`` rows at the batch price, and the batch is marked collected — all in one transaction;
5. repeat from 1 while new misses appear (a repair after an unusable reply, a split of a truncated
   one), up to ``rounds`` times;
6. the real run: every reply is a cache hit, except requests that failed or expired in a batch:
   ``leftovers="live"`` calls the model for them as usual, ``"skip"`` leaves them not judged (named
   in the result's error; a re-run submits them in a new batch).

Prices: litellm's ``input_cost_per_token_batches`` / ``output_cost_per_token_batches`` when the model
has them, else half the live price (the spec's ``input_cost_per_token`` / ``output_cost_per_token``,
or litellm's). Files and batches go through litellm (``acreate_file``, ``acreate_batch``,
``aretrieve_batch``, ``alist_batches``, ``afile_content``) with ``custom_llm_provider="openai"``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, TypeVar

from ..errors import InputError
from .litellm_import import litellm_module
from .spec import ModelSpec
from .transport import LeanRoute, LLMCallError, classify, dumps_body, loads, price

__all__ = ["BatchOptions", "BatchReport", "LEFTOVERS", "LLMCallError", "batch_price", "leftovers", "prepare_batches",
           "run_batched"]

log = logging.getLogger("evalkit.llm")
T = TypeVar("T")

TERMINAL = ("completed", "failed", "expired", "cancelled")
LEFTOVERS = ("live", "skip")
MAX_REQUESTS = 50_000  # OpenAI's limit per batch file
OPENAI_BASE = "https://api.openai.com/v1"


@dataclass
class BatchOptions:
    """How batch mode runs.

    Args:
        poll: seconds between status checks while the provider works.
        leftovers: ``live`` (call the model for requests that failed or expired in a batch) or ``skip``.
        rounds: batch rounds at most (follow-up requests — repairs, splits — need one more each).
        progress: show a progress display on stderr.
        run_id: recorded on the batch and its ``llm_calls`` rows.
    """

    poll: float = 30.0
    leftovers: str = "live"
    rounds: int = 4
    progress: bool = True
    run_id: str | None = None

    def __post_init__(self) -> None:
        if self.leftovers not in LEFTOVERS:
            raise InputError("--batch-leftovers", "value", f"{self.leftovers!r} is not a choice",
                             f"use one of: {', '.join(LEFTOVERS)}")
        if not self.poll > 0:
            raise InputError("--batch-poll", "value", f"{self.poll} is not a positive number of seconds",
                             "give e.g. --batch-poll 30")


@dataclass
class BatchReport:
    """What batch mode did."""

    submitted: int = 0  # requests submitted in new batches
    resumed: int = 0  # open batches picked up from an earlier process
    collected: int = 0  # replies collected into the cache
    failed: int = 0  # requests that failed or expired in a batch
    leftovers_live: int = 0  # model calls made live afterwards
    cost_usd: float = 0.0  # at the batch price
    priced: int = 0  # collected replies with a price (the model may have none)
    batches: list[str] = field(default_factory=list)  # provider batch ids
    states: dict[str, str] = field(default_factory=dict)  # batch id → final state

    def summary(self) -> str:
        return (f"batch: {len(self.batches)} batch(es) ({self.resumed} resumed), {self.submitted} request(s) "
                f"submitted, {self.collected} collected, {self.failed} failed or expired, "
                f"{self.leftovers_live} made live afterwards; "
                + (f"${self.cost_usd:.4f} at the batch price" if self.priced else "no price known for the model"))


@dataclass
class _Deferred:
    key: str
    spec: ModelSpec
    messages: list[dict]
    response_format: dict | None
    purpose: str


class _Collector:
    """The client's deferral hook for a dry run: remembers each missed request once."""

    dry_run = True

    def __init__(self) -> None:
        self.requests: dict[str, _Deferred] = {}

    def add(self, key: str, spec: ModelSpec, messages: list[dict], response_format: dict | None,
            purpose: str) -> str | None:
        if key not in self.requests:
            self.requests[key] = _Deferred(key, spec, list(messages), response_format, purpose)
        return None


class _Skip:
    """The deferral hook for the real run with ``leftovers="skip"``: a miss is not called."""

    dry_run = False

    def add(self, *a: Any) -> str:
        return "no batch reply (failed or expired; not called live with --batch-leftovers skip: re-run to resubmit)"


def batch_price(spec: ModelSpec, pt: int | None, ct: int | None) -> float | None:
    """USD for one batch reply: litellm's batch rates for the model, else half the live price."""
    if spec.input_cost_per_token is None and spec.output_cost_per_token is None:
        try:
            info = litellm_module().get_model_info(spec.model)
            a, b = info.get("input_cost_per_token_batches"), info.get("output_cost_per_token_batches")
            if a is not None and b is not None:
                return (pt or 0) * float(a) + (ct or 0) * float(b)
        except Exception:  # a model litellm does not know: the live price (if any) below
            pass
    live = price(spec, None, pt, ct)
    return None if live is None else live * 0.5


def _provider_kw(spec: ModelSpec) -> dict[str, Any]:
    kw: dict[str, Any] = {"custom_llm_provider": "openai"}
    if spec.api_base:
        kw["api_base"] = spec.api_base
    key = spec.resolved_api_key()
    if key:
        kw["api_key"] = key
    return kw


class _Batches:
    """Submit, poll and collect batches for one model and server."""

    def __init__(self, client: Any, spec: ModelSpec, options: BatchOptions, report: BatchReport, bar: Any = None):
        self.client, self.spec, self.options, self.report, self.bar = client, spec, options, report, bar
        self.store = client.store
        self.kw = _provider_kw(spec)
        self.litellm = litellm_module()

    # -- submit
    def _lines(self, reqs: list[_Deferred]) -> bytes:
        routes: dict[tuple[int, int], LeanRoute] = {}
        out = []
        for d in reqs:
            rk = (id(d.spec), id(d.response_format))  # (a repair round may ask with a larger max_tokens)
            route = routes.get(rk)
            if route is None:
                body_spec = d.spec if d.spec.api_base else d.spec.model_copy(update={"api_base": OPENAI_BASE})
                try:
                    route = routes[rk] = LeanRoute(body_spec, d.response_format)
                except NotImplementedError:
                    raise InputError("judge", "batch", f"{d.spec.label}: batch mode needs an OpenAI-compatible "
                                     "model", "use an openai/... model, or openai/NAME with api_base") from None
            data, _, _ = route.build(d.messages)
            out.append(dumps_body({"custom_id": d.key, "method": "POST", "url": "/v1/chat/completions",
                                   "body": data}))
        return b"\n".join(out) + b"\n"

    async def submit(self, reqs: list[_Deferred]) -> dict:
        sub = f"evalkit-{uuid.uuid4().hex[:16]}"
        body = self._lines(reqs)
        # recorded before the provider hears of it: a kill from here on never leads to a second batch
        self.store.batch_add(sub, self.spec.model, self.spec.api_base, {d.key: d.purpose for d in reqs},
                             self.options.run_id)
        f = await self.litellm.acreate_file(file=("evalkit-batch.jsonl", body, "application/jsonl"),
                                            purpose="batch", **self.kw)
        self.store.batch_update(sub, input_file_id=f.id, state="uploaded")
        b = await self.litellm.acreate_batch(completion_window="24h", endpoint="/v1/chat/completions",
                                             input_file_id=f.id, metadata={"evalkit_submission": sub}, **self.kw)
        self.store.batch_update(sub, batch_id=b.id, state=b.status)
        self.report.submitted += len(reqs)
        return {"submission": sub, "batch_id": b.id, "requests": {d.key: d.purpose for d in reqs},
                "input_file_id": f.id}

    async def find(self, row: dict) -> str | None:
        """The provider's batch id of a batch recorded before its creation was confirmed, or None."""
        after = None
        for _ in range(50):  # up to 5,000 of the provider's most recent batches
            page = await self.litellm.alist_batches(limit=100, after=after, **self.kw)
            data = list(getattr(page, "data", None) or [])
            for b in data:
                if (getattr(b, "metadata", None) or {}).get("evalkit_submission") == row["submission"]:
                    return b.id
            if not data or not getattr(page, "has_more", False):
                return None
            after = data[-1].id
        return None

    # -- wait and collect
    async def wait(self, row: dict) -> Any:
        """Poll a batch until it is completed, failed, expired or cancelled (its state kept in the store)."""
        bid, state, bar = row["batch_id"], row.get("state"), self.bar
        task = bar.add_task(f"{bid} submitted", total=len(row["requests"])) if bar is not None else None
        try:
            while True:
                b = await self.litellm.aretrieve_batch(batch_id=bid, **self.kw)
                rc = getattr(b, "request_counts", None)
                done, failed, total = (getattr(rc, "completed", 0) or 0, getattr(rc, "failed", 0) or 0,
                                       getattr(rc, "total", 0) or 0)
                if bar is not None:
                    bar.update(task, completed=done + failed, total=total or len(row["requests"]),
                               description=f"{bid} {b.status}" + (f" ({failed} failed)" if failed else ""))
                if b.status != state:
                    state = b.status
                    self.store.batch_update(row["submission"], state=state, completed=done, failed=failed)
                if b.status in TERMINAL:
                    return b
                await asyncio.sleep(self.options.poll)
        finally:
            if bar is not None:
                bar.remove_task(task)

    async def _lines_of(self, file_id: str | None) -> list[dict]:
        if not file_id:
            return []
        c = await self.litellm.afile_content(file_id=file_id, **self.kw)
        raw = c.content if hasattr(c, "content") else bytes(c)
        out = []
        for line in raw.splitlines():
            if line.strip():
                try:
                    out.append(loads(line))
                except ValueError:
                    log.warning("batch %s: an output line is not JSON (skipped)", file_id)
        return out

    async def collect(self, row: dict) -> dict[str, dict]:
        """Download a finished batch's replies into the cache (and ``llm_calls``); returns them."""
        b = await self.wait(row)
        self.store.batch_update(row["submission"], output_file_id=getattr(b, "output_file_id", None),
                                error_file_id=getattr(b, "error_file_id", None))
        requests: dict[str, str] = row["requests"]
        values: dict[str, dict] = {}
        calls: list[dict] = []
        for line in await self._lines_of(getattr(b, "output_file_id", None)):
            key = line.get("custom_id")
            resp = line.get("response") or {}
            if key not in requests or key in values or resp.get("status_code") != 200:
                continue
            got = _read_reply(resp.get("body"))
            if got is None:
                continue
            content, finish, pt, ct = got
            cost = batch_price(self.spec, pt, ct)
            values[key] = {"content": content, "finish_reason": finish, "prompt_tokens": pt,
                           "completion_tokens": ct, "cost_usd": cost, "model": self.spec.model}
            calls.append({"run_id": self.options.run_id, "model": self.spec.model, "purpose": requests[key],
                          "prompt_tokens": pt, "completion_tokens": ct, "cost_usd": cost, "latency_s": None,
                          "cached": False, "error": None})
        failed = [k for k in requests if k not in values]
        errors: dict[str, str] = {}
        for line in await self._lines_of(getattr(b, "error_file_id", None)):
            err = line.get("error") or {}
            status = (line.get("response") or {}).get("status_code")
            errors[str(line.get("custom_id"))] = str(err.get("code") or (f"HTTP {status}" if status else "failed"))
        for k in failed:
            calls.append({"run_id": self.options.run_id, "model": self.spec.model, "purpose": requests[k],
                          "prompt_tokens": None, "completion_tokens": None, "cost_usd": 0.0, "latency_s": None,
                          "cached": False, "error": f"{self.spec.label}: batch request {errors.get(k, b.status)}"})
        self.store.batch_collect(row["submission"], b.status, values, calls, failed)
        self.client.prime(values)
        rep = self.report
        rep.collected += len(values)
        rep.failed += len(failed)
        rep.cost_usd += sum(v["cost_usd"] or 0.0 for v in values.values())
        rep.priced += sum(1 for v in values.values() if v["cost_usd"] is not None)
        rep.states[row["batch_id"]] = b.status
        if row["batch_id"] not in rep.batches:
            rep.batches.append(row["batch_id"])
        return values

    async def resume(self, row: dict) -> dict | None:
        """A batch an earlier process left open, ready to collect (None: it never reached the provider)."""
        if not row.get("batch_id"):
            bid = await self.find(row)
            if bid is None:  # created nowhere: its requests are submitted again
                self.store.batch_collect(row["submission"], "not_created", {}, [], list(row["requests"]))
                return None
            self.store.batch_update(row["submission"], batch_id=bid)
            row = {**row, "batch_id": bid}
        self.report.resumed += 1
        return row


def _read_reply(body: Any) -> tuple[str, str, int | None, int | None] | None:
    """(content, finish reason, prompt tokens, completion tokens) of an OpenAI chat completion body."""
    try:
        ch = body["choices"][0]
        content = ch["message"].get("content")
        if not isinstance(content, str):
            return None
        u = body.get("usage") or {}
        pt, ct = u.get("prompt_tokens"), u.get("completion_tokens")
        return content, ch.get("finish_reason") or "stop", pt if isinstance(pt, int) else None, \
            ct if isinstance(ct, int) else None
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def run_batched(client: Any, work: Callable[[], T], options: BatchOptions | None = None) -> tuple[T, BatchReport]:
    """Run ``work`` (which makes its model calls through ``client``) with those calls made in provider
    batches; returns what the final run of ``work`` returned, and a :class:`BatchReport`.

    ``work`` is run once per round with deferral on (its result thrown away), then once for real
    (:func:`prepare_batches`, then :func:`leftovers`).

    Raises:
        LLMCallError: the provider's files or batches endpoint failed (re-run to resume).
        InputError: no store (batch mode keeps its batches in the DuckDB file), or a model with no
            OpenAI-compatible batch endpoint.
    """
    options = options or BatchOptions()
    report = prepare_batches(client, work, options)
    with leftovers(client, options, report):
        result = work()
    return result, report


def prepare_batches(client: Any, work: Callable[[], Any], options: BatchOptions | None = None) -> BatchReport:
    """The batch rounds: dry-run ``work``, resume open batches, submit and collect the rest, repeat
    while new requests appear. Afterwards every request ``work`` makes is a cache hit except those
    that failed or expired in a batch (see :func:`leftovers`)."""
    options = options or BatchOptions()
    if client.store is None or not hasattr(client.store, "batch_add"):
        raise InputError("judge", "batch", "batch mode needs a database", "give --db (the default is evalkit.duckdb)")
    report = BatchReport()
    tried: set[str] = set()  # keys that went through a batch in this invocation: never submitted again
    for _ in range(options.rounds):
        col = _Collector()
        client.defer = col
        try:
            work()
        finally:
            client.defer = None
        misses = {k: d for k, d in col.requests.items() if k not in tried}
        if not misses:
            break
        groups: dict[tuple[str, str], list[_Deferred]] = {}
        for d in misses.values():
            groups.setdefault((d.spec.model, d.spec.api_base or ""), []).append(d)
        before = report.collected
        tried |= client.run(_round(client, list(groups.values()), options, report, tried))
        if report.collected == before:  # nothing new came back: the rest is for the final run
            break
    return report


@contextmanager
def leftovers(client: Any, options: BatchOptions, report: BatchReport) -> Iterator[None]:
    """Around the real run after :func:`prepare_batches`: requests that failed or expired in a batch
    are called live (``leftovers="live"``, counted in ``report.leftovers_live``) or not at all."""
    calls_before = client.stats["calls"]
    client.defer = _Skip() if options.leftovers == "skip" else None
    try:
        yield
    finally:
        client.defer = None
        report.leftovers_live = client.stats["calls"] - calls_before


async def _round(client: Any, groups: list[list[_Deferred]], options: BatchOptions, report: BatchReport,
                 tried: set[str]) -> set[str]:
    """One round: for each model and server, pick up its open batches and submit the other misses; then
    wait for all those batches at once and collect each as it finishes. Returns the keys they hold."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    cols = [TextColumn("[bold]batch[/] {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    seen: set[str] = set()
    with Progress(*cols, console=Console(stderr=True), disable=not options.progress, transient=True) as bar:
        jobs = []
        for reqs in groups:
            spec = reqs[0].spec
            b = _Batches(client, spec, options, report, bar)
            try:
                for row in client.store.batches_open(spec.model, spec.api_base):
                    row = await b.resume(row)
                    if row is not None:
                        seen |= set(row["requests"])
                        jobs.append(_labelled(spec, b.collect(row)))
                todo = [d for d in reqs if d.key not in seen and d.key not in tried]
                for i in range(0, len(todo), MAX_REQUESTS):
                    row = await b.submit(todo[i:i + MAX_REQUESTS])
                    seen |= set(row["requests"])
                    jobs.append(_labelled(spec, b.collect(row)))
            except InputError:
                raise
            except Exception as e:  # the provider or the server: one line, never a request's text
                raise classify(spec.label, e) from None
        await asyncio.gather(*jobs)
    return seen


async def _labelled(spec: ModelSpec, coro: Any) -> Any:
    try:
        return await coro
    except Exception as e:  # the provider or the server: one line naming the model, never a request's text
        raise classify(spec.label, e) from None
