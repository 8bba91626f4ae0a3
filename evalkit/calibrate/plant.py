"""Plant one known error in a note, for measuring how well a judge catches it.

Each kind is a realistic scribe error, made by editing one sentence of a real note so
the rest of the note stays as written:

- ``fabricated_medication``: a medication named in the note is replaced by a drug never
  said in the consultation (or, when the note names none, a new plan sentence starts one);
- ``fabricated_dose``: a dose ("40 mg") is changed to another plausible dose;
- ``changed_number``: another number said in the consultation (age, duration, vital,
  result) is changed;
- ``fabricated_history``: a condition never discussed is added to the history;
- ``laterality_swap``: left and right are swapped in a sentence that names a side;
- ``negation_flip``: a denied finding becomes reported, or a reported one denied;
- ``deleted_plan_item``: a plan sentence that says something no other sentence says is
  removed (an omission).

The planter uses the shared term lists (``evalkit.text.vocab``) and plain word matching, not
the grounding judge's internals, so the judge is not graded on its own definitions.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from ..text import vocab
from ..schema import Note, NoteSection, NoteSentence, Turn

KINDS = ("fabricated_medication", "fabricated_dose", "changed_number", "fabricated_history",
         "laterality_swap", "negation_flip", "deleted_plan_item")

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+")
_STOP = frozenset("""a an the and or but of to in on at by for with from is are was were be been has have had
do does did he she they we i you it this that his her their our my your patient will would should can could
not no also any some as well than then there here today about after before which who""".split())
_DOSE_RE = re.compile(r"\b(\d+(?:\.\d+)?)(\s*)(mg|mcg|g|units?|ml|mEq|IU|milligrams?|micrograms?)\b", re.I)
_NUM_RE = re.compile(r"(?<![\w/.:-])(\d+(?:\.\d+)?)(?![\w/:]|\.\d|-\d)")
_SIDE_RE = re.compile(r"\b(left|right|Left|Right|LEFT|RIGHT)\b")
_ACTION_RE = re.compile(
    r"\b(?:will|plan to|should|order(?:ed)?|schedul\w*|start|starting|continue|refer(?:red)?|prescrib\w*|"
    r"recommend(?:ed)?|advised|follow(?:-| )?up (?:in|with)|obtain|increase|decrease|discontinue|stop|"
    r"initiate|repeat|return|begin|hold|resume)\b", re.I)
_NOT_PLAN_ITEM = re.compile(r"\b(?:presents?|agrees?|understands?|reports?|reasoning|discussed|is a \d+)\b", re.I)
_NO_ACTION = re.compile(r"\b(?:do not|don't|does not|no need|not necessary|not needed|not recommended)\b", re.I)
_GENERIC_PLAN = frozenset("""patient will would should take continue encouraged advised recommend recommended
follow discussed plan start order ordered also today time weeks week months month days needed directed well
agree agrees treatment medical additional testing education counseling instructed""".split())
_NOT_FINDING = re.compile(r"\s*(?:that|taking|having|to|a possibility|possibility|the possibility|any medication|a \d|\d)\b")
_NEGATED = re.compile(r"\b(?:denies|denied|deny|no|not|negative|without|never|none)\b", re.I)
_PLAN_SECTION = re.compile(r"plan|instruction|recommend|treatment|disposition", re.I)
_HISTORY_SECTION = re.compile(r"history|subjective|hpi|present_illness|pmh|background", re.I)

# negation flips: (pattern, replacement); each one turns a denial into a report or back
_NEG_TO_AFF = [
    (re.compile(r"\b(?:[Tt]he patient |[Ss]he |[Hh]e |[Pp]atient )?([Dd])enies(?: any)?\b"),
     lambda m: m.group(0).replace("denies any", "reports").replace("Denies any", "Reports")
     .replace("denies", "reports").replace("Denies", "Reports")),
    (re.compile(r"\b([Dd])enied(?: any)?\b"), lambda m: "Reported" if m.group(1) == "D" else "reported"),
    (re.compile(r"\b([Nn])egative for\b"), lambda m: "Positive for" if m.group(1) == "N" else "positive for"),
    (re.compile(r"\b([Nn])o (?:signs?|evidence) of(?: any)?\b"), lambda m: "Evidence of" if m.group(1) == "N" else "evidence of"),
    (re.compile(r"\b([Tt])here (is|are|was|were) no\b"), lambda m: f"{m.group(1)}here {m.group(2)}"),
    (re.compile(r"\bwithout(?: any)?\b"), lambda m: "with"),
    (re.compile(r"^No (?:significant |acute |obvious )?([a-z])"), lambda m: m.group(1).upper()),
    (re.compile(r"\b(does|did|do) not (have|report|endorse|experience|notice)\b"),
     lambda m: {"have": "has", "report": "reports", "endorse": "endorses", "experience": "experiences",
                "notice": "notices"}[m.group(2)] if m.group(1) == "does" else m.group(2) + ("d" if m.group(2).endswith("e") else "ed")),
    (re.compile(r"\bno\b(?! longer| further| change| changes| new)"), lambda m: "some"),
]
_AFF_TO_NEG = [
    (re.compile(r"\b([Rr])eports\b"), lambda m: "Denies" if m.group(1) == "R" else "denies"),
    (re.compile(r"\b([Ee])ndorses\b"), lambda m: "Denies" if m.group(1) == "E" else "denies"),
    (re.compile(r"\b([Cc])omplains of\b"), lambda m: "Denies" if m.group(1) == "C" else "denies"),
    (re.compile(r"\b([Pp])ositive for\b"), lambda m: "Negative for" if m.group(1) == "P" else "negative for"),
    (re.compile(r"\b([Ee])xperiencing\b"), lambda m: "Not experiencing" if m.group(1) == "E" else "not experiencing"),
    (re.compile(r"\b([Tt])here (is|are) (?!no\b)"), lambda m: f"{m.group(1)}here {m.group(2)} no "),
]


@dataclass
class PlantedError:
    """One planted error: what was changed, where."""

    kind: str
    sentence_id: str  # the changed (or deleted, or inserted) sentence
    original: str  # the sentence before ("" when a sentence was inserted)
    new: str  # the sentence after ("" when it was deleted)
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. {"from": "40", "to": "80"}

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "sentence_id": self.sentence_id, "original": self.original,
                "new": self.new, "detail": self.detail}


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _concept(term: str) -> str:
    """The synonym-group id of a term (brand and generic names, lay and clinical words share one)."""
    from ..grounding.lexicon import lexicon

    t = lexicon().find(term)
    return t.canonical if t is not None else term


def _said_concepts(turns: list[Turn]) -> set[str]:
    """Synonym-group ids of every term said in ``turns``: a planted term must not be a synonym of one."""
    from ..grounding.lexicon import lexicon, stems, tokens

    lx = lexicon()
    return {t.canonical for turn in turns for _, _, t in lx.match(stems(tokens(turn.text)))}


def _transcript_words(transcript: list[Turn]) -> set[str]:
    return {w for t in transcript for w in _words(t.text)}


def _has_term(words: list[str], text_lower: str, term: str) -> bool:
    if " " in term:
        return re.search(r"\b" + re.escape(term) + r"\b", text_lower) is not None
    return term in words


def _replace_sentence(note: Note, sid: str, new_text: str | None) -> Note:
    """A copy of ``note`` with sentence ``sid`` replaced (or removed when ``new_text`` is None)."""
    sections = []
    for sec in note.sections:
        sents = []
        for s in sec.sentences:
            if s.id == sid:
                if new_text is not None:
                    sents.append(s.model_copy(update={"text": new_text}))
            else:
                sents.append(s)
        sections.append(sec.model_copy(update={"sentences": sents}))
    return note.model_copy(update={"sections": sections})


def _append_sentence(note: Note, section_key: str, text: str) -> tuple[Note, str]:
    sections = []
    new_id = ""
    for sec in note.sections:
        if sec.key == section_key:
            new_id = f"{sec.key}.{len(sec.sentences)}"
            while any(s.id == new_id for s in sec.sentences):
                new_id += "b"
            sec = sec.model_copy(update={"sentences": list(sec.sentences) + [NoteSentence(id=new_id, text=text)]})
        sections.append(sec)
    return note.model_copy(update={"sections": sections}), new_id


def _pick_section(note: Note, pattern: re.Pattern) -> NoteSection | None:
    for sec in note.sections:
        if pattern.search(sec.key) or pattern.search(sec.title or ""):
            return sec
    return None


def _drug_terms() -> list[str]:
    return sorted(d for d in vocab.drugs() if " " not in d and len(d) >= 6 and d.isalpha())


#: chronic diagnoses a fabricated history line would name
HISTORY_CONDITIONS = (
    "hypertension", "type 2 diabetes", "type 1 diabetes", "atrial fibrillation", "coronary artery disease",
    "congestive heart failure", "chronic obstructive pulmonary disease", "asthma", "hypothyroidism",
    "hyperthyroidism", "chronic kidney disease", "gout", "epilepsy", "rheumatoid arthritis", "osteoarthritis",
    "osteoporosis", "hyperlipidemia", "deep vein thrombosis", "pulmonary embolism", "stroke",
    "myocardial infarction", "crohn's disease", "ulcerative colitis", "celiac disease", "multiple sclerosis",
    "parkinson's disease", "bipolar disorder", "schizophrenia", "major depressive disorder",
    "generalized anxiety disorder", "obstructive sleep apnea", "psoriasis", "lupus", "hepatitis c",
    "hepatitis b", "hiv", "cirrhosis", "pancreatitis", "peptic ulcer disease", "diverticulitis",
    "glaucoma", "macular degeneration", "breast cancer", "prostate cancer", "colon cancer", "melanoma",
    "lymphoma", "leukemia", "sickle cell disease", "anemia", "migraine", "fibromyalgia", "sarcoidosis",
    "tuberculosis", "benign prostatic hyperplasia", "polycystic ovary syndrome", "endometriosis",
    "peripheral vascular disease", "aortic stenosis", "cardiomyopathy", "kidney stones", "gastroesophageal reflux disease",
)


def _condition_terms() -> list[str]:
    return sorted(HISTORY_CONDITIONS)


def plant_error(note: Note, transcript: list[Turn], kind: str,
                rng: random.Random) -> tuple[Note, PlantedError] | None:
    """Plant one error of ``kind`` in a copy of ``note``.

    Args:
        note: the clean note (not modified).
        transcript: the consultation's turns (a fabricated term must not be in them).
        kind: one of :data:`KINDS`.
        rng: the random source (seed it for a reproducible planting).

    Returns:
        ``(altered note, PlantedError)``, or None when the note offers no place for this
        kind of error (e.g. no sentence names a side).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")
    return _PLANTERS[kind](note, transcript, rng)


