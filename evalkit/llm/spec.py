"""Which model to call and how: a ``ModelSpec`` parsed from a string or a suite/CLI mapping."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..errors import InputError, pydantic_to_input_error

Structured = Literal["json_schema", "json_object", "none"]
DEFAULT_CONTEXT = 8192


class ModelSpec(BaseModel):
    """One model endpoint, in litellm's terms.

    Args:
        model: any litellm model string: ``openai/gpt-4o-mini``, ``anthropic/claude-3-5-haiku-latest``,
            ``bedrock/...``, ``ollama_chat/llama3.1``, or ``openai/<name>`` with ``api_base`` for any
            OpenAI-compatible server (vLLM, llama.cpp, LM Studio, a hospital gateway).
        api_base: the server's base URL (``http://host:8000/v1``).
        api_key: a literal key (prefer ``api_key_env``: keys do not belong in suite files).
        api_key_env: name of the environment variable holding the key.
        temperature: sampling temperature (0 for judges: repeatable verdicts).
        max_tokens: reply budget per call.
        timeout: seconds per call attempt.
        context_tokens: the model's context window; long inputs are split to fit. Default: litellm's
            model info when known, else 8,192.
        structured: how to ask for JSON: ``json_schema`` (a schema in ``response_format``),
            ``json_object``, or ``none`` (the prompt alone; for servers that reject both).
        input_cost_per_token, output_cost_per_token: prices for models litellm has no price for.
        params: extra litellm keyword arguments (``aws_region_name``, ``seed``...).
        transport: ``auto`` (a lean path through litellm's provider transforms for OpenAI-compatible
            servers given by ``api_base``, else ``litellm.acompletion``), ``litellm`` or ``lean``.
        rpm, tpm: the provider's requests and tokens per minute for this model; calls are paced
            to them (:mod:`evalkit.llm.ratelimit`). Default: learnt from the server's replies.
        name: a short label for reports (defaults to ``model``).
    """

    model_config = ConfigDict(extra="forbid")
    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key: str | None = Field(default=None, repr=False)
    api_key_env: str | None = None
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=2048, ge=16)
    timeout: float = Field(default=120.0, gt=0)
    context_tokens: int | None = Field(default=None, ge=512)
    structured: Structured = "json_schema"
    input_cost_per_token: float | None = Field(default=None, ge=0)
    output_cost_per_token: float | None = Field(default=None, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)
    transport: Literal["auto", "litellm", "lean"] = "auto"
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    name: str | None = None
    _context: int | None = PrivateAttr(default=None)

    @property
    def label(self) -> str:
        return self.name or self.model

    def resolved_api_key(self) -> str | None:
        """The key to send: explicit, from ``api_key_env``, or a placeholder for a local server.

        With ``api_base`` set, provider keys from the environment (``OPENAI_API_KEY``) are never
        sent to it: a private server gets only the key configured for it.
        """
        if self.api_key:
            return self.api_key
        if self.api_key_env:
            v = os.environ.get(self.api_key_env)
            if not v:
                raise InputError("judge", "api_key_env", f"environment variable {self.api_key_env} is not set",
                                 f"export {self.api_key_env}=... or drop api_key_env")
            return v
        if self.api_base:
            return "no-key"
        return None

    def cache_identity(self) -> dict[str, Any]:
        """What, besides the messages, makes two calls the same call."""
        return {"model": self.model, "api_base": self.api_base, "temperature": self.temperature,
                "max_tokens": self.max_tokens, "structured": self.structured, "params": self.params}

    def context(self) -> int:
        """The context window in tokens (see :func:`evalkit.llm.spec.context_window`; memoised)."""
        private = self.__pydantic_private__  # read directly: pydantic's private-attribute lookup
        got = private.get("_context") if private else None  # costs a raised exception per access
        if got is None:
            got = self._context = context_window(self)
        return got

    @classmethod
    def parse(cls, spec: "str | dict | ModelSpec", source: str = "judge", **overrides: Any) -> "ModelSpec":
        """A spec from a model string, a mapping (suite YAML / JSON) or a spec.

        Args:
            spec: ``"openai/gpt-4o-mini"`` or ``{"model": ..., "api_base": ...}``.
            source: named in errors (file or option).
            overrides: fields set when not None (e.g. ``api_base`` from a CLI option).
        """
        if isinstance(spec, ModelSpec):
            data = spec.model_dump()
        elif isinstance(spec, str):
            if not spec.strip():
                raise InputError(source, "model", "is empty", "give a litellm model string such as openai/gpt-4o-mini")
            data = {"model": spec.strip()}
        elif isinstance(spec, dict):
            data = dict(spec)
        else:
            raise InputError(source, "model", f"expected a model string or mapping, got {type(spec).__name__}",
                             "use judge: openai/gpt-4o-mini or judge: {model: ..., api_base: ...}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise pydantic_to_input_error(source, e, "see docs/private-models.md for the judge fields") from None


def context_window(spec: "ModelSpec") -> int:
    """The model's context in tokens: the spec's, litellm's model info, or 8,192."""
    if spec.context_tokens:
        return spec.context_tokens
    try:
        from .litellm_import import litellm_module

        info = litellm_module().get_model_info(spec.model)
        n = info.get("max_input_tokens") or info.get("max_tokens")
        if n:
            return int(n)
    except Exception:  # unknown to litellm (a private model): the safe default
        pass
    return DEFAULT_CONTEXT
