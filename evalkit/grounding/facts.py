"""Salient transcript facts: what a complete note of the visit would say.

Built once per transcript (memoised on the index), independent of any note:

- plan items: a clinician's "I'm going to order / start / refer..." clause, with the test, drug,
  referral or activity it announces within a few words of the announcement ("we'll go ahead and
  put you on some lasix"), or an instruction in plain words naming a plan object ("I want you to
  use crutches for the next couple of days"); looking, examining and asking are not plan items;
- follow-up: "I'll see you again in three months", "come back in two weeks";
- results the clinician reviewed in the visit ("looking at your x-ray", "the MRI shows");
- the clinician's diagnoses ("I think you have a strain", "for your second problem of your
  reflux", "a diagnosis of acute disc herniation"), not the symptoms;
- medications said as taken or prescribed, their doses, allergies, affirmed red-flag symptoms.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

from ..schema import SpeakerRole
from .allergies import transcript_allergies
from .index import TranscriptIndex
from .lexicon import GENERIC, STOPWORDS, Term, grounding_dir, lexicon, stem, tokenize
from .severity import red_flags
from .numbers import DOSE_UNITS, NUMBER_WORDS, word_number_readings

#: what a clinician says to announce a plan item, in order of preference at one position
_PLAN_PHRASES: Final = (
    "i am going to", "i'm going to", "i'm gonna", "i'm gon na", "i am gon na", "gon na", "gonna", "going to",
    "we are going to", "we're going to", "we'll", "we will", "i'll", "i will", "i want you to", "i want to",
    "i wan na", "we wan na", "go ahead and (?=order|prescribe|schedule|refer|send|start|check|get (?:a|an|some|you))",
    "i'd like you to", "i'd like to", "i would like to", "let's", "let us", "you should", "you need to",
    "you'll need to", "you will need to", "i recommend", "i'd recommend", "i would recommend", "recommend",
    "i'm prescribing", "prescribe", "i'm sending", "i'm putting you", "put you on", "start you on", "refer you",
    "make an appointment", "follow up", "come back", "see you back", "we may need to", "we might need to",
    "we may have to", "we might have to", "we need to", "we could", "we can", "you can",
    "order (?=a |an |the |some |you |him |her )")


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
#: what follows a trigger when the clinician announces an exam, a question or a look at results,
#: not a plan item ("let's take a look at the x-ray", "i'm going to listen to your heart");
#: ``match`` at the trigger's end anchors it there
NOT_PLAN: Final = re.compile(
    r"\W*(?:(?:go ahead and|just|quickly|also|now|first|then|kind of|like)\s+)*(?:(?:do|have) (?:a |my |your |the )?"
    r"(?:quick |brief |real quick |little )?(?:look|exam|physical|examination)|take (?:a |another |one more )?"
    r"(?:quick )?look|look|examine|check you|check (?:your|on) (?:heart|lungs|belly|abdomen|back|neck|reflexes|"
    r"strength|skin|eyes|ears)|listen|ask|talk|review|go over|see (?:the|your|what|how|if|that)|see how|wait|move|"
    r"push|press|feel|have you (?:had|been|noticed|ever|experienced|tried|taken)|do a quick|do a physical|"
    r"bring up|pull up|show|tell you|explain|start (?:with|by) (?:a|an|the|your|my) (?:exam|physical|look))")
_CLAUSE_END: Final = re.compile(r"[.?!;]")
#: just before a trigger: a question or a past event, not a plan ("did they put you on", "we had put you on")
_ASKED_OR_DONE: Final = re.compile(r"\b(?:(?:did|do|does|have|has|were|was) (?:you|they|he|she|we|someone|your [a-z]+|"
                                   r"the [a-z]+)|had|have already|has already|were|was|means(?: is)?|meaning) ?$")
#: words that end what a plan announcement names ("we will refer you to physical therapy i think with the mri")
_BREAK: Final = re.compile(r"\b(?:i think|if|because|but|so that|whether|unless|okay|alright|all right|now i)\b")
#: a clinician correcting what was just announced ("order a ct ... nope, you know what, let's upgrade to an mri")
_CORRECTION: Final = re.compile(r"\b(?:nope|actually|instead|rather|no wait|on second thought|scratch that|upgrade)\b")
_WORD: Final = re.compile(r"[a-z]+(?:'[a-z]+)?")
_ACTION_WORDS: Final = {
    "order": "order get obtain send schedule check repeat draw recheck run perform arrange",
    "start": "start prescribe give put initiate begin try add trial provide place",
    "stop": "stop discontinue hold avoid quit cease",
    "increase": "increase raise double bump",
    "decrease": "decrease lower reduce cut taper wean",
    "continue": "continue keep stay maintain resume",
    "take": "take use apply",
    "refer": "refer referral consult",
}
ACTION_CLASS: Final = {stem(w): k for k, ws in _ACTION_WORDS.items() for w in ws.split()}
#: a concept announced more than this many words after the announcement is not what it announces
#: ("i want to be able to like we had you do an x-ray before you came in")
MAX_GAP: Final = 8
_STRONG_PLAN: Final = re.compile(r"\W*(?:(?:go ahead and|also|just|probably|definitely|have you|you to|to)\s+)*"
                          r"(order|prescribe|start|schedule|refer|increase|decrease|stop|discontinue|repeat|"
                          r"recheck|check|get|send|give|put|switch|add|hold|draw|obtain|push|strain|ice|rest|"
                          r"elevate|wear|avoid|limit|cut|apply|use|drink|continue|keep|monitor|watch|track|weigh|"
                          r"stay on|try|take|eat)\b")
#: what an instruction in plain words must name to be a plan item
_PLAN_OBJECTS: Final = frozenset("""profile panel test tests fluids urine stool culture scan imaging appointment brace
ice rest elevation compression stretches stretching crutches wheelchair cane walker splint sling bandage strainer
cream ointment drops spray patch stockings hydration water salt sugar alcohol caffeine smoking weight
specialist cardiologist dermatologist neurologist orthopedic surgeon podiatrist nutritionist sunscreen
pills foods food diet sugars pressures readings chemotherapy radiation regimen consult consultation evaluation
index study studies biopsy scope emergency shoe shoes boot dressing""".split())
#: verbs that announce a plan item whatever its words name ("i want to order an ankle brachial index")
_ORDER_VERBS: Final = frozenset(("order", "prescribe", "refer", "schedule", "send", "draw", "obtain"))
_FILLERS: Final = frozenset("um uh uhm er ah mm hmm like kinda sorta".split())
#: instructions that are plan items by their verb ("ice it", "weigh yourself every day")
_SELF_CARE: Final = frozenset("ice rest elevate wear avoid limit drink weigh monitor track push strain apply eat".split())
_NP_SKIP: Final = frozenset("you him her them me us your his their a an the some any of on with to off this that these "
                            "those it up more little bit".split())
_NP_END: Final = frozenset("to for so that until when if because in at every about and then which while but as "
                           "before after since or".split())
_NOT_KEY: Final = frozenset("""something called thing things stuff current same new other additional further different
wan gon na one two three four five six seven eight nine ten twenty thirty forty fifty hundred""".split())
_PLAN_VERBS: Final = frozenset(stem(w) for w in """order prescribe start continue take give send refer schedule check
see come follow make sure want need going get put try keep also go ahead maybe probably little bit okay
just think know talk look back today week weeks month months day days time next soon like really""".split())
PLAN_CATS: Final = ("drug", "procedure", "activity")
#: lexicon matches too vague to name a plan item ("order the procedures", "a topical therapy")
_VAGUE: Final = frozenset(("therapy", "procedure", "procedures", "treatment", "medicine", "medication"))
_VACCINE: Final = stem("vaccine")
#: words between "refer" and whom the patient is referred to
_REFER_SKIP: Final = frozenset("you him her them back over to a an the see with for over also".split())
#: "i'll see you again in three months", "over the next six months and follow up at that time"
_FOLLOW_UP: Final = re.compile(
    r"\b(?:see (?:you|me|him|her)(?: again| back)?|follow(?:-| )?up|come back|check back|recheck|bring you back|"
    r"touch base)\b")
_INTERVAL_WORDS: Final = re.compile(r"days?\b|weeks?\b|months?\b|years?\b")
_INTERVAL: Final = re.compile(
    r"\b(?:in|after|next|another|for) (?:about |around |like |another |roughly |approximately )?(?P<n>a|an|one|two|"
    r"three|four|five|six|eight|ten|twelve|couple(?: of)?|few|\d+) (?P<u>days?|weeks?|months?|years?)\b")
_RESULT_CUE: Final = re.compile(
    r"\b(?:results?|shows?|showed|shown|reveal(?:s|ed)?|came back|reviewed|looking at|look(?:ed)? at|"
    r"show me|demonstrat\w*|unremarkable|i (?:do not|don't) see|i'm not (?:seeing|noticing)|looks? (?:good|normal|"
    r"okay|fine|great))\b")
#: a result still to come ("let's wait for the mri result")
_AWAITED: Final = re.compile(r"\b(?:wait(?:ing)? (?:for|on)|pending|once we (?:get|have)|when we get|after we get|until)\b")
#: tests whose result, reviewed in the visit, a note reports
_TESTS: Final = ("x-ray", "magnetic resonance imaging", "computed tomography", "ultrasound", "echocardiogram",
                 "electrocardiogram", "blood work", "mammogram", "urinalysis", "hemoglobin a1c", "lipid panel",
                 "complete blood count", "basic metabolic panel", "comprehensive metabolic panel")
_ASSESS: Final = re.compile(
    r"\b(?:i think (?:that )?(?:what )?(?:you (?:have|are in|are having|probably have|might have|may have|"
    r"probably|likely)|it's|this is|that's|it is|you've)|diagnos(?:is|ed|e)|consistent with|what(?:'s| is) "
    r"called|problem of|problem ,? (?:your|the)|(?:first|second|third|fourth|fifth|next|last) problem|"
    r"sounds like you(?: probably| likely)?(?: have)?|looks like you(?: have)?|impression|assessment|"
    r"i(?:'m| am) seeing|what i see)\b")
#: a cheap test for :data:`_ASSESS` (a set of first letters is scanned at C speed)
_ASSESS_WORDS: Final = re.compile(r"think|diagnos|consistent|called|problem|sounds like|looks like|impression|"
                                  r"assessment|seeing|what i see")
#: how far after an assessment cue its diagnosis may come ("what i'm seeing from your exam today is mild to
#: moderate acne")
_DX_GAP: Final = 10
#: words that make a diagnosis a new one: "acute heart failure exacerbation" is not the history of heart failure
_ACUTE: Final = frozenset(stem(w) for w in "acute exacerbation flare flareup worsening uncontrolled".split())


@dataclass
class PlanItem:
    """A plan item said in the visit."""

    canon: str  # lexicon concept; "" for an item named in plain words
    turns: list[int]
    acts: set[str]  # action classes said with it ("order", "start"...)
    text: str  # how the omission reads ("order x-ray", "refer to psychiatry")
    key: tuple[str, ...] = ()  # content stems (plain-word items and referrals)
    clause: list[set[str]] = field(default_factory=list)  # content stems of each clause announcing it
    dose: tuple[str, set[float]] | None = None  # a plain-word drug's name and dose ("robaxin", {1500})


@dataclass
class Assessed:
    """A diagnosis the clinician gives."""

    canon: str
    turns: list[int]
    acute: set[str]  # words that make it a new episode ("acute", "exacerbation"): the note must say one
    text: str  # as said ("acute heart failure exacerbation")


@dataclass
class Facts:
    """The salient facts of one transcript (independent of any note; memoised on the index)."""

    terms: dict[str, Term]
    plan: list[PlanItem]  # items naming a lexicon concept
    generic: list[PlanItem]  # items in plain words, referrals by whom
    follow_ups: list[tuple[str, float, str, int]]  # text, interval value, unit, turn
    results: list[tuple[str, int]]  # test concept, turn
    assessed: list[Assessed]  # the clinician's diagnoses
    meds: list[str]  # candidates: salient when the dialogue affirms them (decided lazily)
    doses: list[tuple[str, set[float], int]]  # concept, readings, turn
    allergies: list[tuple[str, str, int]]  # substance as said, key (drug concept or stems), turn
    symptoms: list[str] = field(default_factory=list)  # red-flag candidates: salient when the patient has them


def transcript_facts(idx: TranscriptIndex) -> Facts:
    """Salient facts of the transcript (memoised on the index)."""
    got = idx.memo.get("facts")
    if got is None:
        got = idx.memo["facts"] = _facts(idx)
    return got


_display: dict[str, str] = {}


def display_name(t: Term, said: list[str] | None = None) -> str:
    """How an omission names a concept: as said (``said``: the words), or by its group's first
    name when said as a two-letter abbreviation ("pt" -> "physical therapy")."""
    text = " ".join(said) if said else t.text
    return text if len(text) > 2 else group_name(t)


def group_name(t: Term) -> str:
    """The first name of a concept's synonym group ("suicidal ideation" for "hurt yourself")."""
    got = _display.get(t.canonical)
    if got is None:
        lx = lexicon()
        st = tuple(t.canonical.split())
        got = next((x.text for x in lx.first.get(st[0], ()) if x.stems == st), t.text) if st else t.text
        _display[t.canonical] = got
    return got


