"""How one chat request reaches a model: always through litellm's provider layer, two ways.

- **litellm**: ``litellm.acompletion`` — every provider litellm knows (OpenAI, Anthropic,
  Bedrock, Vertex, Ollama...).
- **lean**: for OpenAI-compatible servers given by ``api_base``, the steps litellm's own HTTP
  handler takes — ``get_llm_provider``, ``get_optional_params`` (parameter mapping and dropping),
  the provider config's ``validate_environment`` / ``get_complete_url`` / ``transform_request`` /
  ``sign_request`` — with everything that does not depend on the messages computed once per
  model, posted over one shared aiohttp ``ClientSession`` per event loop (keep-alive connections
  for every URL). Replies in plain OpenAI form are read directly (content, finish reason, usage;
  priced with litellm's ``cost_per_token`` rates, read once per model); anything else goes through
  the provider's ``transform_response``.

Why keep the lean route: litellm's per-call wrapper (logging object, success callbacks and their
cost lookups, ``ModelResponse`` construction) costs several ms of client CPU per call; at 500 ms
model latency and 64 calls in flight that is what decides whether a run stays within 1.05 × the
latency bound on a shared core (``bench/bench_llm.py`` measures both routes and records the
decision).

Both raise :class:`LLMCallError` with a retryable flag; neither puts message text in errors.
Both carry the server's response headers (lower-cased): :attr:`RawReply.headers` on success,
:attr:`LLMCallError.headers` on an HTTP error (a 429's ``retry-after``, ``x-ratelimit-*``).

Protections on the lean route: a reply larger than
:data:`~evalkit.security.limits.MAX_REPLY_BYTES` (announced, sent, or once decompressed — the
body is read in chunks) is refused; each attempt has ``spec.timeout`` as a total deadline; a
dropped connection is a retryable :class:`LLMCallError`; a POST is never re-sent by the transport
(aiohttp retries only idempotent methods): retries are the client's, counted and budgeted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from ..security.limits import MAX_REPLY_BYTES
from .spec import ModelSpec

from .litellm_import import litellm_module  # noqa: F401 - re-exported; sets LITELLM_LOCAL_MODEL_COST_MAP

log = logging.getLogger("evalkit.llm")

try:  # the ``llm`` extra: ~10× faster JSON for request bodies and replies
    import orjson as _orjson
except ImportError:  # pragma: no cover - plain json does the same, slower
    _orjson = None


def dumps_body(data: Any) -> bytes:
    """A request body as compact UTF-8 JSON bytes."""
    if _orjson is not None:
        try:
            return _orjson.dumps(data)
        except TypeError:  # not plain JSON types (or an int over 64 bits): let json decide
            pass
    return json.dumps(data, separators=(",", ":")).encode()


def loads(body: bytes | str) -> Any:
    """Parse JSON (raises ValueError on invalid JSON, as :func:`json.loads`)."""
    if _orjson is not None:
        try:
            return _orjson.loads(body)
        except _orjson.JSONDecodeError:  # e.g. NaN or a big integer, which json accepts
            pass
    return json.loads(body)

RETRY_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class LLMCallError(Exception):
    """A model call failed. The message names the model and the failure, never the prompt.

    Attributes:
        headers: the server's response headers (lower-cased names) when the failure was an HTTP
            error reply, e.g. a 429's ``retry-after`` and ``x-ratelimit-*``; else None.
    """

    def __init__(self, model: str, kind: str, status: int | None = None, retryable: bool = False,
                 attempts: int = 1, *, headers: dict[str, str] | None = None):
        self.model, self.kind, self.status, self.retryable, self.attempts = model, kind, status, retryable, attempts
        self.headers = lower_headers(headers)
        self.retry_after: float | None = None  # the wait the server named, once the rate limiter has read it
        where = f" (HTTP {status})" if status else ""
        super().__init__(f"{model}: {kind}{where}")

    @property
    def context_window(self) -> bool:
        return "context" in self.kind.lower()


_PROVIDER_PREFIX = "llm_provider-"


def lower_headers(headers: Any) -> dict[str, str] | None:
    """Response headers as ``{lower-cased name: value}`` (litellm's ``llm_provider-`` prefix
    stripped; of a repeated header the last value), or None when there are none."""
    if headers is None:
        return None
    try:
        items = headers.items()
        out: dict[str, str] = {}
        for k, v in items:
            k = str(k).lower()
            if k.startswith(_PROVIDER_PREFIX):
                k = k[len(_PROVIDER_PREFIX):]
            out[k] = str(v)
    except (AttributeError, TypeError, ValueError):
        return None
    return out


def error_headers(e: BaseException) -> dict[str, str] | None:
    """The response headers an exception carries: an :class:`LLMCallError`'s, litellm's
    ``litellm_response_headers``, its httpx ``response.headers``, or an aiohttp error's ``headers``."""
    if isinstance(e, LLMCallError):
        return e.headers
    for h in (getattr(e, "litellm_response_headers", None), getattr(getattr(e, "response", None), "headers", None),
              getattr(e, "headers", None)):
        got = lower_headers(h)
        if got:
            return got
    return None


