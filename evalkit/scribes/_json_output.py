"""Turning a backend's JSON answer into a ScribeOutput, shared by the HTTP and command scribes.

A *response mapping* says where things are in the backend's JSON, with JSONPath-style paths
(``$.note.sections[*]``, ``$.result["clinical note"]``, ``$.items[0].text``):

=================  =========================================================================
``note_text``      a string holding the whole note, upper-case headings (parsed per template)
``sections``       a list of section objects; ``section_title`` / ``section_text`` /
                   ``section_sentences`` name the keys inside each (defaults: title, text,
                   sentences). A sentence is a string or ``{"text", "evidence": [turn ids]}``
``transcript``     a list of ``{speaker, text, start, end}`` turns, or ``[doctor] ...`` text
``entities``       a list of entity objects (kept as they are)
``cost_usd``       a number; ``version``: a string
=================  =========================================================================

With no mapping the JSON is read in evalkit's own shape: ``{"note": "TEXT"}``,
``{"note": {"sections": [...]}}``, ``{"note": {"TITLE": "text", ...}}`` or ``{"sections": [...]}``,
plus optional ``transcript``, ``entities``, ``cost_usd``, ``version``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any

from ..security import safe_json
from ..errors import InputError, ScribeError
from ..schema import Note, NoteSection, NoteSentence, ScribeOutput, Turn
from ..text.parse import parse_note, parse_transcript, slug, split_sentences


def parse_reply(data: bytes, where: str, fix: str) -> tuple[Any, int]:
    """A backend's answer parsed as JSON: ``(value, lone surrogates repaired)`` (see :mod:`evalkit.security.safe_json`).

    Args:
        data: the answer's bytes.
        where: names the backend and the part read (``command x: stdout``), never data.
        fix: what the backend should send instead, for the error.

    Raises:
        ScribeError: not UTF-8 JSON, or nested too deeply.
    """
    try:
        return safe_json.loads(data.decode("utf-8"), where)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ScribeError(f"{where} is not JSON ({len(data):,} bytes) — fix: {fix}") from None
    except InputError as e:
        raise ScribeError(f"{where}: {e.problem} — fix: {e.fix}") from None


# ---------------------------------------------------------------------------- JSONPath subset

_STEP = re.compile(r"""\.\.|\.([A-Za-z_][\w-]*)|\.\*|\[\*\]|\[(-?\d+)\]|\[\s*(['"])(.*?)\3\s*\]""")


def _steps(path: str) -> list[tuple[str, Any]]:
    p = path.strip()
    if not p.startswith("$"):
        p = "$." + p
    pos, out = 1, []
    while pos < len(p):
        m = _STEP.match(p, pos)
        if not m:
            raise InputError("response mapping", path, f"cannot read the path at {p[pos:pos + 12]!r}",
                             'use a JSONPath like $.note.sections[*] or $.result["note text"]')
        tok = m.group(0)
        if tok == "..":
            raise InputError("response mapping", path, "recursive descent (..) is not supported",
                             "spell the path out, e.g. $.a.b[*].c")
        if m.group(1) is not None:
            out.append(("key", m.group(1)))
        elif tok in (".*", "[*]"):
            out.append(("all", None))
        elif m.group(2) is not None:
            out.append(("idx", int(m.group(2))))
        else:
            out.append(("key", m.group(4)))
        pos = m.end()
    return out


def jsonpath(doc: Any, path: str) -> list[Any]:
    """All values at a JSONPath-style ``path`` (subset: ``.key``, ``["key"]``, ``[n]``, ``[*]``).

    Args:
        doc: parsed JSON.
        path: e.g. ``$.note.sections[*].title``.
    """
    cur = [doc]
    for kind, arg in _steps(path):
        nxt: list[Any] = []
        for v in cur:
            if kind == "key" and isinstance(v, dict) and arg in v:
                nxt.append(v[arg])
            elif kind == "idx" and isinstance(v, list) and -len(v) <= arg < len(v):
                nxt.append(v[arg])
            elif kind == "all":
                nxt.extend(v.values() if isinstance(v, dict) else v if isinstance(v, list) else [])
        cur = nxt
    return cur


def _one(doc: Any, path: str | None) -> Any:
    if not path:
        return None
    vals = jsonpath(doc, path)
    if not vals:
        return None
    return vals if path.rstrip().endswith("[*]") else vals[0]


# ---------------------------------------------------------------------------- mapping


@dataclass
class ResponseMapping:
    """Where a backend's JSON keeps the note, transcript and extras (see the module docstring)."""

    note_text: str | None = None
    sections: str | None = None
    section_title: str = "title"
    section_text: str = "text"
    section_sentences: str = "sentences"
    transcript: str | None = None
    entities: str | None = None
    cost_usd: str | None = None
    version: str | None = None

    @classmethod
    def from_options(cls, value: dict | None, source: str) -> "ResponseMapping | None":
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InputError(source, "response", "must be a mapping of field → JSONPath",
                             'e.g. {note_text: "$.note"} or {sections: "$.note.sections[*]"}')
        known = {f.name for f in fields(cls)}
        bad = sorted(set(value) - known)
        if bad:
            raise InputError(source, f"response.{bad[0]}", "is not a mapping field", f"use: {', '.join(sorted(known))}")
        m = cls(**value)
        if not (m.note_text or m.sections):
            raise InputError(source, "response", "needs note_text or sections", 'e.g. note_text: "$.note"')
        for f in ("note_text", "sections", "transcript", "entities", "cost_usd", "version"):
            if getattr(m, f):
                _steps(getattr(m, f))  # validate now, not on the first case
        return m


def _auto_mapping(doc: Any, where: str) -> ResponseMapping:
    if isinstance(doc, dict):
        extras = {k: f"$.{k}" for k in ("transcript", "entities", "cost_usd", "version") if k in doc}
        note = doc.get("note")
        if isinstance(note, str):
            return ResponseMapping(note_text="$.note", **extras)
        if isinstance(note, dict) and isinstance(note.get("sections"), list):
            return ResponseMapping(sections="$.note.sections[*]", **extras)
        if isinstance(note, dict) and note and all(isinstance(v, (str, list)) for v in note.values()):
            return ResponseMapping(sections="$.note", **extras)
        if isinstance(doc.get("sections"), list):
            return ResponseMapping(sections="$.sections[*]", **extras)
    raise ScribeError(f"{where}: the JSON answer has no 'note' or 'sections' "
                      "— fix: return {\"note\": \"...\"} or set a response mapping (note_text / sections)")


def _sections_from(value: Any, m: ResponseMapping, template: str | None, where: str) -> list[NoteSection]:
    from ..text.templates import load_template

    tpl = None
    try:
        tpl = load_template(template) if template else None
    except InputError:
        tpl = None
    if isinstance(value, dict) and not any(k in value for k in (m.section_title, m.section_text)):
        items = [{"title": k, "text": v} for k, v in value.items()]
        title_key, text_key = "title", "text"
    else:
        items = value if isinstance(value, list) else [value]
        title_key, text_key = m.section_title, m.section_text
    out: list[NoteSection] = []
    used: dict[str, int] = {}
    for i, sec in enumerate(items):
        if not isinstance(sec, dict):
            raise ScribeError(f"{where}: section {i} is {type(sec).__name__}, not an object "
                              f"— fix: point 'sections' at a list of objects with {title_key!r}")
        title = str(sec.get(title_key) or f"section {i + 1}").replace("_", " ").strip()
        ts = tpl.match_heading(title) if tpl else None
        key = ts.key if ts else slug(title)
        n = used.get(key, 0)
        used[key] = n + 1
        key = key if n == 0 else f"{key}_{n + 1}"
        sents: list[NoteSentence] = []
        raw = sec.get(m.section_sentences) if m.section_sentences in sec else sec.get(text_key)
        parts = raw if isinstance(raw, list) else [raw] if raw is not None else []
        for part in parts:
            if isinstance(part, dict):
                text, ev = part.get("text"), part.get("evidence") or []
            else:
                text, ev = part, []
            if text is None:
                continue
            if not isinstance(ev, list) or not all(isinstance(e, int) for e in ev):
                raise ScribeError(f"{where}: section {i + 1} has evidence that is not a list of turn ids "
                                  "— fix: give evidence as integers")
            for s in split_sentences(str(text)):
                sents.append(NoteSentence(id=f"{key}.{len(sents)}", text=s, evidence=list(ev)))
        out.append(NoteSection(key=key, title=title.upper(), sentences=sents))
    return out


def output_from_json(doc: Any, mapping: ResponseMapping | None, *, consultation_id: str, template: str | None,
                     backend: str, version: str, input_turns: list[Turn] | None = None,
                     where: str = "backend") -> ScribeOutput:
    """Build a ScribeOutput from a backend's parsed JSON answer.

    Args:
        doc: the parsed JSON.
        mapping: where things are; ``None`` reads evalkit's own shape.
        consultation_id: the case id.
        template: the note template (maps headings to section keys).
        backend: backend name recorded in the output.
        version: backend version, unless the JSON gives one.
        input_turns: the transcript sent to the backend, used when it returns none.
        where: names the backend in error messages (a URL or a program), never data.
    """
    m = mapping or _auto_mapping(doc, where)
    if m.note_text:
        text = _one(doc, m.note_text)
        if not isinstance(text, str) or not text.strip():
            raise ScribeError(f"{where}: no note text at {m.note_text} — fix: check the response mapping")
        try:
            note = parse_note(text, template, source=where)
        except InputError:
            raise ScribeError(f"{where}: the note at {m.note_text} has no sentences") from None
    else:
        value = _one(doc, m.sections)
        if value is None:
            raise ScribeError(f"{where}: nothing at {m.sections} — fix: check the response mapping")
        note = Note(template=template, sections=_sections_from(value, m, template, where))
    if not any(s.sentences for s in note.sections):
        raise ScribeError(f"{where}: the note is empty")
    turns: list[Turn] = list(input_turns or [])
    tval = _one(doc, m.transcript)
    if tval is not None:
        try:
            turns = parse_transcript(tval, source=where)
        except InputError as e:
            raise ScribeError(f"{where}: transcript unreadable ({e.problem})") from None
    ents = _one(doc, m.entities)
    if ents is not None and not isinstance(ents, list):
        ents = [ents]
    cost = _one(doc, m.cost_usd)
    ver = _one(doc, m.version)
    return ScribeOutput(consultation_id=consultation_id, transcript=turns, note=note, backend=backend,
                        backend_version=str(ver) if ver is not None else version,
                        cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
                        entities=[e if isinstance(e, dict) else {"value": e} for e in (ents or [])])


def request_values(item: Any) -> dict[str, Any]:
    """The values a request or command template may use (``{transcript}``, ``{turns}``...).

    Args:
        item: a :class:`~evalkit.scribes.base.ScribeInput`.
    """
    c = item.consultation
    return {
        "consultation_id": c.id,
        "template": item.template,
        "transcript": c.transcript_text(),
        "turns": [{"id": t.id, "speaker": t.speaker.value.lower(), "text": t.text, "start": t.start, "end": t.end}
                  for t in c.turns],
        "specialty": c.case.specialty,
    }


def fill_template(value: Any, values: dict[str, Any]) -> Any:
    """Replace ``"{name}"`` placeholders in a JSON request template.

    A string that is exactly ``"{turns}"`` becomes the value itself (a list); placeholders inside
    longer strings are replaced by text.

    Args:
        value: the template (dict, list, or string).
        values: placeholder values.
    """
    if isinstance(value, dict):
        return {k: fill_template(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill_template(v, values) for v in value]
    if isinstance(value, str):
        m = re.fullmatch(r"\{(\w+)\}", value)
        if m and m.group(1) in values:
            return values[m.group(1)]
        return re.sub(r"\{(\w+)\}", lambda mm: str(values.get(mm.group(1), mm.group(0))), value)
    return value
