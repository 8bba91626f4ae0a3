"""Does a judge's omission name a labelled one? Content words compared, lightly stemmed, with the turns cited."""

from __future__ import annotations

import re
from typing import Iterable

__all__ = ["omission_matches"]

_WORD = re.compile(r"[a-z][a-z']+|\d+(?:\.\d+)?")
_STOP = frozenset("""the and for with that this was were are has have had his her she he they them their
patient pt not any also will would should about from into over upon than then there which who what when
does did doing done being been some more most very just only other such each both per day days week weeks
month months year years today current currently plan note notes """.split())


def _tokens(text: str) -> set[str]:
    """Content words, lightly stemmed; a final "e" goes too, so "headache" meets "headaches" (stripped
    to "headach") and "exercise" meets "exercises"."""
    out = set()
    for w in _WORD.findall(text.lower()):
        if w in _STOP or len(w) < 3 and not w[0].isdigit():
            continue
        for suf in ("ing", "ed", "es", "s"):
            if len(w) > len(suf) + 3 and w.endswith(suf):
                w = w[: -len(suf)]
                break
        if len(w) > 4 and w.endswith("e"):
            w = w[:-1]
        out.add(w)
    return out


def omission_matches(judge_text: str, judge_turns: Iterable[int], text: str, turns: Iterable[int]) -> bool:
    """Does a judge's omission name the labelled one? A shared turn and word, or two shared words."""
    shared = _tokens(judge_text) & _tokens(text)
    return len(shared) >= 2 or (bool(shared) and bool(set(judge_turns) & set(turns)))
