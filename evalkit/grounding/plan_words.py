"""Plan items in plain words and referrals, and the record of a plan item.

An instruction in plain words is kept when it names a plan object, a dose, a new name or
self-care ("I want you to use crutches for the next couple of days", "something called robaxin",
"weigh yourself every day", "push fluids"), or is an order in the plan part of the visit ("I want
to order an ankle brachial index"). A referral is read by whom ("refer you to psychiatry", "have
you see a hematologist", "a referral to dr. flores who is the hematologist"); a treatment or test
needed no more is a decision of its own ("i do n't think any more antibiotics are needed").
:mod:`evalkit.grounding.plan_items` finds the announcements these follow.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

from .entities import Unit
from .lexicon import GENERIC, STOPWORDS, Term, lexicon, stem, tokenize
from .numbers import DOSE_UNITS, NUMBER_WORDS, word_number_readings

#: where a clause ends
CLAUSE_END: Final = re.compile(r"[.?!;]")
WORD: Final = re.compile(r"[a-z]+(?:'[a-z]+)?")


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


#: what an instruction in plain words must name to be a plan item
_PLAN_OBJECTS: Final = frozenset("""profile panel test tests fluids urine stool culture scan imaging appointment brace
ice rest elevation compression stretches stretching crutches wheelchair cane walker splint sling bandage strainer
cream ointment drops spray patch stockings hydration water salt sugar alcohol caffeine smoking weight
specialist cardiologist dermatologist neurologist orthopedic surgeon podiatrist nutritionist sunscreen
pills tablets inhaler teaspoon teaspoons tablespoon foods food diet sugars pressures
readings chemotherapy radiation regimen consult consultation evaluation
index study studies biopsy scope emergency shoe shoes boot dressing""".split())
#: verbs that announce a plan item whatever its words name ("i want to order an ankle brachial index")
ORDER_VERBS: Final = frozenset(("order", "prescribe", "refer", "schedule", "send", "draw", "obtain", "perform"))
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
PLAN_VERBS: Final = frozenset(stem(w) for w in """order prescribe start continue take give send refer schedule check
see come follow make sure want need going get put try keep also go ahead maybe probably little bit okay
just think know talk look back today week weeks month months day days time next soon like really""".split())
PLAN_CATS: Final = ("drug", "procedure", "activity")


_TITLES: Final = frozenset(("dr", "doctor"))
#: what is needed no more: "i do n't think any more antibiotics ...", "we do n't need any more blood work",
#: "no further imaging"
_NO_MORE: Final = re.compile(r"\b(?:n't|not|no)\b(?: think| believe| need| want)?(?: that)?(?: you| we)?"
                             r"(?: need| will need)?"
                             r"(?: to (?:do|get|take|have|start))?(?: any)? ?(?:more|further|additional) ")
#: what is not needed at all: "i do n't think he needs any antibiotics", "you do n't need an x-ray"
_NOT_NEEDED: Final = re.compile(r"\b(?:n't|not)\b(?: think| believe)?(?: that)?(?: you| he| she| they| we| it)"
                                r" (?:needs?|requires?)(?: to (?:do|get|take|have|start))? (?:any|an|a) ")
#: before an announcement: what is not needed ("i do n't think you need to follow up with the surgeon anymore")
DECLINED: Final = re.compile(r"\b(?:n't|not|no longer)\b[^.?!,]{0,30}$")
#: whom a patient is sent to see ("a cardiologist", "orthopedics", "psychiatry", "gi")
_SPECIALTY: Final = ("ologist", "ology", "iatrist", "iatry", "opedics", "opedist", "specialist", "surgeon", "itian",
                     "ician", "tionist", "therapist")
_DEPARTMENTS: Final = frozenset(("gi", "ent", "orthopedics", "orthopedic", "podiatry", "nutrition"))
#: plain-word verbs that may send the patient to a specialist ("get you in with a rheumatologist")
TO_SEE: Final = frozenset(("get", "send", "put", "refer", "schedule"))
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


def content_words(words: list[str]) -> list[str]:
    return [w for w in words if w not in STOPWORDS and w not in GENERIC and len(w) > 2 and not w[0].isdigit()]


def referral(u, e0: int, i: int, out: list[PlanItem], seen: set[str]) -> None:
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


def no_more(u: Unit, i: int, out: list[PlanItem], seen: set[str]) -> None:
    """A treatment or test the clinician says is needed no more, or not at all ("i do n't think any more
    antibiotics are needed", "we do n't need any more blood work", "i do n't think he needs any antibiotics"):
    a decision the plan records."""
    offs = u.offsets()
    for m in [*_NO_MORE.finditer(u.norm), *_NOT_NEEDED.finditer(u.norm)]:
        k = bisect_left(offs, m.end())
        t = next((t for s, _, t in u.matches if s == k and t.category in PLAN_CATS), None)
        if t is None:
            continue
        key = tuple(w for w in t.stems if w not in STOPWORDS)
        sig = "no " + " ".join(key)
        if key and sig not in seen:
            seen.add(sig)
            what = f"no more {display_name(t)}" if m.re is _NO_MORE else f"no {display_name(t)} needed"
            out.append(PlanItem("", [i], {"stop"}, what, key, [set(key)]))


def specialist_at(u: Unit, k0: int) -> int:
    """The token of a specialist or a department named within :data:`MAX_GAP` words from token ``k0``, in the
    same clause ("have you see a cardiologist", "get you in with a rheumatologist"), or -1."""
    toks = u.toks
    for j in range(k0, min(k0 + MAX_GAP + 1, len(toks))):
        w = toks[j]
        if w.endswith(_SPECIALTY) or w in _DEPARTMENTS:
            offs = u.offsets()
            if CLAUSE_END.search(u.norm, offs[k0], offs[j]):
                return -1
            while j > k0 and j > 0 and toks[j - 1] not in STOPWORDS and toks[j - 1] not in _REFER_SKIP \
                    and toks[j - 1][0].isalpha() and w.endswith(_SPECIALTY):  # "a vascular specialist"
                j -= 1
            return j
    return -1


def plain_item(u, i: int, start: int, end: int, out: list[PlanItem], seen: set[str], ordered: bool) -> None:
    """An instruction in plain words: kept when it names a plan object, a dose or a new name ("something
    called robaxin"), is self-care ("ice", "weigh yourself every day"), or is an order in the plan part
    of the visit ("i want to order an ankle brachial index")."""
    norm = u.norm
    verb = norm[norm.rfind(" ", 0, start - 1) + 1:start].strip()
    words = [w for w in WORD.findall(norm[start:end]) if w not in _FILLERS]
    content = content_words(words)
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
    key = tuple(dict.fromkeys(np + [x for x in map(stem, content) if x not in PLAN_VERBS and x not in ACTION_CLASS
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
