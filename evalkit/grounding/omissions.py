"""Omissions: salient transcript facts the note leaves out.

Salient facts are medications said as taken or prescribed, doses, allergies, diagnoses
and plan items (a clinician's "I'm going to order / start / refer..." clause naming a
test, drug, referral or follow-up). A fact is covered when the note names the same
concept (synonyms count: "Lasix" covers "furosemide"); a plan item is covered only by a
note sentence that names its concept as an action, so a test mentioned in Results does
not stand in for the order to repeat it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Final

from ..schema import Omission, SpeakerRole
from .allergies import covered_by, transcript_allergies
from .entities import Unit
from .index import UNKNOWN, TranscriptIndex
from .lexicon import GENERIC, GENERIC_FINDINGS, STOPWORDS, Term, stem
from .negation import AFF
from .numbers import DOSE_UNITS
from .records import build

#: what a clinician says to announce a plan item, in order of preference at one position
_PLAN_PHRASES: Final = (
    "i am going to", "i'm going to", "i'm gonna", "i'm gon na", "i am gon na", "gon na", "gonna", "going to",
    "we are going to", "we're going to", "we'll", "we will", "i'll", "i will", "i want you to", "i want to",
    "i wan na", "we wan na", "go ahead and (?=order|prescribe|schedule|refer|send|start|check|get (?:a|an|some|you))",
    "i'd like you to", "i'd like to", "i would like to", "let's", "let us", "you should", "you need to",
    "you'll need to", "you will need to", "i recommend", "i'd recommend", "i would recommend", "recommend",
    "i'm prescribing", "prescribe", "i'm sending", "i'm putting you", "put you on", "start you on", "refer you",
    "make an appointment", "follow up", "come back", "see you back")


def _by_first_letter(phrases: tuple[str, ...]) -> str:
    """One alternation per first letter, each keeping the phrases' order (speed: a word that
    starts with another letter fails at once; the same leftmost-first match as the flat list).

    The word boundary before each phrase is tested after its first letter, as "that letter is
    not preceded by a word character" (``c(?<!\\wc)``, the same test as ``\\bc``): the pattern
    then starts with a set of letters, which the regex engine scans for at C speed.
    """
    groups: dict[str, list[str]] = {}
    for ph in phrases:
        groups.setdefault(ph[0], []).append(ph[1:])
    return "|".join(f"{c}(?<!\\w{c})(?:{'|'.join(rest)})" for c, rest in groups.items())


PLAN_TRIGGER: Final = re.compile(r"(?:" + _by_first_letter(_PLAN_PHRASES) + r")\b")
_NOT_PLAN: Final = re.compile(r"^\W*(?:go ahead and )?(?:take a look|look|examine|check you|listen|ask|talk|review|go over|"
                       r"see how|move|push|press|feel|have you|do a quick|do a physical|bring up|pull up)")
_CLAUSE_END: Final = re.compile(r"[.?!;]")
_WORD: Final = re.compile(r"[a-z]+(?:'[a-z]+)?")
ACTION_CUE: Final = re.compile(
    r"(?:^\W*plan\s*:|\b(?:will|'ll|plan to|planning to|plan is|order|ordered|ordering|schedule|scheduled|start|started|"
    r"starting|continue|continued|refer|referred|referral|prescribe|prescribed|prescription|recommend|"
    r"recommended|advise|advised|follow up|follow-up|followup|obtain|obtained|increase|increased|decrease|"
    r"decreased|stop|stopped|discontinue|discontinued|initiate|initiated|return|repeat|begin|send|sent|"
    r"monitor|should|instructed|encouraged|counseled|given|provided|placed|requested|arrange|arranged|"
    r"consider|pending|resume|hold|wean|taper|titrate|switch|apply|wear|use|take|avoid|limit|give|giving|"
    r"review|book|booked|practise|practice|practising|practicing|recheck|re-check)\b)")
_ACTION_WORDS: Final = {
    "order": "order get obtain send schedule check repeat draw recheck run perform arrange",
    "start": "start prescribe give put initiate begin try add trial",
    "stop": "stop discontinue hold avoid quit cease",
    "increase": "increase raise double bump",
    "decrease": "decrease lower reduce cut taper wean",
    "continue": "continue keep stay maintain resume",
    "refer": "refer referral consult",
}
ACTION_CLASS: Final = {stem(w): k for k, ws in _ACTION_WORDS.items() for w in ws.split()}
_ACTION_STEMS: Final = frozenset(ACTION_CLASS)
PLAN_SECTION: Final = re.compile(r"plan|instruction|recommend|treatment|disposition|assessment|impression")
_STRONG_PLAN: Final = re.compile(r"\W*(?:(?:go ahead and|also|just|probably|definitely|have you|you to|to)\s+)*"
                          r"(?:order|prescribe|start|schedule|refer|increase|decrease|stop|discontinue|repeat|"
                          r"recheck|check|get|send|give|put|switch|add|hold|draw|obtain|push|strain|ice|rest|"
                          r"elevate|wear|avoid|limit|cut|apply|use|drink|continue|keep|monitor|watch|track|"
                          r"stay on|try|take|eat)\b")
_PLAN_OBJECTS: Final = frozenset("""profile panel test tests fluids urine stool culture scan imaging appointment brace
ice rest elevation compression stretches stretching crutches wheelchair cane walker splint sling bandage
cream ointment drops spray patch stockings hydration water salt sugar alcohol caffeine smoking weight
specialist cardiologist dermatologist neurologist orthopedic surgeon podiatrist physical nutritionist
medication medications medicine medicines pills foods food diet sugars sugar pressures readings""".split())
_PLAN_VERBS: Final = frozenset(stem(w) for w in """order prescribe start continue take give send refer schedule check
see come follow make sure want need going get put try keep also go ahead maybe probably little bit okay
just think know talk look back today week weeks month months day days time next soon like really""".split())
_PLAN_CATS: Final = ("drug", "procedure", "activity")


@dataclass
class NoteView:
    """What the note says, as lookups for coverage."""

    stems: set[str]
    concepts: set[str]
    action_concepts: set[str]  # concepts named in a plan-section sentence with an action cue
    concept_actions: dict[str, set[str]]  # concept -> action classes of the plan sentences naming it
    numbers: set[float]
    plan_stems: list[set[str]]  # stems of each plan-section sentence
    plan_keys: list[set[str]]  # stems + concepts + "act:<class>" of each plan-section sentence


def note_view(units: list[Unit], sections: list[str] | None = None) -> NoteView:
    """Lookups over the note's claim units (``sections``: each unit's section key and title)."""
    stems: set[str] = set()
    concepts: set[str] = set()
    action: set[str] = set()
    nums: set[float] = set()
    plan: list[set[str]] = []
    keys: list[set[str]] = []
    cact: dict[str, set[str]] = {}
    in_plan = [bool(PLAN_SECTION.search(sec)) for sec in sections] if sections else [True] * len(units)
    if not any(in_plan):
        in_plan = [True] * len(units)
    for u, p in zip(units, in_plan):
        sts = u.sts
        stems.update(sts)
        cs = {t.canonical for _, _, t in u.matches}
        concepts |= cs
        if p:
            ss = set(sts)
            plan.append(ss)
            hit = ss & _ACTION_STEMS  # most claims name no action word: skip the per-stem loops
            acts = {ACTION_CLASS[x] for x in hit} if hit else set()
            keys.append(ss | cs | {"act:" + a for a in acts})
            if ACTION_CUE.search(u.norm):
                action |= cs
                for c in cs:
                    cact.setdefault(c, set()).update(acts)
        ns = u.numbers()
        if ns:
            nums.update([n.value for n in ns])
    return NoteView(stems, concepts, action, cact, nums, plan, keys)


def _covered(term: Term, nv: NoteView, need_action: bool = False) -> bool:
    pool = nv.action_concepts if need_action else nv.concepts
    if term.canonical in pool:
        return True
    if need_action:
        return False
    key = [s for s in term.stems if s not in STOPWORDS and s not in GENERIC and len(s) > 2]
    return bool(key) and all(s in nv.stems for s in key)


def _clause_covered(canon: str, clause_keys: list[set[str]], nv: NoteView) -> bool:
    """Some plan sentence naming ``canon`` says at least half of what one of its clauses says."""
    if not clause_keys:
        return True
    for ck in clause_keys:
        need = max(min(2, len(ck)), (len(ck) + 1) // 2)
        for pk in nv.plan_keys:
            if canon in pk and len(ck & pk) >= need:
                return True
    return False


def _med_turns(idx: TranscriptIndex, canon: str) -> list[int]:
    key = ("med", canon)
    got = idx.memo.get(key)
    if got is None:
        got = idx.memo[key] = _affirmed_turns(idx, canon)
    return got


def _diagnosis_turns(idx: TranscriptIndex, canon: str) -> list[int]:
    key = ("dx", canon)
    got = idx.memo.get(key)
    if got is None:
        got = idx.memo[key] = sorted(i for i in set(idx.polarities(canon).get(AFF, [])) if i < idx.n_turns)
    return got


def _affirmed_turns(idx: TranscriptIndex, canonical: str) -> list[int]:
    pols = idx.polarities(canonical)
    return sorted(i for i in set(pols.get(AFF, [])) | set(pols.get(UNKNOWN, [])) if i < idx.n_turns)


@dataclass
class Facts:
    """The salient facts of one transcript (independent of any note; memoised on the index)."""

    terms: dict[str, Term]
    plan: list[tuple[str, list[int], set[str], list[set[str]]]]  # concept, turns, action classes, clause keys
    generic: list[tuple[int, list[str], str]]  # turn, key stems, words
    meds: list[str]  # candidates: salient when the dialogue affirms them (decided lazily)
    doses: list[tuple[str, set[float], int]]  # concept, readings, turn
    allergies: list[tuple[str, str, int]]  # substance as said, key (drug concept or stems), turn
    diagnoses: list[str]  # candidates, as for meds


def transcript_facts(idx: TranscriptIndex) -> Facts:
    """Salient facts of the transcript: plan items, medications, doses, allergies, diagnoses."""
    got = idx.memo.get("facts")
    if got is None:
        got = idx.memo["facts"] = _facts(idx)
    return got


def _facts(idx: TranscriptIndex) -> Facts:
    terms: dict[str, Term] = {}
    for u in idx.units:
        for _, _, t in u.matches:
            terms.setdefault(t.canonical, t)
    plan_concepts: dict[str, list[int]] = {}
    plan_actions: dict[str, set[str]] = {}
    plan_keys: dict[str, list[set[str]]] = {}
    generic_items: list[tuple[int, list[str], str]] = []
    for i, u in enumerate(idx.units[:idx.n_turns]):
        if idx.roles[i] == SpeakerRole.PATIENT:
            continue
        norm = u.norm
        for m in PLAN_TRIGGER.finditer(norm):
            m_end = m.end()
            if _NOT_PLAN.match(norm, m_end):
                continue
            end_m = _CLAUSE_END.search(norm, m_end)
            end = min(end_m.start() if end_m else len(norm), m_end + 100)
            offs = u.offsets()
            n_offs = len(offs)
            named = False
            k0 = bisect_left(offs, m_end)
            act = next((ACTION_CLASS[x] for x in u.sts[k0:k0 + 5] if x in ACTION_CLASS), None)
            ckey: set[str] | None = None
            for s0, e0, t in u.matches:
                if t.category in _PLAN_CATS and s0 < n_offs and m_end <= offs[s0] < end:
                    named = True
                    if ckey is None:
                        ckey = {stem(w) for w in _WORD.findall(u.norm[m.end():end]) if w not in STOPWORDS
                                and w not in GENERIC and len(w) > 3 and stem(w) not in _PLAN_VERBS}
                        ckey |= {"act:" + act} if act else set()
                    plan_keys.setdefault(t.canonical, []).append(ckey | {t.canonical})
                    turns = plan_concepts.setdefault(t.canonical, [])
                    if i not in turns:
                        turns.append(i)
                    if act:
                        plan_actions.setdefault(t.canonical, set()).add(act)
            if not named and _STRONG_PLAN.match(u.norm, m.end()):
                clause = [(s0, t) for s0, e0, t in u.matches if s0 < len(offs) and m.end() <= offs[s0] < end
                          and t.category in ("condition", "measure")]
                words = [w for w in _WORD.findall(u.norm[m.end():end]) if w not in STOPWORDS and w not in GENERIC
                         and len(w) > 3 and not w[0].isdigit()]
                if not clause and not any(w in _PLAN_OBJECTS for w in words) and i < idx.n_turns * 0.4:
                    continue
                key = list(dict.fromkeys(stem(w) for w in words if stem(w) not in _PLAN_VERBS))[:6]
                if len(key) >= 2:
                    generic_items.append((i, key, " ".join(words[:8])))
    plan = [(c, turns, plan_actions.get(c, set()), plan_keys.get(c, [])) for c, turns in plan_concepts.items()
            if c in terms]
    seen = {c for c, *_ in plan}
    # medications and diagnoses are candidates here; whether the dialogue affirms them is
    # decided only for the ones a note leaves out (see find_omissions), which saves time
    al = transcript_allergies(idx)

    def only_allergy(canon: str) -> bool:
        # said only as an allergy ("allergic to penicillin"): not a medication, not a diagnosis
        return bool(al.positions) and all(h in al.positions for h in idx.concept_turns[canon] if h[0] < idx.n_turns)

    meds: list[str] = []
    for canon in idx.concept_turns:
        term = terms.get(canon)
        if term is None or term.category != "drug" or canon in seen or only_allergy(canon):
            continue
        meds.append(canon)
        seen.add(canon)
    doses: list[tuple[str, set[float], int]] = []
    for canon in sorted(c for c in seen if terms[c].category == "drug"):  # sorted: same order every run
        for i, tok in [h for h in idx.concept_turns.get(canon, ()) if h[0] < idx.n_turns][:6]:
            val = _dose_after(idx.units[i], tok)
            if val is not None:
                doses.append((canon, val, i))
                break
    allergies = [(a.substance, a.key, a.turn) for a in al.items]
    diagnoses: list[str] = []
    for canon in idx.concept_turns:
        term = terms.get(canon)
        if term is None or term.category != "condition" or canon in seen:
            continue
        if all(s in GENERIC_FINDINGS or s in STOPWORDS for s in term.stems) or only_allergy(canon):
            continue
        diagnoses.append(canon)
        seen.add(canon)
    return Facts(terms, plan, generic_items, meds, doses, allergies, diagnoses)


def find_omissions(idx: TranscriptIndex, units: list[Unit],
                   sections: list[str] | None = None) -> tuple[list[Omission], int]:
    """Salient transcript facts missing from the note, and how many salient facts there were.

    Args:
        idx: the transcript index.
        units: the note's claims, analysed (one :class:`Unit` each).
        sections: each claim's section key and title (plan items must be covered in a
            plan-like section when the note has one).
    """
    facts = transcript_facts(idx)
    terms = facts.terms
    nv = note_view(units, sections)
    out: list[Omission] = []
    ids = idx.ids

    def add(text: str, category: str, severity: str, turns: list[int]) -> None:
        out.append(build(Omission, id=f"om{len(out)}", text=text, category=category, severity=severity,
                         evidence=[ids[i] for i in turns[:3]]))

    for canon, turns, acts, keys in facts.plan:
        t = terms[canon]
        said = nv.concept_actions.get(canon)
        if not _covered(t, nv, need_action=True) or (acts and said and not acts & said) \
                or not _clause_covered(canon, keys, nv):
            verb = "/".join(sorted(acts))
            add(f"plan: {verb + ' ' if verb else ''}{t.text}", "plan", "major", turns)
    done: set[str] = set()
    n_generic = 0
    for i, key, words in facts.generic:
        sig = " ".join(sorted(key))
        if sig in done:
            continue
        done.add(sig)
        n_generic += 1
        need = max(2, (2 * len(key) + 2) // 3)
        if not any(sum(1 for k in key if k in ps) >= need for ps in nv.plan_stems):
            add(f"plan: {words}", "plan", "minor", [i])
    n_meds = n_diag = 0
    for canon in facts.meds:
        covered = _covered(terms[canon], nv)
        said_in = _med_turns(idx, canon) if not covered else None
        if covered or said_in:
            n_meds += 1  # a covered medication counts as salient without asking how it was said
        if said_in:
            add(f"medication: {terms[canon].text}", "medication", "major", said_in)
    n_doses = 0
    for canon, val, i in facts.doses:
        if not _covered(terms[canon], nv):
            continue
        n_doses += 1
        if not any(v in nv.numbers for v in val):
            add(f"dose: {terms[canon].text} {max(val):g}", "dose", "major", [i])
    for what, akey, i in facts.allergies:
        if not covered_by(akey, nv.stems, nv.concepts):
            add(f"allergy: {what}", "allergy", "major", [i])
    for canon in facts.diagnoses:
        covered = _covered(terms[canon], nv)
        said_in = _diagnosis_turns(idx, canon) if not covered else None
        if covered or said_in:
            n_diag += 1
        if said_in:
            add(f"diagnosis: {terms[canon].text}", "diagnosis", "minor", said_in)
    salient = len(facts.plan) + n_generic + n_meds + n_doses + len(facts.allergies) + n_diag
    return out, salient


def _dose_after(u: Unit, tok: int) -> set[float] | None:
    """Readings of a number followed by a dose unit within six tokens after the drug."""
    from .numbers import NUMBER_WORDS, word_number_readings

    toks = u.toks
    j = tok + 1
    n = len(toks)
    while j < n and j <= tok + 6:
        if toks[j][0].isdigit() or toks[j] in NUMBER_WORDS:
            k = j
            while k < n and (toks[k][0].isdigit() or toks[k] in NUMBER_WORDS or toks[k] == "and"):
                k += 1
            if k < n and toks[k] in DOSE_UNITS:
                if toks[j][0].isdigit():
                    try:
                        return {float(toks[j])}
                    except ValueError:
                        return None
                return word_number_readings(toks[j:k])
            return None
        j += 1
    return None