def _content(words: list[str]) -> list[str]:
    return [w for w in words if w not in STOPWORDS and w not in GENERIC and len(w) > 2 and not w[0].isdigit()]


def _plan(idx: TranscriptIndex, terms: dict[str, Term]) -> tuple[list[PlanItem], list[PlanItem]]:
    items: dict[str, PlanItem] = {}
    generic: list[PlanItem] = []
    seen_keys: set[str] = set()
    n = idx.n_turns
    for i, u in enumerate(idx.units[:n]):
        if idx.roles[i] == SpeakerRole.PATIENT:
            continue
        norm = u.norm
        offs: list[int] | None = None
        cands: list[tuple[int, int, Term]] | None = None  # the turn's plan concepts, in order
        starts: list[int] = []
        for m in PLAN_TRIGGER.finditer(norm):
            m_end = m.end()
            if NOT_PLAN.match(norm, m_end):
                continue
            if offs is None:
                offs = u.offsets()
                cands = [x for x in u.matches if x[2].category in PLAN_CATS and x[2].text not in _VAGUE]
                starts = [x[0] for x in cands]
            k0 = bisect_left(offs, m_end)
            lo, hi = bisect_left(starts, k0), bisect_left(starts, k0 + MAX_GAP + 1)
            sp = None
            if lo == hi:  # no concept close enough: an instruction in plain words?
                sp = _STRONG_PLAN.match(norm, m_end)
                if sp is None:
                    continue
            if _ASKED_OR_DONE.search(norm, max(0, m.start() - 32), m.start()):
                continue  # "did your doctor put you on any antibiotics?", "we had put you on the prozac"
            end_m = _CLAUSE_END.search(norm, m_end)
            end = min(end_m.start() if end_m else len(norm), m_end + 100)
            brk = _BREAK.search(norm, m_end, end)
            if brk is not None:
                end = brk.start()
            kt = bisect_left(offs, m.start())
            named = False
            for s0, e0, t in cands[lo:hi]:  # type: ignore[index]
                if offs[s0] >= end or u.polarity(s0) == "negated":
                    continue
                named = True
                if _corrected(u, e0, t.category):
                    continue
                canon = t.canonical
                act = next((ACTION_CLASS[x] for x in reversed(u.sts[kt:s0]) if x in ACTION_CLASS), None)
                if canon == "referral":
                    _referral(u, e0, i, generic, seen_keys)
                    continue
                it = items.get(canon)
                if it is None:
                    it = items[canon] = PlanItem(canon, [], set(), display_name(t, u.toks[s0:e0]))
                if i not in it.turns:
                    it.turns.append(i)
                it.clause.append({x for x in map(stem, _content(_WORD.findall(norm[m_end:end])))
                                  if len(x) > 3 and x not in _PLAN_VERBS and x not in t.stems})
                if act:
                    it.acts.add(act)
            if not named:
                if sp is None:
                    sp = _STRONG_PLAN.match(norm, m_end)
                if sp is not None:
                    _plain_item(u, i, sp.end(), end, generic, seen_keys,
                                sp.group(1) in _ORDER_VERBS and i >= n * 0.4)
    plan = [it for c, it in items.items() if c in terms]
    for it in plan:
        verb = "/".join(sorted(it.acts))
        it.text = f"{verb} {it.text}" if verb else it.text
    return plan, generic