def _plant_medication(note: Note, transcript: list[Turn], rng: random.Random):
    said = _transcript_words(transcript)
    drugs = vocab.drugs()
    same = _said_concepts(transcript)
    candidates = [d for d in _drug_terms() if d not in said and d[:5] not in {w[:5] for w in said if len(w) >= 5}
                  and _concept(d) not in same]
    if not candidates:
        return None
    new_drug = rng.choice(candidates)
    spots = []
    for sec, s in note.sentences():
        low = s.text.lower()
        ws = _words(s.text)
        for d in sorted(drugs):  # sorted: the same seed plants the same error under any PYTHONHASHSEED
            if " " not in d and d in ws and d in said:
                spots.append((s, d))
    if spots:
        s, old = rng.choice(spots)
        m = re.search(r"\b" + re.escape(old) + r"\b", s.text, re.I)
        assert m is not None
        rep = new_drug.capitalize() if m.group(0)[0].isupper() else new_drug
        new_text = s.text[:m.start()] + rep + s.text[m.end():]
        return _replace_sentence(note, s.id, new_text), PlantedError(
            "fabricated_medication", s.id, s.text, new_text, {"from": old, "to": new_drug})
    sec = _pick_section(note, _PLAN_SECTION) or note.sections[-1]
    text = f"Start {new_drug} {rng.choice([5, 10, 20, 25, 50, 100])} mg daily."
    new_note, sid = _append_sentence(note, sec.key, text)
    return new_note, PlantedError("fabricated_medication", sid, "", text, {"to": new_drug, "inserted": True})


