"""Streaming figures from a stamped event log: how fast words appear, how fast they settle, how much they move.

Every figure is computed from :class:`~evalkit.streaming.protocol.TranscriptEvent` times (stream
time, seconds from the start of the audio) and the reference utterances' audio times:

- ``stream_first_partial_s`` — **time to first partial**: the first event's time minus the
  start of the first reference utterance (when the clinician starts speaking). What the
  clinician waits before the screen shows anything.
- ``stream_final_latency_s`` — **final-transcript latency**, per reference utterance: the time
  of the first ``final`` event whose audio end reaches the utterance's end (less
  ``slack_s``, for word times that end a little early) minus the utterance's end. The value is
  the mean over utterances; the detail has the median, 90th percentile and maximum.
- ``stream_revision_rate`` — **partial instability**: of the words shown in partials (every
  partial counts every word it shows), the share that later change: the open partials' words are
  aligned word by word with the final words that end up in their place (after the finals settled
  so far), and a shown word not matched to an equal final word has changed. Compared on
  normalised words, so case and punctuation do not count.
  Stability = 1 − this.
- ``stream_rtf`` — **real-time factor**: compute time / audio duration (``None`` for a remote
  service).

The final transcript's WER is the run's ordinary ``wer`` (the streamed output's transcript is
the concatenated finals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..schema import Score, Turn
from .protocol import StreamResult, TranscriptEvent

__all__ = ["StreamFigures", "stream_figures", "stream_scores", "revision_rate", "final_latencies",
           "first_partial_s", "SLACK_S"]

#: a final "reaches" an utterance's end when its audio end is at most this much before it
SLACK_S = 0.3
#: final words beyond a partial's length it may be aligned with (a partial that dropped words)
_TAIL = 8


@dataclass
class StreamFigures:
    """The streaming figures of one session (``None`` when not computable)."""

    first_partial_s: float | None
    final_latency_s: float | None
    final_latency_p50_s: float | None
    final_latency_p90_s: float | None
    final_latency_max_s: float | None
    revision_rate: float | None
    rtf: float | None
    partials: int
    finals: int
    partial_words: int
    changed_words: int
    utterances: int
    latencies: list[float | None] = field(default_factory=list)  # per reference utterance (None: never settled)
    speech_start_s: float = 0.0
    end_t: float = 0.0
    audio_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def first_partial_s(events: Sequence[TranscriptEvent], speech_start: float = 0.0) -> float | None:
    """Stream time of the first event with words (partial or final) minus ``speech_start``."""
    ts = [e.t for e in events if e.t is not None and e.text.strip()]
    return None if not ts else min(ts) - speech_start


def final_latencies(events: Sequence[TranscriptEvent], utterance_ends: Sequence[float],
                    slack_s: float = SLACK_S, end_t: float | None = None) -> list[float | None]:
    """Per utterance end *e*: (time of the first final whose ``end`` ≥ *e* − ``slack_s``) − *e*.

    A final without an audio end says nothing about which audio it settles and is ignored; with
    no timed final at all every latency is ``None``. An utterance no final reaches (its words
    were dropped) gets ``end_t − e``: the stream's end settles everything.
    """
    finals = sorted(((e.t, e.end) for e in events if e.kind == "final" and e.t is not None and e.end is not None),
                    key=lambda x: x[0])
    if not finals:
        return [None] * len(utterance_ends)
    # reach[k] = furthest audio settled by the k-th final (in time order)
    out: list[float | None] = []
    times = [t for t, _ in finals]
    reach = np.maximum.accumulate([end for _, end in finals]) if finals else np.array([])
    for e_end in utterance_ends:
        idx = int(np.searchsorted(reach, e_end - slack_s, side="left")) if len(reach) else 0
        if idx < len(times):
            out.append(max(0.0, times[idx] - e_end))
        elif end_t is not None:
            out.append(max(0.0, end_t - e_end))
        else:
            out.append(None)
    return out


def _kept(partial: list[str], final: list[str]) -> int:
    """How many of a partial's words survive into the final words shown in their place (word alignment)."""
    if not partial or not final:
        return 0
    from rapidfuzz.distance import Levenshtein

    return sum(i2 - i1 for tag, i1, i2, _j1, _j2 in Levenshtein.opcodes(partial, final).as_list() if tag == "equal")


