"""Parsing of transcripts and notes in the plain formats evalkit reads and writes.

- Transcripts: ACI-Bench style (``[doctor] ...`` one turn a line) or a list of
  ``{"speaker", "text"}``.
- Notes: plain text with upper-case section headings (``CHIEF COMPLAINT``, ``PLAN``...).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Final, Iterable

from ..errors import InputError
from ..security.limits import MAX_TRANSCRIPT_CHARS
from ..schema import Note, NoteSection, NoteSentence, SpeakerRole, Turn

_ROLE_WORDS: Final = {
    "doctor": SpeakerRole.CLINICIAN, "clinician": SpeakerRole.CLINICIAN, "dr": SpeakerRole.CLINICIAN,
    "physician": SpeakerRole.CLINICIAN, "nurse": SpeakerRole.CLINICIAN, "provider": SpeakerRole.CLINICIAN,
    "patient": SpeakerRole.PATIENT, "pt": SpeakerRole.PATIENT, "client": SpeakerRole.PATIENT,
}


def speaker_role(label: str) -> SpeakerRole:
    """Map a speaker label (``doctor``, ``PATIENT_0``, ``patient_guest``...) to a role."""
    s = label.strip().lower().strip("[]:")
    if s in _ROLE_WORDS:
        return _ROLE_WORDS[s]
    if s.startswith(("clinician", "doctor")):
        return SpeakerRole.CLINICIAN
    if s == "patient" or re.fullmatch(r"patient_?\d+", s):
        return SpeakerRole.PATIENT
    if s.upper() in SpeakerRole.__members__:
        return SpeakerRole[s.upper()]
    return SpeakerRole.OTHER


_TURN_LINE: Final = re.compile(r"^\s*\[([^\]]+)\]\s*(.*)$")
_TAGGED: Final = re.compile(r"^\s*\[[A-Za-z][A-Za-z0-9_ -]*\]", re.M)


def has_speaker_tags(text: str) -> bool:
    """True when ``text`` has ``[speaker]`` turn lines (ACI-Bench style), even if its first line lacks one."""
    return _TAGGED.search(text) is not None


def _untagged_role(lines: list[str], start: int) -> tuple[SpeakerRole, str]:
    """The role of an untagged first turn: the other party of the next tagged turn, else the clinician."""
    for line in lines[start:]:
        m = _TURN_LINE.match(line)
        if m:
            nxt = speaker_role(m.group(1))
            if nxt == SpeakerRole.CLINICIAN:
                return SpeakerRole.PATIENT, "the next turn is the clinician's"
            if nxt == SpeakerRole.PATIENT:
                return SpeakerRole.CLINICIAN, "the next turn is the patient's"
            break
    return SpeakerRole.CLINICIAN, "no patient/clinician tag follows"


def parse_transcript(value: Any, source: str = "transcript",
                     warn: Callable[[str], None] | None = None) -> list[Turn]:
    """Parse a transcript given as ACI-Bench text or as a list of ``{speaker, text}``.

    Args:
        value: ``[doctor] ...`` lines (a line without a tag continues the turn before it) or a
            list of ``{"speaker", "text", ["start", "end"]}``.
        source: where the transcript came from, for messages (file, row or line).
        warn: called with a one-line warning (no transcript text in it) when the text is taken
            with a repair: a first turn without a speaker tag is kept, its role inferred from the
            next tag (turns alternate) or taken as the clinician's. Default: the ``evalkit`` logger.
    """
    turns: list[Turn] = []
    size = 0
    if isinstance(value, str):
        size = len(value)
    elif isinstance(value, list):
        size = sum(len(str(item.get("text") or "")) for item in value if isinstance(item, dict))
    if size > MAX_TRANSCRIPT_CHARS:
        raise InputError(source, "transcript", f"is {size:,} characters, more than the {MAX_TRANSCRIPT_CHARS:,} "
                         "evalkit reads in one transcript", "split the consultation into parts")
    if isinstance(value, str):
        lines = value.splitlines()
        if value.strip() and not has_speaker_tags(value):
            raise InputError(source, "transcript", "has no [speaker] tags",
                             "start each turn with [doctor] or [patient], or give a list of {speaker, text}")
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            m = _TURN_LINE.match(line)
            if m:
                turns.append(Turn(id=len(turns), speaker=speaker_role(m.group(1)), text=m.group(2).strip()))
            elif turns:  # continuation of the previous turn
                prev = turns[-1]
                turns[-1] = prev.model_copy(update={"text": (prev.text + " " + line.strip()).strip()})
            else:  # a first turn with no tag (ACI-Bench test2 D2N131): keep it, infer who speaks
                role, how = _untagged_role(lines, n + 1)
                turns.append(Turn(id=0, speaker=role, text=line.strip()))
                msg = (f"{source}: transcript: first turn has no [speaker] tag — taken as the "
                       f"{role.value.lower()}'s ({how}); fix: start it with [doctor] or [patient]")
                if warn is None:
                    import logging

                    logging.getLogger("evalkit").warning(msg)
                else:
                    warn(msg)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, dict) or "text" not in item:
                raise InputError(source, f"transcript[{i}]", "each turn needs 'speaker' and 'text'",
                                 'use {"speaker": "doctor", "text": "..."}')
            for f in ("start", "end"):
                v = item.get(f)
                if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                    raise InputError(source, f"transcript[{i}].{f}", f"must be a number of seconds, got "
                                     f"{type(v).__name__}", f'give e.g. "{f}": 12.5, or leave it out')
            turns.append(Turn(id=len(turns), speaker=speaker_role(str(item.get("speaker", "other"))),
                              text=str(item["text"]).strip(),
                              start=item.get("start"), end=item.get("end")))
    else:
        raise InputError(source, "transcript", f"expected text or a list of turns, got {type(value).__name__}",
                         "give ACI-Bench text ('[doctor] ...' lines) or a list of {speaker, text}")
    if not turns or not any(t.text for t in turns):
        raise InputError(source, "transcript", "is empty", "give at least one turn with text")
    return turns


_HEADING: Final = re.compile(r"^\s*([A-Z][A-Z0-9 &/,()\-]{1,60}?)\s*:?\s*$")
_ABBREV: Final = r"(?:Dr|Mr|Mrs|Ms|St|vs|approx|e\.g|i\.e|etc|No|Fig|mg|mcg|ml|q\.d|b\.i\.d|t\.i\.d)"
# zero-width tests all hold at one place, so their order does not change the matches: the cheap
# "after . ! ?" test comes first (most places fail it), then "not after an abbreviation"
_SENT_SPLIT: Final = re.compile(r"(?<=[.!?])(?<!\b" + r")(?<!\b".join(["Dr", "Mr", "Ms", "St", "vs"]) + r")\s+(?=[A-Z0-9(\"'])")
_BULLET: Final = re.compile(r"^([-*•]|\d+[.)])\s+")


_MID_BULLET: Final = re.compile(r"\s+[-•]\s+(?=[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split note text into sentences; bullet lines and list items are sentences of their own,
    also when several items share a line ("- Osteoporosis: ... - Multiple sclerosis: ...")."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        line = _BULLET.sub("", line)
        for item in _MID_BULLET.split(line) if (" - " in line or "•" in line) else (line,):
            for part in _SENT_SPLIT.split(item):
                part = part.strip()
                if part:
                    out.append(part)
    return out


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "section"


def is_heading(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 60 or not _HEADING.match(s):
        return False
    letters = [c for c in s if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


_INLINE_HEADING: Final = re.compile(r"^([A-Z][A-Z0-9 &/,()\-]{1,60}?)\s*:\s*(?=\S)")
_HASHES: Final = re.compile(r"^#+\s*|\s+#+$")
_NOTE_LABEL: Final = re.compile(r"^(?:an?\s+)?(?:possible\s+)?(?:clinical\s+)?(?:note|summary)(?:\s+is)?\s*:\s*", re.I)
_MID_HEADING: Final = re.compile(r"(?<=\S)\s+(?=([A-Z][A-Z0-9 &/,()\-]{2,60}?)\s*:\s)")


def _split_mid_headings(line: str) -> list[str]:
    """"... thank you  HISTORY OF PRESENT ILLNESS: Patient is ...": a known heading mid-line starts a new line."""
    from .templates import normalize_heading

    cuts = [m.end() for m in _MID_HEADING.finditer(line) if normalize_heading(m.group(1)) in _known_headings()]
    return [line[a:b].strip() for a, b in zip([0, *cuts], [*cuts, len(line)])] if cuts else [line]


def _known_headings() -> frozenset[str]:
    """Every template's section titles and aliases, normalised (cached)."""
    global _KNOWN
    if _KNOWN is None:
        from .templates import list_templates, load_template, normalize_heading

        names: set[str] = set()
        for name in list_templates():
            for sec in load_template(name).sections:
                names |= sec.heading_names()
        names |= {normalize_heading(h) for h in _EXTRA_HEADINGS}
        _KNOWN = frozenset(names)
    return _KNOWN


