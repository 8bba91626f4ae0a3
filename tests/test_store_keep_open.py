"""``Store(keep_open=...)`` (the review app's reader) and ``Store.data_version()``.

A reader that keeps the file open must still let a CLI run in another process write, and the
data version must change with every commit from any process (the app's caches are keyed on it).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from evalkit.schema import Annotation
from evalkit.store import Store, _KeepOpen

ROOT = Path(__file__).resolve().parents[1]
WRITE = """
import sys
sys.path.insert(0, sys.argv[2])
from evalkit.schema import Annotation
from evalkit.store import Store
s = Store(sys.argv[1], busy_timeout=60)
for i in range(int(sys.argv[3])):
    s.add_annotation(Annotation(session_id="r:c", reviewer="cli", kind="comment", payload={"i": i}), run_id="r")
print("done", flush=True)
"""


def _write_elsewhere(db: Path, n: int = 1) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITE, str(db), str(ROOT), str(n)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_data_version_changes_with_writes_not_reads(tmp_path):
    db = tmp_path / "v.duckdb"
    s = Store(db)
    s.schema_version()
    v0 = s.data_version()
    s.annotations(session_id="r:c")
    s.list_runs()
    assert s.data_version() == v0
    s.add_annotation(Annotation(session_id="r:c", reviewer="me", kind="comment", payload={}), run_id="r")
    v1 = s.data_version()
    assert v1 != v0
    p = _write_elsewhere(db)
    assert p.wait(120) == 0, p.stderr.read()
    assert s.data_version() != v1
    assert len(s.annotations(session_id="r:c")) == 2


def test_a_kept_open_reader_lets_another_process_write(tmp_path):
    db = tmp_path / "k.duckdb"
    reader = Store(db, keep_open=0.3)
    try:
        reader.schema_version()
        assert str(db) in _KeepOpen._held  # the file stays open after the call...
        p = _write_elsewhere(db, 3)  # ...and a CLI run waits for it instead of failing
        assert p.wait(120) == 0, p.stderr.read()
        assert sorted(a.payload["i"] for a in reader.annotations(session_id="r:c")) == [0, 1, 2]
    finally:
        _KeepOpen.release()


def test_a_busy_reader_does_not_starve_a_writer(tmp_path):
    """A reader called non-stop keeps the file at most 10 s at a stretch, then lets go for 2 s."""
    db = tmp_path / "b.duckdb"
    reader = Store(db, keep_open=5.0, busy_timeout=60)
    try:
        reader.schema_version()
        p = _write_elsewhere(db)
        deadline = time.monotonic() + 90
        while p.poll() is None and time.monotonic() < deadline:
            reader.list_runs()
            time.sleep(0.02)
        assert p.wait(30) == 0, p.stderr.read()
        assert len(reader.annotations(session_id="r:c")) == 1
    finally:
        _KeepOpen.release()
