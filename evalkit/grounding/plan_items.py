"""Plan items: what the clinician announces will be done ("I'm going to order / start / refer...").

A plan item is a test, drug, referral or activity named within a few words of a clinician's
announcement ("we'll go ahead and put you on some lasix"), with the action said ("start"); or an
instruction in plain words that names a plan object, a dose, a new name or self-care ("I want you
to use crutches for the next couple of days", "something called robaxin", "weigh yourself every
day"); or an order in the plan part of the visit ("I want to order an ankle brachial index").
Looking, examining, asking and explaining are not plan items ("let's take a look at the x-ray"),
nor a question or a past event ("did they put you on any antibiotics", "we had put you on the
prozac"), nor what the clinician takes back ("order a ct ... nope, let's upgrade to an mri").
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

from ..schema import SpeakerRole
from .entities import Unit
from .index import TranscriptIndex
from .lexicon import GENERIC, STOPWORDS, Term, lexicon, stem, tokenize
from .numbers import DOSE_UNITS, NUMBER_WORDS, word_number_readings

#: what a clinician says to announce a plan item, in order of preference at one position
_PLAN_PHRASES: Final = (
    "i am going to", "i'm going to", "i'm gonna", "i'm gon na", "i am gon na", "gon na", "gonna", "going to",
    "we are going to", "we're going to", "we'll", "we will", "i'll", "i will", "i want you to", "i want to",
    "i (?:do |also |really |just )want you to", "i (?:do |also |really |just )want to",
    "i (?:also |really |just |do )?wan na", "we (?:also |really |just )?wan na",
    "go ahead and (?=order|prescribe|schedule|refer|send|start|check|get (?:a|an|some|you))",
    "i'd like you to", "i'd like to", "i would like to", "let's", "let us", "you should", "you need to",
    "you'll need to", "you will need to", "i recommend", "i'd recommend", "i would recommend", "recommend",
    "i'm prescribing", "prescribe", "i'm sending", "i'm putting you", "put you on", "start you on", "refer you",
    "make an appointment", "follow up", "come back", "see you back", "we may need to", "we might need to",
    "we may have to", "we might have to", "we need to", "we could", "we can", "you can",
    "order (?=a |an |the |some |you |him |her )")


def by_first_letter(phrases: tuple[str, ...]) -> str:
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


PLAN_TRIGGER: Final = re.compile(r"(?:" + by_first_letter(_PLAN_PHRASES) + r")\b")
#: what follows a trigger when the clinician announces an exam, a question or a look at results,
#: not a plan item ("let's take a look at the x-ray", "i'm going to listen to your heart");
#: ``match`` at the trigger's end anchors it there
NOT_PLAN: Final = re.compile(
    r"\W*(?:(?:go ahead and|just|quickly|also|now|first|then|kind of|like)\s+)*(?:(?:do|have) (?:a |my |your |the )?"
    r"(?:quick |brief |real quick |little )?(?:look|exam|physical|examination)|take (?:a |another |one more )?"
    r"(?:quick )?look|look|examine|check you\b|check (?:your|on) (?:heart|lungs|belly|abdomen|back|neck|reflexes|"
    r"strength|skin|eyes|ears)|listen|ask|talk|review|go over|see (?:the|your|what|how|if|that)|see how|wait|move|"
    r"push(?! (?:fluids|more fluids|water|liquids))|press|feel|"
    r"have you (?:had|been|noticed|ever|experienced|tried|taken)|do a quick|do a physical|"
    r"bring up|pull up|show|tell you|explain|start (?:with|by) (?:a|an|the|your|my) (?:exam|physical|look))")
_CLAUSE_END: Final = re.compile(r"[.?!;]")
#: just before a trigger: a question or a past event, not a plan ("did they put you on", "we had put you on")
_ASKED_OR_DONE: Final = re.compile(r"\b(?:(?:did|do|does|have|has|were|was) (?:you|they|he|she|we|someone|your [a-z]+|"
                                   r"the [a-z]+)|had|have already|has already|were|was|means(?: is)?|meaning) ?$")
#: words that end what a plan announcement names ("we will refer you to physical therapy i think with the mri")
_BREAK: Final = re.compile(r"\b(?:i think|if|because|but|so that|whether|unless|okay|alright|all right|now i|"
                           r"do you have|any questions)\b")
#: an action verb that goes on announcing ("... continue on the cozaar ... continue on the norvasc")
_CHAINED: Final = re.compile(r"\b(?:continue|start|stop(?! by| in\b)|increase|decrease|(?<!in )(?<!referral )order|"
                             r"prescribe|refer|schedule)\b")
_CHAIN_REACH: Final = 80  # characters from the announcement before
#: before "you can" / "we can": a clause that asks or explains, not a plan ("what foods you can eat")
_RELATIVE: Final = re.compile(r"\b(?:what|which|how|whether|if|where|when|that)(?: [a-z']+){0,2} ?$")
#: announcements of the next visit, and what makes them a time rather than a plan ("when you come back")
_RETURN: Final = ("come back", "follow up", "see you back")
_WHEN: Final = re.compile(r"\b(?:when|once|after|until|before|by the time) (?:you|we) $")
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
                          r"(order|prescribe|start|schedule|refer|increase|decrease|stop(?! by| in\b| me\b)|"
                          r"discontinue|repeat|recheck|check|perform|get|send|give|put|switch|add|hold|draw|obtain|"
                          r"push|strain|ice|rest|"
                          r"elevate|wear|avoid|limit|cut|apply|use|drink|continue|keep|monitor|watch|track|weigh|"
                          r"stay on|try|take|eat)\b")
#: what an instruction in plain words must name to be a plan item
_PLAN_OBJECTS: Final = frozenset("""profile panel test tests fluids urine stool culture scan imaging appointment brace
ice rest elevation compression stretches stretching crutches wheelchair cane walker splint sling bandage strainer
cream ointment drops spray patch stockings hydration water salt sugar alcohol caffeine smoking weight
specialist cardiologist dermatologist neurologist orthopedic surgeon podiatrist nutritionist sunscreen
pills tablets inhaler teaspoon teaspoons tablespoon foods food diet sugars pressures
readings chemotherapy radiation regimen consult consultation evaluation
index study studies biopsy scope emergency shoe shoes boot dressing""".split())
#: verbs that announce a plan item whatever its words name ("i want to order an ankle brachial index")
_ORDER_VERBS: Final = frozenset(("order", "prescribe", "refer", "schedule", "send", "draw", "obtain", "perform"))
_FILLERS: Final = frozenset("um uh uhm er ah mm hmm like kinda sorta".split())
#: instructions that are plan items by their verb ("ice it", "weigh yourself every day")
_SELF_CARE: Final = frozenset("ice rest elevate wear avoid limit drink weigh monitor track push strain apply "
                              "eat stop quit".split())
_STOP: Final = frozenset(("stop", "quit"))
_CONSULT: Final = frozenset(stem(w) for w in ("consult", "consultation", "referral"))
_PRONOUNS: Final = frozenset("those these that this it them".split())
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
_TITLES: Final = frozenset(("dr", "doctor"))
#: what is needed no more: "i do n't think any more antibiotics ...", "we do n't need any more blood work",
#: "no further imaging"
_NO_MORE: Final = re.compile(r"\b(?:n't|not|no)\b(?: think| believe| need| want)?(?: that)?(?: you| we)?"
                             r"(?: need| will need)?"
                             r"(?: to (?:do|get|take|have|start))?(?: any)? ?(?:more|further|additional) ")
#: before an announcement: what is not needed ("i do n't think you need to follow up with the surgeon anymore")
_DECLINED: Final = re.compile(r"\b(?:n't|not|no longer)\b[^.?!,]{0,30}$")
#: whom a patient is sent to see ("a cardiologist", "orthopedics", "psychiatry", "gi")
_SPECIALTY: Final = ("ologist", "ology", "iatrist", "iatry", "opedics", "opedist", "specialist", "surgeon", "itian",
                     "ician", "tionist", "therapist")
_DEPARTMENTS: Final = frozenset(("gi", "ent", "orthopedics", "orthopedic", "podiatry", "nutrition"))
#: plain-word verbs that may send the patient to a specialist ("get you in with a rheumatologist")
_TO_SEE: Final = frozenset(("get", "send", "put", "refer", "schedule"))
#: words between "refer" and whom the patient is referred to
_REFER_SKIP: Final = frozenset("you him her them back over to a an the see with for over also either order orders "
                               "request "
                               "form place placed put send sent".split())

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


def plan_items(idx: TranscriptIndex, terms: dict[str, Term]) -> tuple[list[PlanItem], list[PlanItem]]:
    """Plan items said by the clinician: those naming a lexicon concept, and those in plain words."""
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
        for m_start, m_end in _announcements(norm):
            if NOT_PLAN.match(norm, m_end):
                continue
            if offs is None:
                offs = u.offsets()
                cands = [x for x in u.matches if x[2].category in PLAN_CATS and x[2].text not in _VAGUE]
                starts = [x[0] for x in cands]
            k0 = bisect_left(offs, m_end)
            lo, hi = bisect_left(starts, k0), bisect_left(starts, k0 + MAX_GAP + 1)
            sp = None
            spec = -1
            refer = norm.startswith("refer you", m_start)  # "i would refer you to pain management"
            if lo == hi:  # no concept close enough: a specialist ("i'm going to have you see a cardiologist", "get
                # you in with a rheumatologist"), or an instruction in plain words?
                sp = _STRONG_PLAN.match(norm, m_end)
                if sp is None or sp.group(1) in _TO_SEE:
                    spec = _specialist_at(u, k0)
                    if spec >= 0:
                        sp = None
                    elif sp is None and not refer:
                        continue
            if _ASKED_OR_DONE.search(norm, max(0, m_start - 32), m_start) or (
                    norm.startswith(("you can", "we can"), m_start) and _RELATIVE.search(norm, max(0, m_start - 32),
                                                                                      m_start)):
                continue  # "did your doctor put you on any antibiotics?", "we had put you on the prozac",
                # "what foods you can eat"
            if norm.startswith(_RETURN, m_start) and _WHEN.search(norm, max(0, m_start - 16), m_start):
                continue  # "when you come back we can have that discussion": a time, not a plan
            if refer:
                _referral(u, bisect_left(offs, m_start) + 1, i, generic, seen_keys)
            if spec >= 0 and not _DECLINED.search(norm, max(0, m_start - 40), m_start):
                _referral(u, spec, i, generic, seen_keys)
            if lo == hi and sp is None:
                continue
            assert offs is not None and cands is not None
            end_m = _CLAUSE_END.search(norm, m_end)
            end = min(end_m.start() if end_m else len(norm), m_end + 100)
            if end < len(norm) and norm[end].isalnum():  # not inside a word ("gon na" cut to "g", a dose unit)
                end = max(m_end, norm.rfind(" ", m_end, end))
            brk = _BREAK.search(norm, m_end, end)
            if brk is not None:
                end = brk.start()
            kt = bisect_left(offs, m_start)
            named = False
            for s0, e0, t in cands[lo:hi]:  # type: ignore[index]
                if offs[s0] >= end or u.polarity(s0) == "negated":
                    continue
                if t.canonical == "follow up" and _WHEN.search(norm, max(0, offs[s0] - 16), offs[s0]):
                    continue  # "order an x-ray and when you come back we can have that discussion"
                if e0 < len(u.toks) and u.toks[e0] == "called" and any(e0 < s <= e0 + 3 for s in starts):
                    continue  # "a muscle relaxant called flexeril": the item is flexeril
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
        if i >= n * 0.4 and ("more " in norm or "further " in norm or "additional " in norm):
            _no_more(u, i, generic, seen_keys)
    plan = [it for c, it in items.items() if c in terms]
    for it in plan:
        verb = "/".join(sorted(it.acts))
        it.text = f"{verb} {it.text}" if verb else it.text
    return plan, generic


def _announcements(norm: str) -> list[tuple[int, int]]:
    """Where plan announcements start and end: each :data:`PLAN_TRIGGER`, and each action verb that
    follows one closely in the same turn ("i want you to continue on the cozaar one hundred milligrams
    daily continue on the norvasc five milligrams": the second "continue" starts an item too; it is its
    own end, so its action is read from it)."""
    out = [(m.start(), m.end()) for m in PLAN_TRIGGER.finditer(norm)]
    if not out:
        return out
    last = out[0][1]
    for c in _CHAINED.finditer(norm, out[0][1]):
        if any(a <= c.start() < b for a, b in out):
            continue
        prev = max(b for a, b in out if a < c.start())
        if c.start() - max(prev, last) <= _CHAIN_REACH:
            out.append((c.start(), c.start()))
            last = c.end()
    return sorted(out)


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
    if j + 1 < len(toks) and toks[j] in _TITLES and toks[j + 1] not in STOPWORDS:  # "a referral to dr. flores"
        words.append(toks[j])
        j += 1
    while j < len(toks) and len(words) < 3 and toks[j] not in STOPWORDS and toks[j][0].isalpha():
        words.append(toks[j])
        j += 1
        if words[-1].endswith(_SPECIALTY):  # "refer to hematologist", not "hematologist additionally"
            break
    if words and (words[0] in _TITLES or words[-1] in _DEPARTMENTS or not words[-1].endswith(_SPECIALTY)):
        # "dr. flores who is the hematologist", "a referral to nutrition to a dietitian": the specialist names it too
        spec = [k for k in range(j, min(j + 6, len(toks))) if toks[k].endswith(_SPECIALTY)][:1]
        if spec and any(s == spec[0] for s, _, t in u.matches if t.category in PLAN_CATS):
            return  # "a dietitian" is that concept's plan item
        words += [toks[k] for k in spec]
    key = tuple(dict.fromkeys(stem(w) for w in words if w not in GENERIC and w not in _TITLES
                              and (len(w) > 2 or w in _DEPARTMENTS)))  # "gi" too, not "the er"
    sig = " ".join(sorted(key))
    if not key or sig in seen:
        return
    seen.add(sig)
    same = next((it for it in out if "refer" in it.acts and not set(key).isdisjoint(it.key)), None)
    if same is not None:  # the same specialist again ("a referral to dr. flores who is the hematologist")
        if i not in same.turns:
            same.turns.append(i)
        return
    out.append(PlanItem("", [i], {"refer"}, "refer to " + " ".join(words), key))


def _no_more(u: Unit, i: int, out: list[PlanItem], seen: set[str]) -> None:
    """A treatment or test the clinician says is needed no more ("i do n't think any more antibiotics are needed",
    "we do n't need any more blood work"): a decision the plan records."""
    offs = u.offsets()
    for m in _NO_MORE.finditer(u.norm):
        k = bisect_left(offs, m.end())
        t = next((t for s, _, t in u.matches if s == k and t.category in PLAN_CATS), None)
        if t is None:
            continue
        key = tuple(w for w in t.stems if w not in STOPWORDS)
        sig = "no " + " ".join(key)
        if key and sig not in seen:
            seen.add(sig)
            out.append(PlanItem("", [i], {"stop"}, f"no more {display_name(t)}", key, [set(key)]))


def _specialist_at(u: Unit, k0: int) -> int:
    """The token of a specialist or a department named within :data:`MAX_GAP` words from token ``k0``, in the
    same clause ("have you see a cardiologist", "get you in with a rheumatologist"), or -1."""
    toks = u.toks
    for j in range(k0, min(k0 + MAX_GAP + 1, len(toks))):
        w = toks[j]
        if w.endswith(_SPECIALTY) or w in _DEPARTMENTS:
            offs = u.offsets()
            if _CLAUSE_END.search(u.norm, offs[k0], offs[j]):
                return -1
            while j > k0 and j > 0 and toks[j - 1] not in STOPWORDS and toks[j - 1] not in _REFER_SKIP \
                    and toks[j - 1][0].isalpha() and w.endswith(_SPECIALTY):  # "a vascular specialist"
                j -= 1
            return j
    return -1


def _plain_item(u, i: int, start: int, end: int, out: list[PlanItem], seen: set[str], ordered: bool) -> None:
    """An instruction in plain words: kept when it names a plan object, a dose or a new name ("something
    called robaxin"), is self-care ("ice", "weigh yourself every day"), or is an order in the plan part
    of the visit ("i want to order an ankle brachial index")."""
    norm = u.norm
    verb = norm[norm.rfind(" ", 0, start - 1) + 1:start].strip()
    words = [w for w in _WORD.findall(norm[start:end]) if w not in _FILLERS]
    content = _content(words)
    called = words.index("called") if "called" in words[:-1] else -1
    while 0 <= called < len(words) - 2 and words[called + 1] in ("the", "a", "an"):
        called += 1  # "a procedure called the transcatheter aortic valve replacement"
    if called >= 0:  # "something called robaxin": the name is the item
        np = [stem(words[called + 1])]
    else:
        np = _noun_phrase(words)
    if np and np[-1] in _CONSULT:  # "give you a consult to nutrition": to whom
        at = words.index(next(w for w in words if stem(w) == np[-1]))
        np += [stem(w) for w in words[at + 1:at + 4] if w not in _NP_SKIP and w not in _NP_END][:1]
    self_care = verb in _SELF_CARE
    if verb in _STOP and not _PRONOUNS.isdisjoint(words[:3]):
        return  # "we need to probably stop eating those now": what to stop is said before, in other words
    if self_care:
        np = [stem(verb)] + np
    objects = any(w in _PLAN_OBJECTS or w.endswith(_SPECIALTY) for w in content)
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
                for v in [dose_after(toks, j - 1)] if v), None)
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


def announced(norm: str, lo: int, hi: int) -> bool:
    """Whether a plan announcement stands between ``lo`` and ``hi`` ("we'll get an x-ray", not "let's
    take a look at the x-ray")."""
    return any(not NOT_PLAN.match(norm, m.end()) for m in PLAN_TRIGGER.finditer(norm, lo, hi))


def dose_after(toks: list[str], tok: int) -> set[float] | None:
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
