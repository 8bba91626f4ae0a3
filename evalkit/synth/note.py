"""The reference note: the dialogue's facts laid out in a note template.

Each template section gathers the facts whose category is in its ``sources`` (in the order the
section lists them, then in dialogue order). Every sentence carries ``evidence``: the ids of the
turns that state it. Facts whose category no section takes are left out, and so are sections
left empty: the note says only what the dialogue says.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..schema import Note, NoteSection, NoteSentence
from ..text.templates import Template, load_template
from .dialogue import Fact


def build_note(facts: Sequence[Fact], template: str | Template) -> Note:
    """Lay the facts out in a template.

    Args:
        facts: the facts from :func:`evalkit.synth.dialogue.build_script`, in dialogue order.
        template: a template name (``"SOAP"``, ``"BIRP"``...) or a loaded :class:`Template`.

    Returns:
        The reference :class:`Note`, sentence ids ``"<section key>.<n>"``.
    """
    tpl = template if isinstance(template, Template) else load_template(template)
    cc_sec = tpl.section_for_category("chief_complaint")
    hpi_sec = tpl.section_for_category("hpi")
    drop_short_cc = cc_sec is not None and (hpi_sec is None or hpi_sec.key == cc_sec.key)
    by_section: dict[str, list[tuple[int, int, Fact]]] = {}
    for order, f in enumerate(facts):
        if f.kind == "cc_short" and drop_short_cc:
            continue
        cat = f.category
        if f.kind != "cc_short" and f.category == "chief_complaint" and not drop_short_cc:
            cat = "hpi"  # the full presenting sentence belongs to the history when CC has its own section
        sec = tpl.section_for_category(cat)
        if sec is None:
            continue
        by_section.setdefault(sec.key, []).append((sec.sources.index(cat), order, f))
    sections = []
    for sec in tpl.sections:
        items = sorted(by_section.get(sec.key, []), key=lambda t: (t[0], t[1]))
        if not items:
            continue
        sentences = [NoteSentence(id=f"{sec.key}.{i}", text=f.text, evidence=list(f.evidence))
                     for i, (_s, _o, f) in enumerate(items)]
        sections.append(NoteSection(key=sec.key, title=sec.title, sentences=sentences))
    return Note(template=tpl.name, sections=sections)
