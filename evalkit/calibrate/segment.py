"""Note sentences with character offsets: the unit a labelled real-note benchmark is labelled in.

Labels are tied to character spans of the note as written, not to any parse of evalkit's, so
a change to the note parser or the judge never moves a label. The rules are deliberately
plain (documented in ``datasets/aci-bench-labels/README.md``):

- one line is never joined to the next;
- a heading alone on its line ("ASSESSMENT AND PLAN", "PHYSICAL EXAM:", "# ") is a segment;
- an inline heading ("HISTORY OF PRESENT ILLNESS: Ms. ...", "Possible clinical note:") is a
  segment of its own, the text after it another;
- list markers (``-``, ``*``, ``•``, ``1.``) start a new segment, also mid-line (" - Plan: ...");
- a sentence ends at ``.``, ``!`` or ``?`` followed by space and a capital, digit or quote,
  except after a title or abbreviation (Dr., Mr., Ms., Mrs., St., vs., e.g., i.e., No.).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_INLINE_HEADING: Final = re.compile(
    r"^(?:[A-Z][A-Z0-9 &/,()\-]{2,60}|Possible (?:clinical )?(?:note|summary)|Clinical note|Note)\s*:\s*(?=\S)")
_HEADING_LINE: Final = re.compile(r"^(?:#+\s*)?[A-Z][A-Z0-9 &/,()\-]{1,60}\s*:?\s*$|^#+\s*$|^:\s*$")
_MARKER: Final = re.compile(r"^(?:[-*•]|\d{1,2}[.)])\s+(?=\S)|(?<=\s)[-*•]\s+(?=\S)")
_END: Final = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(•])")
_ABBREV_BEFORE: Final = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|St|vs|No|approx|e\.g|i\.e|etc)\.|\b[A-Z]\.)$")


@dataclass(frozen=True)
class Span:
    """One segment of a note: ``note[start:end] == text``."""

    start: int
    end: int
    text: str
    heading: bool = False


def _trimmed(note: str, a: int, b: int) -> tuple[int, int]:
    while a < b and note[a] in " \t\r:#":
        a += 1
    while b > a and note[b - 1] in " \t\r#":
        b -= 1
    return a, b


def _sentences(note: str, a: int, b: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    cut = a
    for m in _END.finditer(note, a, b):
        if _ABBREV_BEFORE.search(note[max(a, m.start() - 8):m.start()]):
            continue
        out.append((cut, m.start()))
        cut = m.end()
    out.append((cut, b))
    return out


def segment_note(note: str) -> list[Span]:
    """The note's segments (headings and sentences), in order, with offsets into ``note``.

    Args:
        note: the note text exactly as stored; offsets index this string.
    """
    spans: list[Span] = []
    pos = 0
    for line in note.splitlines(keepends=True):
        a, b = _trimmed(note, pos, pos + len(line.rstrip("\r\n")))
        pos += len(line)
        if a >= b:
            continue
        if _HEADING_LINE.match(note[a:b]) and not _INLINE_HEADING.match(note[a:b]):
            if any(c.isalnum() for c in note[a:b]):
                spans.append(Span(a, b, note[a:b], heading=True))
            continue
        m = _INLINE_HEADING.match(note[a:b])
        while m:  # "Possible clinical note:  HISTORY OF PRESENT ILLNESS: Jerry is ..."
            ha = a
            hb = note.rfind(":", ha, a + m.end()) + 1
            spans.append(Span(ha, hb, note[ha:hb], heading=True))
            a, b = _trimmed(note, a + m.end(), b)
            m = _INLINE_HEADING.match(note[a:b]) if a < b else None
        # list markers split the line into items; each item into sentences
        cuts = [a] + [a + mm.start() for mm in _MARKER.finditer(note[a:b]) if mm.start() > 0] + [b]
        for ia, ib in zip(cuts, cuts[1:]):
            mm = _MARKER.match(note[ia:ib])
            ia = ia + mm.end() if mm else ia
            for sa, sb in _sentences(note, ia, ib):
                sa, sb = _trimmed(note, sa, sb)
                if sa < sb and any(c.isalnum() for c in note[sa:sb]):
                    spans.append(Span(sa, sb, note[sa:sb]))
    return spans
