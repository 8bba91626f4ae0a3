"""Calibrate any judge (offline, LLM or jury): planted-error recall, false flags, cost, and
agreement (Cohen's κ) with clinicians' claim labels; gate on the figures; store per judge version.

Planted errors come from :mod:`evalkit.calibrate.plant` and are scored by
:func:`evalkit.calibrate.measure.measure`. ``measure`` calls the judge one note at a time, so for
judges with an async interface the notes are first collected (a dry pass of ``measure`` with a
recording judge), judged concurrently through the shared LLM client, and ``measure`` is then
replayed on the results: the figures are exactly ``measure``'s, the wall time that of a
concurrent run.

Clinician agreement uses ``claim_label`` annotations (payload ``{agree, verdict?, type?,
severity?}``; the latest label per reviewer counts), compared per note sentence: a sentence is an
error for the judge when any of its claims is unsupported or contradicted; for a clinician when
their label says so (``verdict``, or ``agree`` with the stored judge's verdict).
"""

from __future__ import annotations

import json
from itertools import combinations
from typing import Any, Callable

from ..review.agreement import cohen_kappa
from ..errors import InputError
from ..schema import Consultation, JudgeResult, Note, Turn, content_hash
from .measure import measure
from .plant import KINDS

SEVERITY = ("none", "minor", "major")


# ---------------------------------------------------------------------------- judges and data


def make_calibration_judge(spec: Any, *, store: Any = None, client: Any = None, api_base: str | None = None) -> Any:
    """``grounding`` (or ``offline``) → the offline judge; anything else → :func:`evalkit.llm.judge.make_llm_judge`."""
    if spec in (None, "", "grounding", "offline"):
        from ..metrics.hallucination import GroundingJudge

        return GroundingJudge()
    from ..llm.judge import make_llm_judge

    return make_llm_judge(spec, store=store, client=client, api_base=api_base)


def load_items(*, store: Any = None, dataset: str | None = None, csv: str | None = None,
               limit: int | None = None) -> tuple[list[Consultation], str]:
    """Consultations to plant errors in (from the store, or an ACI-Bench CSV) and a dataset label."""
    if csv:
        from ..importers.aci_bench import find_metadata, load_aci_bench

        items = load_aci_bench(csv, find_metadata(csv), dataset="calibration")
        label = f"csv:{csv}"
    elif dataset:
        if store is None:
            raise InputError("calibrate", "--dataset", "needs a database", "give --db")
        items = store.list_consultations(dataset)
        label = dataset
        if not items:
            raise InputError(f"dataset {dataset!r}", "--dataset", "has no consultations in the store",
                             "run `evalkit generate` or `evalkit import` first, or pass --csv")
    else:
        raise InputError("calibrate", "--dataset/--csv", "no data given", "pass --dataset NAME or --csv PATH")
    return (items[:limit] if limit else items), label


def _key(turns: list[Turn], note: Note) -> str:
    return content_hash({"t": [t.model_dump(mode="json") for t in turns], "n": note.model_dump(mode="json")}, 24)


def judge_all(judge: Any, inputs: list[tuple[list[Turn], Note, Any]]) -> list[JudgeResult]:
    """Judge many notes: concurrently through the judge's LLM client when it has one.

    Raises:
        BudgetExceeded: the budget ran out (everything judged so far is in the reply cache).
    """
    if hasattr(judge, "ajudge") and hasattr(judge, "client"):
        import asyncio

        async def all_() -> list[JudgeResult]:
            return list(await asyncio.gather(*(judge.ajudge(t, n, c) for t, n, c in inputs)))

        try:
            return judge.client.run(all_())
        finally:
            judge.client.flush()
    fn = judge.judge if hasattr(judge, "judge") else judge
    return [fn(t, n, c) for t, n, c in inputs]


def planted_recall(judge: Any, items: list[Any], kinds: list[str] | tuple[str, ...] = KINDS, seed: int = 0,
                   keep_examples: int = 3) -> dict[str, Any]:
    """``measure``'s figures for ``judge`` (a judge object or ``judge_fn``), judging concurrently."""
    seen: dict[str, tuple[list[Turn], Note, Any]] = {}

    def record(turns: list[Turn], note: Note, case: Any = None) -> JudgeResult:
        seen.setdefault(_key(turns, note), (turns, note, case))
        return JudgeResult()

    measure(record, items, kinds, seed)
    keys = list(seen)
    results = dict(zip(keys, judge_all(judge, [seen[k] for k in keys])))

    def replay(turns: list[Turn], note: Note, case: Any = None) -> JudgeResult:
        return results[_key(turns, note)]

    out = measure(replay, items, kinds, seed, keep_examples=keep_examples)
    out["judged_notes"] = len(keys)
    out["judge_errors"] = sum(1 for r in results.values() if r.error)
    return out