def classify(model: str, e: BaseException) -> LLMCallError:
    """Map any transport exception to an :class:`LLMCallError` (retryable or not), keeping the
    server's response headers when the exception carries them."""
    if isinstance(e, LLMCallError):
        return e
    name = type(e).__name__
    status = getattr(e, "status_code", None)
    status = status if isinstance(status, int) else None
    headers = error_headers(e)
    if isinstance(e, (asyncio.TimeoutError, TimeoutError)) or "Timeout" in name:
        return LLMCallError(model, "timeout", status, True, headers=headers)
    if "ContextWindow" in name:
        return LLMCallError(model, "context window exceeded", status, False, headers=headers)
    if ("Connect" in name or "Disconnected" in name or "ClientOSError" in name or "ClientPayload" in name
            or isinstance(e, ConnectionError)):  # aiohttp's ClientConnectorError (refused), httpx's ConnectError
        return LLMCallError(model, "connection error", status, True, headers=headers)
    if status is not None:
        kind = {429: "rate limited", 401: "authentication failed", 403: "permission denied",
                404: "model or endpoint not found", 400: "bad request"}.get(status, name)
        return LLMCallError(model, kind, status, status in RETRY_STATUSES, headers=headers)
    if name in ("RateLimitError", "InternalServerError", "ServiceUnavailableError", "APIConnectionError",
                "BadGatewayError"):
        return LLMCallError(model, name, status, True, headers=headers)
    return LLMCallError(model, name, status, False, headers=headers)


@dataclass
class RawReply:
    content: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    response: Any = field(default=None, repr=False)
    #: the server's response headers, lower-cased names (e.g. ``x-ratelimit-remaining-tokens``)
    headers: dict[str, str] | None = field(default=None, repr=False)


def _usage(resp: Any) -> tuple[int | None, int | None]:
    u = getattr(resp, "usage", None)
    if u is None:
        return None, None
    return getattr(u, "prompt_tokens", None), getattr(u, "completion_tokens", None)


_UNPRICED: set[str] = set()
_RATES: dict[str, tuple[float, float] | None] = {}  # model → litellm's flat per-token prices, or None


def _flat_rates(model: str) -> tuple[float, float] | None:
    """litellm's (input, output) USD per token for ``model`` when its price does not depend on the
    volume — no tiers (``*_above_<N>k_tokens``, ``tiered_pricing``, off-peak) and ``cost_per_token``
    linear at three probes — else None (priced by ``cost_per_token`` on every call).

    ``litellm.cost_per_token`` takes ~0.3–0.5 ms a call (model-map lookups and a usage object); the
    rates are read from it once per model and process.

    Raises:
        Exception: litellm has no price for the model.
    """
    litellm = litellm_module()
    a, _ = litellm.cost_per_token(model=model, prompt_tokens=1000, completion_tokens=0)
    _, b = litellm.cost_per_token(model=model, prompt_tokens=0, completion_tokens=1000)
    rates = (float(a) / 1000, float(b) / 1000)
    try:
        info = litellm.get_model_info(model)
    except Exception:
        return None
    tiered = any(v for k, v in info.items() if ("cost_per_token_above" in k or "cost_per_character_above" in k
                                                or k in ("tiered_pricing", "off_peak_pricing")))
    if tiered:
        return None
    x, y = litellm.cost_per_token(model=model, prompt_tokens=3000, completion_tokens=700)
    if abs(float(x + y) - (3000 * rates[0] + 700 * rates[1])) > 1e-9 * max(1e-12, float(x + y)):
        return None
    return rates