def _corrected(u, e0: int, category: str) -> bool:
    """Whether the clinician takes the item back for another of its kind within a few words."""
    offs = u.offsets()
    at = offs[e0 - 1]
    c = _CORRECTION.search(u.norm, at, at + 80)
    if c is None:
        return False
    return any(t.category == category and offs[s] > c.start() and offs[s] < c.end() + 60 for s, _, t in u.matches)


def _referral(u, e0: int, i: int, out: list[PlanItem], seen: set[str]) -> None:
    """A referral to whom the clinician names ("refer you to psychiatry"); a referral to a
    lexicon concept ("refer you back to pt") is that concept's plan item."""
    toks = u.toks
    j = e0
    while j < len(toks) and j < e0 + 4 and toks[j] in _REFER_SKIP:
        j += 1
    if any(s == j for s, _, t in u.matches if t.category in PLAN_CATS):
        return
    words: list[str] = []
    while j < len(toks) and len(words) < 3 and toks[j] not in STOPWORDS and toks[j][0].isalpha():
        words.append(toks[j])
        j += 1
    key = tuple(dict.fromkeys(stem(w) for w in _content(words)))
    sig = " ".join(sorted(key))
    if key and sig not in seen:
        seen.add(sig)
        out.append(PlanItem("", [i], {"refer"}, "refer to " + " ".join(words), key))


