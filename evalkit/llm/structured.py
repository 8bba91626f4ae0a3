"""Ask a model for structured output: call, extract JSON, validate, repair once, report.

An unusable reply is never dropped silently: it is repaired locally (code fences, trailing
commas, truncated JSON), then — if still unusable — sent back to the model with the rubric's
``repair`` prompt naming the problems; if that fails too, the :class:`Outcome` carries an
error for the caller to record (``JudgeResult.error``). Replies are cached only once the
exchange produced a usable value, so a re-run retries what failed and replays what worked. Error texts name fields and problems,
never the reply's content (which may quote patient text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from .client import LLMClient, LLMReply
from .rubrics import Rubric
from .schemas import parse_json_reply, response_format
from .spec import ModelSpec

T = TypeVar("T")


def describe_validation(e: ValidationError, limit: int = 3) -> str:
    """Field and problem of the first errors, without the offending values."""
    parts = []
    for err in e.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "reply"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = len(e.errors()) - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


@dataclass
class Outcome(Generic[T]):
    """What came of a structured request."""

    value: T | None
    error: str | None = None
    truncated: bool = False
    replies: list[LLMReply] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # local repairs applied

    @property
    def cost_usd(self) -> float | None:
        costs = [r.cost_usd for r in self.replies if not r.cached]
        if costs and all(c is None for c in costs):
            return None
        return sum(c or 0.0 for c in costs)


def schema_parser(schema: type[BaseModel]) -> Callable[[Any], tuple[Any, str | None]]:
    def parse(value: Any) -> tuple[Any, str | None]:
        try:
            return schema.model_validate(value), None
        except ValidationError as e:
            return None, describe_validation(e)

    return parse


async def ask(client: LLMClient, spec: ModelSpec, rubric: Rubric, messages: list[dict],
              schema: type[BaseModel], *, purpose: str = "judge",
              parse: Callable[[Any], tuple[Any, str | None]] | None = None, repairs: int = 1,
              partial_ok: bool = False) -> Outcome:
    """Call the model and return its validated reply, repairing once if needed.

    Args:
        client, spec: who to call.
        rubric: supplies the ``repair`` prompt and the prompt hash (cache key).
        messages: the request.
        schema: the reply schema (sent as ``response_format`` unless ``spec.structured`` is none).
        parse: ``value -> (result, problem)``; default validates against ``schema``.
        repairs: follow-up rounds after an unusable reply.
        partial_ok: accept what a reply cut off at ``max_tokens`` holds (the claims judge asks again
            for what is missing, or splits the input). Otherwise a cut-off reply is never used: the
            question is asked again with twice the room.

    Raises:
        LLMCallError, BudgetExceeded: from the client.
    """
    parse = parse or schema_parser(schema)
    rf = response_format(schema, rubric.name, spec.structured)
    out: Outcome = Outcome(None)
    msgs = list(messages)
    problem = "no reply"
    for round_ in range(repairs + 1):
        reply = await client.acomplete(spec, msgs, response_format=rf, purpose=purpose,
                                       prompt_hash=rubric.prompt_hash, remember=False)
        out.replies.append(reply)
        out.truncated = reply.truncated
        value, notes = parse_json_reply(reply.content)
        if value is not None and reply.truncated and not partial_ok:
            value, notes = None, notes + ["incomplete"]
        if value is not None:
            result, problem = parse(value)
            if result is not None:
                out.value, out.error, out.repaired = result, None, notes
                for r in out.replies:  # the whole exchange, so a re-run replays it with no calls
                    client.remember(r)
                return out
        else:
            problem = notes[-1] if notes else "reply is not JSON"
        if reply.truncated:
            problem = f"reply cut off at the token limit ({problem})"
            if partial_ok:
                break  # the caller splits the input instead
            if round_ < repairs:  # ask the same question with twice the room to answer
                spec = spec.model_copy(update={"max_tokens": spec.max_tokens * 2})
                msgs = list(messages)
                continue
        if round_ < repairs:
            msgs = list(messages) + [{"role": "assistant", "content": reply.content[:8000]},
                                     {"role": "user", "content": rubric.render("repair", problems=problem)}]
    out.error = f"invalid reply after {len(out.replies)} attempt(s): {problem}"
    return out
