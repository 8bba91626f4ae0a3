"""Ground one note claim against the transcript index.

A claim is checked atom by atom, for the meaning clinicians care about rather than word
overlap: each drug, condition, finding and procedure it names must be in the transcript
(with synonyms: "dyspnea" is grounded by "short of breath"); each number must have been
said (digits or words); a dose must have been said near its drug; a side (left/right)
must match the side said for that body region; a denied finding must not have been
affirmed in the dialogue, and an affirmed one must not have been denied (yes/no answers
included). The worst atom sets the verdict.
"""

from __future__ import annotations

import re
from typing import Any, Final

from rapidfuzz import fuzz, process

from .allergies import check_allergy, is_allergy_claim
from .checks import CONTRADICTED, RANK as _RANK, SUPPORTED, UNSUPPORTED, Check, Grounded
from .entities import Unit
from .exam_quality import check_exam_quality
from .index import SAME_AMOUNT, TranscriptIndex
from .lexicon import GENERIC, GENERIC_FINDINGS, OPPOSITE, STOPWORDS, TOKEN_RE, Term, lexicon, stem
from .negation import AFF, NEG, normalize
from .numbers import DOSE_UNITS, number_readings, spoken_decimals
from .plan_checks import check_declined, check_follow_up
from .polarity import check_polarity, condition_clause
from .referrals import check_referral
from .result_quality import check_result_quality
from .unlisted import check_unlisted
from .severity import confidence, coverage, is_major

__all__ = ["CONTRADICTED", "SUPPORTED", "UNSUPPORTED", "Check", "Grounded", "ground_claim"]


def _memo(idx: TranscriptIndex, key: tuple, fn, term: Term) -> list[int] | None:
    """``fn(term, idx)`` memoised per transcript (a note repeats concepts); callers never mutate the list."""
    memo = idx.memo
    got = memo.get(key, _MISSING)
    if got is _MISSING:
        got = memo[key] = fn(term, idx)
    return got


_MISSING: Any = object()


def _drug_supported(term: Term, idx: TranscriptIndex) -> list[int] | None:
    return _memo(idx, ("drug", term.canonical, term.stems, term.text), _drug_supported_uncached, term)


def _drug_supported_uncached(term: Term, idx: TranscriptIndex) -> list[int] | None:
    hits = idx.concept_turns.get(term.canonical)
    if hits:
        return idx.concept_turn_ids(term.canonical)
    for s in term.stems:
        if len(s) > 3 and s not in STOPWORDS:
            lst = idx.stem_turns.get(s)
            if lst:
                return list(lst)
    # misspelt or misheard names: a close transcript token ("lisinapril")
    name = term.text.split()[0]
    if len(name) >= 6:
        cands = [t for t in idx.long_tokens() if t[0] == name[0]]
        m = process.extractOne(name, cands, scorer=fuzz.ratio, score_cutoff=85) if cands else None
        if m:
            return idx.stem_turns.get(stem(m[0]), [])
    return None


def _name_stems(term: Term) -> list[str]:
    """The stems that name ``term``: its words less stop words, generic words and short ones."""
    return [s for s in term.stems if s not in STOPWORDS and s not in GENERIC and len(s) > 2]


def _concept_supported(term: Term, idx: TranscriptIndex) -> list[int] | None:
    return _memo(idx, ("concept", term.canonical, term.stems, term.category), _concept_supported_uncached, term)