_KNOWN: frozenset[str] | None = None
#: headings published notes use that no template names
_EXTRA_HEADINGS: Final = ("HISTORY OF PRESENT ILLNESS", "PHYSICAL EXAM", "PHYSICAL EXAMINATION", "REVIEW OF SYSTEMS",
                          "RESULTS", "ASSESSMENT AND PLAN", "ASSESSMENT", "PLAN", "CHIEF COMPLAINT", "MEDICATIONS",
                          "ALLERGIES", "SOCIAL HISTORY", "FAMILY HISTORY", "PAST MEDICAL HISTORY", "VITALS",
                          "VITALS REVIEWED", "IMPRESSION", "INSTRUCTIONS", "FOLLOW UP", "FOLLOW-UP",
                          "PAST SURGICAL HISTORY", "CURRENT MEDICATIONS", "PROCEDURE", "HPI", "ROS")


def inline_heading(line: str) -> re.Match[str] | None:
    """``HISTORY OF PRESENT ILLNESS: Ms. ...``: a section heading that starts a line of text.

    A single upper-case word that no template names ("HEENT: normocephalic") is a label
    inside a section, not a heading.
    """
    m = _INLINE_HEADING.match(line)
    if m is None:
        return None
    from .templates import normalize_heading

    title = m.group(1).strip()
    letters = [c for c in title if c.isalpha()]
    if len(letters) < 2:
        return None
    if len(title.split()) >= 2 or normalize_heading(title) in _TOP_LEVEL:
        return m
    return None


