"""Plan claims against the visit's plan decisions.

- ``followup.other_interval``: the note gives a follow-up interval the clinician never gave for a
  follow-up ("Follow up in 1 week" where the visit said "come back ... after maybe three weeks");
  ``followup.unsaid``: one when the visit gave no follow-up interval at all;
- ``plan.declined``: the note starts a treatment the clinician said is not needed ("We will
  prescribe a course of antibiotics" after "i do n't think any more antibiotics are needed").
"""

from __future__ import annotations

import re
from typing import Final

from .checks import CONTRADICTED, UNSUPPORTED, Check
from .coverage import FOLLOW_CUE
from .entities import Unit
from .facts import DAYS, FOLLOW_UP_SAID, interval_days, same_interval, transcript_facts
from .index import TranscriptIndex
from .lexicon import STOPWORDS, stem
from .negation import NEG

#: turns after a follow-up cue whose intervals count too ("when?" / "in two weeks")
_AROUND: Final = 1
#: how a note starts a treatment now ("we will prescribe", "start", "recommend"); not what was done before
_STARTS: Final = re.compile(r"\b(?:(?:will|to|plan to|going to) (?:prescribe|start|begin|give|take|use|continue|"
                            r"initiate)|prescribe|start|begin|initiate|recommend|recommended)\b")
_BEFORE: Final = re.compile(r"\b(?:was|were|had|has been|have been|previously|prior|already|despite|saw)\b")


#: what else says the patient is seen again ("let me know, and we'll take a look at you again", "call me back",
#: "we're gonna check you in two weeks", "three weeks i'd like you to return")
_AGAIN: Final = re.compile(r"\b(?:again|call|let me know|return|check (?:you|on you|in)|back|appointment|visit|"
                           r"come in|look at you)\b")


#: a follow-up "as needed" gives no appointment (its interval is a condition: "if it does not improve over the
#: next couple of days")
_AS_NEEDED: Final = re.compile(r"\b(?:as needed|prn|p\.r\.n)\b")
#: words of any follow-up sentence: sharing one with a turn does not make the turn about the same visit
_VISIT_WORDS: Final = frozenset(stem(w) for w in """follow up see seen check recheck return visit appointment progress
pain symptom symptoms improve improvement worse sooner needed week weeks month months day days""".split())


def _intervals(idx: TranscriptIndex, i: int) -> list[float]:
    u = idx.units[i]
    return [v * DAYS[un] for v, un in idx.pairs_in(i) if un in DAYS] + interval_days(u.norm)


def _follow_intervals(idx: TranscriptIndex) -> tuple[list[float], list[int], list[tuple[float, int]]]:
    """Intervals (in days) said in or just after a turn about seeing the patient again, those turns, and every
    interval said in the second half of the visit with its turn (memoised). A patient reports follow-ups too
    ("he said we would recheck them in about six months")."""
    got = idx.memo.get("follow_intervals")
    if got is None:
        days: list[float] = []
        turns: list[int] = []
        for i in range(idx.n_turns):
            norm = idx.units[i].norm
            if not (FOLLOW_UP_SAID.search(norm) or _AGAIN.search(norm)):
                continue
            turns.append(i)
            for j in range(i, min(idx.n_turns, i + _AROUND + 1)):
                days += _intervals(idx, j)
        late = [(d, i) for i in range(idx.n_turns // 2, idx.n_turns) for d in _intervals(idx, i)]
        got = idx.memo["follow_intervals"] = (days, turns, late)
    return got


def check_follow_up(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """A follow-up at an interval never given for one in the visit, or when the visit gave none."""
    if not FOLLOW_CUE.search(u.norm) or _AS_NEEDED.search(u.norm):
        return []
    note_days = interval_days(u.norm)
    if not note_days:
        return []
    said, turns, late = _follow_intervals(idx)
    if any(same_interval(d, said) for d in note_days):
        return []
    purpose = {s for s in u.sts if s not in STOPWORDS and s not in _VISIT_WORDS and len(s) > 2}
    if any(same_interval(d, [x]) and (not said or purpose & idx.turn_stems(i)) for x, i in late for d in note_days):
        return []  # said in the plan in other words than a follow-up's ("the drains stay in for about a week")
    if said:
        return [Check("plan", CONTRADICTED, "contextual", True, turns[-3:],
                      "the follow-up interval is not one the clinician gave", rule="followup.other_interval")]
    return [Check("plan", UNSUPPORTED, "fabrication", True, [], "the visit gave no follow-up interval",
                  rule="followup.unsaid")]


def check_declined(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """A drug the note starts that the clinician said is not needed (and never planned otherwise)."""
    if not _STARTS.search(u.norm) or _BEFORE.search(u.norm):
        return []
    facts = transcript_facts(idx)
    declined = [it for it in facts.generic if "stop" in it.acts and it.text.startswith("no ")]
    if not declined:
        return []
    out: list[Check] = []
    for s, e, t in u.matches:
        if t.category != "drug" or u.polarity(s) == NEG:
            continue
        key = set(w for w in t.stems if w not in STOPWORDS)
        hit = next((it for it in declined if key & set(it.key)), None)
        if hit is None or any(p.canon == t.canonical and p.acts & {"start", "order"} for p in facts.plan):
            continue
        out.append(Check("plan", CONTRADICTED, "negation", True, hit.turns[:3],
                         f"the clinician said {hit.text}", rule="plan.declined", concept=t.canonical))
    return out