def _concept_supported_uncached(term: Term, idx: TranscriptIndex) -> list[int] | None:
    hits = idx.concept_turns.get(term.canonical)
    if hits:
        return idx.concept_turn_ids(term.canonical)
    lx = lexicon()
    # a broader term or a sibling ("CMP" grounded by "labs"; "NSAIDs" by "ibuprofen") — but a named
    # drug only by itself: naproxen in the note where ibuprofen was said is a substitution, the
    # classic medication error, not support (a drug class is still grounded by a member)
    par = lx.parent.get(term.canonical)
    family = [] if par and term.category == "drug" else \
        ([par] if par else []) + sorted(lx.members.get(par or term.canonical, ()))
    for c in family:
        hits = idx.concept_turns.get(c)
        if hits:
            return idx.concept_turn_ids(c)
    key = _name_stems(term)
    if not key:
        return []
    turns = idx.turns_with_all(key)
    if turns:
        return turns
    if len(term.stems) == 1 and len(term.text) >= 7:
        # a long clinical word misspelt or misheard in the transcript ("erythmateous papules")
        cands = [t for t in idx.long_tokens() if t[0] == term.text[0] and abs(len(t) - len(term.text)) <= 3]
        cut = 85 if len(term.text) >= 8 else 90  # "ronchi" for rhonchi: one letter in seven
        m = process.extractOne(term.text, cands, scorer=fuzz.ratio, score_cutoff=cut) if cands else None
        if m:
            return idx.stem_turns.get(stem(m[0]), [])
    if len(term.stems) > 1:
        # a qualified term whose core is grounded ("dyspnea on exertion", "iron deficiency anemia")
        for s, e, sub in lx.match(list(term.stems), 1):
            hits = idx.concept_turns.get(sub.canonical)
            if hits and sub.category == term.category:
                return idx.concept_turn_ids(sub.canonical)
        for s, e, sub in lx.match(list(term.stems[:-1])):
            hits = idx.concept_turns.get(sub.canonical)
            if hits and sub.category == term.category:
                return idx.concept_turn_ids(sub.canonical)
    return None


#: lab analytes whose result a note can only report if the visit talked of it (or of the labs)
_ANALYTES: Final = frozenset("""glucose ldl hdl triglyceride triglycerides creatinine gfr potassium sodium hemoglobin
platelets platelet psa tsh bilirubin albumin ast alt uric""".split())
_LABS_SAID: Final = ("labs", "lab", "bloodwork", "sugar", "sugars", "a1c")
_RESULT_WORDS: Final = re.compile(r"\b(?:normal|elevated|high|low|positive|negative|abnormal|unremarkable|"
                                  r"within normal limits|wnl|increased|decreased|\d)")


def _result_absent(u: Unit, term: Term, idx: TranscriptIndex) -> Check | None:
    """A lab result ("Non-fasting glucose is normal") when the visit never spoke of that analyte or of labs."""
    if not any(w in _ANALYTES for w in term.text.split()) or not _RESULT_WORDS.search(u.norm):
        return None
    if idx.concept_turns.get(term.canonical) or any(s in idx.stem_turns for s in term.stems if len(s) > 2):
        return None
    said, reported = _labs(idx)
    if reported:
        return None
    why = "the visit only planned labs" if said else "the visit never spoke of it or of labs"
    return Check("procedure", UNSUPPORTED, "fabrication", True, [], f"result of '{term.text}': {why}",
                 rule="result.absent", concept=term.canonical)


#: a turn that gives lab results ("your labs look okay", "the blood work came back")
_REPORTED: Final = re.compile(r"\b(?:results?|came back|show(?:s|ed|n)?|look(?:s|ed)? (?:good|okay|ok|normal|fine|"
                              r"great|stable)|normal|elevated|high|low|within|unremarkable|reviewed|positive|negative|"
                              r"level)\b")


def _labs(idx: TranscriptIndex) -> tuple[bool, bool]:
    """Whether the visit spoke of labs at all, and whether it gave any lab result (memoised)."""
    got = idx.memo.get("labs-said")
    if got is None:
        turns = {i for w in _LABS_SAID for i in idx.stem_turns.get(stem(w), ())} | \
            set(idx.concept_turn_ids(lexicon().find("blood work").canonical))  # type: ignore[union-attr]
        got = idx.memo["labs-said"] = (bool(turns), any(_REPORTED.search(idx.units[i].norm) for i in turns))
    return got


_ABNORMAL: Final = re.compile(r"\b(?:elevat\w*|high|low|positive|abnormal|increased|decreased|raised|reduced)\b")
_ORDERING: Final = frozenset("order ordered ordering will obtain check recheck draw repeat schedule plan recommend recommended "
                             "pending get send consider rule".split())