def price(spec: ModelSpec, resp: Any, pt: int | None, ct: int | None) -> float | None:
    """Cost in USD: the spec's own prices, else litellm's price map (``completion_cost`` for a
    response object, ``cost_per_token`` for token counts — its flat rates read once per model,
    see :func:`_flat_rates`); None when litellm has no price."""
    if spec.input_cost_per_token is not None or spec.output_cost_per_token is not None:
        return (pt or 0) * (spec.input_cost_per_token or 0.0) + (ct or 0) * (spec.output_cost_per_token or 0.0)
    if spec.model in _UNPRICED:
        return None
    try:
        if resp is not None:
            return float(litellm_module().completion_cost(completion_response=resp, model=spec.model))
        if pt is None and ct is None:
            return None
        if spec.model not in _RATES:
            _RATES[spec.model] = _flat_rates(spec.model)
        rates = _RATES[spec.model]
        if rates is not None:
            return (pt or 0) * rates[0] + (ct or 0) * rates[1]
        a, b = litellm_module().cost_per_token(model=spec.model, prompt_tokens=pt or 0, completion_tokens=ct or 0)
        return float(a + b)
    except Exception:  # litellm raises for models missing from its price map: count tokens only
        _UNPRICED.add(spec.model)
        return None


def _first_choice(resp: Any, model: str) -> tuple[str, str]:
    try:
        ch = resp.choices[0]
        return (ch.message.content or ""), (ch.finish_reason or "stop")
    except (AttributeError, IndexError, TypeError):
        raise LLMCallError(model, "reply had no choices", None, True) from None


# ---------------------------------------------------------------------------- litellm.acompletion


async def call_litellm(spec: ModelSpec, messages: list[dict], response_format: dict | None) -> RawReply:
    """One attempt through ``litellm.acompletion`` (its own retries off: the client retries)."""
    litellm = litellm_module()
    kw: dict[str, Any] = dict(spec.params)
    if spec.api_base:
        kw["api_base"] = spec.api_base
    key = spec.resolved_api_key()
    if key:
        kw["api_key"] = key
    if response_format is not None:
        kw["response_format"] = response_format
    if spec.input_cost_per_token is not None:
        kw["input_cost_per_token"] = spec.input_cost_per_token
        kw["output_cost_per_token"] = spec.output_cost_per_token or 0.0
    try:
        resp = await litellm.acompletion(model=spec.model, messages=messages, temperature=spec.temperature,
                                         max_tokens=spec.max_tokens, timeout=spec.timeout, num_retries=0,
                                         max_retries=0, drop_params=True, **kw)
    except Exception as e:
        raise classify(spec.label, e) from None
    content, finish = _first_choice(resp, spec.label)
    pt, ct = _usage(resp)
    return RawReply(content, finish, pt, ct, price(spec, resp, pt, ct), resp, _reply_headers(resp))


def _reply_headers(resp: Any) -> dict[str, str] | None:
    """The provider's response headers litellm keeps on a reply (``llm_provider-`` prefix stripped)."""
    hidden = getattr(resp, "_hidden_params", None)
    if not isinstance(hidden, dict):
        return None
    return lower_headers(hidden.get("additional_headers"))


# ---------------------------------------------------------------------------- lean route


class _NullLogging:
    """Stands in for litellm's per-call Logging object: provider transforms call these hooks."""

    model_call_details: dict = {}

    def pre_call(self, *a: Any, **k: Any) -> None:
        pass

    def post_call(self, *a: Any, **k: Any) -> None:
        pass


_NULL_LOG = _NullLogging()


