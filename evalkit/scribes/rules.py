"""``rules``: the offline note writer — transcript turns in, a note in any template out.

Each utterance is sorted into one of :data:`evalkit.text.templates.CATEGORIES` (see
:mod:`evalkit.scribes._classify`), phrased in the third person with its clinical words copied
as spoken, and placed in the template section whose ``sources`` list that category. Every
sentence carries the ids of the turns it came from. Nothing is added that was not said.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InputError
from ..schema import Note, NoteSection, NoteSentence, Turn
from ..text.templates import load_template
from ._classify import Fact, extract_facts
from ._phrasing import Pronouns
from .base import ScribeInput, register

VERSION = "1"
_WORD = re.compile(r"[A-Za-z]{2,}")


class RulesWriter:
    """Rule-based note writer (no model, no network, a few milliseconds a dialogue)."""

    name = "rules"
    version = VERSION

    def __init__(self, max_sentences_per_section: int | None = None):
        """Args:
            max_sentences_per_section: keep at most this many sentences in a section (None = all).
        """
        self.max_sentences = max_sentences_per_section

    def facts(self, turns: list[Turn], item: ScribeInput | None = None) -> list[Fact]:
        """The categorised sentences before they are placed in a template.

        Args:
            turns: transcript turns.
            item: the scribe input (its case gives the patient's pronouns); optional.
        """
        source = f"consultation {item.consultation.id}" if item is not None else "transcript"
        words = sum(len(_WORD.findall(t.text)) for t in turns)
        if not turns or words < 3:
            raise InputError(source, "transcript", f"has no usable text ({len(turns)} turns, {words} words)",
                             "give a consultation transcript with [doctor]/[patient] turns")
        pronouns = Pronouns.parse(item.consultation.case.persona.pronouns) if item is not None else Pronouns()
        facts = extract_facts(turns, pronouns)
        if not facts:
            raise InputError(source, "transcript",
                             f"no clinical content was recognised in {len(turns)} turns",
                             "check that it is an English clinical consultation with the clinician's questions")
        return facts

    def write(self, turns: list[Turn], item: ScribeInput) -> Note:
        """Write the note for ``turns`` in ``item.template``.

        Args:
            turns: transcript turns (true or recognised); evidence ids refer to their ``id``.
            item: the scribe input; ``template`` picks the note template.
        """
        facts = self.facts(turns, item)
        tpl = load_template(item.template or "SOAP")
        sections: list[NoteSection] = []
        for sec in tpl.sections:
            seen: set[str] = set()
            sents: list[NoteSentence] = []
            for cat in sec.sources:
                for f in facts:
                    if f.category != cat or f.text.lower() in seen:
                        continue
                    seen.add(f.text.lower())
                    sents.append(NoteSentence(id=f"{sec.key}.{len(sents)}", text=f.text, evidence=list(f.evidence)))
            if self.max_sentences is not None:
                sents = sents[: self.max_sentences]
            sections.append(NoteSection(key=sec.key, title=sec.title, sentences=sents))
        return Note(template=tpl.name, sections=sections)


@register("rules")
def make_rules(**options: Any) -> RulesWriter:
    """Factory for the ``rules`` note writer; options are RulesWriter's arguments."""
    return RulesWriter(**options)
