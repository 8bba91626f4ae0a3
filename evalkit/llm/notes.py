"""Notes as structured model output: template sections for prompts, and replies back to Notes."""

from __future__ import annotations

from ..schema import Note, NoteSection, NoteSentence
from ..text.templates import load_template
from ..text.parse import slug
from .schemas import NoteReply, turn_ids


def template_sections(template: str) -> tuple[str, list[str]]:
    """The template's sections as prompt lines (key: title - what goes there), and the keys."""
    tpl = load_template(template)
    lines = []
    for s in tpl.sections:
        why = " ".join(r.why for r in s.rules if r.why)
        src = ", ".join(s.sources)
        lines.append(f"  - {s.key}: {s.title}" + (f" - holds {src}." if src else "") + (f" {why}" if why else ""))
    return "\n".join(lines), [s.key for s in tpl.sections]


def note_from_reply(reply: NoteReply, template: str, valid_turns: set[int]) -> tuple[Note, int, int]:
    """A :class:`Note` from the model's sections; returns (note, evidence links kept, links dropped)."""
    tpl = load_template(template)
    kept = dropped = 0
    sections: list[NoteSection] = []
    used: dict[str, int] = {}
    for sec in reply.sections:
        ts = next((s for s in tpl.sections if s.key == sec.key), None) or tpl.match_heading(sec.key)
        key, title = (ts.key, ts.title) if ts else (slug(sec.key), sec.key.upper())
        n = used.get(key, 0)
        used[key] = n + 1
        if n:
            key = f"{key}_{n + 1}"
        sents = []
        for i, s in enumerate(sec.sentences):
            raw = turn_ids(list(s.evidence))
            ids = [e for e in dict.fromkeys(raw) if e in valid_turns]
            dropped += len(raw) - len(ids)
            kept += len(ids)
            sents.append(NoteSentence(id=f"{key}.{i}", text=s.text.strip(), evidence=ids))
        if sents:
            sections.append(NoteSection(key=key, title=title, sentences=sents))
    return Note(template=template, sections=sections), kept, dropped
