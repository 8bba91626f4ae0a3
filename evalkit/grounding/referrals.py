"""Referrals in a note to a specialty the visit never spoke of ("Refer to cardiology for further evaluation").

A real note's plan sometimes sends the patient to a specialist nobody mentioned: a plan item the
clinician never decided. The specialty is recognised by its name (``cardiology``, ``cardiologist``,
``orthopedics``, ``GI``) after "refer", "referral" or "consult"; it is grounded when the dialogue
names it (any word starting the same way), or says it in plain words next to "doctor",
"specialist", "clinic"... ("a heart doctor"), or in a turn that sends the patient somewhere ("I'm
going to send you to someone for your skin"). When the dialogue sends the patient to a doctor by
name ("go back to Dr. Reyes to manage your immunosuppression"), that doctor's specialty is unknown,
so no referral is flagged; nor is a past referral ("was referred to nephrology by genetics"), which
comes from the record or is the one that brought the patient; "will be referred" is checked unless the
dialogue speaks of a referral. ``rubrics/grounding/specialties.txt`` holds the names
and plain words.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from typing import Final

from .checks import UNSUPPORTED, Check
from .entities import Unit
from .index import TranscriptIndex
from .lexicon import grounding_dir
from .negation import NEG

_CUES: Final = frozenset(("refer", "referral", "referred", "referring", "consult", "consultation", "consulted"))
_PAST: Final = frozenset(("referred", "consulted"))
_DEPARTMENTS: Final = {"gi": "gastroenterol", "ent": "otolaryngol", "ortho": "orthop", "derm": "dermatol",
                       "cards": "cardiol", "neuro": "neurol", "psych": "psychiatr", "obgyn": "gynecol"}
_PERSON: Final = frozenset("doctor doctors doc specialist specialists surgeon surgeons clinic team provider physician "
                           "department people group".split())
_SENDING: Final = re.compile(r"\b(?:refer|referral|send you|sending you|see a|see an|see the|get you in|set you up|"
                             r"consult|appointment with)\b")
#: the dialogue sends the patient to a doctor by name ("go back to dr. reyes"): whose specialty it does not say
_TO_NAMED: Final = re.compile(r"\b(?:refer(?:ral)?|send(?:ing)? you|go back to|see|seeing|follow up with|appointment with|"
                              r"get you in with)\b(?: \w+){0,3}? (?:dr|doctor)\b\.? [a-z]")
#: a cue and the specialty must be this close (words)
_GAP: Final = 6


@lru_cache(maxsize=1)
def specialties() -> dict[str, tuple[str, ...]]:
    """Specialty name prefix → plain words for it (``rubrics/grounding/specialties.txt``)."""
    out: dict[str, tuple[str, ...]] = {}
    for line in (grounding_dir() / "specialties.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if ":" in line:
            name, words = line.split(":", 1)
            out[name.strip()] = tuple(w.strip() for w in words.split("|") if w.strip())
    return out


def _specialty(tok: str) -> str | None:
    if tok in _DEPARTMENTS:
        return _DEPARTMENTS[tok]
    if len(tok) < 6:
        return None
    return next((p for p in specialties() if tok.startswith(p)), None)


@lru_cache(maxsize=None)
def _plain_words(prefix: str) -> re.Pattern[str]:
    """The plain words for a specialty, as one pattern."""
    return re.compile(r"\b(?:" + "|".join(re.escape(w) for w in specialties()[prefix]) + r")\b")


def _said_plainly(u: Unit, pat: re.Pattern[str]) -> bool:
    """Whether a turn says the specialty in plain words: in a turn that sends the patient somewhere, or
    followed within three words by a person ("a heart doctor")."""
    found = [m.end() for m in pat.finditer(u.norm)]
    if not found:
        return False
    if _SENDING.search(u.norm):
        return True
    offs, toks = u.offsets(), u.toks
    for end in found:
        k = bisect_left(offs, end)  # the first token after the words
        if not _PERSON.isdisjoint(toks[k:k + 3]):
            return True
    return False


def _said(prefix: str, idx: TranscriptIndex) -> bool:
    """Whether the dialogue names this specialty, in its own name or in plain words, or sends the patient to
    a doctor by name (whose specialty it does not say)."""
    memo = idx.memo.setdefault("specialties-said", {})
    said = memo.get(prefix)
    if said is None:
        named = idx.memo.get("named-doctor")
        if named is None:
            named = idx.memo["named-doctor"] = any(_TO_NAMED.search(u.norm) for u in idx.units)
        pat = _plain_words(prefix)
        said = memo[prefix] = named or any(t.startswith(prefix) for t in idx.tokens) \
            or any(a in idx.tokens for a, p in _DEPARTMENTS.items() if p == prefix) \
            or any(_said_plainly(u, pat) for u in idx.units)
    return said


def check_referral(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """A referral to a specialty the dialogue never names."""
    toks = u.toks
    if _CUES.isdisjoint(toks):
        return []
    out: list[Check] = []
    for i, t in enumerate(toks):
        if t not in _CUES or u.polarity(i) == NEG:
            continue
        if t in _PAST:
            planned = i >= 1 and toks[i - 1] == "be"  # "will be referred"; not "was referred to nephrology"
            if not planned or any(w.startswith("refer") for w in idx.tokens):
                continue
        for j in range(i + 1, min(i + 1 + _GAP, len(toks))):
            prefix = _specialty(toks[j])
            if prefix is None:
                continue
            if not _said(prefix, idx):
                out.append(Check("procedure", UNSUPPORTED, "fabrication", True, [],
                                 f"a referral to {toks[j]}: the visit never spoke of that specialty",
                                 rule="referral.absent"))
            break
    return out
