"""Turn spoken utterances into third-person clinical sentences, word for word where it matters.

Only grammatical person and fillers change: every clinical word, number, unit, negation and
laterality is copied as spoken. ``i``/``my`` (patient) and ``you``/``your`` (clinician) become
the patient's pronouns, and verbs after a changed subject are conjugated to match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._lexicon import FILLER


@dataclass(frozen=True)
class Pronouns:
    """The patient's pronouns: subject, object, possessive, reflexive, possessive pronoun; plural verbs."""

    subj: str = "they"
    obj: str = "them"
    poss: str = "their"
    refl: str = "themselves"
    pposs: str = "theirs"
    plural: bool = True

    @classmethod
    def parse(cls, spec: str | None) -> "Pronouns":
        """From a persona's ``pronouns`` field (``she/her``, ``he/him``, ``they/them``)."""
        s = (spec or "").strip().lower()
        if s.startswith("she"):
            return cls("she", "her", "her", "herself", "hers", False)
        if s.startswith("he"):
            return cls("he", "him", "his", "himself", "his", False)
        return cls()


_FIXED = {
    "gon na": "going to", "gonna": "going to", "wan na": "want to", "wanna": "want to", "got ta": "have to",
    "gotta": "have to", "ca n't": "cannot", "can't": "cannot", "wo n't": "will not", "won't": "will not",
    "ai n't": "is not", "ain't": "is not", "sha n't": "shall not", "let's": "let us", "y'all": "you",
    "kinda": "kind of", "sorta": "sort of", "'cause": "because", "cause": "because", "cuz": "because",
}
_FIXED_RX = re.compile(r"(?:\b|(?<=\s)(?='))(?:" + "|".join(re.escape(k) for k in sorted(_FIXED, key=len, reverse=True))
                       + r")\b", re.I)
_PRON_RX = re.compile(r"\b(i|you|we|they|she|he|it)\s?'(re|ve|ll|d|m)\b", re.I)
_PRON_EXP = {"re": "are", "ve": "have", "ll": "will", "d": "would", "m": "am"}
_NT_RX = re.compile(r"\s?n't\b", re.I)


def _expand(t: str) -> str:
    t = _FIXED_RX.sub(lambda m: _FIXED[m.group(0).lower()], t)
    if "'" in t:
        t = _PRON_RX.sub(lambda m: f"{m.group(1)} {_PRON_EXP[m.group(2).lower()]}", t)
        t = _NT_RX.sub(" not", t)
    return t


_STUTTER = re.compile(r"\b[a-z]{1,4}-\s+(?=[a-z])", re.I)
_SPACE_PUNCT = re.compile(r"\s+([,.?!;:%])")
_ELLIPSIS = re.compile(r"\s*(?:\.\s*){2,}|\s*…")


_NUMW = (r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|"
         r"fifty|sixty|seventy|eighty|ninety|hundred)")
_POINT_GAP = re.compile(r" \. (?=(?:zero|one|two|three|four|five|six|seven|eight|nine)\b)")
_NUMW_END = re.compile(r"\b" + _NUMW + r"$", re.I)


def _spoken_points(t: str) -> str:
    """ACI-Bench writes a spoken decimal as "ninety seven . two": make it "ninety seven point two"."""
    out, last = [], 0
    for m in _POINT_GAP.finditer(t):
        if _NUMW_END.search(t, max(0, m.start() - 12), m.start()):
            out.append(t[last:m.start()] + " point ")
            last = m.end()
    return "".join(out) + t[last:] if out else t


_FREQ = (r"(?:(?:once|twice|three times|four times|\w+ times) (?:a|per|every) (?:day|week|month|night)|"
         r"(?:in the|every) (?:morning|evening|afternoon)|at (?:night|bedtime)|every \w+ hours|as needed|"
         r"(?:once |twice )?daily|weekly|monthly|\w+ times)")