def _result_via_parent(u: Unit, term: Term, idx: TranscriptIndex) -> Check | None:
    """An abnormal result of a test the visit never named, grounded only by its broader kind ("Lyme titer:
    elevated" when the clinician said "your labs look okay"): the visit gave no such result."""
    lx = lexicon()
    par = lx.parent.get(term.canonical)
    if not par or any(t in _ORDERING for t in u.toks):
        return None
    if not _ABNORMAL.search(u.norm) and not (_RESULT_WORDS.search(u.norm) and not _labs(idx)[1]):
        return None  # a normal result is an abnormal one's only when the visit gave no lab result at all
    if idx.concept_turns.get(term.canonical):
        return None
    key = _name_stems(term)
    if not key or idx.turns_with_all(key):
        return None
    if any(idx.value_support(n.value) for n in u.numbers()):
        return None  # the value was said ("cmd showed elevation at 156"), under another name
    return Check("procedure", UNSUPPORTED, "fabrication", True, [],
                 f"a result of '{term.text}': the visit named no such test, only {par}", rule="result.unnamed_test",
                 concept=term.canonical)


def _imaging() -> frozenset[str]:
    """Canonical concepts of imaging studies (x-ray, MRI, CT, ultrasound)."""
    global _IMAGING
    if _IMAGING is None:
        lx = lexicon()
        _IMAGING = frozenset(t.canonical for t in map(lx.find, ("x-ray", "mri", "ct scan", "ultrasound")) if t)
    return _IMAGING


_IMAGING: frozenset[str] | None = None


def _imaging_elsewhere(u: Unit, s: int, e: int, term: Term, idx: TranscriptIndex) -> Check | None:
    """An image of a body part the visit imaged nowhere ("Abdominal x-ray" when the knee was x-rayed)."""
    from .polarity import claim_anatomy

    anat = claim_anatomy(u, s, e, term)
    if not anat:
        return None
    lx = lexicon()
    groups = {lx.anatomy_group.get(a, a) for a in anat}
    hits = idx.concept_turns.get(term.canonical, ())
    seen: set[str] = set()
    for i, _ in hits:
        for j in (i - 1, i, i + 1):
            if 0 <= j < len(idx.units):
                for _, _, t in idx.units[j].anatomy():
                    seen.add(t.canonical)
                    seen.add(lx.anatomy_group.get(t.canonical, t.canonical))
    if not seen or seen & (anat | groups):
        return None  # the images' body parts are not said, or this one is among them
    where = "/".join(sorted(anat))
    return Check("procedure", CONTRADICTED, "contextual", True, sorted({i for i, _ in hits})[:3],
                 f"{term.text} of the {where}: the visit's {term.text} was of another body part",
                 rule="procedure.other_body_part", concept=term.canonical)


def _is_generic(term: Term) -> bool:
    return all(s in GENERIC_FINDINGS or s in STOPWORDS or s in GENERIC for s in term.stems)


_CHECKED: Final = ("drug", "condition", "procedure")
#: words after a condition that make the phrase about something else than having it
_ABOUT_THE_CONDITION: Final = frozenset("""vaccine vaccines vaccination vaccinated shot shots booster boosters pandemic
test tests testing tested screen screening exposure exposures precautions protocol protocols restrictions clinic
specialist prevention risk""".split())


def _mixed(u: Unit, term: Term) -> bool:
    """The claim gives this finding both polarities ("tingling until Sunday, denies tingling today")."""
    canon = term.canonical
    at = [s for s, e, t in u.matches if t.canonical == canon]
    if len(at) < 2:
        return False  # one mention has one polarity (no need to work it out here)
    return len({u.polarity(s) for s in at}) > 1


#: words in an "if" clause that take the finding as already there ("if his rash does not improve")
_PERSISTS: Final = frozenset("""his her their your continue continues continued persist persists persistent
still improve improves improving resolve resolves better worse worsen worsens worsening recur recurs return
returns""".split())