def _plain_item(u, i: int, start: int, end: int, out: list[PlanItem], seen: set[str], ordered: bool) -> None:
    """An instruction in plain words: kept when it names a plan object, a dose or a new name ("something
    called robaxin"), is self-care ("ice", "weigh yourself every day"), or is an order in the plan part
    of the visit ("i want to order an ankle brachial index")."""
    norm = u.norm
    verb = norm[norm.rfind(" ", 0, start - 1) + 1:start].strip()
    words = [w for w in _WORD.findall(norm[start:end]) if w not in _FILLERS]
    content = _content(words)
    called = words.index("called") if "called" in words[:-1] else -1
    if called >= 0:  # "something called robaxin": the name is the item
        np = [stem(words[called + 1])]
    else:
        np = _noun_phrase(words)
    self_care = verb in _SELF_CARE
    if self_care:
        np = [stem(verb)] + np
    objects = any(w in _PLAN_OBJECTS for w in content)
    dosed = any(t in DOSE_UNITS for t in tokenize(norm[start:end]))
    if not (objects or dosed or ordered or self_care or called >= 0) or not np:
        return
    key = tuple(dict.fromkeys(np + [x for x in map(stem, content) if x not in _PLAN_VERBS and x not in ACTION_CLASS
                                    and x not in _NOT_KEY]))[:6]
    sig = " ".join(sorted(key))
    if sig in seen or (len(key) < 2 and called < 0 and not self_care):
        return
    seen.add(sig)
    same = next((it for it in out if it.key and it.key[0] == np[0]), None)
    if same is not None:  # "something called robaxin" ... "put you on some robaxin, 1500 milligrams": one item
        if i not in same.turns:
            same.turns.append(i)
        if same.dose is None and dosed:
            same.dose = _plain_dose(norm[start:end], words, np)
        return
    dose = _plain_dose(norm[start:end], words, np) if dosed else None
    out.append(PlanItem("", [i], set(), " ".join([verb] + words[:9]).strip(), tuple(dict.fromkeys(np)),
                        [set(key)], dose))