class LeanRoute:
    """Provider transforms for one (model, response format), prepared once."""

    def __init__(self, spec: ModelSpec, response_format: dict | None):
        litellm = litellm_module()
        from litellm.llms.openai.chat.gpt_transformation import OpenAIGPTConfig
        from litellm.utils import ProviderConfigManager

        self.spec = spec
        key = spec.resolved_api_key()
        model, provider, dyn_key, dyn_base = litellm.get_llm_provider(spec.model, api_base=spec.api_base,
                                                                       api_key=key)
        config = ProviderConfigManager.get_provider_chat_config(model=model, provider=litellm.LlmProviders(provider))
        if not isinstance(config, OpenAIGPTConfig) or provider.startswith("azure") or not spec.api_base:
            raise NotImplementedError(f"no lean route for provider {provider}")
        self.api_key = dyn_key or key
        self.api_base = dyn_base or spec.api_base
        extra = {k: v for k, v in spec.params.items()}
        opt = litellm.get_optional_params(model=model, custom_llm_provider=provider, temperature=spec.temperature,
                                          max_tokens=spec.max_tokens, response_format=response_format,
                                          drop_params=True, **extra)
        self.json_mode = bool(opt.pop("json_mode", False))
        self.extra_body = opt.pop("extra_body", None) or None
        opt.pop("stream", None)
        self.model, self.provider, self.config, self.optional_params = model, provider, config, opt
        self.litellm_params = {"custom_llm_provider": provider, "api_base": self.api_base}
        self.headers = config.validate_environment(headers={}, model=model, messages=[], optional_params=opt,
                                                   litellm_params=self.litellm_params, api_key=self.api_key,
                                                   api_base=self.api_base)
        self._httpx_request: Any = None
        # OpenAI's own response transform is plain JSON → ModelResponse: read the few fields evalkit
        # needs directly (litellm's object construction was the largest per-call cost); providers
        # that override it keep their transform.
        self.plain_openai = type(config).transform_response is OpenAIGPTConfig.transform_response
        self.url = config.get_complete_url(api_base=self.api_base, api_key=self.api_key, model=model,
                                           optional_params=opt, litellm_params=self.litellm_params, stream=False)
        import aiohttp

        self.timeout = aiohttp.ClientTimeout(total=spec.timeout)  # each attempt's whole deadline

    def build(self, messages: list[dict]) -> tuple[dict, dict, bytes]:
        data = self.config.transform_request(model=self.model, messages=messages,
                                             optional_params=dict(self.optional_params),
                                             litellm_params=self.litellm_params, headers=self.headers)
        if self.extra_body:
            data = {**data, **self.config.transform_extra_body(extra_body=self.extra_body, request=data,
                                                               model=self.model,
                                                               litellm_params=self.litellm_params)}
        headers, signed = self.config.sign_request(headers=dict(self.headers), optional_params=self.optional_params,
                                                   request_data=data, api_base=self.url, api_key=self.api_key,
                                                   model=self.model, stream=False, fake_stream=False)
        return data, headers, signed if signed is not None else dumps_body(data)

    def parse(self, status: int, body: bytes, content_type: str, data: dict, messages: list[dict]) -> Any:
        from litellm.types.utils import ModelResponse

        raw = _response_class()(status, content=body, headers={"content-type": content_type or "application/json"},
                                request=self._request())
        return self.config.transform_response(model=self.model, raw_response=raw, model_response=ModelResponse(),
                                              logging_obj=_NULL_LOG, request_data=data, messages=messages,
                                              optional_params=self.optional_params,
                                              litellm_params=self.litellm_params, encoding=None,
                                              api_key=self.api_key, json_mode=self.json_mode)


    def parse_openai(self, body: bytes) -> tuple[str, str, int | None, int | None] | None:
        """(content, finish reason, prompt tokens, completion tokens) from a plain OpenAI chat
        completion body, or None when the reply needs the provider's full ``transform_response``
        (tool calls, non-text content, an unknown shape, or a provider that overrides it)."""
        if not self.plain_openai:
            return None
        try:
            d = loads(body)
            ch = d["choices"][0]
            msg = ch["message"]
            content = msg.get("content")
            if not isinstance(content, str) or msg.get("tool_calls") or msg.get("function_call"):
                return None
            u = d.get("usage") or {}
            pt, ct = u.get("prompt_tokens"), u.get("completion_tokens")
            return content, ch.get("finish_reason") or "stop", pt if isinstance(pt, int) else None, \
                ct if isinstance(ct, int) else None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return None

    def _request(self) -> Any:
        if self._httpx_request is None:
            import httpx

            self._httpx_request = httpx.Request("POST", self.url)
        return self._httpx_request


