"""The collector settings for batch work: loaded state frozen, garbage freed first, fewer young collections."""

from __future__ import annotations

import subprocess
import sys

CODE = r"""
import gc, weakref
import evalkit.run.runner  # noqa: F401 - a realistic amount of loaded state
from evalkit.gcpolicy import YOUNG_THRESHOLD, batch_mode

class Node: pass
a, b = Node(), Node()
a.other, b.other = b, a  # a reference cycle: only the collector frees it
dead = weakref.ref(a)
del a, b
batch_mode()
first = gc.get_freeze_count()
batch_mode()
print(first, gc.get_freeze_count(), gc.get_threshold()[0], YOUNG_THRESHOLD, dead() is None)
"""


def test_batch_mode_freezes_loaded_state_frees_garbage_and_raises_young_threshold():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout.split()
    first, second, g0, want, cycle_freed = int(out[0]), int(out[1]), int(out[2]), int(out[3]), out[4]
    assert first > 10_000  # modules, classes, tables: never walked again
    assert second >= first
    assert g0 == want == 10_000
    assert cycle_freed == "True"  # garbage alive at the call was collected, not made immortal