# ---------------------------------------------------------------------------- clinicians


def _sentence(target: str | None) -> str | None:
    return target.split("#", 1)[0] if target else None


def _judge_labels(res: JudgeResult) -> dict[str, tuple[bool, str]]:
    out: dict[str, tuple[bool, str]] = {}
    for c in res.claims:
        flag = c.verdict != "supported"
        sev = (c.severity or "minor") if flag else "none"
        prev = out.get(c.sentence_id)
        if prev is None or (flag, SEVERITY.index(sev)) > (prev[0], SEVERITY.index(prev[1])):
            out[c.sentence_id] = (flag, sev)
    return out


def clinician_labels(store: Any) -> dict[tuple[str, str], dict[str, tuple[bool, str]]]:
    """(session id, sentence id) → reviewer → (is an error, severity), from ``claim_label`` annotations."""
    ann = store.annotation_frame(kinds=["claim_label"])
    if ann is None or ann.empty:
        return {}
    ann = ann.sort_values("created_at")
    stored = store.claim_findings(sorted(set(ann["session_id"])))
    verdicts = {(r.session_id, r.finding_id): (r.verdict, r.severity) for r in stored.itertuples()}
    out: dict[tuple[str, str], dict[str, tuple[bool, str]]] = {}
    for r in ann.itertuples():
        p = json.loads(r.payload) if isinstance(r.payload, str) else (r.payload or {})
        sid = _sentence(r.target)
        if not sid:
            continue
        jv, jsev = verdicts.get((r.session_id, r.target), (None, None))
        if p.get("verdict") in ("supported", "unsupported", "contradicted"):
            flag = p["verdict"] != "supported"
        elif p.get("agree") is not None and jv is not None:
            flag = (jv != "supported") == bool(p["agree"])
        else:
            continue
        sev = "none" if not flag else (p.get("severity") or (jsev if p.get("agree") else None) or "minor")
        out.setdefault((r.session_id, sid), {})[r.reviewer] = (flag, sev if sev in SEVERITY else "minor")
    return out


def clinician_agreement(store: Any, judge: Any) -> dict[str, Any] | None:
    """Cohen's κ between the judge and clinicians (and weighted κ on severity), and between clinicians.

    The judge is run on every annotated session's note (its true transcript as ground), so a new
    judge can be compared with labels made on another judge's findings. None without labels.
    """
    labels = clinician_labels(store)
    if not labels:
        return None
    sessions = sorted({s for s, _ in labels})
    inputs, names = [], []
    for sid in sessions:
        d = store.session_detail(sid)
        if d.get("consultation") is None or d.get("output") is None:
            continue
        inputs.append((d["consultation"].turns, d["output"].note, d["consultation"].case))
        names.append(sid)
    results = dict(zip(names, judge_all(judge, inputs)))
    jl = {sid: _judge_labels(r) for sid, r in results.items()}
    ja, ca, jsev, csev = [], [], [], []
    for (sid, sent), by_rev in labels.items():
        if sid not in jl:
            continue
        j = jl[sid].get(sent, (False, "none"))
        for flag, sev in by_rev.values():
            ja.append(j[0])
            ca.append(flag)
            jsev.append(j[1])
            csev.append(sev)
    reviewers = sorted({r for v in labels.values() for r in v})
    pairs = {}
    for a, b in combinations(reviewers, 2):
        both = [(v[a][0], v[b][0]) for v in labels.values() if a in v and b in v]
        if both:
            pairs[f"{a}|{b}"] = {"items": len(both), "kappa": cohen_kappa([x for x, _ in both], [y for _, y in both],
                                                                         labels=[False, True])}
    ks = [p["kappa"] for p in pairs.values()]
    return {
        "items": len(ja), "sessions": len(results), "reviewers": reviewers,
        "kappa_judge_clinician": cohen_kappa(ja, ca, labels=[False, True]) if ja else None,
        "weighted_kappa_severity": cohen_kappa(jsev, csev, labels=list(SEVERITY), weights="linear") if ja else None,
        "agreement_judge_clinician": (sum(x == y for x, y in zip(ja, ca)) / len(ja)) if ja else None,
        "kappa_between_clinicians": pairs,
        "kappa_between_clinicians_mean": (sum(ks) / len(ks)) if ks else None,
    }