def _plain_dose(text: str, words: list[str], np: list[str]) -> tuple[str, set[float]] | None:
    """The named drug and its dose in an instruction in plain words."""
    toks = tokenize(text)
    val = next((v for j in range(len(toks)) if toks[j][0].isdigit() or toks[j] in NUMBER_WORDS
                for v in [_dose_after(toks, j - 1)] if v), None)
    name = next((w for w in words if stem(w) in np and w not in DOSE_UNITS), None)
    return (name, val) if val and name else None


def _noun_phrase(words: list[str]) -> list[str]:
    """Content stems of what the instruction names: after "you some", before "to", "for", "so"...
    ("an ankle brachial index abi to determine the blood supply" -> ankl brachial index abi)."""
    j = 0
    while j < len(words) and words[j] in _NP_SKIP:
        j += 1
    out: list[str] = []
    while j < len(words) and len(out) < 5 and words[j] not in _NP_END:
        w = words[j]
        if w not in STOPWORDS and w not in GENERIC and w not in _NOT_KEY and len(w) > 2:
            out.append(stem(w))
        j += 1
    return out


_UNIT: Final = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
                "year": "year", "years": "year"}
_COUNT: Final = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
                 "eight": 8.0, "ten": 10.0, "twelve": 12.0, "couple": 2.0, "couple of": 2.0, "few": 3.0}


