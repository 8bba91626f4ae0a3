"""Pydantic schemas for every structured reply evalkit asks a model for, and JSON repair.

Models reply with JSON; :func:`parse_json_reply` gets it out of code fences and prose, fixes
trailing commas and closes what a truncated reply left open, and the schemas here validate it.
Validators are lenient about form (case, ``"T3"`` for turn 3, a missing type on a supported
claim) and strict about meaning (a verdict must be one of three; a PDQI score is 1–5).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .transport import loads

PDQI_ITEMS = ("up_to_date", "accurate", "thorough", "useful", "organized", "comprehensible", "succinct",
              "synthesized", "internally_consistent")
OMISSION_CATEGORIES = ("medication", "dose", "diagnosis", "plan", "allergy", "symptom", "other")


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")


def turn_ids(v: Any) -> list[int]:
    """Turn ids from a model's evidence list (``3``, ``"T3"``, ``"[T3]"``, ``"turn 3"``).

    Entries that are not turn ids become ``-1`` so callers can count them as invalid.
    """
    if v is None:
        return []
    if not isinstance(v, list):
        v = [v]
    out = []
    for x in v:
        if isinstance(x, int) and not isinstance(x, bool):
            out.append(x)
        elif isinstance(x, float) and x.is_integer():
            out.append(int(x))
        elif isinstance(x, str) and (m := re.fullmatch(r"\s*\[?\s*(?:T|turn\s*)?(\d+)\s*\]?\s*", x, re.I)):
            out.append(int(m.group(1)))
        else:
            out.append(-1)
    return out


def _lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


class ClaimVerdict(_Reply):
    """The judge's verdict on one claim of one note sentence."""

    sentence_id: str
    text: str = ""
    verdict: Literal["supported", "unsupported", "contradicted"]
    type: Literal["fabrication", "negation", "causality", "contextual"] | None = None
    severity: Literal["major", "minor"] | None = None
    evidence: list[int] = Field(default_factory=list)
    rationale: str = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, d: Any) -> Any:
        if isinstance(d, dict):
            d = dict(d)
            for k in ("verdict", "type", "severity"):
                d[k] = _lower(d.get(k))
                if d[k] in ("", "none", "null", "n/a"):
                    d[k] = None
            d["evidence"] = turn_ids(d.get("evidence"))
            if d.get("sentence_id") is not None:
                d["sentence_id"] = str(d["sentence_id"]).strip().strip("[]").removeprefix("S:")
            d["rationale"] = d.get("rationale") or ""
            d["text"] = d.get("text") or ""
        return d

    @model_validator(mode="after")
    def _consistent(self) -> "ClaimVerdict":
        if self.verdict == "supported":
            self.type = None
            self.severity = None
            return self
        if self.type is None:
            if self.verdict == "contradicted":
                raise ValueError("a contradicted claim needs a type (negation, causality, contextual or fabrication)")
            self.type = "fabrication"  # CREOLA: an unsupported statement is a fabrication
        if self.severity is None:
            raise ValueError("an unsupported or contradicted claim needs a severity (major or minor)")
        return self


class OmissionOut(_Reply):
    """A salient transcript fact the note leaves out."""

    text: str = Field(min_length=1)
    category: str = "other"
    severity: Literal["major", "minor"]
    evidence: list[int] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, d: Any) -> Any:
        if isinstance(d, dict):
            d = dict(d)
            d["severity"] = _lower(d.get("severity"))
            d["category"] = _lower(d.get("category")) or "other"
            d["evidence"] = turn_ids(d.get("evidence"))
        return d

    @field_validator("category")
    @classmethod
    def _known(cls, v: str) -> str:
        return v if v in OMISSION_CATEGORIES else "other"


class ClaimsReply(_Reply):
    """Reply of the claims judge: verdicts on the note's claims, and omissions."""

    claims: list[ClaimVerdict]
    salient_facts: int | None = Field(default=None, ge=0)
    omissions: list[OmissionOut] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, d: Any) -> Any:
        if isinstance(d, list):  # a bare list of claims
            return {"claims": d}
        if isinstance(d, dict) and d.get("omissions") is None:
            d = {**d, "omissions": []}
        return d


class PDQIItem(_Reply):
    score: int = Field(ge=1, le=5)
    rationale: str = ""


class PDQIReply(_Reply):
    """PDQI-9: nine items scored 1 (not at all) to 5 (extremely)."""

    items: dict[str, PDQIItem]

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, d: Any) -> Any:
        if isinstance(d, dict) and "items" not in d:
            d = {"items": d}
        if isinstance(d, dict) and isinstance(d.get("items"), dict):
            items = {}
            for k, v in d["items"].items():
                key = re.sub(r"[^a-z]+", "_", str(k).lower()).strip("_")
                items[key] = {"score": v} if isinstance(v, (int, float, str)) else v
            d = {"items": items}
        return d

    @model_validator(mode="after")
    def _all_items(self) -> "PDQIReply":
        missing = [k for k in PDQI_ITEMS if k not in self.items]
        if missing:
            raise ValueError(f"missing PDQI-9 items: {', '.join(missing)}")
        self.items = {k: self.items[k] for k in PDQI_ITEMS}
        return self


