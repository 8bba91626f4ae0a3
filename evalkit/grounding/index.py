"""The transcript index: built once per transcript, queried by every claim of the note."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, defaultdict
from heapq import nsmallest
from operator import attrgetter
from typing import Final

from ..schema import Case, SpeakerRole, Turn
from .entities import Unit
from .lexicon import lexicon
from .negation import AFF, NEG, POSS, answer_polarity, is_question_about, later_question
from .lexicon import TOKEN_RE
from .numbers import DOSE_UNITS, IMPLIED_NUMBERS, number_readings, spoken_decimals

#: a quantity said in another unit: unit -> (other unit, factor)
SAME_AMOUNT: Final = {"week": (("day", 7.0), ("month", 0.25)), "day": (("week", 1 / 7),), "year": (("month", 12.0),),
                       "month": (("year", 1 / 12), ("week", 4.0)), "hour": (("minute", 60.0),),
                       "minute": (("hour", 1 / 60),)}
#: second-person questions a patient does not ask the clinician about the patient's own body
_ASKS: Final = re.compile(r"\b(?:have you (?:had|experienced|noticed|been having)|do you (?:have|get|feel|experience)|"
                          r"are you (?:having|experiencing|taking)|did you (?:have|notice|experience)|have you ever|"
                          r"any (?:family )?history of|any (?:other )?"
                          r"(?:numbness|tingling|pain|fever|chills|nausea|vomiting|diarrhea|swelling|shortness)\b)")
UNKNOWN: Final = "unknown"
#: the clinician's hedged assessment ("sounds like you probably sprained your back"): it backs the
#: note's diagnosis, but does not contradict a note that rules it out
HEDGED: Final = "hedged"
_REST_NEGATIVE: Final = re.compile(r"\b(?:everything else|nothing else|otherwise (?:no|fine|good|okay)|other than that|"
                            r"no other|that's about it|that's it|that is it|but that's all|none of the others?)\b")
CASE_TURN_ID: Final = -1
_DURATIONS: Final = frozenset(("day", "week", "month", "year", "hour", "minute", "second", "time"))


def case_turn(case: Case) -> Turn:
    """A pseudo-turn holding the record: demographics (name, age, sex), chief complaint, and the
    known medications, conditions and allergies (see :mod:`evalkit.context`)."""
    p = case.persona
    bits = []
    if p.name and p.name != "the patient":
        bits.append(p.name)
    if p.age is not None:
        bits.append(f"{p.age} year old {p.age}-year-old")
    if p.sex.value in ("female", "male"):
        bits.append(p.sex.value)
    if case.chief_complaint and case.chief_complaint != "not recorded":
        bits.append(f"presents with {case.chief_complaint}")
    for m in case.medications:
        bits.append(" ".join(x for x in (f"takes {m.name}", m.dose, m.frequency) if x))
    if case.conditions:
        bits.append("history of " + " , ".join(case.conditions))
    for a in case.allergies:
        bits.append(f"allergic to {a.substance}")
    return Turn(id=CASE_TURN_ID, speaker=SpeakerRole.OTHER, text=" . ".join(bits) or "case")


#: a turn longer than this many words is judged in pieces of about this size, split at sentence
#: ends (evidence still names the turn): checks that look around a mention stay local, so a
#: dictated monologue or a transcript without turn breaks costs time in proportion to its length
MAX_TURN_WORDS: Final = 800
_SENTENCE_END: Final = re.compile(r"(?<=[.?!])\s+")


def bounded_turns(turns: list[Turn]) -> list[Turn]:
    """``turns`` with every turn over :data:`MAX_TURN_WORDS` words cut into pieces (same id and speaker)."""
    if all(t.text.count(" ") < MAX_TURN_WORDS for t in turns):
        return turns
    out: list[Turn] = []
    for t in turns:
        if t.text.count(" ") < MAX_TURN_WORDS:
            out.append(t)
            continue
        piece: list[str] = []
        n = 0
        for sent in _SENTENCE_END.split(t.text):
            words = sent.split()
            while len(words) > MAX_TURN_WORDS:  # no sentence end for a long stretch (a run-on transcript)
                if piece:
                    out.append(t.model_copy(update={"text": " ".join(piece)}))
                    piece, n = [], 0
                out.append(t.model_copy(update={"text": " ".join(words[:MAX_TURN_WORDS])}))
                words = words[MAX_TURN_WORDS:]
            if n + len(words) > MAX_TURN_WORDS and piece:
                out.append(t.model_copy(update={"text": " ".join(piece)}))
                piece, n = [], 0
            piece += words
            n += len(words)
        if piece:
            out.append(t.model_copy(update={"text": " ".join(piece)}))
    return out


def _ends_in_question(text: str, pos: int) -> bool:
    """Whether the sentence holding ``pos`` ends with a question mark."""
    q = text.find("?", pos)
    if q < 0:
        return False
    stop = [p for p in (text.find(".", pos), text.find("!", pos)) if p >= 0]
    return not stop or q < min(stop)


class TranscriptIndex:
    """Lookups over one transcript: stems, concepts, numbers, laterality and polarity.

    Args:
        turns: the consultation's turns (ids are kept as evidence ids).
        case: the case card, when known: the patient's name, age, sex and chief complaint
            ground the note's demographics (they are not said in every dialogue). They are
            held in one extra pseudo-turn with id -1, never given as evidence.
    """

    def __init__(self, turns: list[Turn], case: Case | None = None):
        lx = lexicon()
        turns = bounded_turns(turns)
        self.n_turns = len(turns)
        if case is not None:
            turns = list(turns) + [case_turn(case)]
        self.turns = turns
        self.ids = [t.id for t in turns]
        self.roles = [t.speaker for t in turns]
        self.units = [Unit(t.text, lx) for t in turns]
        stem_turns: dict[str, list[int]] = defaultdict(list)
        concept_turns: dict[str, list[tuple[int, int]]] = defaultdict(list)
        parts = lx.parts
        for i, u in enumerate(self.units):
            for st in set(u.sts):
                stem_turns[st].append(i)
            for s, e, t in u.matches:
                concept_turns[t.canonical].append((i, s))
                if e - s > 1 and t.category == "condition":
                    for c in parts(t)[0][1:]:
                        concept_turns[c].append((i, s))
                elif e - s > 1 and t.category == "drug":
                    for c in lx.treatments_in(t):  # "covid vaccines" is also a vaccination
                        concept_turns[c].append((i, s))
        self.stem_turns = dict(stem_turns)
        self.concept_turns = dict(concept_turns)
        self._tokens: set[str] | None = None
        self._numbers: list[set[float]] | None = None
        self._num_turns: dict[float, list[int]] | None = None
        self._pairs: dict[tuple[float, str], list[int]] | None = None
        self._bare: dict[float, list[int]] | None = None
        self._lateral: dict[tuple[str, str], list[int]] | None = None
        self._pol: dict[str, dict[str, list[int]]] = {}
        self._mpol: dict[tuple[int, int], str] = {}
        self._fuzzy: list[str] | None = None
        self._tstems: dict[int, set[str]] = {}
        self.memo: dict = {}  # per-transcript memo for the grounding checks
        self._cids: dict[str, list[int]] = {}

    def concept_turn_ids(self, canonical: str) -> list[int]:
        """Sorted distinct turn indexes mentioning a concept (cached; do not mutate the list)."""
        got = self._cids.get(canonical)
        if got is None:
            got = self._cids[canonical] = sorted({i for i, _ in self.concept_turns.get(canonical, ())})
        return got

    # ------------------------------------------------------------------ numbers
    def _build_numbers(self) -> None:
        nums: list[set[float]] = []
        tp: list[set[tuple[float, str]]] = []
        pairs: dict[tuple[float, str], list[int]] = defaultdict(list)
        bare: dict[float, list[int]] = defaultdict(list)
        for i, u in enumerate(self.units):
            toks = u.toks
            if " ." in u.norm:
                sd = spoken_decimals(u.norm)
                if sd != u.norm:
                    toks = TOKEN_RE.findall(sd)
            vals, prs, br = number_readings(toks)
            for s, e, t in u.matches:
                v = IMPLIED_NUMBERS.get(t.text)
                if v is not None:
                    vals.add(v)
                    br.add(v)
            nums.append(vals)
            tp.append(prs)
            for p in prs:
                pairs[p].append(i)
            for v in br:
                bare[v].append(i)
        nt: dict[float, list[int]] = defaultdict(list)
        for i, vs in enumerate(nums):
            for v in vs:
                nt[v].append(i)
        self._numbers, self._num_turns = nums, dict(nt)
        self._pairs, self._bare = dict(pairs), dict(bare)
        self._turn_pairs = tp

    def pairs_in(self, i: int) -> set[tuple[float, str]]:
        """``(value, unit)`` pairs said in turn index ``i``."""
        if self._numbers is None:
            self._build_numbers()
        return self._turn_pairs[i]

    def number_support(self, value: float, unit: str | None) -> list[int]:
        """Turn indexes that said ``value`` with ``unit`` (or with no unit); all of them when ``unit`` is None."""
        if self._num_turns is None:
            self._build_numbers()
        if unit is None:
            return self._num_turns.get(value, [])  # type: ignore[union-attr]
        out = set(self._pairs.get((value, unit), [])) | set(self._bare.get(value, []))  # type: ignore[union-attr]
        for other, factor in SAME_AMOUNT.get(unit, ()):  # "2 weeks" said as "fourteen days"
            out.update(self._pairs.get((round(value * factor, 6), other), ()))  # type: ignore[union-attr]
        return sorted(out)

    def value_support(self, value: float) -> list[int]:
        """Turn indexes that said ``value`` as a value: bare, or with a unit other than a duration."""
        if self._num_turns is None:
            self._build_numbers()
        out = set(self._bare.get(value, ()))  # type: ignore[union-attr]
        for (v, un), lst in self._pairs.items():  # type: ignore[union-attr]
            if v == value and un not in _DURATIONS:
                out.update(lst)
        return sorted(out)

    @property
    def number_turns(self) -> dict[float, list[int]]:
        """Number value → turn indexes where some reading of a spoken number equals it."""
        if self._num_turns is None:
            self._build_numbers()
        return self._num_turns  # type: ignore[return-value]

    def numbers_in(self, i: int) -> set[float]:
        """Every number reading in turn index ``i``."""
        if self._numbers is None:
            self._build_numbers()
        return self._numbers[i]  # type: ignore[index]

    def dose_numbers_near(self, turn_indexes: list[int], window: int = 3) -> set[float]:
        """Numbers said with a dose unit in, or within ``window`` turns of, the given turns."""
        out: set[float] = set()
        seen: set[int] = set()
        for i in turn_indexes:
            for j in range(max(0, i - window), min(len(self.units), i + window + 1)):
                if j in seen:
                    continue
                seen.add(j)
                u = self.units[j]
                if not DOSE_UNITS.isdisjoint(u.toks):
                    out |= self.numbers_in(j)
        return out

    def numbers_near(self, turn_indexes: list[int], window: int = 3) -> set[float]:
        """Every number said in, or within ``window`` turns of, the given turns."""
        out: set[float] = set()
        for j in {j for i in turn_indexes for j in range(max(0, i - window), min(len(self.units), i + window + 1))}:
            out |= self.numbers_in(j)
        return out

    # ------------------------------------------------------------------ laterality
    @property
    def lateral(self) -> dict[tuple[str, str], list[int]]:
        """``(side, anatomy concept)`` and ``(side, body-region group)`` → turn indexes that say it."""
        if self._lateral is None:
            groups = lexicon().anatomy_group
            lat: dict[tuple[str, str], list[int]] = defaultdict(list)
            for i, u in enumerate(self.units):
                for side, canon, _, _ in u.lateral_pairs():
                    lat[(side, canon)].append(i)
                    g = groups.get(canon)
                    if g and g != canon:
                        lat[(side, "group:" + g)].append(i)
            self._lateral = dict(lat)
        return self._lateral

    # ------------------------------------------------------------------ polarity
    def mention_polarity(self, i: int, tok: int) -> str:
        """Polarity of the concept at token ``tok`` of turn ``i``, resolving yes/no questions.

        A clinician's question ("any chest pain or swelling?") takes the polarity of the
        patient's answer ("no" / "yeah"), unless the answer names the concept itself (then
        that mention speaks for it) or a later question in the same turn is what was answered.
        """
        got = self._mpol.get((i, tok))
        if got is None:
            got = self._mention_polarity(i, tok)
            self._mpol[(i, tok)] = got
        return got

    def _mention_polarity(self, i: int, tok: int) -> str:
        u = self.units[i]
        p = u.polarity(tok)
        offs = u.offsets()
        swapped = False
        if self.roles[i] == SpeakerRole.PATIENT:
            # a "patient" turn asking "have you had any numbness in your arm?" is the clinician's,
            # mis-tagged (real transcripts swap tags): its mention is a question, answered next
            if not (tok < len(offs) and _ASKS.search(u.norm) and is_question_about(u.norm, offs[tok])):
                return UNKNOWN if p == POSS else p
            swapped = True
        short = len(u.toks) <= 6
        if not (short or (tok < len(offs) and is_question_about(u.norm, offs[tok]))):
            if p == POSS:
                # the clinician's hedged assessment ("sounds like you probably sprained your back",
                # "likely a kidney stone") backs the note's diagnosis; a hypothetical does not
                return HEDGED if u.marks().get(tok) == POSS else UNKNOWN
            return p
        if p == NEG and any(t in ("not", "no", "never", "without") for t in u.toks[max(0, tok - 4):tok]):
            return NEG  # "so no chest pain?" / "you haven't had any fever": the clinician states it
        if p == NEG and tok < len(offs) and not _ends_in_question(u.norm, offs[tok]):
            return NEG  # "i don't see any evidence of a fracture or any swelling ." is a finding, not a question
        if tok < len(offs) and later_question(u.norm, offs[tok]):
            return UNKNOWN
        for j in range(i + 1, min(i + 3, len(self.units))):
            if self.roles[j] == SpeakerRole.PATIENT or swapped:
                canon = {t.canonical for s, e, t in u.matches if s == tok}
                if any(t.canonical in canon for _, _, t in self.units[j].matches):
                    return UNKNOWN  # the answer's own mention decides
                named = {t.canonical for _, _, t in self.units[j].matches}
                if not named.isdisjoint({t.canonical for _, _, t in u.matches} - canon):
                    return UNKNOWN  # "body aches, joint pain?" "a bit of joint pain": it answers for what it names
                ans = self.units[j].norm
                if self.units[j].matches and _REST_NEGATIVE.search(ans):
                    return NEG  # "a little congestion, but everything else has been okay"
                return self.answer(j) or UNKNOWN
        return UNKNOWN

    def answer(self, j: int) -> str | None:
        """:func:`answer_polarity` of turn ``j`` (cached: a question names several findings)."""
        key = ("answer", j)
        if key in self.memo:
            return self.memo[key]
        got = self.memo[key] = answer_polarity(self.turns[j].text)
        return got

    def polarities(self, canonical: str) -> dict[str, list[int]]:
        """Polarity → turn indexes, over every mention of a lexicon concept."""
        got = self._pol.get(canonical)
        if got is None:
            got = defaultdict(list)
            for i, tok in self.concept_turns.get(canonical, ()):
                got[self.mention_polarity(i, tok)].append(i)
            got = dict(got)
            self._pol[canonical] = got
        return got

    def turn_stems(self, i: int) -> set[str]:
        """The set of stems of turn ``i`` (cached)."""
        got = self._tstems.get(i)
        if got is None:
            got = self._tstems[i] = set(self.units[i].sts)
        return got

    @property
    def tokens(self) -> set[str]:
        """Every token of the transcript (built on first use)."""
        if self._tokens is None:
            self._tokens = {t for u in self.units for t in u.toks}
        return self._tokens

    def long_tokens(self) -> list[str]:
        """Transcript words of 5+ letters (candidates for misspelt drug names)."""
        if self._fuzzy is None:
            self._fuzzy = sorted(t for t in self.tokens if len(t) >= 5 and t.isalpha())
        return self._fuzzy

    # ------------------------------------------------------------------ stems
    def turns_with_all(self, stems: list[str]) -> list[int]:
        """Turn indexes containing every stem in ``stems``."""
        if not stems:
            return []
        lists = []
        for s in stems:
            lst = self.stem_turns.get(s)
            if not lst:
                return []
            lists.append(lst)
        lists.sort(key=len)
        acc = set(lists[0])
        for lst in lists[1:]:
            acc.intersection_update(lst)
            if not acc:
                return []
        return sorted(acc)

    def best_turns(self, stems: list[str], k: int = 2) -> list[int]:
        """The ``k`` turn indexes sharing the most of ``stems`` (rarer stems weigh more)."""
        score: dict[int, float] = defaultdict(float)
        half = len(self.units) * 0.5
        st = self.stem_turns
        # stems in the claim's order and ties broken by turn order: the same answer whatever the hash seed
        lists = sorted((lst for lst in map(st.get, dict.fromkeys(stems)) if lst and len(lst) < half), key=len)[:5]
        for lst in lists:
            w = 1.0 / len(lst)
            for i in lst:
                score[i] += w
        # highest score first, then lowest turn index (as sorting on (-score, turn) and taking k)
        return [i for _, i in nsmallest(k, [(-v, i) for i, v in score.items()])]


__all__ = ["TranscriptIndex", "UNKNOWN", "AFF", "NEG"]


_CACHE: "OrderedDict[tuple, TranscriptIndex]" = OrderedDict()
_CACHE_LOCK: Final = threading.Lock()
CACHE_SIZE = 32  # not Final: a module setting (bench_judge_offline.py raises it; compiled code reads it at call time)
_TURN_KEY: Final = attrgetter("id", "speaker", "text")


def transcript_index(turns: list[Turn], case: Case | None = None) -> TranscriptIndex:
    """The index of a transcript, reused while the same transcript is judged again.

    A consultation's transcript is judged once per scribe, and calibration judges it once per
    planted note; the index (and its lazily built lookups) is kept for the last
    ``CACHE_SIZE`` transcripts, keyed by the turns' content.

    Args:
        turns: the consultation's turns.
        case: the case card, when known (see :class:`TranscriptIndex`).
    """
    p = case.persona if case is not None else None
    key = (tuple(map(_TURN_KEY, turns)),  # (id, speaker, text) of each turn
           (p.name, p.age, p.sex, case.chief_complaint) if p is not None and case is not None else None)
    with _CACHE_LOCK:
        idx = _CACHE.get(key)
        if idx is not None:
            _CACHE.move_to_end(key)
            return idx
    idx = TranscriptIndex(turns, case)
    with _CACHE_LOCK:
        _CACHE[key] = idx
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return idx
