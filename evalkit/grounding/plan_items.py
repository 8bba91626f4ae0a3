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
from typing import Final

from ..schema import SpeakerRole
from .index import TranscriptIndex
from .lexicon import Term, stem
from .plan_words import (ACTION_CLASS, CLAUSE_END, DECLINED, MAX_GAP, ORDER_VERBS, PLAN_CATS, PLAN_VERBS, TO_SEE,
                         WORD, PlanItem, content_words, display_name, dose_after, group_name, no_more, plain_item,
                         referral, specialist_at)

__all__ = ["ACTION_CLASS", "MAX_GAP", "PLAN_CATS", "PLAN_TRIGGER", "NOT_PLAN", "PlanItem", "announced",
           "by_first_letter", "display_name", "dose_after", "group_name", "plan_items"]

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
_STRONG_PLAN: Final = re.compile(r"\W*(?:(?:go ahead and|also|just|probably|definitely|have you|you to|to)\s+)*"
                          r"(order|prescribe|start|schedule|refer|increase|decrease|stop(?! by| in\b| me\b)|"
                          r"discontinue|repeat|recheck|check|perform|get|send|give|put|switch|add|hold|draw|obtain|"
                          r"push|strain|ice|rest|"
                          r"elevate|wear|avoid|limit|cut|apply|use|drink|continue|keep|monitor|watch|track|weigh|"
                          r"stay on|try|take|eat)\b")
#: lexicon matches too vague to name a plan item ("order the procedures", "a topical therapy")
_VAGUE: Final = frozenset(("therapy", "procedure", "procedures", "treatment", "medicine", "medication"))


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
                if sp is None or sp.group(1) in TO_SEE:
                    spec = specialist_at(u, k0)
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
                referral(u, bisect_left(offs, m_start) + 1, i, generic, seen_keys)
            if spec >= 0 and not DECLINED.search(norm, max(0, m_start - 40), m_start):
                referral(u, spec, i, generic, seen_keys)
            if lo == hi and sp is None:
                continue
            assert offs is not None and cands is not None
            end_m = CLAUSE_END.search(norm, m_end)
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
                    referral(u, e0, i, generic, seen_keys)
                    continue
                it = items.get(canon)
                if it is None:
                    it = items[canon] = PlanItem(canon, [], set(), display_name(t, u.toks[s0:e0]))
                if i not in it.turns:
                    it.turns.append(i)
                it.clause.append({x for x in map(stem, content_words(WORD.findall(norm[m_end:end])))
                                  if len(x) > 3 and x not in PLAN_VERBS and x not in t.stems})
                if act:
                    it.acts.add(act)
            if not named:
                if sp is None:
                    sp = _STRONG_PLAN.match(norm, m_end)
                if sp is not None:
                    plain_item(u, i, sp.end(), end, generic, seen_keys,
                                sp.group(1) in ORDER_VERBS and i >= n * 0.4)
        if i >= n * 0.4 and ("more " in norm or "further " in norm or "additional " in norm):
            no_more(u, i, generic, seen_keys)
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


def announced(norm: str, lo: int, hi: int) -> bool:
    """Whether a plan announcement stands between ``lo`` and ``hi`` ("we'll get an x-ray", not "let's
    take a look at the x-ray")."""
    return any(not NOT_PLAN.match(norm, m.end()) for m in PLAN_TRIGGER.finditer(norm, lo, hi))