class SectionVerdict(_Reply):
    section: str
    appropriate: bool
    problems: list[str] = Field(default_factory=list)
    severity: Literal["major", "minor"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, d: Any) -> Any:
        if isinstance(d, dict):
            d = {**d, "severity": _lower(d.get("severity")) or None, "problems": d.get("problems") or []}
        return d


class AdherenceReply(_Reply):
    """Is each section's content appropriate for that section of the template?"""

    sections: list[SectionVerdict]


class NoteSentenceOut(_Reply):
    text: str = Field(min_length=1)
    evidence: list[Any] = Field(default_factory=list)  # checked against the transcript by the scribe


class NoteSectionOut(_Reply):
    key: str
    sentences: list[NoteSentenceOut] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _sentences(cls, d: Any) -> Any:
        if isinstance(d, dict):
            d = dict(d)
            d["key"] = str(d.get("key") or d.get("section") or d.get("title") or "").strip()
            s = d.get("sentences")
            if isinstance(s, str):
                d["sentences"] = [{"text": s}]
            elif isinstance(s, list):
                d["sentences"] = [{"text": x} if isinstance(x, str) else x for x in s]
        return d


class NoteReply(_Reply):
    """A note in a template's sections, each sentence with the transcript turns it rests on."""

    sections: list[NoteSectionOut] = Field(min_length=1)


class TurnOut(_Reply):
    speaker: str
    text: str = Field(min_length=1)


class DialogueReply(_Reply):
    """A generated consultation dialogue."""

    turns: list[TurnOut] = Field(min_length=2)


# ---------------------------------------------------------------------------- JSON out of text

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)(?:```|$)", re.S)


def _close_open(s: str) -> str:
    """Close the strings, arrays and objects a truncated JSON text left open."""
    stack: list[str] = []
    in_str = esc = False
    last_safe = 0
    for i, ch in enumerate(s):
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            if stack:
                stack.pop()
            last_safe = i + 1
        elif ch == ",":
            last_safe = i
    if in_str or stack:
        # cut back to the last complete element and close what is still open at that point
        s = s[:last_safe] if last_safe else s
        return _close_open_simple(s)
    return s


def _close_open_simple(s: str) -> str:
    stack: list[str] = []
    in_str = esc = False
    for ch in s:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]" and stack:
            stack.pop()
    s = s.rstrip().rstrip(",")
    if in_str:
        s += '"'
    return s + "".join(reversed(stack))


def parse_json_reply(text: str) -> tuple[Any, list[str]]:
    """The JSON value in a model reply, repaired if need be.

    Returns:
        ``(value, notes)``: ``value`` is None when nothing could be recovered; ``notes`` says
        what was repaired (``"code fence"``, ``"trailing comma"``, ``"closed truncated JSON"``)
        or why it failed.
    """
    notes: list[str] = []
    s = (text or "").strip()
    if not s:
        return None, ["empty reply"]
    if s[0] in "{[" and s[-1] in "}]":  # the usual reply, one clean JSON value: parse it directly
        try:
            return loads(s), notes
        except ValueError:
            pass
    m = _FENCE.search(s)
    if m and "```" in s:
        s = m.group(1).strip()
        notes.append("code fence")
    starts = [i for i in (s.find("{"), s.find("[")) if i >= 0]
    if not starts:
        return None, notes + ["no JSON object in reply"]
    s = s[min(starts):]
    dec = json.JSONDecoder()
    try:
        value, _ = dec.raw_decode(s)
        return value, notes
    except ValueError as e:
        first_error = f"JSON: {e.msg} at char {e.pos}"
    fixed = re.sub(r",\s*([}\]])", r"\1", s)
    if fixed != s:
        notes.append("trailing comma")
    try:
        value, _ = dec.raw_decode(fixed)
        return value, notes
    except ValueError:
        pass
    closed = _close_open(fixed)
    closed = re.sub(r",\s*([}\]])", r"\1", closed)
    try:
        value, _ = dec.raw_decode(closed)
        return value, notes + ["closed truncated JSON"]
    except ValueError:
        return None, notes + [first_error]


@lru_cache(maxsize=128)
def response_format(model: type[BaseModel], name: str, mode: str = "json_schema") -> dict | None:
    """The litellm ``response_format`` asking for ``model``'s JSON (None for ``mode="none"``).

    Cached: the same dict object is returned for the same arguments (do not modify it).
    """
    if mode == "none":
        return None
    if mode == "json_object":
        return {"type": "json_object"}
    return {"type": "json_schema", "json_schema": {"name": name, "schema": model.model_json_schema(),
                                                   "strict": False}}
