"""An example evalkit scribe plugin: a deliberately simple "extractive" scribe.

It writes a SOAP-style note by copying what the patient said into SUBJECTIVE and the
clinician's plan-like turns into PLAN, each sentence linked to the turn it came from. It is a
template for wrapping a real backend: replace ``run`` with a call to your service.
"""

from __future__ import annotations

import time

from evalkit.schema import Note, NoteSection, NoteSentence, ScribeOutput, SpeakerRole
from evalkit.scribes import ScribeInput

PLAN_WORDS = ("plan", "start", "stop", "refer", "order", "review", "follow up", "prescribe", "increase")


class ExtractiveScribe:
    """Scribe protocol: ``name``, ``version``, ``needs_audio`` and ``run(item) -> ScribeOutput``."""

    name = "example-plugin"
    version = "0.1.0"
    needs_audio = False  # reads the true transcript; set True to receive item.audio_path

    def __init__(self, max_sentences: int = 5):
        self.max_sentences = max_sentences

    def run(self, item: ScribeInput) -> ScribeOutput:
        t0 = time.perf_counter()
        turns = item.consultation.turns
        subj = [t for t in turns if t.speaker is SpeakerRole.PATIENT][: self.max_sentences]
        plan = [t for t in turns if t.speaker is SpeakerRole.CLINICIAN
                and any(w in t.text.lower() for w in PLAN_WORDS)][: self.max_sentences]
        sections = []
        for key, title, picked in (("subjective", "SUBJECTIVE", subj), ("plan", "PLAN", plan)):
            sections.append(NoteSection(key=key, title=title, sentences=[
                NoteSentence(id=f"{key}.{i}", text=t.text, evidence=[t.id]) for i, t in enumerate(picked)]))
        return ScribeOutput(consultation_id=item.consultation.id, transcript=list(turns),
                            note=Note(template=item.template, sections=sections), backend=self.name,
                            backend_version=self.version, latency_s=time.perf_counter() - t0, cost_usd=0.0)


def make_scribe(**options) -> ExtractiveScribe:
    """The entry point's factory: receives the suite's ``scribe_options["example-plugin"]``."""
    return ExtractiveScribe(**options)
