"""Allergies: what the transcript says the patient is allergic to, and the note's allergy claims.

A transcript allergy is a substance named in an allergy statement ("i'm allergic to
penicillin", "sulfa allergy", "an allergic reaction to latex") or in the patient's answer
to a question about allergies ("any allergies to medicines?" / "yes, penicillin gives me a
rash"). Such a drug is not a medication the patient takes, and "allergic" there is not a
diagnosis (the lexicon's "allergies" is allergic rhinitis): both are left out of the
medication and diagnosis facts, and the allergy is a fact of its own, named by its substance.

A note's allergy claim ("Allergies: Penicillin.", "She is allergic to sulfa.") is grounded
by a transcript allergy to the same substance, not by any mention of the drug; "NKDA" /
"no known allergies" is contradicted by a stated allergy.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz
from typing import Final

from ..schema import SpeakerRole
from .checks import CONTRADICTED, SUPPORTED, UNSUPPORTED, Check
from .entities import Unit
from .lexicon import GENERIC, STOPWORDS, TOKEN_RE, grounding_dir, lexicon, stems, _read_lines
from .negation import NEG, answer_polarity, is_question_about

# "allergic to X", "allergy to X", "allergic reaction to X", "reacts to X"
_TO: Final = re.compile(r"\ballerg(?:ic|y|ies)(?: reactions?)? (?:to|from|with)\s+|\breactions? to\s+")
# "penicillin allergy", "sulfa allergies" (the substance before the word)
_BEFORE: Final = re.compile(r"\b([a-z][a-z\-]+(?: [a-z][a-z\-]+)?) allerg(?:y|ies)\b")
_ANY_ALLERGY: Final = re.compile(r"\ballerg")
_DENIAL: Final = re.compile(
    r"\b(?:nkda|nka|nkma|no known (?:drug |medication |medicine )?allerg\w*|no (?:drug |medication )?allerg\w*|"
    r"(?:denies|denied|deny|without|not|never|none|no) (?:(?:any|have|had|known|other|drug|medication|to)\s+){0,3}"
    r"allerg\w*|not allergic|allergies\W*(?:none|no|nil|nkda|nka|denied|negative)\b)")
#: words that are never a substance ("allergic to any medicines?", "allergic to anything")
_NOT_SUBSTANCE: Final = frozenset("""any anything medicine medicines medication medications meds med drug drugs thing things
stuff that it them this something everything nothing foods food other others known kind kinds sort type types
seasonal environmental season seasons certain some lot all ones one stuff""".split())
#: a word after which the substance list has ended
_END: Final = frozenset("""is was are were that which because so but when if i you he she we they it gives gave give
causes caused makes made get gets got right correct okay ok yeah yes no since as like ever before last at in on
for with do does did have has had then though""".split())
_SPLIT: Final = re.compile(r",|\band\b|\bor\b|\bplus\b|\bas well as\b")


@lru_cache(maxsize=1)
def allergens() -> frozenset[str]:
    """Stems of non-drug allergens (``rubrics/grounding/allergens.txt``: latex, sulfa, peanuts...)."""
    return frozenset(" ".join(stems(TOKEN_RE.findall(w))) for w in _read_lines(grounding_dir() / "allergens.txt"))


@lru_cache(maxsize=1)
def _reactions() -> frozenset[str]:
    lx = lexicon()
    words = "rash hives itching itchy swelling anaphylaxis nausea vomiting upset stomach diarrhea wheezing".split()
    return frozenset(t.canonical for t in map(lx.find, words) if t is not None)


@lru_cache(maxsize=1)
def allergy_concept() -> str | None:
    """The lexicon concept the words "allergy"/"allergic" match (shared with seasonal allergies)."""
    t = lexicon().find("allergies")
    return t.canonical if t is not None else None


@dataclass
class Allergy:
    """One substance the transcript says the patient is allergic to."""

    substance: str  # as said ("penicillin", "sulfa drugs")
    key: str  # lexicon concept of a drug, else the substance's stems
    turn: int


@dataclass
class Allergies:
    """Allergies of one transcript (memoised on the index)."""

    items: list[Allergy] = field(default_factory=list)
    denied: list[int] = field(default_factory=list)  # turns saying there are no allergies
    positions: set[tuple[int, int]] = field(default_factory=set)  # (turn, token) of allergy words and substances


def _substances(u: Unit, lo: int, hi: int, first_only: bool = False) -> list[tuple[str, str, int]]:
    """``(substance text, key, token index)`` named in characters ``[lo, hi)`` of a unit's text."""
    offs = u.offsets()
    t0, t1 = bisect_left(offs, lo), bisect_left(offs, hi)
    out: list[tuple[str, str, int]] = []
    drugs = [(s, e, t) for s, e, t in u.matches if t0 <= s < t1 and t.category == "drug"]
    for s, e, t in drugs:
        out.append((" ".join(u.toks[s:e]), t.canonical, s))
    taken = {k for s, e, _ in drugs for k in range(s, e)}
    al = allergens()
    k = t0
    while k < t1:
        if k in taken:
            k += 1
            continue
        two = " ".join(u.sts[k:k + 2]) if k + 1 < t1 else None
        if two and two in al:
            out.append((" ".join(u.toks[k:k + 2]), two, k))
            k += 2
            continue
        if u.sts[k] in al:
            out.append((u.toks[k], u.sts[k], k))
        k += 1
    out.sort(key=lambda x: x[2])
    return out[:1] if first_only else out