def _new_value(v: float, rng: random.Random, dose: bool) -> float:
    if dose:
        choices = [v * 2, v / 2, v * 4, v * 3, v * 10, v * 1.5]
    else:
        step = max(1.0, round(abs(v) * rng.choice([0.2, 0.3, 0.5]))) if v >= 3 else rng.choice([1.0, 2.0, 3.0])
        choices = [v + step, v - step if v - step > 0 else v + 2 * step]
    nv = rng.choice(choices)
    if v == int(v):
        nv = round(nv) if nv >= 1 else round(nv, 2)
    else:
        nv = round(nv, 1)
    if nv == v or nv <= 0:
        nv = v + 1 if v == int(v) else round(v + 0.5, 1)
    return nv


def _fmt(v: float) -> str:
    return str(int(v)) if v == int(v) else f"{v:g}"


def _plant_dose(note: Note, transcript: list[Turn], rng: random.Random):
    spots = [(s, m) for _, s in note.sentences() for m in _DOSE_RE.finditer(s.text)]
    if not spots:
        return None
    s, m = rng.choice(spots)
    old = float(m.group(1))
    nv = _fmt(_new_value(old, rng, dose=True))
    new_text = s.text[:m.start(1)] + nv + s.text[m.end(1):]
    return _replace_sentence(note, s.id, new_text), PlantedError(
        "fabricated_dose", s.id, s.text, new_text, {"from": m.group(1), "to": nv, "unit": m.group(3)})


