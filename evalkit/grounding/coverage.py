"""Coverage: what a note says, as lookups, and whether it says a plan item.

A plan item is covered by a note sentence that names it as an action: in a plan-like section,
with an action cue in that sentence or the one before or after it ("She is taking amlodipine and
lisinopril. We will continue these as is."), in a list ordered in the passive ("Hemoglobin A1c,
CBC, and a Chem-12 test were ordered today"), anywhere with a plain order ("A CBC was ordered."
under Results), or by a name in other words ("steroid injection" for "cortisone injection", a
urinalysis for "labs"). A plain-word item is covered by a plan sentence naming a word that says
what it is ("an ABI will be ordered"), not a weak word ("blood", "daily") or a body part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from .entities import Unit
from .facts import interval_days
from .lexicon import GENERIC, STOPWORDS, Term, lexicon, stem
from .plan_items import ACTION_CLASS, PlanItem

#: words that make a note sentence say an action (matched by stem: "prescribing", "prescribed" and
#: "prescription" alike); a token ending in "'ll" counts as "will"
_CUE_WORDS: Final = """will shall plan order schedule start continue refer referral prescribe prescription recommend
advise follow obtain increase decrease stop discontinue initiate return repeat begin send sent monitor should instruct
encourage counsel give given provide place request arrange consider pending resume hold wean taper titrate switch apply
wear use take took avoid limit review book practice practise recheck perform proceed get modify change try check
draw"""
CUE_STEMS: Final = frozenset(stem(w) for w in _CUE_WORDS.split())
#: the actions that also name an order outside the plan ("A hemoglobin A1c was ordered." under Results)
_ORDER_STEMS: Final = frozenset(stem(w) for w in """will shall plan order prescribe prescription refer referral
schedule recommend request arrange initiate start""".split())
#: the action a plan sentence lends the sentence before or after it ("... We will continue these as is.")
_NEAR_STEMS: Final = frozenset(stem(w) for w in """will shall plan continue order prescribe start refer schedule stop
discontinue increase decrease resume""".split())
_ACTION_STEMS: Final = frozenset(ACTION_CLASS)
#: how many words before a concept a plan sentence's action may stand ("we will continue her current dose of radiation")
NEAR: Final = 8
_PASSIVE: Final = frozenset("is are was were be been being".split())
#: verbs that put any plan item in the note ("I recommended an MRI", "I recommended ibuprofen", "Cortisone
#: injection was discussed as an option", "I have stressed the importance of hydration")
_ANY_ACTION: Final = frozenset(("recommend", "suggest", "advis", "plan", "treat", "treatment", "discuss",
                                "discussion", "stress", "importanc", "emphasis", "emphasiz", "educat",
                                "remind", "reinforc"))
#: (said, written) action classes that name the same plan: getting a drug is starting it, and a
#: drug to take is one started or continued
_SAME_ACTION: Final = frozenset({(a, a) for a in ("order", "start", "stop", "increase", "decrease", "continue",
                                                  "refer", "take")}
                                | {("order", "start"), ("start", "order"), ("take", "start"), ("start", "take"),
                                   ("take", "continue"), ("continue", "take"), ("order", "take")})
_HISTORY_SECTION: Final = re.compile(r"hpi|histor|subjective|complaint|review of systems|\bros\b|medication|allerg|"
                                      r"social|famil|surgical|vital|exam")
PLAN_SECTION: Final = re.compile(r"plan|instruction|recommend|treatment|disposition|assessment|impression")
FOLLOW_CUE: Final = re.compile(r"\b(?:follow(?:-| )?up|return(?:s|ed|ing)?|come back|recheck|re-evaluat\w*|revisit|"
                                r"see (?:me|him|her|them|the patient|you) (?:again|back|in)|be seen|next visit|"
                                r"next appointment)\b")
FOLLOW_UP: Final = "follow up"  # the follow-up concept
_RESULT_SECTION: Final = re.compile(r"result|finding|imaging|lab|data|diagnostic|studies|radiolog")
_RESULT_WORDS: Final = re.compile(r"\b(?:show(?:s|ed|n)?|reveal\w*|demonstrat\w*|normal|abnormal\w*|negative|positive|"
                                  r"unremarkable|no evidence|consistent with|within normal|wnl|fractures?|findings?|"
                                  r"results?|reviewed|confirm\w*|significant for|notable for|indicat\w*|was|were)\b")


@dataclass
class NoteView:
    """What the note says, as lookups for coverage."""

    stems: set[str]
    concepts: set[str]  # concepts named, with the broader terms of those named ("ibuprofen" -> NSAID)
    action_concepts: dict[str, list[tuple[set[str], int]]]  # concept named as an action -> (action classes
    # said with it, "*" for any; the sentence's index), one per sentence
    numbers: set[float]
    follow_up: bool  # the note says when the patient is seen next
    follow_days: list[float]  # the intervals its follow-up sentences give, in days
    where: dict[str, list[int]]  # concept -> the sentences naming it
    results: set[str]  # concepts named with a result ("X-rays ... reveal no fracture"), "imaging" for any image
    units: list[Unit]
    plan_units: list[int]  # indexes of the plan-section sentences
    same_section_next: list[bool]  # whether sentence k + 1 is in the section of sentence k
    _stems: dict[int, set[str]] = field(default_factory=dict)

    def sentence_stems(self, k: int) -> set[str]:
        """Stems of sentence ``k`` and of the next one in its section (a claim is often half a sentence)."""
        got = self._stems.get(k)
        if got is None:
            got = set(self.units[k].sts)
            if self.same_section_next[k]:
                got.update(self.units[k + 1].sts)
            self._stems[k] = got
        return got



def note_view(units: list[Unit], sections: list[str] | None = None) -> NoteView:
    """Lookups over the note's claim units (``sections``: each unit's section key and title)."""
    n = len(units)
    secs = sections if sections and len(sections) == n else [""] * n
    kinds: dict[str, tuple[bool, bool, bool]] = {}  # section -> (plan, results, history)
    for sec in secs:
        if sec not in kinds:
            kinds[sec] = (bool(PLAN_SECTION.search(sec)), bool(_RESULT_SECTION.search(sec)),
                          bool(_HISTORY_SECTION.search(sec)))
    in_plan = [kinds[sec][0] for sec in secs] if sections else [True] * n
    sectioned = any(in_plan)
    cue_stems = CUE_STEMS
    if not sectioned:  # a note with no plan section: any sentence may hold the plan, if it says an order
        in_plan = [True] * n
        cue_stems = _ORDER_STEMS | _NEAR_STEMS
    parent = lexicon().parent
    stems: set[str] = set()
    concepts: set[str] = set()
    nums: set[float] = set()
    cs_of: list[set[str]] = []
    cue = [False] * n
    near_cue = [False] * n
    follow = False
    follow_days: list[float] = []
    results: set[str] = set()
    where: dict[str, list[int]] = {}
    for k, u in enumerate(units):
        sts = u.sts
        stems.update(sts)
        cs = {t.canonical for _, _, t in u.matches}
        cs_of.append(cs)
        concepts |= cs
        for c in cs:
            where.setdefault(c, []).append(k)
        cue[k] = not (cue_stems if in_plan[k] else _ORDER_STEMS).isdisjoint(sts) or "'ll" in u.norm
        near_cue[k] = cue[k] and (not _NEAR_STEMS.isdisjoint(sts) or "'ll" in u.norm)
        if (in_plan[k] or cue[k]) and (FOLLOW_UP in cs or FOLLOW_CUE.search(u.norm)):
            follow = True
            follow_days += interval_days(u.norm)
        ns = u.numbers()
        if ns:
            nums.update([x.value for x in ns])
        if (cs or "imag" in sts) and (kinds[secs[k]][1] or _RESULT_WORDS.search(u.norm)):
            results |= cs
            if "imag" in sts or "radiograph" in sts:
                results.add("imaging")
    concepts |= {parent[c] for c in concepts if c in parent}
    results |= {parent[c] for c in results if c in parent}
    action: dict[str, list[tuple[set[str], int]]] = {}
    for k, u in enumerate(units):
        if not cs_of[k] or (not in_plan[k] and (kinds[secs[k]][2] or not cue[k])):
            continue  # "He was prescribed a 10-day course of antibiotics" is history, not the plan
        wild = in_plan[k] and not _ANY_ACTION.isdisjoint(u.sts)
        cues = _cues(u, cue_stems if in_plan[k] else _ORDER_STEMS) if cue[k] and not wild else []
        near: list[int] = []
        if in_plan[k] and sectioned and not cue[k]:  # the action said in the sentence before or after
            # ("She is taking amlodipine and lisinopril. We will continue these as is.")
            near = [j for j in (k - 1, k + 1) if 0 <= j < n and secs[j] == secs[k] and near_cue[j]]
        for s0, e0, t in u.matches:
            if wild:
                acts: set[str] | None = {"*"}
            else:
                acts = _acts_near(u, s0, e0, cues)
                if acts is None and near:  # the neighbour's action must be one that names this plan
                    acts = set().union(*(_acts(units[j].sts) for j in near)) or None
            if acts is not None:
                action.setdefault(t.canonical, []).append((acts, k))
    nxt = [k + 1 < n and secs[k + 1] == secs[k] for k in range(n)]
    return NoteView(stems, concepts, action, nums, follow, follow_days, where, results, units,
                    [k for k in range(n) if in_plan[k]], nxt)


def _acts(sts: list[str]) -> set[str]:
    hit = _ACTION_STEMS.intersection(sts)
    return {ACTION_CLASS[x] for x in hit} if hit else set()


def _cues(u: Unit, cue_stems: frozenset[str]) -> list[int]:
    """Token indexes of the action words of a note sentence."""
    return [j for j, (t, st) in enumerate(zip(u.toks, u.sts)) if st in cue_stems or t.endswith("'ll")]


def _acts_near(u: Unit, s0: int, e0: int, cues: list[int]) -> set[str] | None:
    """Action classes said with the concept at tokens ``s0:e0``: a cue at most :data:`NEAR` words
    before it, not counting other names on the way ("I have also provided him with a home exercise
    program"), inside it ("Follow up in 2 weeks"), or just after it when it opens the sentence or in
    the passive ("Omeprazole 20 mg continues", "Lasix will be continued"); None when no cue is that close."""
    toks, sts = u.toks, u.sts
    for p in cues:
        if p < s0 and s0 - p > NEAR:  # far, unless the words between are mostly a list of other names
            # ("We will order an ultrasound of her right upper quadrant, as well as additional labs")
            named = sum(min(e, s0) - max(s, p) for s, e, _ in u.matches if s < s0 and e > p)
            if s0 - p - named > NEAR:
                continue
        if p < e0 or (p <= e0 + 4 and (s0 <= 1 or not _PASSIVE.isdisjoint(toks[e0:p + 1]))):
            return _acts(sts[max(0, s0 - NEAR):s0] + sts[s0:e0 + 4])
        if p > e0 and not _PASSIVE.isdisjoint(toks[e0:p + 1]) and _free_words(u, e0, p) <= 4:
            # a list in the passive: "Hemoglobin A1c, CBC, and a Chem-12 test were ordered today"
            return _acts(sts[s0:e0] + [sts[p]])
    return None


#: words of a list of names besides the names ("A, B, and a C test were ordered")
_LIST_WORDS: Final = frozenset("and or a an the as well test tests panel labs level levels".split()) | _PASSIVE


def _free_words(u: Unit, lo: int, hi: int) -> int:
    """How many words between tokens ``lo`` and ``hi`` are neither a name nor a list word."""
    named = {j for s, e, _ in u.matches if s < hi and e > lo for j in range(max(s, lo), min(e, hi))}
    return sum(1 for j in range(lo, hi) if j not in named and u.toks[j] not in _LIST_WORDS)


def covered(term: Term, nv: NoteView) -> bool:
    if term.canonical in nv.concepts:
        return True
    key = [s for s in term.stems if s not in STOPWORDS and s not in GENERIC and len(s) > 2]
    return bool(key) and all(s in nv.stems for s in key)


#: words of a plain-word item that do not say what it is ("continue to monitor your blood sugars at home",
#: "ice your knee once an hour", "prescribe you some pain medicine"): a note sentence that says only these
#: does not name the item
_WEAK_KEY: Final = frozenset(stem(w) for w in """once twice daily day days hour hours minute minutes time times week
weeks month months morning night evening every first next another home table side left right pain medicine
medication medications test tests order result results through sure temporarily yourself closely down off stay
keep try give take use get make cause though able definitely necessarily consume blood milligram milligrams
prescription care stop quit push""".split())
#: other words a note gives a plain-word item in ("push fluids": "stay well hydrated")
_PLAIN_ALSO: Final = {stem("fluid"): ("hydra", "water"), stem("fluids"): ("hydra", "water")}


_DISTINCT: dict[tuple[str, ...], list[str]] = {}
#: a referral that names no specialty, and the words of any referral
_ANY_SPECIALIST: Final = frozenset(stem(w) for w in "specialist specialists doctor physician".split())
_REFERRAL_STEMS: Final = frozenset(stem(w) for w in "refer referred referral referring consult consultation".split())


def _distinct(key: tuple[str, ...]) -> list[str]:
    """What a plain-word item's words name: the words that are not weak, nor a body part ("ice the knee")."""
    got = _DISTINCT.get(key)
    if got is None:
        anat = lexicon().anatomy
        got = [k for k in key if k not in _WEAK_KEY and not (anat is not None and anat.find(k) is not None)]
        got = _DISTINCT[key] = got or list(key)
    return got


def plain_covered(it: PlanItem, nv: NoteView) -> bool:
    """Some plan sentence names what a plain-word item names ("an ABI will be ordered" for "order an
    ankle brachial index abi": a word that says what it is, not a weak word or a body part),
    or says two thirds of its clause's content words (at least two)."""
    if "refer" in it.acts and _ANY_SPECIALIST.issuperset(it.key):  # "send you to a specialist": any referral
        return any(not _REFERRAL_STEMS.isdisjoint(nv.sentence_stems(k)) for k in nv.plan_units)
    roots = [_root(k) for k in _distinct(it.key)]
    roots += [r for k in it.key for r in _PLAIN_ALSO.get(k, ())]
    full = [_root(k) for k in _distinct(tuple(sorted(it.clause[0])))] if it.clause else []
    need = min(len(full), max(2, (2 * len(full) + 2) // 3))
    lens = {len(r) for r in roots} | {len(r) for r in full}
    for k in nv.plan_units:
        ss = nv.sentence_stems(k)
        ps = {x[:j] for x in ss for j in lens}  # stems by their first letters: "exercis" meets "exercising"
        if any(r in ps for r in roots) or (full and sum(1 for r in full if r in ps) >= need):
            return True
    return False


def _root(k: str) -> str:
    """A stem's first letters, so that "ice" meets "icing" and "exercis" meets "exercising"."""
    return k[:5] if len(k) > 5 else k.rstrip("e") if len(k) > 2 else k


_PARTS: dict[str, tuple[str, ...]] = {}


def parts_key(canon: str) -> tuple[str, ...]:
    """A name's words, each as the concept it names alone ("steroid injection" and "cortisone injection" are
    both (corticosteroid, injection))."""
    got = _PARTS.get(canon)
    if got is None:
        first = lexicon().first
        got = _PARTS[canon] = tuple(next((t.canonical for t in first.get(w, ()) if t.stems == (w,)), w)
                                    for w in canon.split())
    return got


def plan_covered(it: PlanItem, nv: NoteView) -> bool:
    """A note sentence names the item as an action: the same action (or any, when none was said,
    or "recommended"), or in words that say at least half of what one announcing clause says."""
    entries = nv.action_concepts.get(it.canon)
    if entries is None and " " in it.canon:  # the same words in other names: "cortisone injection", "steroid injection"
        key = parts_key(it.canon)
        entries = [e for c, es in nv.action_concepts.items() if " " in c and parts_key(c) == key for e in es] or None
    if entries is None:  # a member of a broader item: "Urine culture and urinalysis were ordered" for "labs"
        parent = lexicon().parent
        entries = [e for c, es in nv.action_concepts.items() if parent.get(c) == it.canon for e in es] or None
    if entries is None:  # a broader name inside a longer one: "injection" in "epidural steroid injection"
        parts = set(it.canon.split())
        entries = [e for c, es in nv.action_concepts.items() if parts < set(c.split()) for e in es]
    for acts, k in entries:
        if not it.acts or not acts or "*" in acts or any((a, b) in _SAME_ACTION for a in it.acts for b in acts):
            return True
        ss = nv.sentence_stems(k)
        for ck in it.clause:  # another action, but the sentence says what the announcement said
            if len(ck) >= 2 and sum(1 for x in ck if x in ss) >= (len(ck) + 1) // 2:
                return True
    return False