def _contingency(u: Unit, s: int) -> bool:
    """A finding in an "if" clause that may arise ("if a croup cough develops"), not one taken as present."""
    clause = condition_clause(u, s)
    return clause is not None and _PERSISTS.isdisjoint(TOKEN_RE.findall(clause))


def _indication(u: Unit, s: int, term: Term) -> bool:
    """A symptom named as what a drug named before it is for ("Tylenol as needed for fever")."""
    toks = u.toks
    return (s > 0 and toks[s - 1] == "for" and term.canonical in lexicon().symptoms
            and any(t.category == "drug" and e0 < s for s0, e0, t in u.matches))


def check_concepts(u: Unit, idx: TranscriptIndex, skip: frozenset[int] = frozenset(),
                   section: str = "") -> list[Check]:
    """Drug, condition and procedure atoms of a claim: presence, then polarity.

    Args:
        u: the claim.
        idx: the transcript index.
        skip: token indexes of atoms checked elsewhere (an allergy claim's substances).
        section: the claim's section key and title, lower-case (history and exam sections are
            compared with what the patient reports and what the clinician examines).
    """
    out: list[Check] = []
    toks = u.toks
    for s, e, term in u.matches:
        if s in skip:
            continue
        cat = term.category
        if cat == "condition" and e < len(toks) and toks[e] in _ABOUT_THE_CONDITION:
            continue  # "her COVID-19 vaccine", "a strep test": the vaccine or the test, not the disease
        if cat == "measure":
            bad = _result_absent(u, term, idx)
            if bad is not None:
                out.append(bad)
            continue
        if cat not in _CHECKED and cat != "activity":
            continue
        if cat == "drug":
            ev = _drug_supported(term, idx)
            if ev is None:
                ev = _concept_supported(term, idx)
            if ev is None and u.polarity(s) != NEG:
                out.append(Check("drug", UNSUPPORTED, "fabrication", True, [],
                                 f"medication '{term.text}' is not in the transcript", rule="drug.absent", concept=term.canonical))
            elif ev:
                out.append(Check("drug", SUPPORTED, evidence=ev[:3]))
            continue
        ev = _concept_supported(term, idx)
        if ev is None:
            # a denied finding never discussed is a template negative, not a fabrication; one in an
            # "if" clause ("if a croup cough develops, ...") is a contingency, not a claim that it is there
            if cat in _CHECKED and not _is_generic(term) and u.polarity(s) != NEG \
                    and not (cat == "condition" and _contingency(u, s)):
                out.append(Check(cat, UNSUPPORTED, "fabrication", True, [],
                                 f"{'diagnosis/finding' if cat == 'condition' else cat} '{term.text}' is not in the transcript", rule=f"{cat}.absent", concept=term.canonical))
            continue
        if cat == "procedure":
            bad = _result_via_parent(u, term, idx)
            if bad is not None:
                out.append(bad)
                continue
        if cat == "procedure" and term.canonical in _imaging():
            bad = _imaging_elsewhere(u, s, e, term, idx)
            if bad is not None:
                out.append(bad)
                continue
        if cat == "condition" and _indication(u, s, term):
            out.append(Check(cat, SUPPORTED, evidence=ev[:3]))
            continue  # "ibuprofen or Tylenol for fever": what to take it for, not a fever she has
        if cat == "condition" and not _mixed(u, term):
            hit = check_polarity(u, s, e, term, u.polarity(s), idx, section)
            if hit is not None:
                out.append(Check("negation", hit[0], hit[1], True, hit[2], hit[3], rule=hit[4], concept=term.canonical))
                continue
        out.append(Check(cat, SUPPORTED, evidence=ev[:3]))
    return out


#: turns either side of a quantity's turn that may say what it is about ("how long has this been going on?"
#: ... "it's been a week" ... "i was in gymnastics class")
_CONTEXT_TURNS: Final = 6
_MEASURE_GAP: Final = frozenset("is was were of at to on in today's today currently recent most last reviewed showed "
                         "revealed measured reading readings level levels value elevated high low up down around "
                         "about approximately slightly mildly".split())


