"""Run cases as Ray tasks; results stream back to the one process that writes DuckDB.

``evalkit run SUITE --executor ray`` starts a local Ray instance (one worker per
``concurrency``), or joins a cluster with ``--address``. Each case is one task running
:func:`evalkit.run.runner.process_case` in a worker process, so CPU-bound scribes and judges use
every core instead of sharing one GIL. Workers never open the database: each result comes back
to the driver, which writes it in batches exactly as the local executor does — the single-writer
rule holds, and an interrupted run resumes from what was written.

At most ``max_in_flight`` tasks are submitted at once (default ``max(16, 8 × concurrency)``), so a
million-case run neither floods the object store nor loses more than that many computed cases to
a crash, while the workers always have queued work when the driver stops to write a batch.

A task carries a batch of cases. By default the batch is sized from the measured time per case
(as joblib's ``batch_size="auto"``): about :data:`TASK_SECONDS` of work per task, so Ray's own cost
per task (a few ms of CPU over driver, raylet and worker) is a few per cent of a case that takes
milliseconds (offline scoring), while a case that takes seconds (ASR, a remote model) goes alone.
Near the end of the input, batches shrink so every worker finishes at about the same time.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import OrderedDict
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

from ..errors import InputError

log = logging.getLogger("evalkit.executors.ray")


_FN_CACHE: "OrderedDict[str, Callable[[Any], Any]]" = OrderedDict()

#: with automatic batching, the work one task should carry (seconds)
TASK_SECONDS = 0.5
#: and the most cases it may carry
MAX_BATCH = 256


# pydantic models cross process boundaries as their JSON: 3-5x cheaper than (cloud)pickle, and the
# driver, which deserialises every result, is the one process that must not fall behind.

def _cls(module: str, name: str) -> type:
    import importlib

    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def pack(obj: Any) -> Any:
    """Encode pydantic models (also inside lists, dicts and ``__slots__`` objects) as JSON."""
    from pydantic import BaseModel

    t = type(obj)
    if getattr(t, "pack_as_is", False):  # plain data already (evalkit.store.SessionRows): pickled as it is
        return obj
    if isinstance(obj, BaseModel):
        return ("__m", t.__module__, t.__qualname__, obj.model_dump_json())
    if t is list:
        return [pack(x) for x in obj]
    if t is dict:
        return {"__d": {k: pack(v) for k, v in obj.items()}}
    slots = getattr(t, "__slots__", None)
    if slots and not isinstance(obj, (str, bytes, tuple, int, float)):
        return ("__s", t.__module__, t.__qualname__, {k: pack(getattr(obj, k)) for k in slots if hasattr(obj, k)})
    return obj


def unpack(obj: Any) -> Any:
    """Inverse of :func:`pack`."""
    if type(obj) is tuple and len(obj) == 4 and obj[0] == "__m":
        return _cls(obj[1], obj[2]).model_validate_json(obj[3])
    if type(obj) is tuple and len(obj) == 4 and obj[0] == "__s":
        cls = _cls(obj[1], obj[2])
        inst = cls.__new__(cls)
        for k, v in obj[3].items():
            setattr(inst, k, unpack(v))
        return inst
    if type(obj) is list:
        return [unpack(x) for x in obj]
    if type(obj) is dict and "__d" in obj and len(obj) == 1:
        return {k: unpack(v) for k, v in obj["__d"].items()}
    return obj


def _call(fn_box: list, item: Any) -> Any:
    """Run the case function in a worker, unpickling it once per worker rather than once per case.

    The function arrives as an ObjectRef inside a list, so Ray does not resolve it for every task;
    the runner's case function closes over the run's inputs (audio index, cached outputs), which
    can be megabytes.
    """
    import ray

    ref = fn_box[0]
    key = ref.hex()
    fn = _FN_CACHE.get(key)
    if fn is None:
        from ..gcpolicy import batch_mode

        fn = ray.get(ref)
        _FN_CACHE[key] = fn
        batch_mode()  # as in a local run: the loaded state is frozen, young collections are rarer
        while len(_FN_CACHE) > 4:
            _FN_CACHE.popitem(last=False)
    t0 = time.perf_counter()
    out = [pack(fn(x)) for x in unpack(item)]  # one task runs a small batch of cases
    return time.perf_counter() - t0, out


class _Batcher:
    """Cases per task: fixed, or sized from the measured seconds per case."""

    def __init__(self, fixed: int | None, concurrency: int):
        self.fixed = fixed
        self.concurrency = concurrency
        self.per_case: float | None = None  # moving average, kept across map calls (the runner's chunks)

    def observe(self, seconds: float, cases: int) -> None:
        if cases:
            x = seconds / cases
            self.per_case = x if self.per_case is None else 0.5 * self.per_case + 0.5 * x

    def size(self, remaining: int | None) -> int:
        if self.fixed:
            return self.fixed
        if self.per_case is None:  # nothing measured yet: single cases until the first results return
            return 1
        n = min(MAX_BATCH, max(1, round(TASK_SECONDS / max(self.per_case, 1e-6))))
        if remaining is not None:  # the tail: leave each worker about two tasks, so they finish together
            n = min(n, max(1, math.ceil(remaining / (2 * self.concurrency))))
        return n


class RayTasksFailed(RuntimeError):
    """Some tasks died in Ray itself (worker crash, out of memory); the run can be resumed."""


class RayExecutor:
    """An :class:`evalkit.run.runner.Executor` backed by Ray tasks.

    Args:
        concurrency: worker processes for a local Ray instance (``num_cpus``) and the default
            number of tasks in flight.
        address: a Ray cluster address (``ray://host:10001`` or ``auto``); default a local instance.
        num_cpus_per_task: CPUs Ray reserves per case (raise it for multi-threaded scribes).
        max_in_flight: tasks submitted at once (default ``max(16, 8 * concurrency)``): enough queued
            work to keep the workers busy while the driver writes a batch to DuckDB.
        max_retries: Ray-level retries of a task whose worker died.
        batch_size: cases per Ray task; default ``None`` sizes batches from the measured time per
            case (about :data:`TASK_SECONDS` of work a task). Set it to fix the size (1: every case
            its own task).
        setup: a callable each worker runs once at start (e.g. registering a scribe); local only.
        init_options: extra keyword arguments for ``ray.init``.
    """

    def __init__(self, concurrency: int = 2, address: str | None = None, num_cpus_per_task: float = 1.0,
                 max_in_flight: int | None = None, max_retries: int = 2,
                 setup: Callable[[], None] | None = None, init_options: dict | None = None,
                 batch_size: int | None = None):
        self.concurrency = max(1, int(concurrency))
        self.batch_size = max(1, int(batch_size)) if batch_size else None
        self._batcher = _Batcher(self.batch_size, self.concurrency)
        self.task_sizes: list[int] = []  # cases per task submitted by the last map_unordered call
        self.address = address
        self.num_cpus_per_task = num_cpus_per_task
        self.max_in_flight = max_in_flight or max(16, 8 * self.concurrency)
        self.max_retries = max_retries
        self.setup = setup
        self.init_options = dict(init_options or {})
        self.started_local = False

    def _ray(self) -> Any:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # offline first: no usage reporting
        try:
            import ray
        except ImportError:
            raise InputError("executor", "ray", "Ray is not installed", "pip install 'evalkit[ray]'") from None
        if not ray.is_initialized():
            opts: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                    "ignore_reinit_error": True, **self.init_options}
            if self.setup is not None:
                opts.setdefault("runtime_env", {})["worker_process_setup_hook"] = self.setup
            if self.address:
                opts["address"] = self.address
            else:
                opts.setdefault("num_cpus", self.concurrency)
                # Ray starts workers at nice 15; on a shared machine they then starve behind every
                # other process. Cases are the job here: run them at the driver's priority.
                os.environ.setdefault("RAY_worker_niceness", "0")
                self.started_local = True
            try:
                ray.init(**opts)
            except ConnectionError as e:
                raise InputError("--address", self.address or "local", f"cannot reach Ray ({e})",
                                 "start the cluster (ray start --head) or drop --address") from None
            log.info("ray initialised (%s)", self.address or f"local, {self.concurrency} CPUs")
        return ray

    def map_unordered(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Submit ``fn(item)`` for every item as Ray tasks; yield results as they complete.

        A task that fails inside Ray (not inside ``fn``: evalkit's case function records its own
        errors) stops further submissions; the results already computed are still yielded, then
        :class:`RayTasksFailed` is raised so the run can be resumed.
        """
        ray = self._ray()
        remote = ray.remote(num_cpus=self.num_cpus_per_task, max_retries=self.max_retries)(_call)
        fn_ref = ray.put(fn)  # the case function (and what it closes over) ships once
        remaining = len(items) if hasattr(items, "__len__") else None
        it = iter(items)
        pending: list[Any] = []
        failures: list[str] = []
        exhausted = False
        batcher = self._batcher
        sizes = self.task_sizes = []

        def top_up() -> None:
            nonlocal exhausted, remaining
            # until a first task has been timed, one single-case task per worker
            limit = self.max_in_flight if batcher.per_case is not None or batcher.fixed else self.concurrency
            while not exhausted and not failures and len(pending) < limit:
                want = batcher.size(remaining)
                batch = list(islice(it, want))
                if len(batch) < want:
                    exhausted = True
                if not batch:
                    return
                if remaining is not None:
                    remaining -= len(batch)
                sizes.append(len(batch))
                pending.append(remote.remote([fn_ref], pack(batch)))

        while True:
            top_up()
            if not pending:
                break
            done, pending = ray.wait(pending, num_returns=1)
            if pending:  # take everything else that is ready too, without waiting
                more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                done += more
            got = []
            for ref in done:
                try:
                    seconds, results = ray.get(ref)
                except Exception as e:  # RayTaskError, WorkerCrashedError, OutOfMemoryError...
                    failures.append(type(e).__name__)
                    continue
                batcher.observe(seconds, len(results))
                got.append(results)
            top_up()  # refill (sized by what just returned) before handing control back: workers keep
            for results in got:  # busy while the driver writes
                yield from unpack(results)
        if failures:
            raise RayTasksFailed(f"{len(failures)} task(s) of up to {max(sizes, default=1)} case(s) failed inside Ray ({', '.join(sorted(set(failures)))}); "
                                 "results computed so far are stored — fix: run the same command again to resume")

    def close(self) -> None:
        """Shut down the local Ray instance this executor started (no-op for a cluster)."""
        if self.started_local:
            import ray

            ray.shutdown()
            self.started_local = False
