"""Print how many generated bad inputs each boundary refused (the fuzz tests' tallies)."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    from tests.fuzz._support import TALLIES

    if not TALLIES:
        return
    total = sum(t.refused for t in TALLIES.values())
    terminalreporter.section("input-boundary fuzzing")
    for name, t in sorted(TALLIES.items()):
        terminalreporter.write_line(f"{name:<36} {t.refused:>4} bad inputs refused with a clear error"
                                    + (f", {t.accepted} accepted as valid" if t.accepted else ""))
    terminalreporter.write_line(f"{'total':<36} {total:>4}")