def _statement_span(u: Unit, start: int) -> int:
    """End (character offset) of the substance list starting at ``start`` ("penicillin and sulfa, is that right")."""
    text = u.norm
    end = min(len(text), start + 80)
    m = re.search(r"[.?!;:]", text[start:end])
    if m:
        end = start + m.start()
    words = 0
    for w in TOKEN_RE.finditer(text, start, end):
        if w.group(0) in _END or words >= 8:
            return w.start()
        words += 1
    return end


def _fallback(u: Unit, lo: int, hi: int) -> list[tuple[str, str, int]]:
    """Substances not in any list: the content words of each list item ("allergic to bananas")."""
    out = []
    offs = u.offsets()
    for part in _SPLIT.split(u.norm[lo:hi]):
        words = [w for w in TOKEN_RE.findall(part) if w not in STOPWORDS and w not in GENERIC
                 and w not in _NOT_SUBSTANCE and w.isalpha() and len(w) > 2]
        if words and len(words) <= 3:
            pos = u.norm.find(words[0], lo, hi)
            out.append((" ".join(words), " ".join(stems(words)), bisect_left(offs, pos)))
    return out


def transcript_allergies(idx) -> Allergies:
    """The transcript's allergies, the turns denying any, and where they are said (cached per index)."""
    got = idx.memo.get("allergies")
    if got is None:
        got = idx.memo["allergies"] = _extract(idx)
    return got


def _answer(idx, i: int) -> int | None:
    for j in range(i + 1, min(i + 3, idx.n_turns)):
        if idx.roles[j] == SpeakerRole.PATIENT:
            return j
    return None


def _extract(idx) -> Allergies:
    res = Allergies()
    seen: set[str] = set()
    allergy_canon = allergy_concept()

    def add(found: list[tuple[str, str, int]], i: int) -> None:
        for text, key, tok in found:
            res.positions.add((i, tok))
            if key not in seen:
                seen.add(key)
                res.items.append(Allergy(text, key, i))
        # the reaction ("penicillin gives me hives") is part of the allergy, not a diagnosis
        last = max(tok for _, _, tok in found)
        res.positions.update((i, s) for s, _, t in idx.units[i].matches
                             if last < s <= last + 10 and t.canonical in _reactions())

    for i in range(idx.n_turns):
        u = idx.units[i]
        if "allerg" not in u.norm and "reaction" not in u.norm and "nkda" not in u.norm:
            continue
        patient = idx.roles[i] == SpeakerRole.PATIENT
        named = False
        for m in list(_TO.finditer(u.norm)) + list(_BEFORE.finditer(u.norm)):
            if m.re is _TO:
                lo, hi = m.end(), _statement_span(u, m.end())
            else:
                lo, hi = m.start(1), m.end(1)
            found = _substances(u, lo, hi)
            if m.re is _TO:
                have = {tok for _, _, tok in found}
                found += [f for f in _fallback(u, lo, hi) if f[2] not in have and not any(
                    f[2] <= tok < f[2] + len(f[0].split()) for tok in have)]
            if not found:
                continue
            named = True
            neg_before = re.search(r"\b(?:not|never|no)\b[^.?!,]{0,20}$", u.norm[max(0, m.start() - 25):m.start()])
            if neg_before:
                continue  # "i'm not allergic to penicillin"
            if not patient and is_question_about(u.norm, m.start()):
                j = _answer(idx, i)
                if j is None or answer_polarity(idx.turns[j].text) == NEG:
                    continue  # "are you allergic to penicillin?" / "no"
            add(found, i)
        if allergy_canon is not None and named:
            # the word "allergic" in a substance statement is not a diagnosis of allergic rhinitis
            res.positions.update((i, s) for s, _, t in u.matches if t.canonical == allergy_canon)
        if _DENIAL.search(u.norm) and not named:
            res.denied.append(i)
            continue
        if not patient and not named and _ANY_ALLERGY.search(u.norm) and "?" in u.norm[u.norm.find("allerg"):]:
            # "any allergies to medicines?" -> the answer names them, or denies them
            j = _answer(idx, i)
            if j is None:
                continue
            a = idx.units[j]
            found = _substances(a, 0, len(a.norm))
            if found:
                add(found, j)
                if allergy_canon is not None:
                    res.positions.update((k, s) for k in (i, j) for s, _, t in idx.units[k].matches
                                         if t.canonical == allergy_canon)
            elif answer_polarity(idx.turns[j].text) == NEG or _DENIAL.search(a.norm):
                res.denied.append(j)
    return res


