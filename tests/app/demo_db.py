"""Build a small review database for the app's tests (and the browser test and benchmark).

Consultations come from the ACI-Bench valid split shipped in ``datasets/aci-bench``. Each gets a synthetic WAV (tones per turn, numpy + soundfile) with turn times, and
two runs score them: run A ("whisper+rules") with planted errors — a major fabrication, a
contradicted negation, a ``<script>`` sentence — and run B ("reference") that is cleaner.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from evalkit.schema import (Audio, Case, Consultation, Finding, Flag, Note, NoteSection, NoteSentence, Score,
                            ScribeOutput, Turn, TurnTime)
from evalkit.store import SessionResult, Store
from evalkit.text.parse import parse_note, parse_transcript

ACI = Path(__file__).resolve().parents[2] / "datasets" / "aci-bench" / "valid.csv"
RUN_A, RUN_B = "a1b2c3d4e5f6", "0f1e2d3c4b5a"
SPECIALTIES = ["cardiology", "orthopedics", "family medicine", "dermatology", "neurology", "endocrinology"]
XSS = "<script>window.__xss = 1</script> Patient reports <b>bold</b> pain [link](http://example.invalid)."
FABRICATION = "Start metformin 500 mg twice daily."
#: a sentence with two claims, neither supported by any turn (nor linked by the scribe)
TWO_CLAIMS = ("Stop aspirin and book a knee MRI.", ("Stop aspirin", "book a knee MRI"))

def _sources(n: int) -> list[tuple[str, str, str]]:
    """(id, dialogue, note) triples: the first ``n`` encounters of the ACI-Bench valid split."""
    with ACI.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:n]
    return [(r["encounter_id"], r["dialogue"], r["note"]) for r in rows]


_TOK = re.compile(r"[a-z0-9]+")


def _evidence(text: str, turns: list[Turn], k: int = 2) -> list[int]:
    words = set(_TOK.findall(text.lower())) - {"the", "a", "and", "of", "to", "is", "in", "he", "she", "with"}
    scored = sorted(((len(words & set(_TOK.findall(t.text.lower()))), t.id) for t in turns), reverse=True)
    return sorted(tid for s, tid in scored[:k] if s > 0)


def _asr(turns: list[Turn], seed: int, error_every: int) -> list[Turn]:
    """The reference transcript with some words swapped or dropped (a plausible ASR output)."""
    rng = np.random.default_rng(seed)
    swaps = {"lisinopril": "listen opera", "metformin": "met for men", "ibuprofen": "i be profen",
             "hypertension": "hyper tension", "ecg": "a cg"}
    out = []
    for t in turns:
        words = []
        for i, w in enumerate(t.text.split()):
            lw = w.lower()
            if lw in swaps:
                words.append(swaps[lw])
            elif error_every and rng.integers(0, error_every) == 0:
                if rng.random() < 0.5:
                    continue  # deletion
                words.append("uh" if rng.random() < 0.5 else w[::-1])
            else:
                words.append(w)
        out.append(Turn(id=t.id, speaker=t.speaker, text=" ".join(words), start=t.start, end=t.end))
    return out


def _audio(root: Path, cid: str, turns: list[Turn], sr: int = 16000) -> Audio:
    """Tones and noise per turn (higher pitch for the patient), with turn times."""
    rng = np.random.default_rng(len(cid))
    chunks, times, t0 = [], [], 0.0
    for t in turns:
        dur = min(2.5, 0.5 + 0.03 * len(t.text.split()))
        n = int(dur * sr)
        x = np.arange(n) / sr
        freq = 220.0 if t.speaker.value == "CLINICIAN" else 330.0
        env = np.minimum(1.0, np.minimum(x, dur - x) * 20)
        chunks.append(0.25 * np.sin(2 * np.pi * freq * x) * env + 0.01 * rng.standard_normal(n))
        chunks.append(np.zeros(int(0.15 * sr)))
        times.append(TurnTime(turn_id=t.id, start=round(t0, 3), end=round(t0 + dur, 3)))
        t0 += dur + 0.15
    (root / "audio").mkdir(parents=True, exist_ok=True)
    path = root / "audio" / f"{cid}.wav"
    sf.write(path, np.concatenate(chunks).astype(np.float32), sr, subtype="PCM_16")
    return Audio(path=f"audio/{cid}.wav", sample_rate=sr, duration=round(t0, 3), turn_times=times, engine="test-tones")


def _result(run_id: str, scribe: str, cons: Consultation, k: int, planted: bool) -> SessionResult:
    sid = f"{run_id}:{cons.id}"
    note = cons.reference_note.model_copy(deep=True)
    turns = cons.turns
    claims: list[Finding] = []
    plan = note.sections[-1]
    if planted and k == 0:
        plan.sentences.append(NoteSentence(id=f"{plan.key}.{len(plan.sentences)}", text=FABRICATION))
    if planted and k == 1:
        first = note.sections[0]
        first.sentences.append(NoteSentence(id=f"{first.key}.{len(first.sentences)}", text=XSS))
    if planted and k == 2:
        plan.sentences.append(NoteSentence(id=f"{plan.key}.{len(plan.sentences)}", text=TWO_CLAIMS[0]))
    for sec, s in note.sentences():
        if s.text == TWO_CLAIMS[0]:
            claims += [Finding(kind="claim", id=f"{s.id}#{n}", text=t, section=sec.key, sentence_id=s.id,
                               verdict="unsupported", type="fabrication", severity="minor", evidence=[],
                               rationale="no turn states this") for n, t in enumerate(TWO_CLAIMS[1], 1)]
            continue
        ev = _evidence(s.text, turns)
        s.evidence = ev
        verdict, typ, sev = "supported", None, None
        if s.text == FABRICATION:
            verdict, typ, sev, ev = "unsupported", "fabrication", "major", []
        elif s.text == XSS:
            verdict, typ, sev = "unsupported", "contextual", "minor"
        elif planted and k == 0 and sec.key == note.sections[1].key and s.id.endswith(".1"):
            verdict, typ, sev = "contradicted", "negation", "minor"
        elif planted and k == 2 and s.id.endswith(".2"):
            verdict, typ, sev = "unsupported", "causality", "minor"
        claims.append(Finding(kind="claim", id=f"{s.id}#1", text=s.text, section=sec.key, sentence_id=s.id,
                              verdict=verdict, type=typ, severity=sev, evidence=ev,
                              rationale="no turn states this" if verdict != "supported" else "stated in turns"))
    omissions = []
    if planted and k in (0, 2):
        med = next((t for t in turns if re.search(r"\bmg\b|milligram", t.text)), max(turns, key=lambda t: len(t.text)))
        omissions.append(Finding(kind="omission", id="om1", text=med.text[:160], category="medication",
                                 severity="major" if k == 0 else "minor", evidence=[med.id]))
    asr = _asr(turns, seed=k, error_every=6 if (planted and k == 2) else 25)
    from evalkit.metrics.wer import wer_details

    w = wer_details(turns, asr)
    bad = [c for c in claims if c.verdict != "supported"]
    n = max(1, len(claims))
    scores = [
        Score(session_id=sid, metric="wer", value=w.wer, detail={"substitutions": w.substitutions,
                                                                 "deletions": w.deletions, "insertions": w.insertions}),
        Score(session_id=sid, metric="medical_wer", value=w.medical_wer or 0.0),
        Score(session_id=sid, metric="adherence", value=0.9 if planted else 1.0),
        Score(session_id=sid, metric="hallucination_rate", value=len(bad) / n),
        Score(session_id=sid, metric="contradiction_rate", value=sum(c.verdict == "contradicted" for c in claims) / n),
        Score(session_id=sid, metric="major_hallucinations", value=float(sum(c.severity == "major" for c in bad))),
        Score(session_id=sid, metric="omission_rate", value=len(omissions) / 10),
        Score(session_id=sid, metric="omissions", value=float(len(omissions))),
        Score(session_id=sid, metric="latency_s", value=1.5 + k),
    ]
    for t in ("fabrication", "negation", "causality", "contextual"):
        scores.append(Score(session_id=sid, metric=f"hallucination_rate_{t}",
                            value=sum(c.type == t for c in bad) / n))
    flags = []
    if any(c.severity == "major" for c in bad):
        flags.append(Flag(session_id=sid, rule="any_major_hallucination", reason="1 major hallucination",
                          severity="high"))
    if w.wer > 0.15:
        flags.append(Flag(session_id=sid, rule="wer_over_0.15", reason=f"wer {w.wer:.2f} > 0.15", severity="low"))
    if bad and not flags:
        flags.append(Flag(session_id=sid, rule="hallucination_rate_over_0", reason="hallucination rate > 0",
                          severity="low"))
    out = ScribeOutput(consultation_id=cons.id, transcript=asr, note=note, backend=scribe, latency_s=1.5 + k)
    return SessionResult(sid, cons.id, scribe, output=out, scores=scores, findings=claims + omissions, flags=flags,
                         judge="grounding", judge_version="1")


def build_demo_db(path: Path, n: int = 4, audio: bool = True) -> dict:
    """Create ``path`` with ``n`` consultations and two runs; returns ids for the tests."""
    store = Store(path)
    root = Path(path).resolve().parent
    cons, auds = [], {}
    for k, (cid, dialogue, note_text) in enumerate(_sources(n)):
        turns = parse_transcript(dialogue)
        note = parse_note(note_text)
        case = Case(id=cid, specialty=SPECIALTIES[k % len(SPECIALTIES)], chief_complaint="see note",
                    template="SOAP", source="aci-bench")
        c = Consultation(id=cid, case=case, turns=turns, reference_note=note, template="SOAP", dataset="demo")
        if audio and k < 3:
            auds[cid] = _audio(root, cid, turns)
        cons.append(c)
    store.put_consultations(cons, auds)
    store.create_run(run_id=RUN_A, label="baseline", dataset="demo", scribe="whisper+rules", judge="grounding")
    store.write_results(RUN_A, [_result(RUN_A, "whisper+rules", c, k, True) for k, c in enumerate(cons)])
    store.finish_run(RUN_A)
    store.create_run(run_id=RUN_B, label="candidate", dataset="demo", scribe="reference", judge="grounding")
    store.write_results(RUN_B, [_result(RUN_B, "reference", c, k + 10, False) for k, c in enumerate(cons)])
    store.finish_run(RUN_B)
    return {"store": store, "consultations": [c.id for c in cons], "run_a": RUN_A, "run_b": RUN_B,
            "fabricated": f"{RUN_A}:{cons[0].id}", "xss": f"{RUN_A}:{cons[1].id}",
            "two_claims": f"{RUN_A}:{cons[2].id}"}


if __name__ == "__main__":  # python tests/app/demo_db.py /tmp/demo/review.duckdb
    import sys

    info = build_demo_db(Path(sys.argv[1]))
    print({k: v for k, v in info.items() if k != "store"})
