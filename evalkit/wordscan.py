"""Finding words in long word lists quickly (the normalisation and WER hot paths)."""

from __future__ import annotations

__all__ = ["positions"]


def positions(words: list[str], targets: frozenset[str] | set[str] | dict) -> list[int]:
    """Sorted indices of the words that are in ``targets`` (scans in C: fast when they are few).

    Args:
        words: a list of words.
        targets: the words to find.
    """
    present = targets.keys() & set(words) if isinstance(targets, dict) else set(targets).intersection(words)
    if len(present) > 3:  # many different hits: one pass in Python beats many C scans
        return [i for i, w in enumerate(words) if w in present]
    out: list[int] = []
    for t in present:
        i = -1
        try:
            while True:
                i = words.index(t, i + 1)
                out.append(i)
        except ValueError:
            pass
    out.sort()
    return out
