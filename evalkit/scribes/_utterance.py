"""Utterances: turns cut into sentence-sized segments, and what a yes/no question asks about.

Used by :mod:`evalkit.scribes._classify`; patterns here work on normalised lower-case text
(contractions expanded by :func:`evalkit.scribes._phrasing.normalise`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..schema import SpeakerRole, Turn
from . import _lexicon as L
from ._phrasing import Pronouns, clinician_voice, normalise


@dataclass
class Segment:
    """One sentence-sized piece of a turn, normalised (contractions expanded)."""

    turn_id: int
    speaker: SpeakerRole
    text: str
    low: str
    question: bool


_SPLIT = re.compile(r"(?<=[.?!])\s+")
_ABBREV_END = re.compile(r"(?:^|\s)(?:dr|mr|mrs|ms|st|vs|e\.g|i\.e)\.$", re.I)


def split_sentences(text: str) -> list[str]:
    """Split at sentence ends, but not after "Dr." and the like."""
    out: list[str] = []
    for part in _SPLIT.split(text):
        if out and _ABBREV_END.search(out[-1]):
            out[-1] += " " + part
        else:
            out.append(part)
    return out
_TAGS = (r"(?:okay|ok|alright|all right|right|yeah|you know|does that sound good|sound good|does that make sense|"
         r"is that (?:okay|ok|alright|all right)|if that is okay|got it|how does that sound|sound okay)")
# a tag question at the end ("..., okay?"); without punctuation only the unambiguous ones ("right" may be a side)
_TAG_Q = re.compile(r"(?:,\s*" + _TAGS + r"\s*[?.]?|\s+" + _TAGS + r"\s*\?|\s+(?:okay|alright|all right|how does that sound|"
                    r"does that sound good|does that make sense|sound good))\s*$", re.I)
_DRAGON = re.compile(r"^(?:(?:all right|alright|okay|ok|so|and),?\s*)*(?:hey|okay),?\s*dragon,?\s*", re.I)
# discourse words before the content; "well", "good", "right"... only with a comma ("Good air entry" stays)
LEAD = re.compile(r"^(?:(?:and|so|okay|ok|now|alright|all right|um|uh|but|then|also|yeah)\b[,.]?\s+"
                  r"|(?:well|oh|great|good|perfect|got it|i see|right|excellent|wonderful)[,.!]\s+)+", re.I)
YESNO = re.compile(r"^(?:do|does|did|are|is|was|were|have|has|had|can|could|would|will|any|anything|no|"
                    r"you (?:are|have|were|had|do|did|still))\b", re.I)
_Q_PATTERNS = [
    (re.compile(r"^(?:do|did|have|has) you (?:ever |still |currently |also |recently )?(?P<v>have|had|get|got|"
                r"notice|noticed|experience|experienced|been having|been experiencing|having|feel|felt|been feeling|"
                r"see|seen)\b(?: any)?\s*(?P<x>.+)", re.I), "have"),
    (re.compile(r"^(?:(?:are|were) you|you (?:are|were)) (?P<adv>still |currently |also )?(?P<v>taking|using|on)\s+"
                r"(?P<x>.+)", re.I), "take"),
    (re.compile(r"^(?P<x>no\b.+)", re.I), "any"),
    (re.compile(r"^(?:are|were) you (?:still |currently )?(?P<v>having|experiencing|getting|feeling)\s+(?:any\s+)?"
                r"(?P<x>.+)", re.I), "have"),
    (re.compile(r"^(?:have|has) you (?P<x>(?:ever |recently |already )?[a-z]+ed\b.+)", re.I), "having"),
    (re.compile(r"^(?:any(?:thing)?|no)\s+(?P<o>(?:other|new|more)\s+)?(?P<k>(?:symptoms|problems|issues|history),?\s+"
                r"(?:(?:like|such as|of|with|in)\s+)?)?(?P<x>.+)", re.I), "any"),
]
_X_TAIL = re.compile(r"[,\s]*(?:(?:or|and) )?(?:anything|something|any of that|stuff)(?: else)?(?: like that)?\s*$"
                     r"|\s+at all\s*$|[,\s]*or not\s*$|\s+(?:that )?(?:i|we) should know(?: about)?\s*$", re.I)
PLAN_LEAD = re.compile(
    r"^(?:(?:and|so|but|okay|now|alright|then|also)\s+)*(?:(?:the|my) plan (?:is|would be),?\s+(?:to\s+)?)?"
    r"(?:i am (?:also )?going to|i (?:do |also |really )?want to|"
    r"i would (?:also )?like to|we are (?:also )?going to|we will(?: also)?|let us|i will(?: also)?|"
    r"the plan (?:is|would be) to|so the plan is(?: to)?|my plan is to|plan is to|what i would like to do is)"
    r"(?:\s+(?:also|just|go ahead and|probably|definitely))*\s+", re.I)
YOU_TO = re.compile(r"^(?:(?:and|so|but|okay|now|alright|then|also)\s+)*i (?:do |also |really )?(?:(?:want|would like)"
                     r" you to|(?:would )?(?:suggest|recommend|advise)(?: that)? you(?: to)?)\s+", re.I)
# "what we are going to do is ...", "what that means is ...": statements, not questions
_PSEUDO_CLEFT = re.compile(r"^(?:(?:and|so|okay|ok|now|alright|all right|um|uh|well|but|then|also)[, ]+)*"
                           r"(?:what|how|when|where|why|which)\s+(?:i|we|you|he|she|they|it|that|this)\b"
                           r"(?! (?:is|are|was|were)\b)")
_TELL_ME = re.compile(r"^(?:(?:and|so|okay|now|right|alright)[, ]+)*(?:tell me|describe|talk me through|walk me through)\b")
ANNOUNCE = re.compile(r"\b(?:going to|want to|would like to|let me|let us|i will)\b", re.I)
SUBSTANTIVE = re.compile(r"[a-z]{3,}", re.I)
_GERUND = {"feel": "feeling", "felt": "feeling", "been feeling": "feeling", "notice": "noticing",
           "noticed": "noticing", "see": "seeing", "seen": "seeing", "get": "getting", "got": "getting"}
STRONG_DX = re.compile(r"\b(?:what we call|consistent with|diagnos\w+|concerned (?:that|for|about)|my impression|"
                        r"(?:showing|shows) signs of|suspect|most likely|i think (?:this|it|you) (?:is|are|has|have)|"
                       r"(?:this|it) (?:looks|sounds|seems) like|from what (?:you|he|she|they) (?:have|has) told me)\b", re.I)
FINDING_VERB = re.compile(r"\b(?:is|are|was|were|shows?|showed|looks?|have|has|appreciate|noted?|feel)\b", re.I)
ADVICE = re.compile(r"\b(?:you should|you need to|you will need to|(?:i would|i) (?:suggest|recommend|advise))\b", re.I)
EXAM_FINDING = re.compile(
    r"\b(?:you (?:seem|look|appear)|tender(?:ness)?|murmurs?|gallop|crackles|rales|rhonchi|"
    r"(?:mild |slight |some )?wheeze|edema|oedema|erythema\w*|"
    r"swollen|enlarged|exudates?|lymphadenopathy|effusion|clear to auscultation|regular rate|range of motion|reflexes|"
    r"(?:sounds?|looks?) (?:clear|normal|inflamed|red)|on (?:examination|exam)|saturation is|saturations are)\b", re.I)
PAST_TENSE = re.compile(r"\b(?:had|have had|has had|been|was|were|used to|ever)\b", re.I)
FOLLOW_UP = re.compile(r"\b(?:that|it|this|those|them|these)\b", re.I)
CONTINUES = re.compile(r"^(?:(?:and|so|but)\s+)?(?:it|this|that|which|they|these|there)\b(?! (?:is|was) (?:good|great|fine|okay))",
                        re.I)


def lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is an acronym or ``I``."""
    w = text.split(" ", 1)[0]
    if len(w) > 1 and w[1:2].islower():
        return text[:1].lower() + text[1:]
    return text