_NUM_TOKEN = r"(?:\d+(?:\.\d+)?|" + _NUMW + r"(?:[ -]" + _NUMW + r")?)"
# a spoken self-correction: "about seven — no, eight", "in the morning — no, sorry, once a day"
_SELF_CORRECTION = re.compile(r"(?:" + _FREQ + r"|" + _NUM_TOKEN + r"|[\w'/-]+)\s*(?:—|--)\s*no,?\s+"
                              r"(?:(?:sorry|actually|i mean|wait),?\s+)*", re.I)


def resolve_self_corrections(text: str) -> str:
    """Keep what the speaker corrected to: "about seven — no, eight drinks" → "about eight drinks".

    Args:
        text: an utterance.
    """
    if "—" not in text and "--" not in text:
        return text
    return _SELF_CORRECTION.sub("", text)


_REPEATABLE = frozenset("""i the a an and to that it you my we so is of in on your this but for with or he she they no
    have has was are""".split())


def _group1(m: re.Match[str]) -> str:
    return m.group(1)


def _dedupe(t: str) -> str:
    """Drop a function word said twice in a row ("i i", "the the", "no, no")."""
    words = t.split(" ")
    out: list[str] = []
    prev = ""
    for w in words:
        key = w.lower().rstrip(",")
        if key == prev and key in _REPEATABLE:
            out[-1] = w  # keep the later one with its punctuation: "no, no issues" → "no issues"
            continue
        out.append(w)
        prev = key
    return " ".join(out)


def normalise(text: str) -> str:
    """Tidy ACI-Bench tokenisation (``do n't``, ``gon na``, `` , ``), stutters and fillers; expand contractions.

    Args:
        text: one utterance as transcribed.
    """
    t = resolve_self_corrections(text)
    if " . " in t:
        t = _spoken_points(t)
    if ".." in t or "…" in t:
        t = _ELLIPSIS.sub(", ", t)
    t = _SPACE_PUNCT.sub(_group1, t)
    t = _expand(t)
    if "- " in t:
        t = _STUTTER.sub("", t)
    t = FILLER.sub("", t)
    t = _dedupe(t)
    if ",," in t or ", ," in t:
        t = re.sub(r",(?:\s*,)+", ",", t)
    t = " ".join(t.split()).strip(" ,;-")
    return t


_ADVERBS = frozenset("""really just still also usually always never sometimes only even actually definitely probably
    mostly normally generally typically already often rarely barely recently kind sort pretty certainly honestly
    currently occasionally constantly literally basically totally def then both all""".split())
_MODALS = frozenset("can could will would should might may must shall cannot did does".split())
_PAST = frozenset("""was were had did took went got felt thought saw made came began ran fell broke bought brought
    caught told said knew gave left lost found kept slept woke wrote drove ate drank sat stood heard meant put cut
    hit quit set let read spent sent built became forgot understood threw wore paid""".split())
_FUNCTION = frozenset("""the a an to and but so because that it of in on at for with from as or if when than this
    these those there here not no yes just also well my your his her their our its me him them us some any every
    what which who how where why like about""".split())
_VERB_NEXT = frozenset("""are were have had do did can could will would should might may must need know want feel get
    got take took also just still really may definitely probably seem seemed look looked""".split()) | _ADVERBS
_OBJ_PREV = frozenset("""see let make help have want need tell ask watch hear get give send put place start continue
    keep call for to with at on of about from by than into onto upon around behind""".split())
_SUBJ_PREV = frozenset("""and but so that if when because since as then or now okay alright while until unless where
    how what why though although once whether think guess know feel time ago day night week today yesterday after
    before""".split())


