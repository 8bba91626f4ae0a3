"""``llm``: a scribe that asks a language model (through litellm) to write the note.

Transcript → note in the requested template, every sentence with the transcript turns it
rests on, asked for as structured output (``rubrics/judges/scribe_note.yaml``). Evidence turn
ids are checked against the transcript: invalid ones are dropped and counted
(``ScribeOutput.metadata["invalid_evidence"]``). Works as a scribe on the true transcript
(``scribes: [llm]``) and as the note writer of a pipeline (``whisper+llm``).

Suite options (``scribe_options: {llm: {...}}``) are :class:`~evalkit.llm.spec.ModelSpec`
fields — ``model`` (required), ``api_base``, ``api_key_env``, ``max_tokens``... — plus
``repairs`` and ``concurrency``.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..errors import InputError
from ..llm.client import LLMClient
from ..llm.render import est_tokens, render_turns
from ..llm.rubrics import load_rubric
from ..llm.schemas import NoteReply
from ..llm.spec import ModelSpec
from ..llm.structured import ask
from ..llm.transport import LLMCallError
from ..llm.notes import note_from_reply, template_sections
from ..schema import Note, ScribeOutput, Turn
from ._json_output import ScribeError
from .base import ScribeInput, register


class LLMScribe:
    """Writes notes with a language model.

    Args:
        spec: the model (ModelSpec, model string or mapping).
        client: a shared :class:`LLMClient`; one is made if None.
        repairs: follow-up rounds after an unusable reply.
        concurrency: calls in flight for a new client.
    """

    needs_audio = False

    def __init__(self, spec: ModelSpec | str | dict, *, client: LLMClient | None = None, repairs: int = 1,
                 concurrency: int = 8):
        self.spec = spec if isinstance(spec, ModelSpec) else ModelSpec.parse(spec, "scribe_options.llm")
        self.rubric = load_rubric("scribe_note")
        self.client = client or LLMClient(None, concurrency=concurrency)
        self.repairs = repairs
        self.name = "llm"
        self.version = f"{self.spec.label}|{self.rubric.name}-{self.rubric.version}|{self.rubric.prompt_hash[:8]}"

    async def awrite(self, turns: list[Turn], template: str) -> tuple[Note, dict[str, Any], float | None]:
        """The note, metadata (evidence counts, calls) and cost. Raises ScribeError on failure."""
        sections, keys = template_sections(template)
        transcript = render_turns(turns)
        room = self.spec.context() - self.spec.max_tokens - est_tokens(self.rubric.render(
            "system", template=template, sections=sections)) - 300
        if est_tokens(transcript) > room:
            raise ScribeError(f"llm scribe: transcript (~{est_tokens(transcript)} tokens) exceeds "
                              f"{self.spec.label}'s context room ({room}); use a model with a longer context "
                              "(context_tokens) or a shorter consultation")
        msgs = self.rubric.messages(template=template, sections=sections, transcript=transcript,
                                    section_keys=", ".join(keys))
        try:
            out = await ask(self.client, self.spec, self.rubric, msgs, NoteReply, purpose="scribe",
                            repairs=self.repairs)
        except LLMCallError as e:
            raise ScribeError(f"llm scribe: call failed: {e}") from None
        if out.value is None:
            raise ScribeError(f"llm scribe: {out.error}")
        note, kept, dropped = note_from_reply(out.value, template, {t.id for t in turns})
        if not note.sections:
            raise ScribeError("llm scribe: the model returned a note with no sentences")
        meta = {"evidence_links": kept, "invalid_evidence": dropped, "llm_replies": len(out.replies),
                "cached": all(r.cached for r in out.replies), "repairs": out.repaired,
                "prompt_tokens": sum(r.prompt_tokens or 0 for r in out.replies if not r.cached),
                "completion_tokens": sum(r.completion_tokens or 0 for r in out.replies if not r.cached)}
        return note, meta, out.cost_usd

    def write(self, turns: list[Turn], item: ScribeInput) -> Note:
        """NoteWriter protocol (pipelines such as ``whisper+llm``)."""
        return self.client.run(self.awrite(turns, item.template))[0]

    def run(self, item: ScribeInput) -> ScribeOutput:
        """Scribe protocol: a note from the consultation's true transcript."""
        t0 = time.perf_counter()
        turns = list(item.consultation.turns)
        note, meta, cost = self.client.run(self.awrite(turns, item.template))
        return ScribeOutput(consultation_id=item.consultation.id, transcript=turns, note=note, backend=self.name,
                            backend_version=self.version, latency_s=time.perf_counter() - t0, cost_usd=cost,
                            metadata=meta)


@register("llm")
def make_llm_scribe(model: str | None = None, repairs: int = 1, concurrency: int = 8, **spec: Any) -> LLMScribe:
    """Factory for the ``llm`` scribe. ``model`` falls back to ``$EVALKIT_LLM_MODEL``."""
    model = model or os.environ.get("EVALKIT_LLM_MODEL")
    if not model:
        raise InputError("scribe_options", "llm.model", "the llm scribe needs a model",
                         "set scribe_options: {llm: {model: openai/gpt-4o-mini}} or EVALKIT_LLM_MODEL")
    return LLMScribe(ModelSpec.parse({"model": model, **spec}, "scribe_options.llm"), repairs=repairs,
                     concurrency=concurrency)
