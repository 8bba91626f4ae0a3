"""A judge on labelled real notes: flag precision, recall of real errors, false flags, omissions.

Planted errors say what a judge catches of the errors its authors thought of; real notes say
how far its flags can be trusted. :func:`judge_bench` runs any judge (offline or LLM) on a
labelled set (:mod:`evalkit.calibrate.labels`) and compares, sentence by sentence:

- a labelled sentence is *flagged* when a claim the judge made of it is unsupported or
  contradicted (and, with ``min_confidence``, at least that confident); claims are tied to the
  labelled sentences by where their text lies in the note, so the labels never depend on
  evalkit's note parser;
- ``precision`` = flags on ``error`` sentences / flags on ``error`` + ``ok`` sentences; flags
  on ``outside`` sentences (true of the record, not said in the visit) are counted apart and
  only ``strict_precision`` counts them as false;
- ``recall`` / ``recall_major`` = labelled errors (major errors) flagged;
- ``false_major_per_note`` = major flags on ``ok`` sentences per note (and per faithful note,
  one with no labelled error);
- ``major_on_major`` = of flags the judge marks major, the share on labelled-major errors;
  ``severity_agreement`` = flagged errors whose severity the judge got right;
- omissions: a judge omission is right when it matches a labelled one (a shared dialogue turn
  and a shared content word, or two shared content words); ``omission_precision`` and
  ``omission_recall_major``.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..schema import Claim, JudgeResult, Note
from ..text.parse import parse_note
from .labels import LabelledNote, LabelledSet
from .matching import omission_matches

_ALNUM = re.compile(r"[a-z0-9]")
SEV_RANK = {"major": 2, "minor": 1}


def _squash(text: str) -> tuple[str, list[int]]:
    """Lower-case letters and digits of ``text`` and the offset of each in ``text``."""
    low = text.lower()
    pos = [m.start() for m in _ALNUM.finditer(low)]
    return "".join(low[i] for i in pos), pos


@dataclass
class SentenceOutcome:
    """One labelled sentence and what the judge said of it."""

    note: LabelledNote
    index: int
    claims: list[Claim] = field(default_factory=list)

    @property
    def label(self) -> Any:
        return self.note.sentences[self.index]

    def flags(self, min_confidence: float = 0.0) -> list[Claim]:
        return [c for c in self.claims if c.verdict != "supported" and _conf(c) >= min_confidence]


def _conf(c: Claim) -> float:
    v = getattr(c, "confidence", None)
    return 1.0 if v is None else float(v)


def locate_claims(note_text: str, parsed: Note, claims: Iterable[Claim]) -> list[tuple[Claim, int, int]]:
    """Each claim with its span in squashed note coordinates (letters and digits only).

    A claim is found inside its sentence (the parsed sentence is found in the note first, in
    order); a claim whose text is not in the note (an LLM's paraphrase) takes its sentence's span.
    """
    sq, _ = _squash(note_text)
    spans: dict[str, tuple[int, int]] = {}
    cursor = 0
    for sec in parsed.sections:
        for s in sec.sentences:
            t, _ = _squash(s.text)
            if not t:
                continue
            i = sq.find(t, cursor)
            if i < 0:
                i = sq.find(t)
            if i >= 0:
                spans[s.id] = (i, i + len(t))
                cursor = i + len(t)
    out = []
    for c in claims:
        span = spans.get(c.sentence_id)
        if span is None:
            continue
        t, _ = _squash(c.text)
        j = sq.find(t, span[0], span[1]) if t else -1
        out.append((c, j, j + len(t)) if j >= 0 else (c, span[0], span[1]))
    return out


def assign(lnote: LabelledNote, parsed: Note, result: JudgeResult) -> list[SentenceOutcome]:
    """The judge's claims on each labelled sentence of ``lnote``."""
    _, pos = _squash(lnote.note)
    segs = []
    for s in lnote.sentences:
        a, b = bisect.bisect_left(pos, s.start), bisect.bisect_left(pos, s.end)
        segs.append((a, b))
    outs = [SentenceOutcome(lnote, i) for i in range(len(lnote.sentences))]
    heading = [s.type == "heading" for s in lnote.sentences]
    for claim, a, b in locate_claims(lnote.note, parsed, result.claims):
        for i, (sa, sb) in enumerate(segs):
            ov = min(b, sb) - max(a, sa)
            # a claim is on a sentence when it covers half of it or lies half in it; on a heading ("MSK:")
            # only when it lies half in it (a claim that runs on past an inline heading is the sentence's)
            if ov > 0 and ((ov * 2 >= (sb - sa) and not heading[i]) or ov * 2 >= (b - a)):
                outs[i].claims.append(claim)
    return outs


@dataclass
class NoteOutcome:
    """One labelled note judged."""

    note: LabelledNote
    sentences: list[SentenceOutcome]
    result: JudgeResult


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def figures(outcomes: list[NoteOutcome], min_confidence: float = 0.0) -> dict[str, Any]:
    """Precision, recall, false flags, severity and omission figures for a group of judged notes."""
    c: dict[str, float] = defaultdict(float)
    faithful = []
    for no in outcomes:
        errs = sum(1 for s in no.note.sentences if s.label == "error")
        c["notes"] += 1
        c["sentences"] += len(no.note.sentences)
        false_major = 0
        for so in no.sentences:
            lab = so.label
            fl = so.flags(min_confidence)
            major_flag = any(f.severity == "major" for f in fl)
            c[f"label_{lab.label}"] += 1
            if lab.label == "error":
                c[f"label_error_{lab.severity}"] += 1
            if not fl:
                continue
            c["flagged"] += 1
            c[f"flagged_{lab.label}"] += 1
            c["major_flags"] += major_flag
            if lab.label == "error":
                c[f"flagged_error_{lab.severity}"] += 1
                c["severity_right"] += ("major" if major_flag else "minor") == lab.severity
                c["major_flag_on_major"] += major_flag and lab.severity == "major"
            elif lab.label == "ok":
                false_major += major_flag
                c["major_flag_on_ok"] += major_flag
            else:
                c["major_flag_on_outside"] += major_flag
        c["false_major"] += false_major
        if errs == 0:
            faithful.append(false_major)
        judged = [o for o in no.result.omissions]
        c["omissions"] += len(judged)
        c["omissions_right"] += sum(1 for o in judged if any(
            omission_matches(o.text, o.evidence, lo.text, lo.turns) for lo in no.note.omissions))
        for lo in no.note.omissions:
            hit = any(omission_matches(o.text, o.evidence, lo.text, lo.turns) for o in judged)
            c[f"labelled_omissions_{lo.severity}"] += 1
            c[f"labelled_omissions_{lo.severity}_found"] += hit
    fo = c["flagged_ok"]
    return {
        "notes": int(c["notes"]), "sentences": int(c["sentences"]),
        "errors": int(c["label_error"]), "major_errors": int(c["label_error_major"]),
        "flagged": int(c["flagged"]), "flags_on_errors": int(c["flagged_error"]), "flags_on_ok": int(fo),
        "flags_on_outside": int(c["flagged_outside"]),
        "precision": _ratio(c["flagged_error"], c["flagged_error"] + fo),
        "strict_precision": _ratio(c["flagged_error"], c["flagged"]),
        "recall": _ratio(c["flagged_error"], c["label_error"]),
        "recall_major": _ratio(c["flagged_error_major"], c["label_error_major"]),
        "false_major_per_note": _ratio(c["false_major"], c["notes"]),
        "faithful_notes": len(faithful),
        "false_major_per_faithful_note": _ratio(sum(faithful), len(faithful)),
        "major_flags": int(c["major_flags"]),
        "major_on_major": _ratio(c["major_flag_on_major"], c["major_flags"] - c["major_flag_on_outside"]),
        "severity_agreement": _ratio(c["severity_right"], c["flagged_error"]),
        "omissions": int(c["omissions"]),
        "omission_precision": _ratio(c["omissions_right"], c["omissions"]),
        "omission_recall": _ratio(c["labelled_omissions_major_found"] + c["labelled_omissions_minor_found"],
                                  c["labelled_omissions_major"] + c["labelled_omissions_minor"]),
        "omission_recall_major": _ratio(c["labelled_omissions_major_found"], c["labelled_omissions_major"]),
    }


def reliability(outcomes: list[NoteOutcome], edges: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
                ) -> list[dict[str, Any]]:
    """Flags by the judge's confidence: how often a flag at that confidence is on a labelled error.

    A sentence's confidence is its most confident flagged claim's; ``outside`` sentences are left out.
    """
    rows = []
    flagged = [(max(_conf(f) for f in so.flags()), so.label.label == "error")
               for no in outcomes for so in no.sentences if so.flags() and so.label.label != "outside"]
    for lo, hi in zip(edges, edges[1:]):
        inb = [ok for conf, ok in flagged if lo <= conf < hi]
        rows.append({"confidence": f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}", "flags": len(inb),
                     "on_errors": sum(inb), "precision": _ratio(sum(inb), len(inb))})
    return rows


