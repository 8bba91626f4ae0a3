"""``http``: any scribe behind an HTTP endpoint, with request and response mappings.

Suite example::

    scribes: [http]
    scribe_options:
      http:
        url: http://127.0.0.1:8000/scribe
        input: transcript            # or audio
        send: json                   # json | multipart | wav
        request: {text: "{transcript}", format: "{template}"}
        response: {sections: "$.note.sections[*]", section_title: name, section_text: body}
        auth_env: SCRIBE_TOKEN       # sent as "Authorization: Bearer <token>"
        timeout_s: 60                # total deadline for the case, retries included
        retries: 2
        max_reply_mb: 32             # larger answers are refused

Placeholders in ``request``: ``{consultation_id}``, ``{template}``, ``{transcript}`` (text),
``{turns}`` (a list), ``{specialty}``, and with audio input ``{audio_b64}``. With
``send: multipart`` the WAV goes in the ``audio_field`` file part and the request fields as form
fields; with ``send: wav`` the body is the WAV and the fields go in ``X-Evalkit-*`` headers.
Connection errors, 429 and 5xx are retried with backoff; other answers are not. ``timeout_s`` is
a total deadline for the case — connecting, waiting, reading the answer and every retry: a
server that trickles its answer fails at ``timeout_s``. An answer larger than ``max_reply_mb`` is
refused as soon as it passes the limit (or at once, from its ``Content-Length``).

Errors never hold the server's own words (its reason phrase or body may quote the case): a
failed case records the HTTP status with its standard phrase, and sizes.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.parse
from typing import Any

import httpx

from ..errors import InputError
from ..security.limits import MAX_REPLY_BYTES, mb
from ..security.redact import http_status
from ..schema import ScribeOutput
from ._http_client import DeadlineExceeded, TooLarge, encode_multipart, request
from ._json_output import ResponseMapping, ScribeError, fill_template, output_from_json, parse_reply, request_values
from .base import ScribeInput, register

DEFAULT_REQUEST = {"consultation_id": "{consultation_id}", "template": "{template}", "transcript": "{transcript}",
                   "turns": "{turns}"}
_RETRY_STATUS = {429, 500, 502, 503, 504}


def _safe_url(url: str) -> str:
    """The URL without query string or credentials (they may carry secrets)."""
    p = urllib.parse.urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host += f":{p.port}"
    return urllib.parse.urlunsplit((p.scheme, host, p.path, "", ""))


def _multipart(fields: dict[str, Any], file_field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """The request fields as form fields (non-strings as JSON) and the WAV as a file part."""
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    return encode_multipart(form, file_field, filename, data, "audio/wav")


class HttpScribe:
    """POST a transcript or audio to a URL; read the note from the JSON answer.

    Args:
        url: the endpoint.
        input: ``transcript`` (text scribe) or ``audio`` (needs a WAV per case).
        send: ``json`` body, ``multipart`` form with the WAV, or raw ``wav`` body.
        request: JSON template of the request fields (placeholders in the module docstring).
        response: response mapping (see :mod:`evalkit.scribes._json_output`); default evalkit's shape.
        headers: extra headers.
        auth_env: environment variable holding a token; sent as ``auth_header: auth_scheme token``.
        auth_header: header name for the token.
        auth_scheme: prefix before the token (``Bearer``; empty for none).
        audio_field: multipart file field name.
        method: HTTP method.
        timeout_s: total seconds for one case: connecting, the answer, and every retry.
        retries: extra attempts after a connection error, 429 or 5xx, while time is left.
        backoff_s: first wait between attempts (doubles each time).
        name: backend name recorded in outputs.
        version: backend version recorded in outputs (the answer's ``version`` wins when mapped).
        max_reply_mb: largest answer read, in MB.
    """

    def __init__(self, url: str, input: str = "transcript", send: str = "json", request: dict | None = None,
                 response: dict | None = None, headers: dict[str, str] | None = None, auth_env: str | None = None,
                 auth_header: str = "Authorization", auth_scheme: str = "Bearer", audio_field: str = "audio",
                 method: str = "POST", timeout_s: float = 60.0, retries: int = 2, backoff_s: float = 0.5,
                 name: str = "http", version: str = "1", max_reply_mb: float = MAX_REPLY_BYTES / 2**20):
        src = "http scribe"
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise InputError(src, "url", "must be an http:// or https:// URL", "set scribe_options.http.url")
        if input not in ("transcript", "audio"):
            raise InputError(src, "input", f"unknown input {input!r}", "use transcript or audio")
        if send not in ("json", "multipart", "wav"):
            raise InputError(src, "send", f"unknown send mode {send!r}", "use json, multipart or wav")
        if send != "json" and input != "audio":
            raise InputError(src, "send", f"send: {send} needs audio input", "set input: audio, or send: json")
        self.url, self.input, self.send = url, input, send
        self.request = request if request is not None else (
            {k: v for k, v in DEFAULT_REQUEST.items() if k != "turns"} if send != "json" else DEFAULT_REQUEST)
        self.mapping = ResponseMapping.from_options(response, src)
        self.headers = dict(headers or {})
        self.auth_env, self.auth_header, self.auth_scheme = auth_env, auth_header, auth_scheme
        self.audio_field, self.method = audio_field, method.upper()
        self.timeout_s, self.retries, self.backoff_s = float(timeout_s), int(retries), float(backoff_s)
        if not self.timeout_s > 0:
            raise InputError(src, "timeout_s", f"{timeout_s!r} is not a positive number of seconds",
                             "set e.g. timeout_s: 60")
        if not float(max_reply_mb) > 0:
            raise InputError(src, "max_reply_mb", f"{max_reply_mb!r} is not a positive size", "set e.g. max_reply_mb: 32")
        self.max_reply = int(float(max_reply_mb) * 2**20)
        self.name, self.version = name, str(version)
        self.needs_audio = input == "audio"
        self._where = _safe_url(url)

    # -------------------------------------------------------------- request

    def _auth(self) -> dict[str, str]:
        if not self.auth_env:
            return {}
        token = os.environ.get(self.auth_env)
        if not token:
            raise InputError("http scribe", "auth_env", f"environment variable {self.auth_env} is not set",
                             f"export {self.auth_env}=<token> before the run")
        return {self.auth_header: f"{self.auth_scheme} {token}".strip()}

    def build_request(self, item: ScribeInput) -> tuple[bytes, dict[str, str]]:
        """Body and headers for one case (no network)."""
        values = request_values(item)
        wav = b""
        if self.needs_audio:
            if item.audio_path is None or not item.audio_path.exists():
                raise InputError(item.consultation.id, "audio", "this HTTP scribe sends audio and the case has none",
                                 "generate audio first or set input: transcript")
            wav = item.audio_path.read_bytes()
            if self.send == "json":
                values["audio_b64"] = base64.b64encode(wav).decode("ascii")
        fields = fill_template(self.request, values)
        headers = {"Accept": "application/json", **self.headers, **self._auth()}
        if self.send == "json":
            body = json.dumps(fields, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif self.send == "multipart":
            body, ctype = _multipart(fields if isinstance(fields, dict) else {"data": fields}, self.audio_field,
                                     f"{item.consultation.id}.wav", wav)
            headers["Content-Type"] = ctype
        else:
            body = wav
            headers["Content-Type"] = "audio/wav"
            if isinstance(fields, dict):
                for k, v in fields.items():
                    headers[f"X-Evalkit-{k.replace('_', '-').title()}"] = v if isinstance(v, str) else json.dumps(v)
        return body, headers

    def call(self, body: bytes, headers: dict[str, str]) -> bytes:
        """Send with retries until ``timeout_s`` has passed; return the answer's body.

        Raises ScribeError with a one-line reason that holds no text the server sent.
        """
        deadline = time.monotonic() + self.timeout_s
        delay, last = self.backoff_s, ""
        for attempt in range(self.retries + 1):
            try:
                status, _ctype, answer_headers, data = request(self.url, data=body, headers=headers,
                                                               method=self.method, deadline=deadline,
                                                               max_bytes=self.max_reply)
                if status < 400:
                    return data
                if status not in _RETRY_STATUS:
                    raise ScribeError(f"{self._where}: {http_status(status)} — fix: check the URL, the auth "
                                      "token and the request mapping") from None
                last = http_status(status)
                retry_after = answer_headers.get("retry-after", "")
                if retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 30.0))
            except TooLarge as e:
                raise ScribeError(f"{self._where}: the answer is {mb(e.size)} or more, larger than max_reply_mb "
                                  f"({mb(self.max_reply)}) — fix: raise max_reply_mb in the scribe's options, or "
                                  "check the endpoint returns one JSON answer") from None
            except DeadlineExceeded:
                last = "timed out"
                break
            except (httpx.TransportError, OSError) as e:  # refused, dropped, not HTTP: retried while time is left
                last = type(e).__name__
            left = deadline - time.monotonic()
            if attempt < self.retries and left > 0:
                time.sleep(min(delay, left))
                delay *= 2
            if time.monotonic() >= deadline:
                last = last or "timed out"
                break
        if last == "timed out" or time.monotonic() >= deadline:
            why = (f"no complete answer within timeout_s {self.timeout_s:g}s (a total deadline, retries included; "
                   f"{attempt + 1} attempt(s), last: {last})")
        else:
            why = f"no usable answer after {attempt + 1} attempt(s) (last: {last}; timeout_s {self.timeout_s:g}s)"
        raise ScribeError(f"{self._where}: {why} — fix: check the server is up, or raise timeout_s/retries")

    # -------------------------------------------------------------- run

    def run(self, item: ScribeInput) -> ScribeOutput:
        t0 = time.perf_counter()
        body, headers = self.build_request(item)
        data = self.call(body, headers)
        doc, repaired = parse_reply(data, f"{self._where}: the answer", "the endpoint must return application/json")
        out = output_from_json(doc, self.mapping, consultation_id=item.consultation.id, template=item.template,
                               backend=self.name, version=self.version,
                               input_turns=None if self.needs_audio else list(item.consultation.turns),
                               where=self._where)
        out.latency_s = time.perf_counter() - t0
        out.metadata.update({"url": self._where})
        if repaired:
            out.metadata["repaired_characters"] = repaired
        return out


@register("http")
def make_http_scribe(**options: Any) -> HttpScribe:
    """Factory for ``get_scribe("http", {"http": {...}})``."""
    if "url" not in options:
        raise InputError("http scribe", "url", "is required", "set scribe_options: {http: {url: ...}} in the suite")
    return HttpScribe(**options)
