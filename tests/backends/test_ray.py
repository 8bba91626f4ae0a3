"""Ray executor on a local Ray instance with 2 workers: same results as local, resumable,
single writer, Ray-level failures surfaced."""

from __future__ import annotations

import os
import time

import pytest

ray = pytest.importorskip("ray")

from evalkit.executors.ray_executor import RayExecutor, RayTasksFailed, _Batcher  # noqa: E402
from evalkit.importers import load_aci_bench_sample  # noqa: E402
from evalkit.run.runner import run_suite  # noqa: E402
from evalkit.store import Store  # noqa: E402
from evalkit.run.suite import Suite  # noqa: E402
from tests.conftest import make_consultation  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_ex():
    ex = RayExecutor(concurrency=2)
    ex._ray()
    yield ex
    ex.close()


def _store(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    items = load_aci_bench_sample(dataset="mix") + [make_consultation(f"m{i}", dataset="mix") for i in range(5)]
    store.put_consultations(items)
    return store


def _suite():
    return Suite(name="ray-test", dataset="mix", scribes=["rules"], metrics=["adherence", "hallucination"],
                 concurrency=2)


def _pid(x):
    return os.getpid()


def test_tasks_run_in_two_worker_processes(ray_ex):
    pids = set(RayExecutor(concurrency=2, batch_size=1).map_unordered(_pid, range(8)))
    assert len(pids) == 2 and os.getpid() not in pids


def test_same_results_as_local_and_resume(ray_ex, tmp_path):
    store = _store(tmp_path)
    (local_id,) = run_suite(_suite(), store, label="local", executor="local", progress=False)
    # interrupt the Ray run after 3 sessions have come back
    seen = []

    def stop_after_three(res):
        seen.append(res.session_id)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_suite(_suite(), store, label="ray", executor=ray_ex, progress=False, on_result=stop_after_three)
    (ray_id,) = run_suite(_suite(), store, label="ray", executor=ray_ex, progress=False)
    assert ray_id != local_id
    sess = store.run_sessions(ray_id)
    assert len(sess) == 8 and sess["session_id"].is_unique
    assert (sess["status"] == "ok").all(), sess["error"].tolist()
    a = store.scores_frame([local_id]).set_index(["consultation_id", "metric"])["value"]
    b = store.scores_frame([ray_id]).set_index(["consultation_id", "metric"])["value"]
    keep = [k for k in a.index if k[1] != "latency_s"]
    assert a.loc[keep].sort_index().round(9).equals(b.loc[keep].sort_index().round(9))


def test_run_via_executor_name(tmp_path, ray_ex):
    store = _store(tmp_path)
    (rid,) = run_suite(_suite(), store, label="byname", executor="ray", progress=False)
    assert len(store.run_sessions(rid)) == 8


def _boom(x):
    if x == 3:
        os._exit(1)  # the worker process dies: a Ray-level failure, not a recorded case error
    return x


def test_worker_crash_yields_the_rest_then_raises(ray_ex):
    ex = RayExecutor(concurrency=2, max_retries=0, max_in_flight=2, batch_size=1)
    got = []
    with pytest.raises(RayTasksFailed, match="resume"):
        for r in ex.map_unordered(_boom, range(6)):
            got.append(r)
    assert 3 not in got and {0, 1, 2} <= set(got)


def test_batched_tasks_return_every_result_and_a_crash_loses_only_its_batch(ray_ex):
    ex = RayExecutor(concurrency=2, max_retries=0, max_in_flight=2, batch_size=2)
    got = []
    with pytest.raises(RayTasksFailed, match="resume"):
        for r in ex.map_unordered(_boom, range(6)):  # batches [0,1] [2,3] [4,5]; 3 kills its worker
            got.append(r)
    assert {0, 1} <= set(got) and not {2, 3} & set(got)
    assert sorted(RayExecutor(concurrency=2, batch_size=3).map_unordered(abs, range(-7, 0))) == list(range(1, 8))


def _sleepy(seconds):
    time.sleep(seconds)
    return seconds


def test_automatic_batches_grow_for_quick_cases_and_stay_single_for_slow_ones(ray_ex):
    quick = RayExecutor(concurrency=2)
    cases = [0.002] * 300
    assert sorted(quick.map_unordered(_sleepy, cases)) == cases
    sizes = quick.task_sizes
    assert sum(sizes) == 300 and sizes[:2] == [1, 1]  # one timed single case per worker first
    assert max(sizes) >= 20 and sizes[-1] <= 3  # then ~0.5 s of work a task, shrinking at the end
    slow = RayExecutor(concurrency=2)
    assert sorted(slow.map_unordered(_sleepy, [0.6] * 4)) == [0.6] * 4
    assert slow.task_sizes == [1, 1, 1, 1]


def test_batch_sizing_rules():
    b = _Batcher(None, concurrency=2)
    assert b.size(None) == 1  # nothing measured yet
    b.observe(1.0, 100)  # 10 ms a case → 0.5 s is 50 cases
    assert b.size(None) == 50
    assert b.size(10) == 3  # 10 left for 2 workers: about two tasks each
    b.observe(3.0, 1)  # the moving average follows slower cases
    assert b.size(None) == 1
    assert _Batcher(7, concurrency=2).size(3) == 7  # a fixed size is kept