def judge_notes(judge: Any, lset: LabelledSet, with_context: bool = True) -> list[NoteOutcome]:
    """Run ``judge`` on every labelled note of ``lset`` (concurrently for LLM judges)."""
    from .calibrate import judge_all

    parsed = [parse_note(n.note) for n in lset.notes]
    inputs = [(lset.encounters[n.encounter_id].turns, p, lset.encounters[n.encounter_id].case if with_context else None)
              for n, p in zip(lset.notes, parsed)]
    results = judge_all(judge, inputs)
    return [NoteOutcome(n, assign(n, p, r), r) for n, p, r in zip(lset.notes, parsed, results)]


def judge_bench(judge: Any, lset: LabelledSet, *, min_confidence: float = 0.0, with_context: bool = True,
                outcomes: list[NoteOutcome] | None = None) -> dict[str, Any]:
    """Figures per system and overall for ``judge`` on a labelled set.

    Args:
        judge: a judge object (``.judge``/``.ajudge``) or ``judge_fn(transcript, note, case)``.
        lset: the labelled notes (:func:`evalkit.calibrate.labels.load_labelled_set`).
        min_confidence: flags below this confidence do not count.
        with_context: give the judge the encounter's record context (age, sex, name) as the case.
        outcomes: judged notes from an earlier :func:`judge_notes` (to score other thresholds).
    """
    outs = outcomes if outcomes is not None else judge_notes(judge, lset, with_context)
    by: dict[str, list[NoteOutcome]] = defaultdict(list)
    for o in outs:
        by[o.note.system].append(o)
    from .calibrate import judge_identity

    name, version = judge_identity(judge)
    return {
        "judge": name, "judge_version": version, "labeller": lset.labeller, "splits": list(lset.splits),
        "min_confidence": min_confidence,
        "overall": figures(outs, min_confidence),
        "systems": {s: figures(v, min_confidence) for s, v in sorted(by.items())},
        "reliability": reliability(outs),
        "errors": sum(1 for o in outs if o.result.error),
    }