def _conj(word: str, plural: bool) -> str:
    w = word.lower()
    if plural:
        return {"am": "are", "was": "were"}.get(w, word)
    irregular = {"am": "is", "are": "is", "have": "has", "do": "does", "go": "goes", "were": "was"}
    if w in irregular:
        return irregular[w]
    if (w in _MODALS or w in _PAST or w in _FUNCTION or w.endswith(("ed", "ing", "s")) or not w.isalpha()
            or len(w) < 2):
        return word
    if w.endswith(("sh", "ch", "x", "z", "o")):
        return word + "es"
    if w.endswith("y") and w[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


_WORD = re.compile(r"([A-Za-z][A-Za-z']*)")


class _Words:
    """A text as words and the separators between them; words change, spacing and symbols do not."""

    def __init__(self, text: str):
        self.parts = _WORD.split(text)  # even indices: separators, odd: words
        self.n = len(self.parts) // 2

    def get(self, i: int) -> str:
        return self.parts[2 * i + 1] if 0 <= i < self.n else ""

    def set(self, i: int, word: str) -> None:
        self.parts[2 * i + 1] = word

    def glued(self, i: int) -> bool:
        """Whether word i follows word i-1 with only spaces between (no punctuation)."""
        return i > 0 and not self.parts[2 * i].strip()

    def text(self) -> str:
        return "".join(self.parts)


def _apply_subject(w: _Words, i: int, subj: str, plural: bool) -> None:
    """Replace word i with ``subj`` and conjugate the verb that follows (skipping adverbs)."""
    w.set(i, subj)
    j = i + 1
    while j < w.n and w.glued(j) and w.get(j).lower() in _ADVERBS:
        j += 1
    if j >= w.n or not w.glued(j):
        return
    if w.get(j).lower() == "not":
        return
    w.set(j, _conj(w.get(j), plural))


def patient_voice(text: str, p: Pronouns) -> tuple[str, bool]:
    """First person → third person. Returns (clause, starts_with_patient_subject).

    The first ``i`` at the very start becomes ``the patient``; others become the pronoun.

    Args:
        text: a normalised patient utterance (contractions expanded).
        p: the patient's pronouns.
    """
    w = _Words(text)
    lead = False
    for i in range(w.n):
        low = w.get(i).lower()
        if low == "i":
            if i == 0 and not w.parts[0].strip():
                _apply_subject(w, i, "the patient", False)
                lead = True
            else:
                _apply_subject(w, i, p.subj, p.plural)
        elif low == "me":
            w.set(i, p.obj)
        elif low == "my":
            w.set(i, p.poss)
        elif low == "myself":
            w.set(i, p.refl)
        elif low == "mine":
            w.set(i, p.pposs)
    return w.text(), lead


def clinician_voice(text: str, p: Pronouns) -> str:
    """Second person (the patient addressed) → third person; the clinician's ``i`` stays ``I``.

    Args:
        text: a normalised clinician utterance (contractions expanded).
        p: the patient's pronouns.
    """
    w = _Words(text)
    for i in range(w.n):
        low = w.get(i).lower()
        if low == "you":
            prev = w.get(i - 1).lower() if w.glued(i) else ""
            nxt = w.get(i + 1).lower() if w.glued(i + 1) else ""
            verb_next = nxt in _VERB_NEXT or nxt in _PAST or (nxt.endswith("ed") and len(nxt) > 3)
            if prev not in _OBJ_PREV and (verb_next or not prev or prev in _SUBJ_PREV):
                _apply_subject(w, i, p.subj, p.plural)
            else:
                w.set(i, p.obj)
        elif low == "your":
            w.set(i, p.poss)
        elif low == "yours":
            w.set(i, p.pposs)
        elif low == "yourself":
            w.set(i, p.refl)
        elif low == "i":
            w.set(i, "I")
    return w.text()


def sentence(text: str) -> str:
    """Capitalise the first letter and end with one full stop (or keep ? / !)."""
    t = text.strip(" ,;:-")
    if not t:
        return t
    t = t[0].upper() + t[1:]
    if t[-1] not in ".!?":
        t += "."
    elif t[-1] == "?":
        t = t[:-1].rstrip() + "."
    return t