def _measure_before(u: Unit, tok: int) -> Term | None:
    """A measurement or test named just before token ``tok`` ("Heart rate: 72", "A1c was 7.1")."""
    best = None
    for s, e, t in u.matches:
        if e <= tok and t.category in ("measure", "procedure") and tok - e <= 3:
            if all(w in _MEASURE_GAP for w in u.toks[e:tok]):
                best = t
    return best


_VAGUE_3: Final = frozenset(("few", "several"))  # "a few weeks" is not a contradiction of "2 weeks"
_RANGE_NEXT: Final = re.compile(r"\s*(?:-|to|or)\s*\d")


def check_numbers(u: Unit, text: str, idx: TranscriptIndex, drug_turns: list[int]) -> list[Check]:
    """Every number must have been said (with its unit); a dose near its drug; a measurement near its name."""
    out: list[Check] = []
    nums = u.numbers()
    if not nums:
        return out
    near: set[float] | None = None
    near_pairs: set[tuple[float, str]] = set()
    local: list[int] | None = None
    for n in nums:
        if n.name is not None:
            hits = idx.stem_turns.get(n.name)
            if hits:  # "L4-L5", "S1 and S2": the same name is said
                out.append(Check("number", SUPPORTED, evidence=list(hits[:2])))
                continue
        unit = n.unit_canon
        if unit is not None and unit not in ("year", "mg", "mcg", "unit", "ml", "tablet", "puff"):
            # the turns this claim paraphrases: a different value with the same unit there is a contradiction
            if local is None:
                key = [s for s, t in zip(u.sts, u.toks) if t not in STOPWORDS and t not in GENERIC and not t[0].isdigit()
                       and s not in _UNIT_STEMS]
                local = idx.best_turns(key, 2) + drug_turns[:2]
            around = {j for i in local for j in (i - 1, i, i + 1) if 0 <= j < len(idx.units)}
            if not any(n.value in idx.numbers_in(j) for j in around):
                other = sorted({v for i in local for v, un in idx.pairs_in(i) if un == unit and v != n.value
                                and not (v == 3 and not _VAGUE_3.isdisjoint(idx.units[i].toks))})
                if other and any((round(n.value * f, 6), u2) in idx.pairs_in(j) for j in around
                                 for u2, f in SAME_AMOUNT.get(unit, ())):
                    other = []  # "2 weeks" said as "fourteen days" in those turns or beside them
                if other:
                    out.append(Check("number", CONTRADICTED, "contextual", True, local[:3],
                                     f"{n.value:g} {n.unit}: the transcript says {other[0]:g} here", rule="number.local_other_value"))
                    continue
        turns = idx.number_support(n.value, unit)
        if not turns:
            what = f"{n.value:g} {n.unit}" if unit else f"{n.value:g}"
            out.append(Check("number", UNSUPPORTED, "fabrication", True, [],
                             f"the number {what} is not in the transcript", rule="number.absent",
                             concept=unit or ""))
            continue
        if drug_turns and n.unit in DOSE_UNITS and n.value in _said_with_drug(u, idx):
            # "you're on two . five of norvasc": the number said beside this drug's name is its dose
            out.append(Check("dose", SUPPORTED, evidence=drug_turns[:2]))
            continue
        if drug_turns and (n.unit in DOSE_UNITS or unit in ("time", "hour", "tablet", "puff")):
            # a dose, or how often ("3 times a day", "every 6 hours"), is said about the drug
            if near is None:
                near = idx.dose_numbers_near(drug_turns)
                near_pairs = {p for i in drug_turns for j in (i - 1, i, i + 1) if 0 <= j < len(idx.units)
                              for p in idx.pairs_in(j)}
            said = {v for v, un in near_pairs if un == unit}
            if said and n.value not in said:
                out.append(Check("dose", CONTRADICTED, "contextual", True, drug_turns[:3],
                                 f"{n.value:g} {n.unit} differs from the {sorted(said)[0]:g} {n.unit} said for this medication", rule="dose.other_value"))
                continue
            if near and n.value not in near and not (unit in ("time", "hour") and
                                                     n.value in idx.numbers_near(drug_turns)):
                what = "dose" if n.unit in DOSE_UNITS else "frequency"
                out.append(Check("dose", CONTRADICTED, "contextual", True, drug_turns[:3],
                                 f"{what} {n.value:g} {n.unit} differs from what was said for this medication", rule="dose.not_near_drug"))
                continue
        if drug_turns and n.unit in DOSE_UNITS and n.value not in _said_with_drug(u, idx):
            # "flonase, 800 mg three times a day": 800 was said beside motrin, never beside flonase
            drug = _dose_of_other_drug(u, idx, n.value)
            if drug:
                out.append(Check("dose", CONTRADICTED, "contextual", True, drug_turns[:3],
                                 f"{n.value:g} {n.unit} was said for {drug}, not for this medication",
                                 rule="dose.other_drug"))
                continue
        m = None
        if any(t.category in ("measure", "procedure") for _, _, t in u.matches):
            m = _measure_before(u, len(TOKEN_RE.findall(normalize(text[:n.start]))))
        if m is not None and m.canonical in idx.concept_turns:
            where = {j for i, _ in idx.concept_turns[m.canonical] for j in (i - 1, i, i + 1)}
            if unit is None and not _RANGE_NEXT.match(text, n.end):
                # "A1c was 8" is not backed by "repeat the A1c in 6 months" (but "5-6 years ago" has a unit)
                turns = idx.value_support(n.value)
            if not where & set(turns):
                out.append(Check("number", UNSUPPORTED, "contextual", True,
                                 idx.concept_turn_ids(m.canonical)[:3],
                                 f"{m.text} {n.value:g} is not what the transcript says", rule="measure.other_value"))
                continue
        if m is None and unit is not None and unit not in ("mg", "mcg", "unit", "ml", "tablet", "puff", "year"):
            # the same quantity must be said about the same thing: share a content word with the turn
            ctx = _context_stems(u, idx)
            if ctx and not any(ctx & idx.turn_stems(j) for i in turns for j in range(i - _CONTEXT_TURNS, i + _CONTEXT_TURNS + 1)
                               if 0 <= j < len(idx.units)):
                out.append(Check("number", UNSUPPORTED, "contextual", True, turns[:2],
                                 f"the transcript says {n.value:g} {n.unit} about something else", rule="number.other_context"))
                continue
        out.append(Check("number", SUPPORTED, evidence=turns[:2]))
    return out