def _spoken_numbers(transcript: list[Turn]) -> set[str]:
    from ..grounding.numbers import spoken_decimals, transcript_numbers

    vals: set[float] = set()
    for t in transcript:
        vals |= transcript_numbers(_WORD.findall(spoken_decimals(t.text.lower())))
    return {_fmt(v) for v in vals}


def _plant_number(note: Note, transcript: list[Turn], rng: random.Random):
    said = _spoken_numbers(transcript)
    spots = []
    for _, s in note.sentences():
        for m in _NUM_RE.finditer(s.text):
            if _DOSE_RE.match(s.text, m.start()):
                continue  # doses are their own kind
            before, after = s.text[max(0, m.start() - 8):m.start()].lower(), s.text[m.end():m.end() + 6].lower()
            if re.search(r"(?:type|stage|grade|class)\s*$", before) or re.match(r"\s*(?:-|to|or)\s*\d", after) \
                    or re.search(r"\d\s*(?:-|to|or)\s*$", before):
                continue  # a name ("type 2 diabetes") or a range ("2 to 3 weeks"), not one quantity
            if m.group(1) in said and not re.match(r"\d{4}$", m.group(1)):
                spots.append((s, m))
    if not spots:
        return None
    s, m = rng.choice(spots)
    nv = _fmt(_new_value(float(m.group(1)), rng, dose=False))
    new_text = s.text[:m.start(1)] + nv + s.text[m.end(1):]
    return _replace_sentence(note, s.id, new_text), PlantedError(
        "changed_number", s.id, s.text, new_text, {"from": m.group(1), "to": nv})


def _plant_history(note: Note, transcript: list[Turn], rng: random.Random):
    said = _transcript_words(transcript)
    low_t = " ".join(t.text.lower() for t in transcript)
    note_low = " ".join(s.text.lower() for _, s in note.sentences())
    same = _said_concepts(transcript) | _said_concepts([Turn(id=0, speaker="OTHER", text=note_low)])
    cands = [c for c in _condition_terms()
             if not any(w in said for w in _words(c) if w not in _STOP and len(w) > 3)
             and c not in note_low and c not in low_t and _concept(c) not in same]
    if not cands:
        return None
    cond = rng.choice(cands)
    spots = [s for _, s in note.sentences()
             if re.search(r"history (?:significant )?(?:of|for) [a-z]", s.text, re.I)
             and not _NEGATED.search(s.text)]
    if spots:
        s = rng.choice(spots)
        m = re.search(r"history (?:significant )?(?:of|for) ", s.text, re.I)
        assert m is not None
        new_text = s.text[:m.end()] + cond + ", " + s.text[m.end():]
        return _replace_sentence(note, s.id, new_text), PlantedError(
            "fabricated_history", s.id, s.text, new_text, {"added": cond})
    sec = _pick_section(note, _HISTORY_SECTION) or note.sections[0]
    text = f"The patient also has a history of {cond}."
    new_note, sid = _append_sentence(note, sec.key, text)
    return new_note, PlantedError("fabricated_history", sid, "", text, {"added": cond, "inserted": True})


