"""Rubric judges beyond claims: PDQI-9 (``pdqi_<item>`` scores, 1–5) and content adherence
(``adherence_content``: the fraction of the note's sections whose content the model judged
appropriate for that section of the template).

Failures are kept: a score whose judge call failed is stored with ``value=None`` and the
reason in ``detail["error"]`` (no patient text), so a report shows it was not measured.
"""

from __future__ import annotations

from typing import Any

from ..schema import Note, Score, Turn
from .client import LLMClient
from .notes import template_sections
from .render import est_tokens, render_turns
from .rubrics import load_rubric
from .schemas import PDQI_ITEMS, AdherenceReply, PDQIReply
from .spec import ModelSpec
from .structured import ask
from .transport import LLMCallError


class RubricScorer:
    """PDQI-9 and content-adherence scoring with one model.

    Args:
        spec: the model.
        client: the shared client (cache, budget, concurrency).
        repairs: follow-up rounds after an unusable reply.
    """

    def __init__(self, spec: ModelSpec, client: LLMClient, repairs: int = 1):
        self.spec, self.client, self.repairs = spec, client, repairs

    async def apdqi(self, turns: list[Turn], note: Note) -> tuple[dict[str, int] | None, str | None]:
        """PDQI-9 item scores (1–5), or None and the reason."""
        rubric = load_rubric("pdqi9")
        transcript = render_turns(turns)
        room = self.spec.context() - self.spec.max_tokens - est_tokens(rubric.render("system")) - 600
        if est_tokens(transcript) + est_tokens(note.to_text()) > room:
            return None, (f"transcript and note exceed {self.spec.label}'s context "
                          f"({self.spec.context()} tokens); PDQI-9 needs the whole consultation")
        msgs = rubric.messages(transcript=transcript, note=note.to_text())
        try:
            out = await ask(self.client, self.spec, rubric, msgs, PDQIReply, purpose="pdqi", repairs=self.repairs)
        except LLMCallError as e:
            return None, f"call failed: {e}"
        if out.value is None:
            return None, out.error
        return {k: out.value.items[k].score for k in PDQI_ITEMS}, None

    async def aadherence(self, note: Note, template: str | None) -> tuple[float | None, dict[str, Any]]:
        """Fraction of sections with appropriate content, and per-section detail (no note text)."""
        rubric = load_rubric("adherence")
        keys = [s.key for s in note.sections]
        if not keys:
            return None, {"error": "note has no sections"}
        msgs = rubric.messages(template=template or "note", sections=template_sections(template)[0] if template else
                               "  (no template given: judge whether each section's content fits its heading)",
                               note=note.to_text(), section_keys=", ".join(keys))

        def parse(value: Any) -> tuple[AdherenceReply | None, str | None]:
            try:
                r = AdherenceReply.model_validate(value)
            except Exception as e:  # pydantic ValidationError or shape error
                return None, f"reply does not match the schema ({type(e).__name__})"
            got = {s.section for s in r.sections}
            missing = [k for k in keys if k not in got]
            if missing:
                return None, f"no verdict for sections: {', '.join(missing)}"
            return r, None

        try:
            out = await ask(self.client, self.spec, rubric, msgs, AdherenceReply, purpose="adherence", parse=parse,
                            repairs=self.repairs)
        except LLMCallError as e:
            return None, {"error": f"call failed: {e}"}
        if out.value is None:
            return None, {"error": out.error}
        verdicts = {s.section: s for s in out.value.sections if s.section in keys}
        ok = sum(1 for k in keys if verdicts[k].appropriate)
        detail = {"sections": {k: {"appropriate": verdicts[k].appropriate, "severity": verdicts[k].severity,
                                   "problems": len(verdicts[k].problems)} for k in keys},
                  "judge": self.spec.label}
        return ok / len(keys), detail

    async def ascores(self, session_id: str, turns: list[Turn], note: Note, template: str | None,
                      which: tuple[str, ...] = ("pdqi", "adherence")) -> list[Score]:
        """Score records: ``pdqi_<item>`` for each PDQI-9 item and ``adherence_content``."""
        scores: list[Score] = []
        if "pdqi" in which:
            items, err = await self.apdqi(turns, note)
            for k in PDQI_ITEMS:
                if items is not None:
                    scores.append(Score(session_id=session_id, metric=f"pdqi_{k}", value=float(items[k]),
                                        detail={"judge": self.spec.label}))
                else:
                    scores.append(Score(session_id=session_id, metric=f"pdqi_{k}", value=None,
                                        detail={"judge": self.spec.label, "error": err}))
        if "adherence" in which:
            value, detail = await self.aadherence(note, template)
            scores.append(Score(session_id=session_id, metric="adherence_content", value=value, detail=detail))
        return scores