_DOSE_WINDOW: Final = 6  # tokens around a drug's name in a turn whose numbers are its dose


def _numbers_beside(tu: Unit, tok: int) -> set[float]:
    """The numbers a turn says within :data:`_DOSE_WINDOW` words of its token ``tok`` (a drug's name)."""
    offs = tu.offsets()
    a = offs[max(0, tok - _DOSE_WINDOW)]
    b = offs[tok + _DOSE_WINDOW] if tok + _DOSE_WINDOW < len(offs) else len(tu.norm)
    return number_readings(TOKEN_RE.findall(spoken_decimals(tu.norm[a:b])))[0]


def _dose_of_other_drug(u: Unit, idx: TranscriptIndex, value: float) -> str | None:
    """Another drug the transcript says ``value`` beside (within :data:`_DOSE_WINDOW` words), when the claim's
    drugs are not among those it is said beside."""
    doses = idx.memo.get("doses-by-drug")
    if doses is None:
        doses = {}
        for tu in idx.units[:idx.n_turns]:
            for s, _, t in tu.matches:
                if t.category == "drug":
                    for v in _numbers_beside(tu, s):
                        doses.setdefault(v, {}).setdefault(t.canonical, t.text)
        idx.memo["doses-by-drug"] = doses
    beside = doses.get(value)
    if not beside or any(t.category == "drug" and t.canonical in beside for _, _, t in u.matches):
        return None
    return next(iter(beside.values()))