_RESPONSE_CLS: Any = None


def _response_class() -> Any:
    """An ``httpx.Response`` that decodes its (JSON, UTF-8) body without charset sniffing."""
    global _RESPONSE_CLS
    if _RESPONSE_CLS is None:
        import httpx

        class _JSONResponse(httpx.Response):
            @property
            def text(self) -> str:  # type: ignore[override]
                return self.content.decode("utf-8", "replace")

            def json(self, **kw: Any) -> Any:
                return json.loads(self.content, **kw)

        _RESPONSE_CLS = _JSONResponse
    return _RESPONSE_CLS


class ReplyTooLarge(Exception):
    """The reply announces, sends or inflates to more than MAX_REPLY_BYTES."""


_CHUNK = 1 << 16


async def read_capped(resp: Any, limit: int = MAX_REPLY_BYTES) -> bytes:
    """An aiohttp response's body (decompressed), read in chunks; refused past ``limit`` bytes.

    Raises:
        ReplyTooLarge: the body's ``Content-Length`` or the bytes read (after decompression) pass
            ``limit``; nothing past the limit is kept in memory.
    """
    announced = resp.content_length
    if announced is not None and announced > limit:
        raise ReplyTooLarge()
    if announced is not None and "content-encoding" not in resp.headers:
        return await resp.read()  # exactly the announced bytes, no more
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(_CHUNK):
        buf += chunk
        if len(buf) > limit:
            raise ReplyTooLarge()
    return bytes(buf)


def new_session(limit: int) -> Any:
    """The aiohttp session the lean route posts over: keep-alive connections to every server,
    at most ``limit`` open at once."""
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(limit, 1), ttl_dns_cache=300),
                                 cookie_jar=aiohttp.DummyCookieJar())  # no cookies kept from one server for another


async def call_lean(route: LeanRoute, session: Any, messages: list[dict], slot: Any = None) -> RawReply:
    """One attempt on the lean route over a shared aiohttp session.

    Args:
        route, messages: what to send.
        session: the event loop's aiohttp ``ClientSession`` (:func:`new_session`).
        slot: an async context manager (the client's concurrency semaphore) held only while the
            request is on the wire: the body is built before and the reply parsed after, so a slot
            is free for the next request as soon as a reply has arrived.

    Raises:
        LLMCallError: timeout (``spec.timeout``, the whole attempt), a dropped connection
            (retryable), a reply over MAX_REPLY_BYTES (not retryable), an HTTP error (with the
            server's headers), an unreadable reply.
    """
    import contextlib

    spec = route.spec
    data, headers, body = route.build(messages)
    try:
        async with slot or contextlib.nullcontext():
            async with session.post(route.url, data=body, headers=headers, timeout=route.timeout) as r:
                status, ctype = r.status, r.headers.get("content-type", "")
                reply_headers = lower_headers(r.headers)
                raw = await read_capped(r)
    except ReplyTooLarge:
        raise LLMCallError(spec.label, f"HTTP reply larger than {MAX_REPLY_BYTES >> 20} MB", None, False) from None
    except Exception as e:
        raise classify(spec.label, e) from None
    if slot is not None:
        # Let the request that just got this slot go out before this reply is read: when a burst
        # of replies arrives, each freed slot is reused at once instead of after every reply in
        # the burst has been parsed and judged (~0.3 ms each).
        await asyncio.sleep(0)
    if status != 200:
        err = route.config.get_error_class(error_message=f"HTTP {status}", status_code=status,
                                           headers=reply_headers or {})
        ce = classify(spec.label, err)
        ce.headers = reply_headers
        raise ce from None
    fast = route.parse_openai(raw)
    if fast is not None:
        content, finish, pt, ct = fast
        return RawReply(content, finish, pt, ct, price(spec, None, pt, ct), headers=reply_headers)
    try:
        resp = route.parse(status, raw, ctype, data, messages)
    except Exception:
        raise LLMCallError(spec.label, "unreadable reply from server", status, True, headers=reply_headers) from None
    content, finish = _first_choice(resp, spec.label)
    pt, ct = _usage(resp)
    return RawReply(content, finish, pt, ct, price(spec, resp, pt, ct), resp, reply_headers)