def _plant_laterality(note: Note, transcript: list[Turn], rng: random.Random):
    anatomy = {a for a in vocab.anatomy() if " " not in a}
    anatomy -= {"left", "right", "bilateral", "bilaterally", "upper", "lower", "side"}
    spots = []
    for _, s in note.sentences():
        sides = {m.group(1).lower() for m in _SIDE_RE.finditer(s.text)}
        if len(sides) != 1:
            continue
        ws = _words(s.text)
        ok = False
        for i, w in enumerate(ws):
            if w in ("left", "right") and any(x in anatomy or x in ("sided", "side", "extremity", "extremities")
                                                for x in ws[i + 1:i + 4]):
                ok = True
        if ok:
            spots.append(s)
    if not spots:
        return None
    s = rng.choice(spots)
    swap = {"left": "right", "right": "left", "Left": "Right", "Right": "Left", "LEFT": "RIGHT", "RIGHT": "LEFT"}
    new_text = _SIDE_RE.sub(lambda m: swap[m.group(1)], s.text)
    side = _SIDE_RE.search(s.text).group(1).lower()  # type: ignore[union-attr]
    return _replace_sentence(note, s.id, new_text), PlantedError(
        "laterality_swap", s.id, s.text, new_text, {"from": side, "to": swap[side]})


def _plant_negation(note: Note, transcript: list[Turn], rng: random.Random):
    conds = [c for c in vocab.conditions() if len(c) > 3]
    spots = []
    for _, s in note.sentences():
        for direction, rules in (("denied->reported", _NEG_TO_AFF), ("reported->denied", _AFF_TO_NEG)):
            for rx, rep in rules:
                m = rx.search(s.text)
                if not m:
                    continue
                # the cue must govern a finding: a condition or symptom within the next few words
                after = s.text[m.end():m.end() + 50].lower()
                if _NOT_FINDING.match(after):
                    continue  # "denies that ...", "denies taking ...", "there is a possibility ..."
                after_words = _words(after)[:4]
                window = " ".join(after_words)
                if any(_has_term(after_words, window, c) for c in conds):
                    spots.append((s, direction, rx, rep))
                    break
            else:
                continue
            break
    if not spots:
        return None
    s, direction, rx, rep = rng.choice(spots)
    new_text = rx.sub(rep, s.text, count=1)
    new_text = new_text[:1].upper() + new_text[1:]
    if new_text == s.text:
        return None
    return _replace_sentence(note, s.id, new_text), PlantedError(
        "negation_flip", s.id, s.text, new_text, {"direction": direction})


def content_words(text: str) -> set[str]:
    """Content words of a text (lower-case, no stopwords, no numbers)."""
    return {w for w in _words(text) if w not in _STOP and len(w) > 2 and not w.isdigit()}


def _plant_deletion(note: Note, transcript: list[Turn], rng: random.Random):
    said = _transcript_words(transcript)

    def in_plan(sec: NoteSection) -> bool:
        return bool(_PLAN_SECTION.search(sec.key) or _PLAN_SECTION.search(sec.title or ""))

    spots = []
    for sec, s in note.sentences():
        if not in_plan(sec) or not _ACTION_RE.search(s.text) or _NOT_PLAN_ITEM.search(s.text) \
                or _NO_ACTION.search(s.text):
            continue
        mine = content_words(s.text)
        rest: set[str] = set()
        for sec2 in note.sections:
            if in_plan(sec2):
                for s2 in sec2.sentences:
                    if s2.id != s.id:
                        rest |= content_words(s2.text)
        unique = {w for w in mine - rest - _GENERIC_PLAN if w in said and len(w) > 3}
        if len(unique) >= 2:
            spots.append(s)
    if not spots:
        return None
    s = rng.choice(spots)
    return _replace_sentence(note, s.id, None), PlantedError("deleted_plan_item", s.id, s.text, "", {})


_PLANTERS = {
    "fabricated_medication": _plant_medication,
    "fabricated_dose": _plant_dose,
    "changed_number": _plant_number,
    "fabricated_history": _plant_history,
    "laterality_swap": _plant_laterality,
    "negation_flip": _plant_negation,
    "deleted_plan_item": _plant_deletion,
}
