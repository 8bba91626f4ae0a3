"""Speaker-attributed WER with meeteval: cpWER, tcpWER and the speaker-confusion part.

The field's figures for "who said what" (CHiME-6/7/8, NOTSOFAR), computed by meeteval itself on
evalkit's normalised words, so they equal ``meeteval-wer cpwer|tcpwer`` on the SegLST files
:func:`seglst_segments` writes (``tests/metrics/test_speaker_wer.py`` checks it with the CLI):

- **cpWER** (concatenated minimum-permutation WER): each speaker's words are concatenated, and
  the hypothesis speakers are matched one-to-one to the reference speakers so that the total
  error is smallest. A word given to the wrong speaker costs a deletion in one stream and an
  insertion in the other. Speaker names do not matter (a scribe that swaps "clinician" and
  "patient" everywhere is not penalised); a missing or extra speaker costs all its words.
- **tcpWER** (time-constrained cpWER): the same, but a hypothesis word may only match a
  reference word within ``collar`` seconds of it (segment times spread over the words:
  meeteval's ``character_based`` / ``character_based_points`` defaults). Needs times on both
  sides (whisper, synthetic audio and HealthScribe have them).
- **speaker confusion**: the part of the error that comes from speaker attribution alone — the
  attributed WER minus the same WER with speaker labels ignored (meeteval's ORC WER: each
  reference utterance may go to any hypothesis stream). With times: tcpWER − tcORC-WER (fast);
  without: cpWER − ORC-WER, skipped when the transcript is too long for ORC's cubic search
  (``detail["method"]`` says which).

evalkit's own ``wer_clinician`` / ``wer_patient`` answer a different question: how well each
*reference* speaker's words were recognised, whatever label the scribe gave them (a patient
with an accent, a quiet clinician). cpWER answers "are the words in the right speaker's mouth".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..text.normalizers import Normalizer, get_normalizer
from ..schema import Score, SpeakerRole, Turn

__all__ = ["COLLAR_S", "SpeakerWer", "labels_speakers", "seglst_segments", "speaker_wer", "speaker_wer_scores",
           "write_seglst"]

#: tcpWER collar in seconds (CHiME-8's)
COLLAR_S = 5.0
#: untimed ORC WER is cubic: skip the speaker confusion when ref words × Π(hyp stream words + 1) is above this
ORC_BUDGET = 1.5e8


@dataclass
class SpeakerWer:
    """Speaker-attributed error rates of one session (rates are ``None`` when not computable)."""

    cpwer: float
    errors: int
    ref_words: int
    insertions: int
    deletions: int
    substitutions: int
    missed_speakers: int
    extra_speakers: int
    assignment: list[tuple[str | None, str | None]]
    tcpwer: float | None = None
    tc_errors: int | None = None
    collar: float = COLLAR_S
    speaker_confusion: float | None = None
    confusion_method: str | None = None  # "tcpwer-tcorcwer" | "cpwer-orcwer"
    unattributed_wer: float | None = None  # the ORC (or tcORC) WER the confusion is measured from
    normalizer: str = "evalkit"
    normalization: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["assignment"] = [list(a) for a in self.assignment]
        return d


def _label(t: Turn | dict) -> str:
    if isinstance(t, Turn):
        return t.speaker.value
    from ..text.parse import speaker_role

    return speaker_role(str(t.get("speaker", "other"))).value


def labels_speakers(turns: Sequence[Turn] | Sequence[dict] | str | None) -> bool:
    """Whether a transcript says who spoke: a list of turns, at least one not of the role ``OTHER``."""
    if not turns or isinstance(turns, str):
        return False
    return any(_label(t) != SpeakerRole.OTHER.value for t in turns)


def _time(v: Any) -> float | None:
    try:
        return None if v is None else round(float(v), 3)
    except (TypeError, ValueError):
        return None


def seglst_segments(turns: Sequence[Turn] | Sequence[dict], normalizer: str | Normalizer = "evalkit",
                    session_id: str = "session") -> list[dict[str, Any]]:
    """SegLST segments of a transcript: one per turn with words, normalised, and its times when known.

    Args:
        turns: the transcript turns (``Turn`` or ``{speaker, text, start, end}``).
        normalizer: the normaliser applied to each turn's text.
        session_id: meeteval's recording id.
    """
    nz = normalizer if isinstance(normalizer, Normalizer) else get_normalizer(normalizer)
    out = []
    for t in turns:
        text = t.text if isinstance(t, Turn) else str(t.get("text", ""))
        words = nz.words(text)
        if not words:
            continue
        seg: dict[str, Any] = {"session_id": session_id, "speaker": _label(t), "words": " ".join(words)}
        start, end = (t.start, t.end) if isinstance(t, Turn) else (t.get("start"), t.get("end"))
        start, end = _time(start), _time(end)
        if start is not None and end is not None and end >= start:
            seg["start_time"], seg["end_time"] = start, end
        out.append(seg)
    return out


def write_seglst(path: str | Path, segments: Iterable[dict[str, Any]]) -> Path:
    """Write segments as a SegLST JSON file (what ``meeteval-wer cpwer -r REF -h HYP`` reads)."""
    import json

    p = Path(path)
    p.write_text(json.dumps(list(segments), indent=1) + "\n", encoding="utf-8")
    return p


def _timed(segs: list[dict]) -> bool:
    return bool(segs) and all("start_time" in s for s in segs)


def speaker_wer(reference: Sequence[Turn] | Sequence[dict], hypothesis: Sequence[Turn] | Sequence[dict],
                normalizer: str | Normalizer = "evalkit", collar: float = COLLAR_S,
                orc_budget: float = ORC_BUDGET) -> SpeakerWer | None:
    """cpWER, tcpWER (when both sides have times) and the speaker confusion of one transcript.

    Args:
        reference: the true turns (speaker roles, and times for tcpWER).
        hypothesis: the scribe's turns.
        normalizer: ``evalkit`` or ``whisper``, applied turn by turn to both sides.
        collar: tcpWER collar in seconds.
        orc_budget: without times, skip the (cubic) ORC WER above this estimated cost.

    Returns:
        ``None`` when the reference has no words after normalisation.
    """
    import meeteval
    from meeteval.io import SegLST

    nz = normalizer if isinstance(normalizer, Normalizer) else get_normalizer(normalizer)
    ref = seglst_segments(reference, nz)
    hyp = seglst_segments(hypothesis, nz)
    if not ref:
        return None
    if not hyp:  # nothing recognised: every reference word deleted, every speaker missed
        n = sum(len(s["words"].split()) for s in ref)
        spk = sorted({s["speaker"] for s in ref})
        return SpeakerWer(cpwer=1.0, errors=n, ref_words=n, insertions=0, deletions=n, substitutions=0,
                          missed_speakers=len(spk), extra_speakers=0, assignment=[(x, None) for x in spk],
                          collar=float(collar), normalizer=nz.name, normalization=nz.id,
                          notes=["the hypothesis has no words"])
    R, H = SegLST(ref), SegLST(hyp)
    for name in ("error_rate", "preprocess"):  # meeteval's per-session notes (self-overlap, sort order)
        logging.getLogger(name).setLevel(logging.ERROR)
    cp = meeteval.wer.cpwer(R, H)["session"]
    n = cp.length
    res = SpeakerWer(cpwer=cp.error_rate if n else 0.0, errors=cp.errors, ref_words=n, insertions=cp.insertions,
                     deletions=cp.deletions, substitutions=cp.substitutions, missed_speakers=cp.missed_speaker,
                     extra_speakers=cp.falarm_speaker, assignment=[tuple(a) for a in cp.assignment],
                     collar=float(collar), normalizer=nz.name, normalization=nz.id)
    if _timed(ref) and _timed(hyp):
        tcp = meeteval.wer.tcpwer(R, H, collar=collar)["session"]
        tcorc = meeteval.wer.tcorcwer(R, H, collar=collar)["session"]
        res.tcpwer, res.tc_errors = tcp.error_rate, tcp.errors
        res.unattributed_wer = tcorc.error_rate
        res.speaker_confusion = (tcp.errors - tcorc.errors) / n
        res.confusion_method = "tcpwer-tcorcwer"
        return res
    sizes: dict[str, int] = {}
    for s in hyp:
        sizes[s["speaker"]] = sizes.get(s["speaker"], 0) + len(s["words"].split())
    cost = float(n)
    for v in sizes.values():
        cost *= v + 1
    if cost > orc_budget:
        res.notes.append(f"speaker confusion skipped: no times, and ORC WER would take ~{cost:.1e} steps "
                         f"(budget {orc_budget:.1e})")
        return res
    orc = meeteval.wer.orcwer(R, H)["session"]
    res.unattributed_wer = orc.error_rate
    res.speaker_confusion = (cp.errors - orc.errors) / n
    res.confusion_method = "cpwer-orcwer"
    return res


def speaker_wer_scores(result: SpeakerWer, session_id: str) -> list[Score]:
    """Score records: ``cpwer``, and ``tcpwer`` / ``speaker_confusion`` when computed.

    Args:
        result: the output of :func:`speaker_wer`.
        session_id: ``f"{run_id}:{consultation_id}"``.
    """
    norm = {"normalizer": result.normalizer, "normalization": result.normalization}
    out = [Score(session_id=session_id, metric="cpwer", value=result.cpwer, detail={
        "errors": result.errors, "ref_words": result.ref_words, "insertions": result.insertions,
        "deletions": result.deletions, "substitutions": result.substitutions,
        "missed_speakers": result.missed_speakers, "extra_speakers": result.extra_speakers,
        "assignment": [list(a) for a in result.assignment], "notes": result.notes, **norm})]
    if result.tcpwer is not None:
        out.append(Score(session_id=session_id, metric="tcpwer", value=result.tcpwer,
                         detail={"errors": result.tc_errors, "ref_words": result.ref_words, "collar_s": result.collar,
                                 **norm}))
    if result.speaker_confusion is not None:
        out.append(Score(session_id=session_id, metric="speaker_confusion", value=result.speaker_confusion,
                         detail={"method": result.confusion_method, "unattributed_wer": result.unattributed_wer,
                                 "collar_s": result.collar if result.confusion_method == "tcpwer-tcorcwer" else None,
                                 **norm}))
    return out
