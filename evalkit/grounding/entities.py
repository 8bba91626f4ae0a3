"""Analysed text units: tokens, stems, lexicon matches, laterality pairs, ConText marks.

A :class:`Unit` is one transcript turn or one note claim. Everything expensive (character
offsets, ConText scopes) is computed lazily, only for the few units a check needs.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from itertools import compress
from typing import Final

from .lexicon import LATERALITY, Lexicon, Term, lexicon, stems, tokenize
from .negation import AFF, FAM, HIST, HYPO, NEG, POSS, may_have_triggers, normalize, triggers
from .numbers import note_numbers

_SIDE_SKIP: Final = frozenset("""side sided of the your my her his their upper lower medial lateral inner outer
posterior anterior proximal distal mid middle index ring little big a this that its aspect part area
portion first second third fourth fifth great radial ulnar dorsal plantar palmar volar""".split())
_SIDES: Final = frozenset(LATERALITY)
_PUNCT: Final = re.compile(r"[,.;:?!()]")
#: words a negation passes over inside a list of findings ("no fever, chills, or any night sweats")
CONNECTORS: Final = frozenset("""or and nor any no other the a an of signs sign evidence symptoms symptom history recent
significant new further acute obvious real issues issue problems problem with for your my his her their this
these those left right bilateral both either neither ever had have has been known associated apparent
definite current prior previous in on at around from like such as including especially flu lower upper
particularly either recently today include includes including versus vs even actually seem seems seemed""".split())
_PRECEDENCE: Final = (HYPO, POSS, FAM, NEG, HIST)
_RANK: Final = {c: i for i, c in enumerate(_PRECEDENCE)}
#: words that join list items ("chest pain, shortness of breath and/or palpitations")
_JOINERS: Final = frozenset("and or nor plus".split())
_ANY_PUNCT: Final = re.compile(r"[.;:!?(),/]")  # clause punctuation (CLAUSE_PUNCT) and list separators
#: words that start a new clause inside a list: the negation stops there ("no fever, reports cough",
#: "no chest pain, i have some swelling", "denies fever, mild cough")
LIST_STOP: Final = frozenset("""i you he she we they it patient pt is are was were am be report reports reported endorse
endorses endorsed complain complains complained state states stated note notes noted admit admits admitted describe
describes described present presents presented feel feels felt say says said take takes took use uses used drink
drinks smoke smokes continue continues started starts does did do will would should can could may might but however
although though which who that whereas while except yet so then now because since currently positive notable
some mild slight occasional intermittent little bit lot minimal moderate severe just only like also still even
mostly really actually definitely""".split())
#: words a list item may hold besides its finding ("chest pain with exertion", "weight gain or loss",
#: "loss of taste or smell", "any kind of rash")
LIST_ITEM_WORDS: Final = 3
#: after a finding, a concept behind one of these is where or what the finding is about, not another
#: negated item ("denies drainage from the wound", "no redness around the incision")
_MODIFIER_PREP: Final = frozenset("from of in on at around near over under to about along within".split())
#: before any finding, a word and then "for": the concept is what the word is about, not what is
#: denied ("not optimal for wound healing", "no need for surgery", "no reason for concern")
_ABOUT_PREP: Final = frozenset(("for",))
#: words whose object a negation does reach ("no episodes of chest pain", "no recurrence of symptoms")
_PASS_HEADS: Final = frozenset("""episode episodes complaint complaints bout bouts sense feeling feelings sensation
sensations kind kinds type types sort amount degree change changes increase worsening recurrence recurrent
occurrence presence sign signs symptom symptoms evidence history hx report reports trouble difficulty suffering suffer
suffers suffered complaining complains complained experiencing experience experiences experienced""".split())


#: verbs that make "back" an adverb ("cut back", "come back", "call me back"), not the body part
_BACK_VERBS: Final = frozenset("""cut cutting come coming came go going went get getting got call calling called look
looking looked bring bringing brought fall falling fell set put sit sitting sat lay laid hold holding held pull pulled
push pushed give giving gave turn turned write wrote talk talked hear heard way me you him her us them it that this
scale scaling scaled pay paid head heading headed move moving moved step stepped""".split())


#: a finding word followed by one of these words is not that finding
_NOT_A_FINDING: Final = {"cut": frozenset("back down out off".split()),
                         "red": frozenset("bull wine meat light flag flags".split()),
                         "cold": frozenset("turkey".split()),
                         "burn": frozenset("off out".split()),
                         "swell": frozenset("guy".split()),
                         "exhausting": frozenset("all non nonoperative conservative other options measures the".split())}


def _phrasal_back(toks: list[str], s: int, term: Term) -> bool:
    """Whether the match at ``s`` is the word "back" used as an adverb."""
    return toks[s] == "back" and s > 0 and toks[s - 1] in _BACK_VERBS and term.category == "anatomy" \
        and (s + 1 >= len(toks) or toks[s + 1] not in ("pain", "ache", "injury", "spasm", "spasms", "muscles"))


class Unit:
    """One analysed piece of text (a transcript turn or a note claim)."""

    __slots__ = ("text", "norm", "toks", "sts", "matches", "_offs", "_marks", "_pairs", "_nums", "_anat")

    def __init__(self, text: str, lx: Lexicon | None = None):
        self.text = text
        self.norm = normalize(text)
        self.toks = tokenize(self.norm)
        self.sts = stems(self.toks)
        self.matches: list[tuple[int, int, Term]] = (lx or lexicon()).match(self.sts)
        if "back" in self.toks:  # "cut back on caffeine", "come back in two weeks": not the body part
            self.matches = [m for m in self.matches if not _phrasal_back(self.toks, m[0], m[2])]
        if not _NOT_A_FINDING.keys().isdisjoint(self.toks):  # "cut back", "red bull", "cold turkey"
            toks = self.toks
            self.matches = [m for m in self.matches if not (m[1] - m[0] == 1 and m[1] < len(toks)
                                                            and toks[m[1]] in _NOT_A_FINDING.get(toks[m[0]], ()))]
        self._offs: list[int] | None = None
        self._marks: dict[int, str] | None = None
        self._pairs: list[tuple[str, str, int, int]] | None = None
        self._nums: list | None = None
        self._anat: list | None = None

    def anatomy(self) -> list[tuple[int, int, Term]]:
        """Body-part matches (anatomy terms only, also inside "knee pain"), cached."""
        if self._anat is None:
            anat = lexicon().anatomy.match(self.sts)  # type: ignore[union-attr]
            if "back" in self.toks:
                anat = [m for m in anat if not _phrasal_back(self.toks, m[0], m[2])]
            self._anat = anat
        return self._anat

    def numbers(self) -> list:
        """The checkable numbers of this text (:func:`evalkit.grounding.numbers.note_numbers`, cached)."""
        if self._nums is None:
            self._nums = note_numbers(self.text)
        return self._nums

    def offsets(self) -> list[int]:
        """Character offset (in ``norm``) of every token."""
        if self._offs is None:
            # tokens are found left to right and the text between them holds no letter or digit,
            # so each token's first occurrence after the previous one is where it was found
            offs: list[int] = []
            find, i = self.norm.find, 0
            for t in self.toks:
                i = find(t, i)
                offs.append(i)
                i += len(t)
            self._offs = offs
        return self._offs

    def marks(self) -> dict[int, str]:
        """Context category of every token a ConText trigger reaches (cached).

        A forward trigger reaches its first finding across at most a few free words, then
        carries on through the list that follows ("no fever, chills or night sweats",
        "denies weight gain or loss, fevers, chills"; see :func:`_forward_scope`) and stops
        at a new clause, clause punctuation or a terminating trigger ("no fever some chills"
        negates fever only). Backward triggers reach back over findings joined by connectors.
        """
        if self._marks is not None:
            return self._marks  # type: ignore[return-value]
        marks: dict[int, str] = {}
        toks = self.toks
        trig = triggers(toks) if may_have_triggers(toks) else []
        if trig:
            offs = self.offsets()
            n = len(toks)
            brk = [False] * (n + 1)  # clause punctuation right before token j
            sep_at = [False] * (n + 1)  # a comma or slash right before token j: a list separator
            for m in _ANY_PUNCT.finditer(self.norm):
                if m.group() in ",/":
                    sep_at[bisect_left(offs, m.start())] = True
                else:
                    brk[bisect_left(offs, m.start())] = True
            term_at = {t.start for t in trig if t.direction == "terminate"}
            concept_at = {s: (e, t.category) for s, e, t in self.matches}
            end_at = {e - 1: (s, t.category) for s, e, t in self.matches}
            rank = _RANK

            def mark(a: int, b: int, cat: str) -> None:
                for k in range(a, b):
                    old = marks.get(k)
                    if old is None or rank.get(cat, 9) < rank.get(old, 9):
                        marks[k] = cat

            for t in trig:
                if t.direction == "forward":
                    _forward_scope(t, toks, brk, sep_at, term_at, concept_at, mark)
                elif t.direction == "backward":
                    j = t.start - 1
                    free, seen = 0, False
                    while j >= 0:
                        if brk[j + 1] or j + 1 in term_at:
                            break
                        hit = end_at.get(j)
                        if hit is not None:
                            s0, cat = hit
                            if cat != "anatomy":
                                mark(s0, j + 1, t.category)
                                seen = True
                            j = s0 - 1
                            continue
                        if toks[j] in CONNECTORS:
                            j -= 1
                            continue
                        if seen:
                            break
                        free += 1
                        if free > t.max_free:
                            break
                        j -= 1
        self._marks = marks  # type: ignore[assignment]
        return marks

    def polarity(self, tok_index: int) -> str:
        """``negated``, ``affirmed``, ``family``, ``historical`` or ``possible`` for a token."""
        cat = self.marks().get(tok_index)
        if cat is None:
            return AFF
        if cat == HYPO:
            return POSS
        return cat

    def lateral_pairs(self) -> list[tuple[str, str, int, int]]:
        """``(side, anatomy concept, side token index, anatomy token index)`` for each lateralised body part."""
        if self._pairs is None:
            self._pairs = _lateral_pairs(self)
        return self._pairs


def _forward_scope(t, toks: list[str], brk: list[bool], sep_at: list[bool], term_at: set[int],
                   concept_at: dict[int, tuple[int, str]], mark) -> None:
    """Mark what a forward trigger reaches: its first finding, then the rest of the list.

    A list carries the negation over all its items ("denies chest pain with exertion,
    shortness of breath, or palpitations"; "no A, B, or C"): items are separated by commas,
    slashes or and/or, and an item may hold a few words besides its finding. The scope stops
    at clause punctuation, a terminating trigger, a word that starts a new clause
    (:data:`LIST_STOP`), an item with too many other words, or a second finding inside the
    same item with other words before it ("no fever some chills" negates fever only).
    """
    n = len(toks)
    j = t.end
    free = item_words = 0
    seen = sep = prep = False
    while j < n:
        if brk[j] or j in term_at:
            break
        if seen and sep_at[j]:
            sep, item_words, prep = True, 0, False
        hit = concept_at.get(j)
        if hit is not None:
            e, cat = hit
            if cat != "anatomy":
                if seen and not sep and item_words:
                    break
                if not (prep and (item_words or free)):  # "drainage from the wound": the wound is not denied
                    mark(j, e, t.category)
                seen, sep, item_words, prep = True, False, 0, False
            j = e
            continue
        tok = toks[j]
        if seen:
            if tok in _JOINERS:
                sep, item_words, prep = True, 0, False
                j += 1
                continue
            if tok in _MODIFIER_PREP and item_words and toks[j - 1] not in _PASS_HEADS:
                prep = True
            if tok in LIST_STOP or tok[0].isdigit():
                break
            if tok not in CONNECTORS:
                item_words += 1
                if item_words > LIST_ITEM_WORDS:
                    break
            j += 1
            continue
        if free and tok in _ABOUT_PREP:
            break
        if free and tok in _MODIFIER_PREP and toks[j - 1] not in _PASS_HEADS:
            prep = True
        if tok not in CONNECTORS:
            free += 1
            if free > t.max_free:
                break
        j += 1


def _no_punct_between(u: Unit, i: int, j: int) -> bool:
    offs = u.offsets()
    a, b = (i, j) if i < j else (j, i)
    if b >= len(offs):
        return False
    return not _PUNCT.search(u.norm, offs[a], offs[b])


def _lateral_pairs(u: Unit) -> list[tuple[str, str, int, int]]:
    toks = u.toks
    if _SIDES.isdisjoint(toks):
        return []
    lx = lexicon()
    anat = {s: t for s, e, t in u.anatomy()}
    out: list[tuple[str, str, int, int]] = []
    n = len(toks)
    for i in compress(range(n), map(_SIDES.__contains__, toks)):  # side words only (C-level scan)
        tok = toks[i]
        side = LATERALITY[tok]
        if tok == "right" and i > 0 and toks[i - 1] in ("all", "alright", "that's", "is", "okay", "yeah"):
            continue
        found = None
        j = i + 1
        while j < n and j <= i + 5:
            if j in anat:
                found = j
                break
            if toks[j] not in _SIDE_SKIP:
                break
            j += 1
        if found is None and i >= 2 and toks[i - 1] == "the" and toks[i - 2] in ("on", "to", "in"):
            # "knee on the right", "pain in the left" -> look back for the body part
            for j in range(i - 3, max(-1, i - 8), -1):
                if j in anat:
                    found = j
                    break
        if found is None and tok == "both":
            continue
        if found is not None and _no_punct_between(u, i, found):
            out.append((side, anat[found].canonical, i, found))
    return out


def concept_polarities(unit: Unit) -> list[tuple[Term, str, int]]:
    """Each lexicon concept in the unit with its polarity and token index."""
    return [(t, unit.polarity(s), s) for s, e, t in unit.matches]