# ----------------------------------------------------------------------------- note side

_ADVERSE: Final = re.compile(r"\b(?:reaction|react|reacted|itch\w*|rash|hives|side effects?|intoleran\w*|tolerate|"
                      r"swell\w*|anaphyla\w*|made me sick|makes me sick|can ?not take|ca not take)\b")


def adverse_turns(idx, key: str) -> list[int]:
    """Turns naming the drug ``key`` next to an adverse reaction ("itching with the methylprednisolone")."""
    out = []
    for i, _ in idx.concept_turns.get(key, ()):
        if i < idx.n_turns and any(_ADVERSE.search(idx.units[j].norm) for j in (i, i + 1) if j < idx.n_turns):
            out.append(i)
    return sorted(set(out))


#: words of a substance's name that do not tell substances apart ("sulfa drugs" is covered by "sulfa")
_KIND_WORDS: Final = frozenset(stems("drug drugs medication medications medicine antibiotic antibiotics dye".split()))


def covered_by(key: str, note_stems: set[str], note_concepts: set[str]) -> bool:
    """Whether a note that names these stems and concepts names the allergy's substance."""
    if key in note_concepts:
        return True
    words = [w for w in key.split() if w not in _KIND_WORDS] or key.split()
    return all(w in note_stems for w in words)


def is_allergy_claim(u: Unit, section: str | None = None) -> bool:
    """Whether a note claim states allergies (by its words, or by standing in an Allergies section)."""
    return "allerg" in u.norm or "nkda" in u.norm or "nka" in u.toks or (section is not None and "allerg" in section)


#: a drug right after one of these is a medication the claim says is taken, not an allergen
#: ("history of allergies and takes Flonase")
_TAKEN: Final = frozenset("takes taking take took uses using use on prescribed treated started continue continues "
                          "controlled managed".split())


def claim_substances(u: Unit) -> list[tuple[str, str, int]]:
    """Substances a note allergy claim names (drugs and allergens), not the medications it says are taken."""
    out = []
    for text, key, tok in _substances(u, 0, len(u.norm)):
        if any(w in _TAKEN for w in u.toks[max(0, tok - 2):tok]):
            continue
        out.append((text, key, tok))
    return out


def claim_denies_allergies(u: Unit) -> bool:
    """ "NKDA", "No known allergies", "Denies any allergies", "Allergies: none"."""
    return bool(_DENIAL.search(u.norm)) or u.norm.strip(" .") in ("none", "no", "nka", "nkda", "none known")


def check_allergy(u: Unit, idx) -> tuple[list[Check], frozenset[int]]:
    """An allergy claim against the transcript's allergy statements.

    Each substance ("Allergies: Penicillin.") must be one the transcript says the patient
    is allergic to; a mention of the drug as a medication does not ground it. "NKDA" is
    contradicted by a stated allergy. Returns the checks and the token indexes they cover
    (so the drug is not also checked as a medication).
    """
    al = transcript_allergies(idx)
    subs = claim_substances(u)
    canon = allergy_concept()
    covered = frozenset([tok for _, _, tok in subs] + [s for s, _, t in u.matches if t.canonical == canon])
    out: list[Check] = []
    if not subs:
        if claim_denies_allergies(u):
            if al.items:
                names = ", ".join(a.substance for a in al.items[:3])
                out.append(Check("allergy", CONTRADICTED, "negation", True, sorted({a.turn for a in al.items})[:3],
                                 f"note says no allergies, the transcript gives an allergy to {names}", rule="allergy.none_contradicted"))
            elif al.denied:
                out.append(Check("allergy", SUPPORTED, evidence=al.denied[:2]))
            return out, covered
        return out, frozenset()  # "seasonal allergies": a condition, checked as one
    neg = u.polarity(subs[0][2]) == NEG or claim_denies_allergies(u)
    for text, key, tok in subs:
        hit = [a.turn for a in al.items if a.key == key or (len(key) > 3 and (key in a.key or a.key in key))
               or fuzz.ratio(text, a.substance) >= 75]
        if hit:
            if neg:
                out.append(Check("allergy", CONTRADICTED, "negation", True, hit[:1],
                                 f"note denies an allergy to {text}, the transcript gives one", rule="allergy.denied_contradicted"))
            else:
                out.append(Check("allergy", SUPPORTED, evidence=hit[:2]))
        elif not neg and adverse_turns(idx, key):  # "it looks like you suffer from itching with X"
            out.append(Check("allergy", SUPPORTED, evidence=adverse_turns(idx, key)[:2]))
        elif not neg:
            said = bool(idx.concept_turns.get(key)) or all(s in idx.stem_turns for s in key.split())
            why = (f"allergy to '{text}' is not in the transcript"
                   + (" (it is named there, not as an allergy)" if said else ""))
            out.append(Check("allergy", UNSUPPORTED, "fabrication" if not said else "contextual", True,
                             sorted({a.turn for a in al.items})[:3], why, rule="allergy.absent"))
    return out, covered