# ---------------------------------------------------------------------------- calibrate and gate


def judge_identity(judge: Any) -> tuple[str, str]:
    """(name, version) to store a calibration under; the version includes the prompt hash."""
    name = getattr(judge, "name", None) or getattr(judge, "__name__", "judge")
    version = str(getattr(judge, "version", "1"))
    ph = getattr(judge, "prompt_hash", None)
    return name, (f"{version}+{ph}" if ph else version)


def calibrate(judge: Any, items: list[Any], *, kinds: list[str] | tuple[str, ...] = KINDS, seed: int = 0,
              store: Any = None, dataset: str = "", clinicians: bool = True, keep_examples: int = 3,
              save: bool = True) -> dict[str, Any]:
    """Calibrate a judge and (with a store) save the result in ``calibrations``.

    Args:
        judge: a judge object (``.judge``/``.ajudge``) or ``judge_fn(transcript, note, case)``.
        items: Consultations whose reference notes get errors planted.
        kinds: planted-error kinds (:data:`evalkit.calibrate.plant.KINDS`).
        seed: planting seed (same seed, same errors).
        store: the Store: clinician labels come from it and the result is saved in it.
        dataset: label of the data (a store dataset name or ``csv:PATH``).
        clinicians: also compute κ against clinicians' claim labels.
        keep_examples: missed errors to keep per kind (sentence ids and the change).
        save: store the result.

    Raises:
        BudgetExceeded: the LLM budget ran out (paid calls are cached: re-running resumes).
    """
    result = planted_recall(judge, items, kinds, seed, keep_examples)
    if store is not None and clinicians:
        result["clinicians"] = clinician_agreement(store, judge)
    client = getattr(judge, "client", None)
    if client is not None:
        st = client.stats
        result["cost"] = {"calls": st["calls"], "cached": st["cached"], "errors": st["errors"],
                          "prompt_tokens": st["prompt_tokens"], "completion_tokens": st["completion_tokens"],
                          "cost_usd": st["cost_usd"] if st.get("priced_calls") or not st["calls"] else None}
    else:
        result["cost"] = {"calls": 0, "cached": 0, "cost_usd": 0.0}
    if hasattr(judge, "agreement"):
        result["jury_agreement"] = judge.agreement()
    name, version = judge_identity(judge)
    result.update(judge=name, judge_version=version, dataset=dataset, items=len(items), kinds=list(kinds))
    if save and store is not None:
        result["id"] = store.put_calibration(name, version, dataset, result)
    return result


def gate(result: dict[str, Any], *, min_recall: float | None = None, max_false_flag: float | None = None,
         min_kappa: float | None = None) -> list[str]:
    """Failed gate conditions, one line each (empty list: pass).

    Args:
        min_recall: every planted kind's recall must reach this.
        max_false_flag: the false-flag rate (flagged claims / claims on the untouched notes) must not exceed it.
        min_kappa: Cohen's κ between judge and clinicians must reach it (fails without clinician labels).
    """
    fails: list[str] = []
    if min_recall is not None:
        for kind, r in sorted(result.get("recall", {}).items()):
            if r < min_recall:
                fails.append(f"recall {kind} {r:.3f} < {min_recall:g}")
        if not result.get("recall"):
            fails.append("no planted errors to measure recall on")
    ff = result.get("false_flag_claim_rate")
    if max_false_flag is not None and ff is not None and ff > max_false_flag:
        fails.append(f"false-flag rate {ff:.3f} > {max_false_flag:g}")
    if min_kappa is not None:
        k = (result.get("clinicians") or {}).get("kappa_judge_clinician")
        if k is None:
            fails.append("no clinician claim labels to compute κ on")
        elif k < min_kappa:
            fails.append(f"κ judge–clinician {k:.3f} < {min_kappa:g}")
    return fails


JudgeFn = Callable[[list[Turn], Note, Any], JudgeResult]