def _said_with_drug(u: Unit, idx: TranscriptIndex) -> set[float]:
    """Numbers the transcript says within a few words of a drug this claim names."""
    out: set[float] = set()
    for _, _, t in u.matches:
        if t.category != "drug":
            continue
        key = ("dose-near", t.canonical)
        got = idx.memo.get(key)
        if got is None:
            got = set()
            for i, tok in idx.concept_turns.get(t.canonical, ()):
                got |= _numbers_beside(idx.units[i], tok)
            idx.memo[key] = got
        out |= got
    return out


def _context_stems(u: Unit, idx: TranscriptIndex) -> set[str]:
    """The claim's content stems that the transcript says somewhere (its checkable context)."""
    return {s for s, t in zip(u.sts, u.toks) if t not in STOPWORDS and t not in GENERIC and len(s) > 2
            and not t[0].isdigit() and s in idx.stem_turns and s not in _UNIT_STEMS}


_UNIT_STEMS: Final = frozenset("day week month year hour minute second time pound percent ago last past about approximately "
                        "since for every each per".split())


_NORMAL_EXAM: Final = re.compile(r"\b(?:normal|intact|unremarkable|symmetric|non-?tender|"
                                 r"full range|clear|within normal limits|wnl)\b")
LOPSIDED: Final = 3  # the other side named on its own this many times as often: the note has the wrong side


