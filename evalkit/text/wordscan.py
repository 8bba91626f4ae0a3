"""Finding words in long word lists quickly (the normalisation and WER hot paths)."""

from __future__ import annotations

from itertools import compress

__all__ = ["positions", "indices_of"]


def positions(words: list[str], targets: frozenset[str] | set[str] | dict) -> list[int]:
    """Sorted indices of the words that are in ``targets`` (the scans run in C).

    Args:
        words: a list of words.
        targets: the words to find.
    """
    present = targets.keys() & set(words) if isinstance(targets, dict) else set(targets).intersection(words)
    return indices_of(words, present)


def indices_of(words: list[str], present: set[str] | frozenset[str]) -> list[int]:
    """Sorted indices of the words in ``present`` (best when ``present`` holds only words of the list)."""
    if not present:
        return []
    if len(present) > 2:  # many different hits: one membership pass over the list
        return list(compress(range(len(words)), map(present.__contains__, words)))
    out: list[int] = []
    for t in present:
        i = -1
        try:
            while True:
                i = words.index(t, i + 1)
                out.append(i)
        except ValueError:
            pass
    if len(present) > 1:
        out.sort()
    return out