#: one-word headings that start a note section when they start a line of text; other one-word
#: labels ("MSK:", "HEENT:", "NEURO:") name a part of a section
_TOP_LEVEL: Final = frozenset("HPI ROS PLAN ASSESSMENT RESULTS MEDICATIONS ALLERGIES IMPRESSION VITALS SUBJECTIVE "
                              "OBJECTIVE DATA INTERVENTION RESPONSE BEHAVIOR GOALS DIAGNOSIS INSTRUCTIONS".split())


def parse_note(text: Any, template: str | None = None, source: str = "note") -> Note:  # Any: checked below
    """Parse plain note text with upper-case headings into sections of sentences.

    Headings are mapped to the template's section keys when a template is given (by title or
    alias); otherwise the key is the slug of the heading. Text before the first heading goes in
    a section ``preamble``. Headings are found as published notes write them: alone on a line,
    at the start of a line of text (``HISTORY OF PRESENT ILLNESS: Ms. ...``), with markdown
    marks (``# PLAN``) or with the colon on the next line; a leading "Possible clinical note:"
    label is dropped.
    """
    if not isinstance(text, str):
        raise InputError(source, "note", f"expected text, got {type(text).__name__}", "give the note as plain text")
    tpl = None
    if template:
        from .templates import load_template

        tpl = load_template(template)
    sections: list[tuple[str, str, list[str]]] = []
    current: tuple[str, str, list[str]] | None = None

    def open_section(title: str) -> tuple[str, str, list[str]]:
        key = slug(title)
        if tpl is not None:
            ts = tpl.match_heading(title)
            if ts is not None:
                key = ts.key
        sec: tuple[str, str, list[str]] = (key, title, [])
        sections.append(sec)
        return sec

    started = False
    lines = text.splitlines()
    if ":" in text:
        lines = [part for raw in lines for part in _split_mid_headings(raw)]
    for raw in lines:
        line = raw.strip()
        if "#" in line:  # markdown marks: "# PLAN", "... as prescribed.  #"
            line = _HASHES.sub("", line)
        if line.startswith(":"):  # "ASSESSMENT AND PLAN\n:  text"
            line = line[1:].strip()
        if not started and line:
            started = True
            line = _NOTE_LABEL.sub("", line)
        if is_heading(line):
            current = open_section(line.rstrip(":").strip())
            continue
        m = inline_heading(line) if line[:1].isupper() else None
        while m is not None:
            current = open_section(m.group(1).strip())
            line = line[m.end():]
            m = inline_heading(line)
            if m is None and is_heading(line):
                current = open_section(line.rstrip(":").strip())
                line = ""
        if current is None:
            current = ("preamble", "", [])
            sections.append(current)
        current[2].append(line)
    note_sections: list[NoteSection] = []
    used: dict[str, int] = {}
    for key, title, lines in sections:
        sents = split_sentences("\n".join(lines))
        if not sents and key == "preamble":
            continue
        n = used.get(key, 0)
        used[key] = n + 1
        k = key if n == 0 else f"{key}_{n + 1}"
        note_sections.append(NoteSection(
            key=k, title=title,
            sentences=[NoteSentence(id=f"{k}.{i}", text=s) for i, s in enumerate(sents)]))
    if not any(s.sentences for s in note_sections):
        raise InputError(source, "note", "is empty", "give the note text with section headings")
    return Note(template=template, sections=note_sections)


def turns_text(turns: Iterable[Turn]) -> str:
    return "\n".join(f"[{t.speaker.value.lower()}] {t.text}" for t in turns)
