"""Transcripts and notes as prompt text, token estimates, and splitting long inputs to fit.

Turns are rendered ``[T<id> <role>] text`` and note sentences ``[S:<sentence id>] text`` so
replies can point at them by id. A transcript longer than the model's context is judged in
overlapping windows of turns; a long note in batches of sentences. Nothing is cut silently.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..schema import Note, NoteSection, NoteSentence, Turn
from ..text.parse import parse_note, parse_transcript

CHARS_PER_TOKEN = 3.2  # conservative for clinical English (under-estimating would overflow the context)


def turns_of(transcript: Any, source: str = "transcript") -> list[Turn]:
    """Turns from a list of :class:`Turn`, ACI-Bench text, or a list of ``{speaker, text}``."""
    if isinstance(transcript, list) and transcript and all(isinstance(t, Turn) for t in transcript):
        return list(transcript)
    return parse_transcript(transcript, source=source)


def note_of(note: Any, template: str | None = None, source: str = "note") -> Note:
    """A :class:`Note` from a Note or plain text with upper-case headings."""
    if isinstance(note, Note):
        return note
    return parse_note(note, template, source=source)


def render_turns(turns: Iterable[Turn]) -> str:
    return "\n".join(f"[T{t.id} {t.speaker.value.lower()}] {t.text}" for t in turns)


def render_sentences(items: Iterable[tuple[NoteSection, NoteSentence]]) -> str:
    lines: list[str] = []
    current = None
    for sec, s in items:
        if sec.key != current:
            current = sec.key
            lines.append(f"## {sec.title or sec.key}")
        lines.append(f"[S:{s.id}] {s.text}")
    return "\n".join(lines)


def est_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1


def windows(turns: list[Turn], budget: int, overlap: int = 2) -> list[list[Turn]]:
    """Consecutive windows of turns, each within ``budget`` tokens, overlapping by ``overlap`` turns.

    A single turn longer than the budget gets a window of its own (the call may then fail with a
    context error, which is recorded, never hidden).
    """
    if est_tokens(render_turns(turns)) <= budget:
        return [turns]
    out: list[list[Turn]] = []
    i = 0
    while i < len(turns):
        j, used = i, 0
        while j < len(turns):
            cost = est_tokens(render_turns([turns[j]])) + 1
            if j > i and used + cost > budget:
                break
            used += cost
            j += 1
        out.append(turns[i:j])
        if j >= len(turns):
            break
        i = max(j - overlap, i + 1)
    return out


def batches(items: list[tuple[NoteSection, NoteSentence]], budget: int, max_items: int
            ) -> list[list[tuple[NoteSection, NoteSentence]]]:
    """Consecutive batches of note sentences within ``budget`` tokens and ``max_items`` each."""
    out: list[list[tuple[NoteSection, NoteSentence]]] = []
    cur: list[tuple[NoteSection, NoteSentence]] = []
    used = 0
    for it in items:
        cost = est_tokens(it[1].text) + 8
        if cur and (used + cost > budget or len(cur) >= max_items):
            out.append(cur)
            cur, used = [], 0
        cur.append(it)
        used += cost
    if cur:
        out.append(cur)
    return out