def segment_turn(turn: Turn) -> list[Segment]:
    """Split a turn into sentence-sized segments (long unpunctuated runs at discourse markers).

    Args:
        turn: one transcript turn.
    """
    text = normalise(turn.text)
    pieces: list[str] = []
    for part in split_sentences(text):
        unpunctuated = len(part.split()) >= 12 and not re.search(r"[,;:](?=\s)", part)
        pieces.extend(L.DISCOURSE.split(part) if unpunctuated else [part])
    out: list[Segment] = []
    for p in pieces:
        p = p.strip()
        tail = p[-48:]
        m = _TAG_Q.search(tail)
        if m:
            p = p[: len(p) - len(tail) + m.start()] + "."
        p = _DRAGON.sub("", p.strip(" ,;")).strip(" ,;")
        if not p:
            continue
        low = p.lower()
        question = p.endswith("?") or bool(L.QUESTION_START.match(low) and not low.endswith(".")
                                           and not _PSEUDO_CLEFT.match(low)) or bool(_TELL_ME.match(low))
        out.append(Segment(turn.id, turn.speaker, p, low, question))
    return out


def question_items(q: Segment, p: Pronouns) -> tuple[str, str] | None:
    """(kind, items) of a yes/no question: kind ``have``/``take``/``any``; items in third person."""
    body = LEAD.sub("", q.text).rstrip("?. ")
    for rx, kind in _Q_PATTERNS:
        m = rx.match(body)
        if m:
            x = _X_TAIL.sub("", m.group("x")).strip(" ,")
            if kind == "any" and m.groupdict().get("o") and not m.groupdict().get("k"):
                x = m.group("o") + x  # "any other allergies?" → "other allergies"
            if len(SUBSTANTIVE.findall(x)) == 0:
                return None
            v = m.groupdict().get("v") or ""
            ger = _GERUND.get(v.lower())
            if kind == "have" and ger:
                x = f"{ger} {x}"
            if kind == "having":
                kind, x = "have", "having " + x
            if kind == "take":
                x = f"{(m.group('adv') or '').strip()} {'taking' if v.lower() == 'on' else v} {x}".strip()
            return kind, clinician_voice(x, p)
    return None