def revision_rate(events: Sequence[TranscriptEvent], words: Callable[[str], list[str]]) -> tuple[float | None, int, int]:
    """(share of partial words that later change, words shown in partials, words that changed).

    At each partial, the open partials' words are aligned with the final words that follow the
    finals settled so far (as many as the partials show, plus ``_TAIL``); a shown word that is
    not matched to an equal final word has changed.

    Args:
        events: the events in the order emitted.
        words: the normaliser's text → words.
    """
    final_words: list[str] = []
    for e in events:
        if e.kind == "final":
            final_words.extend(words(e.text))
    settled: list[str] = []  # finals so far
    open_partials: dict[str, list[str]] = {}  # segment → its latest partial's words, in order of first appearance
    shown = changed = 0
    for e in events:
        if e.kind == "final":
            settled.extend(words(e.text))
            open_partials.pop(e.segment_id, None)
            continue
        open_partials[e.segment_id] = words(e.text)
        pw = open_partials[e.segment_id]
        if not pw:
            continue
        showing = [w for ws in open_partials.values() for w in ws]
        base = len(settled)
        kept = _kept(showing, final_words[base:base + len(showing) + _TAIL])
        shown += len(showing)
        changed += len(showing) - kept
    return (changed / shown if shown else None), shown, changed


def _pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def stream_figures(result: StreamResult, reference: Sequence[Turn], words: Callable[[str], list[str]] | None = None,
                   slack_s: float = SLACK_S) -> StreamFigures:
    """Every streaming figure of one session.

    Args:
        result: the stamped stream.
        reference: the true turns, with audio times (``start``/``end``) for the latencies.
        words: text → normalised words for the revision rate (default the evalkit normaliser).
        slack_s: see :func:`final_latencies`.
    """
    if words is None:
        from ..text.normalize import normalize_words as words
    timed = [t for t in reference if t.start is not None and t.end is not None]
    speech_start = min((float(t.start) for t in timed), default=0.0)  # type: ignore[arg-type]
    ends = sorted(float(t.end) for t in timed)  # type: ignore[arg-type]
    lat = final_latencies(result.events, ends, slack_s, end_t=result.end_t) if ends else []
    known = [x for x in lat if x is not None]
    rev, shown, changed = revision_rate(result.events, words)
    return StreamFigures(
        first_partial_s=first_partial_s(result.events, speech_start),
        final_latency_s=float(np.mean(known)) if known else None,
        final_latency_p50_s=_pct(known, 50), final_latency_p90_s=_pct(known, 90),
        final_latency_max_s=max(known) if known else None,
        revision_rate=rev, rtf=result.rtf,
        partials=sum(e.kind == "partial" for e in result.events), finals=sum(e.kind == "final" for e in result.events),
        partial_words=shown, changed_words=changed, utterances=len(ends),
        latencies=[None if x is None else round(x, 3) for x in lat], speech_start_s=speech_start,
        end_t=result.end_t, audio_s=result.audio_s)


def stream_scores(fig: StreamFigures, session_id: str, settings: dict[str, Any] | None = None) -> list[Score]:
    """Score records: ``stream_first_partial_s``, ``stream_final_latency_s``, ``stream_revision_rate``,
    ``stream_rtf`` (each left out when not computable). Numbers only, no transcript text.

    Args:
        fig: the figures.
        session_id: ``f"{run_id}:{consultation_id}"``.
        settings: the stream's settings (chunk, pace, window...), kept in every detail.
    """
    s = dict(settings or {})
    out: list[Score] = []
    if fig.first_partial_s is not None:
        out.append(Score(session_id=session_id, metric="stream_first_partial_s", value=fig.first_partial_s,
                         detail={"speech_start_s": fig.speech_start_s, **s}))
    if fig.final_latency_s is not None:
        out.append(Score(session_id=session_id, metric="stream_final_latency_s", value=fig.final_latency_s, detail={
            "p50_s": fig.final_latency_p50_s, "p90_s": fig.final_latency_p90_s, "max_s": fig.final_latency_max_s,
            "utterances": fig.utterances, "per_utterance_s": fig.latencies, "slack_s": SLACK_S, **s}))
    if fig.revision_rate is not None:
        out.append(Score(session_id=session_id, metric="stream_revision_rate", value=fig.revision_rate, detail={
            "partial_words": fig.partial_words, "changed_words": fig.changed_words, "partials": fig.partials,
            "finals": fig.finals, **s}))
    if fig.rtf is not None:
        out.append(Score(session_id=session_id, metric="stream_rtf", value=fig.rtf,
                         detail={"audio_s": fig.audio_s, "end_t": fig.end_t, **s}))
    return out