def _follow_ups(idx: TranscriptIndex) -> list[tuple[str, float, str, int]]:
    out: list[tuple[str, float, str, int]] = []
    first = int(idx.n_turns * 0.4 + 0.999)
    for i in range(first, idx.n_turns):
        u = idx.units[i]
        if idx.roles[i] == SpeakerRole.PATIENT or not _INTERVAL_WORDS.search(u.norm):
            continue
        for f in _FOLLOW_UP.finditer(u.norm):
            m = _INTERVAL.search(u.norm, f.end(), f.end() + 40) or _INTERVAL.search(u.norm, max(0, f.start() - 50),
                                                                                     f.start())
            if m is None:
                continue
            num = m.group("n")
            val = float(num) if num[0].isdigit() else _COUNT.get(num, 0.0)
            unit = _UNIT[m.group("u")]
            if not out or out[-1][1:3] != (val, unit):
                out.append((f"in {num} {m.group('u')}", val, unit, i))
    return out[-1:]  # the last one said is the one agreed


DAYS: Final = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}


def interval_days(text: str) -> list[float]:
    """The intervals a text gives ("in 2 weeks", "in three months"), in days."""
    out = []
    for m in _INTERVAL.finditer(text):
        num = m.group("n")
        out.append((float(num) if num[0].isdigit() else _COUNT.get(num, 0.0)) * DAYS[_UNIT[m.group("u")]])
    return out


def same_interval(days: float, said: list[float]) -> bool:
    """Whether ``days`` is one of the intervals ``said`` (4 weeks is a month, 12 months a year)."""
    return any(0.85 <= d / days <= 1.2 for d in said) if days else True


def _results(idx: TranscriptIndex, terms: dict[str, Term]) -> list[tuple[str, int]]:
    tests = _test_concepts()
    out: dict[str, int] = {}
    for canon, hits in idx.concept_turns.items():
        if canon not in tests or canon in out:
            continue
        for i, tok in hits:
            if i >= idx.n_turns:
                continue
            u = idx.units[i]
            offs = u.offsets()
            if idx.roles[i] == SpeakerRole.PATIENT:  # a value the patient gives ("my last a1c was a little over eight")
                if any(t[0].isdigit() or t in NUMBER_WORDS for t in u.toks[tok + 1:tok + 7]):
                    out[canon] = i
                    break
                continue
            lo, hi = offs[max(0, tok - 12)], offs[min(len(offs) - 1, tok + 12)]
            before = offs[max(0, tok - MAX_GAP)]
            if _RESULT_CUE.search(u.norm, lo, hi + 12) and not _announced(u.norm, before, offs[tok]) \
                    and not _AWAITED.search(u.norm, before, offs[tok]):
                out[canon] = i
                break
    return [(c, i) for c, i in out.items() if c in terms]


def _announced(norm: str, lo: int, hi: int) -> bool:
    """Whether a plan announcement stands between ``lo`` and ``hi`` ("we'll get an x-ray", not "let's
    take a look at the x-ray")."""
    return any(not NOT_PLAN.match(norm, m.end()) for m in PLAN_TRIGGER.finditer(norm, lo, hi))


_TEST_CANONS: list[frozenset[str]] = []


def _test_concepts() -> frozenset[str]:
    if not _TEST_CANONS:
        lx = lexicon()
        _TEST_CANONS.append(frozenset(t.canonical for t in map(lx.find, _TESTS) if t is not None))
    return _TEST_CANONS[0]


_NOT_DX: list[frozenset[str]] = []
#: findings too vague to be the diagnosis ("i think it's the pain")
_VAGUE_DX: Final = frozenset(stem(w) for w in "pain swelling ache sore hurt discomfort tender mass lump".split())


