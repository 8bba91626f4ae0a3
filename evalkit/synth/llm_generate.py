"""Consultations written by a language model (``evalkit generate --model MODEL``).

Case card → dialogue (persona, regional dialect, specialty; ``rubrics/judges/generate_dialogue.yaml``)
→ reference note in the template (``generate_note.yaml``). Each planted fact's keywords must
appear in the dialogue and in the note (compared after evalkit's text normalisation, so
"100 milligrams" matches "100 mg"); a missing fact is fed back to the model and the step is
regenerated, up to ``max_attempts``; then :class:`GenerationError` is raised naming the case and
the kinds of fact still missing. Calls go through :class:`~evalkit.llm.client.LLMClient`
(cached, retried, budgeted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import yaml

from ..llm.client import LLMClient
from ..llm.notes import note_from_reply, template_sections
from ..llm.render import render_turns
from ..llm.rubrics import load_rubric
from ..llm.schemas import DialogueReply, NoteReply
from ..llm.spec import ModelSpec
from ..llm.structured import ask
from ..llm.transport import LLMCallError
from ..text.normalize import normalize
from ..schema import Case, Consultation, Note, PlantedFact, Turn
from ..text.parse import speaker_role

DEFAULT_TEMPERATURE = 0.7  # varied dialogues across seeds; the spec's own value wins when given


class GenerationError(RuntimeError):
    """A model could not produce a consultation carrying every planted fact. No patient text."""


def _keywords(f: PlantedFact) -> list[str]:
    return f.keywords or [f.text]


def missing_facts(facts: Sequence[PlantedFact], text: str) -> list[PlantedFact]:
    """Planted facts whose keywords do not all appear in ``text`` (after normalisation)."""
    norm = f" {normalize(text)} "
    return [f for f in facts if not all(f" {normalize(k)} " in norm for k in _keywords(f))]


def _planted_lines(facts: Sequence[PlantedFact]) -> str:
    if not facts:
        return "  (none)"
    return "\n".join(f"  - {f.text} (say: {', '.join(_keywords(f))})" for f in facts)


def _feedback(missing: Sequence[PlantedFact], what: str) -> str:
    if not missing:
        return ""
    return (f"\nYour previous {what} left out these facts; include them explicitly this time:\n"
            + _planted_lines(missing) + "\n")


def _card(case: Case) -> str:
    data = case.model_dump(mode="json", exclude={"planted_facts", "metadata", "id", "source", "template",
                                                 "persona", "dialect"}, exclude_none=True)
    data = {k: v for k, v in data.items() if v not in ([], {}, "")}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).strip()


def _persona(case: Case) -> str:
    p = case.persona
    bits = [p.name, f"{p.age} years old" if p.age is not None else None, p.sex.value, p.pronouns,
            p.occupation, f"speaks in a {p.speech_style} way" if p.speech_style else None]
    return ", ".join(b for b in bits if b)


def _spec(model: Any, api_base: str | None, seed: int) -> ModelSpec:
    if isinstance(model, ModelSpec):
        spec = model
    elif isinstance(model, dict):
        spec = ModelSpec.parse(model, "--model", api_base=api_base)
        if "temperature" not in model:
            spec = spec.model_copy(update={"temperature": DEFAULT_TEMPERATURE})
    else:
        spec = ModelSpec.parse(model, "--model", api_base=api_base, temperature=DEFAULT_TEMPERATURE)
    return spec.model_copy(update={"params": {**spec.params, "seed": seed}})


async def agenerate_with_llm(case: Case, model: Any, seed: int = 0, *, template: str | None = None,
                             api_base: str | None = None, client: LLMClient | None = None,
                             max_attempts: int = 3, consultation_id: str | None = None,
                             dataset: str = "synthetic") -> Consultation:
    """Async :func:`generate_with_llm`."""
    spec = _spec(model, api_base, seed)
    own = client is None
    client = client or LLMClient(None)
    tpl = (template or case.template).strip()
    d_rub, n_rub = load_rubric("generate_dialogue"), load_rubric("generate_note")
    try:
        turns = await _dialogue(client, spec, d_rub, case, max_attempts)
        note = await _note(client, spec, n_rub, case, turns, tpl, max_attempts)
    except LLMCallError as e:
        raise GenerationError(f"{case.id}: generation call failed: {e}") from None
    finally:
        if own:
            await client.aclose()
    return Consultation(id=consultation_id or f"{case.id}-s{seed}", case=case, turns=turns, reference_note=note,
                        template=tpl, dataset=dataset, seed=seed, generator=f"llm:{spec.label}",
                        generator_version=f"{d_rub.prompt_hash[:8]}+{n_rub.prompt_hash[:8]}")


async def _dialogue(client: LLMClient, spec: ModelSpec, rub: Any, case: Case, attempts: int) -> list[Turn]:
    missing: list[PlantedFact] = []
    problem = ""
    for _ in range(attempts):
        dialect = ", ".join(f"say '{v}' for '{k}'" for k, v in case.dialect.items()) or "none"
        msgs = rub.messages(specialty=case.specialty, setting=case.setting, region=case.region, case=_card(case),
                            persona=_persona(case), dialect=dialect, planted=_planted_lines(case.planted_facts),
                            feedback=_feedback(missing, "dialogue"))
        out = await ask(client, spec, rub, msgs, DialogueReply, purpose="generate")
        if out.value is None:
            problem = out.error or "unusable reply"
            continue
        turns = [Turn(id=i, speaker=speaker_role(t.speaker), text=t.text.strip())
                 for i, t in enumerate(out.value.turns)]
        missing = missing_facts(case.planted_facts, "\n".join(t.text for t in turns))
        if not missing:
            return turns
        problem = f"{len(missing)} planted fact(s) missing ({', '.join(sorted({f.kind for f in missing}))})"
    raise GenerationError(f"{case.id}: dialogue from {spec.label} still wrong after {attempts} attempt(s): {problem}")


async def _note(client: LLMClient, spec: ModelSpec, rub: Any, case: Case, turns: list[Turn], template: str,
                attempts: int) -> Note:
    sections, keys = template_sections(template)
    missing: list[PlantedFact] = []
    problem = ""
    note_spec = spec.model_copy(update={"temperature": 0.0})
    for _ in range(attempts):
        msgs = rub.messages(template=template, sections=sections, transcript=render_turns(turns),
                            planted=_planted_lines(case.planted_facts), feedback=_feedback(missing, "note"),
                            section_keys=", ".join(keys))
        out = await ask(client, note_spec, rub, msgs, NoteReply, purpose="generate")
        if out.value is None:
            problem = out.error or "unusable reply"
            continue
        note, _, _ = note_from_reply(out.value, template, {t.id for t in turns})
        if not note.sections:
            problem = "note has no sentences"
            continue
        missing = missing_facts(case.planted_facts, note.to_text())
        if not missing:
            return note
        problem = f"{len(missing)} planted fact(s) missing ({', '.join(sorted({f.kind for f in missing}))})"
    raise GenerationError(f"{case.id}: reference note from {spec.label} still wrong after {attempts} attempt(s): "
                          f"{problem}")


def generate_with_llm(case: Case, model: Any, seed: int = 0, *, template: str | None = None,
                      api_base: str | None = None, client: LLMClient | None = None, max_attempts: int = 3,
                      consultation_id: str | None = None, dataset: str = "synthetic") -> Consultation:
    """One consultation (dialogue + reference note) written by a model from a case card.

    Args:
        case: the case card.
        model: a litellm model string, a ModelSpec mapping, or a ModelSpec.
        seed: sent to the model (providers that support it) and part of the cache key.
        template: note template (default: the card's).
        api_base: an OpenAI-compatible server for the model.
        client: a shared :class:`LLMClient` (cache in the store, budget); a private one otherwise.
        max_attempts: generations per step before giving up on missing planted facts.
        consultation_id: default ``f"{case.id}-s{seed}"``.
        dataset: the store dataset name.

    Raises:
        GenerationError: a planted fact is still missing after ``max_attempts``, or the calls failed.
    """
    coro = agenerate_with_llm(case, model, seed, template=template, api_base=api_base, client=client,
                              max_attempts=max_attempts, consultation_id=consultation_id, dataset=dataset)
    if client is not None:
        return client.run(coro)
    return asyncio.run(coro)


def generate_batch_with_llm(cards: Sequence[Case], n: int, seed: int, model: Any, *, template: str | None = None,
                            api_base: str | None = None, client: LLMClient | None = None, max_attempts: int = 3,
                            dataset: str = "synthetic") -> list[Consultation]:
    """``n`` consultations cycling through ``cards``, generated concurrently (ids and seeds as
    :func:`evalkit.synth.generate`). Raises :class:`GenerationError` on the first failure."""
    from .generate import item_seed

    if not cards:
        raise ValueError("no case cards given")
    own = client is None
    client = client or LLMClient(None)

    async def all_() -> list[Consultation]:
        jobs = []
        for k in range(n):
            card = cards[k % len(cards)]
            jobs.append(agenerate_with_llm(card, model, item_seed(seed, k), template=template, api_base=api_base,
                                           client=client, max_attempts=max_attempts,
                                           consultation_id=f"{card.id}-s{seed}-{k}", dataset=dataset))
        return list(await asyncio.gather(*jobs))

    try:
        return client.run(all_())
    finally:
        if own:
            client.close()
