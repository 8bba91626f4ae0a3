"""Write synthetic runs straight into a Store (no scribe, no scoring) for compare/gate tests."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from evalkit.schema import Case, Consultation, Finding, Flag, Note, Score, ScribeOutput
from evalkit.store import SessionResult, Store

SPECIALTIES = ("cardiology", "dermatology", "orthopedics")


def put_cases(store: Store, n: int, *, dataset: str = "fake", templates: Sequence[str] = ("SOAP",)) -> list[str]:
    """n minimal consultations with a specialty and template each; returns their ids."""
    items = [Consultation(id=f"case-{i:05d}",
                          case=Case(id=f"case-{i:05d}", specialty=SPECIALTIES[i % len(SPECIALTIES)],
                                    chief_complaint="x"),
                          turns=[], reference_note=Note(), template=templates[i % len(templates)], dataset=dataset)
             for i in range(n)]
    store.put_consultations(items)
    return [c.id for c in items]


def write_run(store: Store, run_id: str, case_ids: Sequence[str], values: dict[str, np.ndarray], *,
              scribe: str = "fake", label: str | None = None, failed: Sequence[int] = (),
              flagged: Sequence[int] = (), claims: dict[int, list[tuple[str, str, str | None]]] | None = None,
              dataset: str = "fake") -> str:
    """A finished run: one session per case with the given metric values (NaN = no score).

    Args:
        claims: case index → [(section, verdict, severity)] judge claims to store as findings.
    """
    store.create_run(run_id=run_id, label=label, suite_name="fake", dataset=dataset, scribe=scribe)
    claims = claims or {}
    results = []
    for i, cid in enumerate(case_ids):
        sid = f"{run_id}:{cid}"
        if i in set(failed):
            results.append(SessionResult(sid, cid, scribe, error="RuntimeError: boom"))
            continue
        out = ScribeOutput(consultation_id=cid, backend=scribe, latency_s=1.0)
        scores = [Score(session_id=sid, metric=m, value=float(v[i])) for m, v in values.items()
                  if not np.isnan(v[i])]
        finds = [Finding(kind="claim", id=f"{sec}.{k}#0", text="claim", section=sec, sentence_id=f"{sec}.{k}",
                         verdict=verdict, severity=sev)
                 for k, (sec, verdict, sev) in enumerate(claims.get(i, []))]
        flags = [Flag(session_id=sid, rule="r", reason="r")] if i in set(flagged) else []
        results.append(SessionResult(sid, cid, scribe, output=out, scores=scores, findings=finds, flags=flags))
    store.write_results(run_id, results)
    store.finish_run(run_id)
    return run_id
