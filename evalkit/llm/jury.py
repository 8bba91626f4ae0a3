"""A jury: several judges on the same note, verdicts aggregated per sentence.

Rules:

- ``majority``: a sentence is an error when more than half of the judges that gave it a
  verdict found it unsupported or contradicted; the verdict, type and severity are the most
  common among those judges (ties go to the more serious).
- ``any_major``: as ``majority``, and also an error — major — whenever any judge calls it a
  major error (for screening: nothing a single judge thinks dangerous is let through).

Omissions are clustered across judges by fuzzy text match and kept on the same rule. Each
claim's rationale lists every judge's vote; per-judge agreement with the jury's verdict is
returned by :meth:`Jury.ajudge_detailed`, accumulated in :meth:`Jury.agreement`, and stored with
each session of a suite run as the ``jury_agreement`` score (:meth:`Jury.judge_scored`).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

from ..errors import InputError
from ..schema import Claim, JudgeResult, Omission, Score, content_hash
from .render import note_of, turns_of

RULES = ("majority", "any_major")
_RANK = {"supported": 0, "unsupported": 1, "contradicted": 2}


def _worst(claims: list[Claim]) -> Claim:
    return max(claims, key=lambda c: (_RANK[c.verdict], c.severity == "major"))


def _most_common(values: list[Any], rank: dict[Any, int] | None = None) -> Any:
    counts = Counter(values)
    return max(counts, key=lambda v: (counts[v], (rank or {}).get(v, 0)))


def aggregate_claims(results: dict[str, JudgeResult], sentence_order: list[tuple[str, str, str]], rule: str
                     ) -> tuple[list[Claim], dict[str, list[int]]]:
    """Aggregate per-sentence verdicts of several judges.

    Args:
        results: judge name → its result on the note.
        sentence_order: (sentence id, section key, sentence text) in note order.
        rule: ``majority`` or ``any_major``.

    Returns:
        The jury's claims (one per judged sentence), and judge name → [agreements, votes].
    """
    agree = {name: [0, 0] for name in results}
    by_judge = {name: {} for name in results}
    for name, r in results.items():
        for c in r.claims:
            by_judge[name].setdefault(c.sentence_id, []).append(c)
    claims: list[Claim] = []
    for sid, section, text in sentence_order:
        votes = {name: _worst(cs[sid]) for name, cs in by_judge.items() if sid in cs}
        if not votes:
            continue
        flagged = {n: c for n, c in votes.items() if c.verdict != "supported"}
        majority = len(flagged) * 2 > len(votes)
        majors = {n: c for n, c in flagged.items() if c.severity == "major"}
        is_error = majority or (rule == "any_major" and bool(majors))
        if is_error:
            pool = list(flagged.values()) if majority else list(majors.values())
            verdict = _most_common([c.verdict for c in pool], _RANK)
            typ = _most_common([c.type for c in pool if c.verdict == verdict and c.type] or ["fabrication"])
            if rule == "any_major" and any(c.severity == "major" for c in pool):
                severity = "major"
            else:
                severity = _most_common([c.severity or "minor" for c in pool], {"major": 1, "minor": 0})
        else:
            verdict, typ, severity = "supported", None, None
        evidence: list[int] = []
        for n, c in votes.items():
            hit = (c.verdict != "supported") == is_error
            agree[n][0] += hit
            agree[n][1] += 1
            if hit:
                evidence += [e for e in c.evidence if e not in evidence]
        tally = "; ".join(f"{n}: {c.verdict}" + (f"/{c.type}/{c.severity}" if c.verdict != "supported" else "")
                          for n, c in votes.items())
        first = next(iter(votes.values()))
        claims.append(Claim(id=f"{sid}#0", sentence_id=sid, section=section, text=first.text or text,
                            verdict=verdict, type=typ, severity=severity, evidence=sorted(evidence),
                            rationale=f"jury ({rule}): {len(flagged)}/{len(votes)} found an error — {tally}"))
    return claims, agree


def aggregate_omissions(results: dict[str, JudgeResult], rule: str, threshold: float = 70.0) -> list[Omission]:
    """Cluster omissions across judges by fuzzy text match; keep clusters the rule accepts."""
    from rapidfuzz import fuzz

    voters = [n for n, r in results.items() if not (r.error and not r.claims)]
    clusters: list[dict[str, Omission]] = []
    for name in voters:
        for o in results[name].omissions:
            best, score = None, threshold
            for cl in clusters:
                if name in cl:
                    continue
                s = fuzz.token_set_ratio(o.text.lower(), next(iter(cl.values())).text.lower())
                if s >= score:
                    best, score = cl, s
            if best is None:
                clusters.append({name: o})
            else:
                best[name] = o
    out: list[Omission] = []
    for cl in clusters:
        os_ = list(cl.values())
        majority = len(cl) * 2 > len(voters)
        any_major = any(o.severity == "major" for o in os_)
        if not (majority or (rule == "any_major" and any_major)):
            continue
        severity = "major" if (rule == "any_major" and any_major) else _most_common(
            [o.severity for o in os_], {"major": 1, "minor": 0})
        evidence = sorted({e for o in os_ for e in o.evidence})
        out.append(Omission(id=f"omission.{len(out)}", text=os_[0].text, category=_most_common([o.category for o in os_]),
                            severity=severity, evidence=evidence))
    return out


class Jury:
    """Several LLM judges whose verdicts are aggregated (see the module docstring).

    Args:
        judges: judge objects with ``.name`` and ``async .ajudge`` (usually sharing one client).
        rule: ``majority`` or ``any_major``.
    """

    def __init__(self, judges: list[Any], rule: str = "majority"):
        if rule not in RULES:
            raise InputError("judge", "rule", f"unknown jury rule {rule!r}", f"use one of: {', '.join(RULES)}")
        if len(judges) < 2:
            raise InputError("judge", "jury", "a jury needs at least two judges", "list two or more models")
        self.judges, self.rule = judges, rule
        self.client = judges[0].client
        names: list[str] = []
        for j in judges:
            n = j.name
            while n in names:
                n = f"{j.name}#{len(names)}"
            names.append(n)
        self.names = names
        self.name = f"jury:{rule}:" + "+".join(names)
        self.version = f"jury-1({','.join(j.version for j in judges)})"
        self.prompt_hash = content_hash({"rule": rule, "judges": [[n, j.prompt_hash] for n, j in zip(names, judges)]})
        self._agree = {n: [0, 0] for n in names}
        self._lock = threading.Lock()

    def judge(self, transcript: Any, note: Any, case: Any = None) -> JudgeResult:
        """Blocking :meth:`ajudge` (safe from many threads)."""
        return self.client.run(self.ajudge(transcript, note, case))

    async def ajudge(self, transcript: Any, note: Any, case: Any = None) -> JudgeResult:
        return (await self.ajudge_detailed(transcript, note, case))[0]

    async def ajudge_detailed(self, transcript: Any, note: Any, case: Any = None) -> tuple[JudgeResult, dict]:
        """The jury's result and ``{"rule", "judges": {name: {"verdict", "agreement", "votes", "error"}}}``."""
        turns, nt = turns_of(transcript), note_of(note)
        results = await asyncio.gather(*(j.ajudge(turns, nt, case) for j in self.judges))
        by_name = dict(zip(self.names, results))
        order = [(s.id, sec.key, s.text) for sec, s in nt.sentences()]
        claims, agree = aggregate_claims(by_name, order, self.rule)
        omissions = aggregate_omissions(by_name, self.rule)
        with self._lock:
            for n, (a, t) in agree.items():
                self._agree[n][0] += a
                self._agree[n][1] += t
        errors = [f"{n}: {r.error}" for n, r in by_name.items() if r.error]
        costs = [r.cost_usd for r in results]
        res = JudgeResult(claims=claims, omissions=omissions, judge=self.name, judge_version=self.version,
                          prompt_hash=self.prompt_hash,
                          cost_usd=None if all(c is None for c in costs) else sum(c or 0.0 for c in costs),
                          error="; ".join(errors) or None)
        detail = {"rule": self.rule, "judges": {
            n: {"votes": agree[n][1], "agreement": (agree[n][0] / agree[n][1]) if agree[n][1] else None,
                "error": by_name[n].error} for n in self.names}}
        return res, detail

    def judge_scored(self, transcript: Any, note: Any, case: Any, session_id: str) -> tuple[JudgeResult, list[Score]]:
        """Blocking :meth:`ajudge_detailed`, with the per-judge agreement as a ``jury_agreement`` Score
        (value: the judges' mean agreement with the jury's verdicts on this note; detail: the rule and,
        per judge, its agreement, votes and error) so suite runs store it with the session."""
        res, detail = self.client.run(self.ajudge_detailed(transcript, note, case))
        rates = [j["agreement"] for j in detail["judges"].values() if j["agreement"] is not None]
        score = Score(session_id=session_id, metric="jury_agreement",
                      value=(sum(rates) / len(rates)) if rates else None, detail=detail)
        return res, [score]

    def agreement(self) -> dict[str, float | None]:
        """Per judge: the fraction of its sentence verdicts (error or not) that matched the jury, so far."""
        with self._lock:
            return {n: (a / t if t else None) for n, (a, t) in self._agree.items()}

    def close(self) -> None:
        self.client.close()
