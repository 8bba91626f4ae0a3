"""Examination measures whose quality the note turns round: "Normal range of motion" where the clinician
dictated "limited active and passive range of motion", "Decreased grip strength" after "you do have a good
hand grip" (rule ``exam.opposite_quality``).

A measure (range of motion, strength or grip, reflexes, sensation, pulses) is qualified by a normal word
("full", "good", "intact"...) or an abnormal one ("decreased", "limited", "weak"...) within a few words; a
"not"/"no" just before the word turns it round. The note's quality is contradicted when the clinician's
turns qualify the same measure (at the same body part, when the note names one), and every one of them the
other way.
"""

from __future__ import annotations

import re
from typing import Final

from ..schema import SpeakerRole
from .checks import CONTRADICTED, Check
from .entities import Unit
from .index import TranscriptIndex
from .lexicon import stem

#: measure -> the stems that name it
_MEASURES: Final = {"range of motion": ("motion",), "strength": ("strength", "grip"), "reflexes": ("reflex",),
                    "sensation": ("sensat",), "pulses": ("puls",)}
_STEM_MEASURE: Final = {s: m for m, ss in _MEASURES.items() for s in ss}
_NORMAL: Final = frozenset(stem(w) for w in "normal full good intact strong symmetric equal fine unremarkable great "
                           "preserved".split())
_ABNORMAL: Final = frozenset(stem(w) for w in "decreased limited reduced diminished weak restricted abnormal absent "
                             "poor impaired loss lost".split())
#: risks and possibilities, not findings ("counseled on the risks ... loss of sensation")
_MAYBE: Final = re.compile(r"\b(?:risks?|possib\w*|chance|may|might|could|if)\b")
_NOT: Final = frozenset(("not", "no", "n't", "without"))
_BEFORE, _AFTER = 6, 3  # tokens around the measure's word that may qualify it


#: movements a range of motion or strength is tested in: "limited range of motion on extension, not on flexion"
_MOVES: Final = frozenset(stem(w) for w in "flexion extension rotation abduction adduction dorsiflexion plantarflexion "
                          "pronation supination".split())


def _qualities(u: Unit) -> list[tuple[tuple[str, str], str]]:
    """((measure, movement or ""), "normal" | "abnormal") for each qualified measure word of ``u``. A measure
    with a "no"/"not" in its window that does not sit just before the quality word is left out ("no numbness,
    tingling or other abnormal sensations" is no finding of the sensation's)."""
    sts, toks = u.sts, u.toks
    out = []
    for k, s in enumerate(sts):
        m = _STEM_MEASURE.get(s)
        if m is None:
            continue
        lo, hi = max(0, k - _BEFORE), min(len(sts), k + _AFTER + 1)
        got = None
        for j in (*range(k - 1, lo - 1, -1), *range(k + 1, hi)):
            w = sts[j]
            q = "normal" if w in _NORMAL else "abnormal" if w in _ABNORMAL else None
            if q is None:
                continue
            if j > 0 and toks[j - 1] in _NOT:
                q = "abnormal" if q == "normal" else "normal"
            elif any(t in _NOT for t in toks[lo:hi]):
                break  # a negation elsewhere in the window: whose quality it is, is unclear
            got = q
            break
        if got is not None:
            move = next((w for w in sts[lo:min(len(sts), k + 6)] if w in _MOVES), "")
            out.append(((m, move), got))
    return out


def _turn_qualities(idx: TranscriptIndex, i: int) -> list[tuple[tuple[str, str], str]]:
    """:func:`_qualities` of transcript turn ``i`` (memoised: every claim naming a measure reads the same turns)."""
    key = ("exam-qualities", i)
    got = idx.memo.get(key)
    if got is None:
        got = idx.memo[key] = _qualities(idx.units[i])
    return got


def _anatomy_stems(u: Unit) -> set[str]:
    return {s for _, _, t in u.matches if t.category == "anatomy" for s in t.stems}


def check_exam_quality(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """The note's quality of an examination measure, contradicted by every quality the clinician gave it."""
    if _STEM_MEASURE.keys().isdisjoint(u.sts) or _MAYBE.search(u.norm):
        return []
    mine = _qualities(u)
    if not mine:
        return []
    where = _anatomy_stems(u)
    out: list[Check] = []
    for (measure, move), q in dict(mine).items():
        said: dict[str, list[int]] = {}
        for s in _MEASURES[measure]:
            for i in idx.stem_turns.get(s, ()):
                if i >= idx.n_turns or idx.roles[i] != SpeakerRole.CLINICIAN:
                    continue
                if where and where.isdisjoint(idx.turn_stems(i)):
                    continue
                for (m2, move2), q2 in _turn_qualities(idx, i):
                    if m2 == measure and move2 == move:
                        said.setdefault(q2, []).append(i)
        if said and q not in said:
            other = next(iter(said))
            out.append(Check("negation", CONTRADICTED, "negation", True, sorted(set(said[other]))[:3],
                             f"note says {q} {measure}, the clinician said {other}", rule="exam.opposite_quality"))
    return out
