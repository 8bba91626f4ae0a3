"""The session page lists the numbers and doses the ASR misheard (issue 9's numeric safety class)."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from evalkit.metrics.wer import wer_details, wer_scores
from evalkit.schema import ScribeOutput, Turn
from evalkit.store import SessionResult

from .apptest_util import open_app

RUN_N = "9a9a9a9a9a9a"


def _misheard_session(store, consultation_id: str) -> tuple[str, str, str]:
    """Store a run whose ASR turned the first number of the transcript into another number."""
    cons = store.get_consultation(consultation_id)
    asr, said = [], None
    for t in cons.turns:
        text = t.text
        m = re.search(r"\b\d+\b", text) if said is None else None
        if m:
            said = m.group(0)
            heard = str(int(said) + 7)
            text = text[:m.start()] + heard + text[m.end():]
        asr.append(Turn(id=t.id, speaker=t.speaker, text=text, start=t.start, end=t.end))
    assert said is not None, "the demo transcript has no number"
    sid = f"{RUN_N}:{consultation_id}"
    scores = wer_scores(wer_details(cons.turns, asr), sid)
    out = ScribeOutput(consultation_id=consultation_id, transcript=asr, note=cons.reference_note, backend="asr-test")
    store.create_run(run_id=RUN_N, label="numbers", dataset="demo", scribe="asr-test", judge="grounding")
    store.write_results(RUN_N, [SessionResult(sid, consultation_id, "asr-test", output=out, scores=scores)])
    store.finish_run(RUN_N)
    return sid, said, heard


def _open(db, session_id: str) -> AppTest:
    return open_app("dr.ada", session=session_id)


def test_session_page_lists_misheard_numbers(demo, monkeypatch):
    monkeypatch.setenv("EVALKIT_DB", str(demo["db"]))
    cid = demo["consultations"][0]
    sid, said, heard = _misheard_session(demo["store"], cid)
    at = _open(demo["db"], sid)
    assert not at.exception
    text = [m.value for m in at.markdown]
    head = [t for t in text if "Numbers misheard" in t]
    assert head and "numeric error rate 0." in head[0] and "0.000" not in head[0]
    rows = [t for t in text if "ek-numbers" in t]
    assert rows and f"<del>{said}</del>" in rows[0] and f"<ins>{heard}</ins>" in rows[0]


def test_no_numbers_section_without_a_numeric_score(demo, monkeypatch):
    monkeypatch.setenv("EVALKIT_DB", str(demo["db"]))
    at = _open(demo["db"], demo["fabricated"])
    assert not at.exception
    assert not [m for m in at.markdown if "Numbers misheard" in m.value]