def fit_confidence(outcomes: list[NoteOutcome], lset: LabelledSet | None = None,
                   prior: tuple[float, float] = (1.0, 1.0)) -> dict[str, Any]:
    """Per-rule confidence from labelled notes, and how much a claim's coverage lowers it.

    A rule's confidence is the share of its flags on labelled errors, smoothed with a Beta
    ``prior`` (``(right + a) / (flags + a + b)``) so a rule seen twice does not get 0 or 1; every
    flagged claim counts once for its rule and ``outside`` sentences are left out. With ``lset``
    (the offline judge), the slope by which coverage (the share of a claim's words the dialogue
    says, :func:`evalkit.grounding.severity.coverage`) lowers the confidence on the logit scale is
    fitted by maximum likelihood over a grid.

    Args:
        outcomes: judged notes (:func:`judge_notes`), usually the dev split.
        lset: the labelled set they come from (for the transcripts); None skips the slope.
        prior: pseudo-counts ``(a, b)`` of right and wrong flags.
    """
    import math

    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    flagged: list[tuple[list[Claim], bool, NoteOutcome]] = []
    for no in outcomes:
        for so in no.sentences:
            if so.label.label == "outside" or not so.flags():
                continue
            flagged.append((so.flags(), so.label.label == "error", no))
            for c in so.flags():
                rule = c.rule or "unknown"
                counts[rule][0] += 1
                counts[rule][1] += so.label.label == "error"
    a, b = prior
    rules = {r: {"flags": n, "right": k, "confidence": round((k + a) / (n + a + b), 3)}
             for r, (n, k) in sorted(counts.items())}
    out: dict[str, Any] = {"prior": list(prior), "notes": len(outcomes), "rules": rules, "coverage_slope": 0.0}
    if lset is None or not flagged:
        return out
    from ..grounding.entities import Unit
    from ..grounding.index import transcript_index
    from ..grounding.severity import adjust, coverage, coverage_counts

    points = []
    for claims, right, no in flagged:
        enc = lset.encounters[no.note.encounter_id]
        idx = transcript_index(enc.turns, enc.case)
        miss = 1.0
        for c in claims:
            miss *= 1.0 - rules[c.rule or "unknown"]["confidence"]
        p = min(max(1.0 - miss, 1e-3), 1 - 1e-3)
        cov = min(coverage(Unit(c.text), idx) for c in claims) if coverage_counts([c.rule for c in claims]) else 0.5
        points.append((p, cov, right))

    def loglik(slope: float) -> float:
        total = 0.0
        for p, cov, right in points:
            q = min(max(adjust(p, cov, slope), 1e-6), 1 - 1e-6)
            total += math.log(q if right else 1 - q)
        return total

    best = max((x / 4 for x in range(0, 49)), key=loglik)
    out["coverage_slope"] = best
    out["flags"] = len(points)
    return out