def not_diagnoses() -> frozenset[str]:
    """Concepts that are findings or symptoms, not diagnoses (``findings.txt``, ``symptoms.txt``)."""
    if not _NOT_DX:
        lx = lexicon()
        names: list[str] = []
        for f in ("findings.txt", "symptoms.txt"):
            for line in (grounding_dir() / f).read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip().lower()
                if line:
                    names.append(line)
        _NOT_DX.append(frozenset(t.canonical for t in map(lx.find, names) if t is not None) | lx.symptoms)
    return _NOT_DX[0]


def _assessed(idx: TranscriptIndex, terms: dict[str, Term]) -> list[Assessed]:
    """Conditions the clinician names as the diagnosis: within a few words after an assessment cue."""
    skip = not_diagnoses()
    out: dict[str, Assessed] = {}
    for i, u in enumerate(idx.units[:idx.n_turns]):
        if idx.roles[i] == SpeakerRole.PATIENT or not any(t.category == "condition" for _, _, t in u.matches):
            continue
        if not _ASSESS_WORDS.search(u.norm):
            continue
        cues = [m.end() for m in _ASSESS.finditer(u.norm)]
        if not cues:
            continue
        offs = u.offsets()
        sts = u.sts
        for c_end in cues:
            k0 = bisect_left(offs, c_end)
            for s0, e0, t in u.matches:
                if s0 < k0 or s0 - k0 > _DX_GAP or t.category != "condition" or t.canonical in skip:
                    continue
                if all(s in _VAGUE_DX or s in STOPWORDS for s in t.stems) or u.polarity(s0) not in ("affirmed", "possible"):
                    continue
                a = out.get(t.canonical)
                if a is None:
                    lo = s0 - 1 if s0 > 0 and sts[s0 - 1] in _ACUTE else s0
                    hi = e0 + 1 if e0 < len(sts) and sts[e0] in _ACUTE else e0
                    a = out[t.canonical] = Assessed(t.canonical, [], {x for x in sts[lo:hi] if x in _ACUTE},
                                                    " ".join(u.toks[lo:hi]))
                if i not in a.turns:
                    a.turns.append(i)
    return [a for c, a in out.items() if c in terms]


def _facts(idx: TranscriptIndex) -> Facts:
    terms: dict[str, Term] = {}
    for u in idx.units:
        for _, _, t in u.matches:
            terms.setdefault(t.canonical, t)
    plan, generic = _plan(idx, terms)
    seen = {it.canon for it in plan}
    al = transcript_allergies(idx)

    def only_allergy(canon: str) -> bool:
        # said only as an allergy ("allergic to penicillin"): not a medication, not a diagnosis
        return bool(al.positions) and all(h in al.positions for h in idx.concept_turns[canon] if h[0] < idx.n_turns)

    meds: list[str] = []
    for canon in idx.concept_turns:
        term = terms.get(canon)
        if term is None or term.category != "drug" or canon in seen or only_allergy(canon) \
                or term.stems[-1] == _VACCINE:  # a vaccine given is not a medication taken
            continue
        meds.append(canon)
        seen.add(canon)
    doses: list[tuple[str, set[float], int]] = []
    for canon in sorted(c for c in seen if terms[c].category == "drug"):  # sorted: same order every run
        for i, tok in [h for h in idx.concept_turns.get(canon, ()) if h[0] < idx.n_turns][:6]:
            val = _dose_after(idx.units[i].toks, tok)
            if val is not None:
                doses.append((canon, val, i))
                break
    allergies = [(a.substance, a.key, a.turn) for a in al.items]
    assessed = [a for a in _assessed(idx, terms) if not only_allergy(a.canon)]
    flags = red_flags()  # a red-flag symptom the patient has is salient; other symptoms are left to the reader
    dx = {a.canon for a in assessed}
    symptoms = [c for c in idx.concept_turns if c in flags and c in terms and c not in dx and not only_allergy(c)]
    return Facts(terms, plan, generic, _follow_ups(idx), _results(idx, terms), assessed, meds, doses, allergies,
                 symptoms)


def _dose_after(toks: list[str], tok: int) -> set[float] | None:
    """Readings of a number followed by a dose unit within six tokens after the drug (token ``tok``)."""
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