def check_laterality(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """A side (left/right) must match the side the transcript gives that body part.

    The body part is compared first (knee with knee); when the transcript never gives
    that part a side, its region (a knee is in the leg) is compared instead.
    """
    out: list[Check] = []
    pairs = u.lateral_pairs()
    if not pairs:
        return out
    lat = idx.lateral
    groups = lexicon().anatomy_group
    for side, canon, _, _ in pairs:
        opp = OPPOSITE.get(side)
        if opp is None:
            continue
        keys = [canon]
        g = groups.get(canon)
        if g and g != canon:
            keys.append("group:" + g)
        findings = {t.canonical for s0, _, t in u.matches if t.category == "condition" and u.polarity(s0) == AFF}
        if not findings and _NORMAL_EXAM.search(u.norm):
            continue  # "Left knee exam is normal": the other side, examined for comparison
        for key in keys:
            same, other = lat.get((side, key)), lat.get((opp, key))
            bilateral = lat.get(("bilateral", key))
            if same and other and findings:
                # both sides are discussed: the finding must go with this side, not the other one
                with_f = {i for c in findings for i, _ in idx.concept_turns.get(c, ())}
                if with_f and not with_f & set(same) and with_f & set(other):
                    out.append(Check("laterality", CONTRADICTED, "contextual", True,
                                     sorted(with_f & set(other))[:3],
                                     f"the transcript gives this finding to the {opp} {key.removeprefix('group:')}", rule="laterality.finding_other_side"))
                    break
            if same and other:
                # turns naming both sides compare them ("the left knee looks fine"); the side the
                # dialogue is about is the one named on its own
                only_same, only_other = set(same) - set(other), set(other) - set(same)
                lopsided = findings and len(only_other) >= LOPSIDED * max(1, len(only_same))
                if (not only_same or lopsided) and only_other and not bilateral:
                    out.append(Check("laterality", CONTRADICTED, "contextual", True, sorted(only_other)[:3],
                                     f"note says {side} {key.removeprefix('group:')}, the transcript says {opp}", rule="laterality.other_side"))
                    break
            if same or bilateral:
                out.append(Check("laterality", SUPPORTED, evidence=(same or bilateral)[:2]))  # type: ignore[index]
                break
            if other:
                where = key.removeprefix("group:")
                out.append(Check("laterality", CONTRADICTED, "contextual", True, sorted(set(other))[:3],
                                 f"note says {side} {where}, the transcript says {opp}", rule="laterality.other_side"))
                break
    return out


_RELATIVES: Final = frozenset("""mother father mom dad sister brother aunt uncle grandmother grandfather grandma grandpa
maternal paternal cousin son daughter sibling siblings parents parent family side""".split())
_HISTORY: Final = re.compile(r"\b(?:history (?:significant |notable |positive )?(?:of|for)|diagnosed with|diagnosis of|hx of)"
                      r"\s+(.+?)(?=[.;(]|$| who | which | that | and (?:is|was|has|presents|takes|reports|states))")
_ITEM_SPLIT: Final = re.compile(r",\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+")
_NEG_BEFORE: Final = re.compile(r"\b(?:denies|denied|deny|no|not|negative|without|never)\b")


def check_history(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """Each item of a "history of A, B and C" list must be named somewhere in the transcript."""
    out: list[Check] = []
    low = u.norm
    if "history" not in low and "diagnos" not in low and "hx" not in low:
        return out
    for m in _HISTORY.finditer(low):
        if _NEG_BEFORE.search(low, 0, m.start()):
            continue
        for item in _ITEM_SPLIT.split(m.group(1)):
            words = [w for w in TOKEN_RE.findall(item) if w not in STOPWORDS and w not in GENERIC
                     and len(w) > 3 and not w[0].isdigit()]
            if not words or len(words) > 5 or all(w in _RELATIVES for w in words):
                continue
            if not any(stem(w) in idx.stem_turns for w in words) and not any(
                    _concept_supported(t, idx) is not None
                    for _, _, t in lexicon().match([stem(w) for w in TOKEN_RE.findall(item)])):
                out.append(Check("condition", UNSUPPORTED, "fabrication", True, [],
                                 f"history of '{item.strip()}' is not in the transcript", rule="history.absent"))
    return out


def ground_claim(claim: str | Unit, idx: TranscriptIndex, section: str | None = None) -> Grounded:
    """Verdict, error type, severity and evidence (turn indexes) for one claim.

    Args:
        claim: the claim as written in the note, or its analysed :class:`Unit`.
        idx: the transcript index.
        section: the claim's section key and title, when known (a claim in an Allergies
            section is an allergy claim).
    """
    u = claim if isinstance(claim, Unit) else Unit(claim, lexicon())
    text = u.text
    checks: list[Check] = []
    skip: frozenset[int] = frozenset()
    if is_allergy_claim(u, section):
        checks, skip = check_allergy(u, idx)
    checks += check_concepts(u, idx, skip, (section or "").lower())
    drug_turns = sorted({i for c in checks if c.kind == "drug" and c.verdict == SUPPORTED for i in c.evidence})
    if drug_turns:
        drug_turns = sorted({i for s, e, t in u.matches if t.category == "drug"
                             for i, _ in idx.concept_turns.get(t.canonical, ())})
    checks += check_numbers(u, text, idx, drug_turns)
    checks += check_laterality(u, idx)
    checks += check_history(u, idx)
    checks += check_referral(u, idx)
    checks += check_unlisted(u, idx)
    checks += check_follow_up(u, idx)
    checks += check_declined(u, idx)
    checks += check_exam_quality(u, idx)
    checks += check_result_quality(u, idx)
    # every check supported (most claims): no need to rank them
    worst = (max(checks, key=lambda c: (_RANK[c.verdict], c.major))
             if any(c.verdict != SUPPORTED for c in checks) else None)
    if worst is None:
        ev = sorted({i for c in checks for i in c.evidence})[:4]
        if not ev:
            key = [s for s, t in zip(u.sts, u.toks) if t not in STOPWORDS and t not in GENERIC]
            ev = sorted(idx.best_turns(key))
        return Grounded(SUPPORTED, None, None, ev, "", checks)
    bad = [c for c in checks if c.verdict == worst.verdict]
    ev = sorted({i for c in bad for i in c.evidence})[:4]
    where, low = (section or "").lower(), u.norm
    for c in bad:
        c.major = is_major(c.rule, section=where, text=low, concept=c.concept or None)
    major = [c for c in bad if c.major]
    lead = (major or bad)[0]
    return Grounded(worst.verdict, lead.type or worst.type, "major" if major else "minor", ev,
                    "; ".join(dict.fromkeys(c.why for c in bad)), checks, lead.rule, confidence(bad, coverage(u, idx)))
