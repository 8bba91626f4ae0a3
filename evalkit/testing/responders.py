"""Replies the stub server can compute from a request (``responder=`` in :class:`StubLLM`).

They read the ids evalkit's prompts carry (``[S:plan.0]`` sentences, ``[T3 ...]`` turns,
``Judge all N sentences: ...``, ``Section keys: ...``), so their replies validate for any input.
"""

from __future__ import annotations

import re

_SENTENCE_LINE = re.compile(r"^\s*\[S:([^\]]+)\]", re.M)
_TURN_LINE = re.compile(r"^\s*\[T(\d+)\b", re.M)


def _user_text(req: dict) -> str:
    return "\n".join(str(m.get("content") or "") for m in req.get("messages", []) if m.get("role") == "user")


def judge_responder(req: dict) -> dict:
    """A judge that finds every note sentence supported by the first transcript turn.

    It reads the sentence ids (``[S:plan.0]`` lines) and turn ids (``[T3 ...]`` lines) the
    evalkit judge prompts contain, so its replies validate for any note.
    """
    text = _user_text(req)
    turns = [int(t) for t in _TURN_LINE.findall(text)]
    ev = turns[:1]
    claims = [{"sentence_id": sid, "text": "claim", "verdict": "supported", "type": None, "severity": None,
               "evidence": ev, "rationale": ""} for sid in requested_sentence_ids(req)]
    return {"claims": claims, "salient_facts": 0, "omissions": []}


_ASKED = re.compile(r"Judge all \d+ sentences: (.*?)\.?\s*$", re.M)


def requested_sentence_ids(req: dict) -> list[str]:
    """The note sentence ids a judge request asks verdicts for (from its last user message)."""
    users = [str(m.get("content") or "") for m in req.get("messages", []) if m.get("role") == "user"]
    text = users[0] if users else ""
    m = _ASKED.search(text)
    if m:
        return [x.strip() for x in m.group(1).split(",") if x.strip()]
    return _SENTENCE_LINE.findall(text)


def evalkit_responder(req: dict) -> dict:
    """A valid reply to any evalkit prompt: judge (all supported), PDQI-9 (all 4), adherence (all
    appropriate), notes (one sentence per section key, citing turn 0) and dialogues (saying every
    planted keyword). For wiring tests and demos, not for measuring anything."""
    system = str((req.get("messages") or [{}])[0].get("content") or "")
    text = _user_text(req)
    if "Judge all" in text:
        return judge_responder(req)
    if "PDQI-9" in system:
        keys = re.search(r"Item keys: (.*?)\.\s*$", text, re.M)
        return {"items": {k.strip(): {"score": 4, "rationale": ""} for k in (keys.group(1) if keys else "").split(",")
                          if k.strip()}}
    keys_m = re.search(r"Section keys(?: in this note)?: (.*?)\.\s*$", text, re.M)
    keys = [k.strip() for k in keys_m.group(1).split(",")] if keys_m else []
    if '"appropriate"' in text:
        return {"sections": [{"section": k, "appropriate": True, "problems": [], "severity": None} for k in keys]}
    if '"turns"' in text:
        said = [w.strip() for m in re.findall(r"\(say: (.*?)\)\s*$", text, re.M) for w in m.split(",")]
        return {"turns": [{"speaker": "doctor", "text": "Hello, what brings you in today?"},
                          {"speaker": "patient", "text": "I wanted to talk about " + (", ".join(said) or "my health") + "."}]}
    if keys:
        said = [w.strip() for m in re.findall(r"\(say: (.*?)\)\s*$", text, re.M) for w in m.split(",")]
        body = "Discussed " + (", ".join(said) if said else "the consultation") + "."
        return {"sections": [{"key": k, "sentences": [{"text": body if i == 0 else "Reviewed.", "evidence": [0]}]}
                             for i, k in enumerate(keys)]}
    return {}


def echo_responder(req: dict) -> dict:
    """Reply with a summary of the request (model, message count, response_format type)."""
    rf = req.get("response_format") or {}
    return {"model": req.get("model"), "messages": len(req.get("messages", [])),
            "response_format": rf.get("type") if isinstance(rf, dict) else None}
