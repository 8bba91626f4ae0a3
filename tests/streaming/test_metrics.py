"""Streaming figures on constructed event streams with known answers."""

import pytest

from evalkit.text.normalize import normalize_words
from evalkit.schema import SpeakerRole, Turn
from evalkit.streaming.metrics import (final_latencies, first_partial_s, revision_rate, stream_figures,
                                       stream_scores)
from evalkit.streaming.protocol import StreamResult, TranscriptEvent

C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT


def ev(kind, text, t, start=None, end=None, seg="0"):
    return TranscriptEvent(kind, text, t=t, start=start, end=end, segment_id=seg)


REFERENCE = [Turn(id=0, speaker=C, text="how are you today", start=1.0, end=2.0),
             Turn(id=1, speaker=P, text="not too bad thanks", start=3.0, end=4.5)]

# a stream that shows "how are you" at 1.6 s, corrects nothing, settles the first utterance at 2.7 s; then
# shows "not to" (one word wrong), "not too bad" and settles the rest at 5.4 s
STREAM = [
    ev("partial", "how are", 1.6, 1.0, 1.4),
    ev("partial", "how are you", 2.1, 1.0, 1.7),
    ev("final", "How are you today?", 2.7, 1.0, 1.95, seg="0"),
    ev("partial", "not to", 3.9, 3.0, 3.6, seg="1"),
    ev("partial", "not too bad", 4.4, 3.0, 4.0, seg="1"),
    ev("final", "not too bad, thanks.", 5.4, 3.0, 4.4, seg="1"),
]


def test_time_to_first_partial_counts_from_the_start_of_speech():
    assert first_partial_s(STREAM, speech_start=1.0) == pytest.approx(0.6)
    assert first_partial_s([ev("partial", "", 0.5), ev("final", "hi", 2.0)]) == 2.0  # an empty partial shows nothing
    assert first_partial_s([]) is None


def test_final_latency_per_utterance():
    # utterance 1 ends at 2.0: the final at 2.7 reaches 1.95 ≥ 2.0 − 0.3 → 0.7; utterance 2 ends at 4.5 → 0.9
    assert final_latencies(STREAM, [2.0, 4.5]) == pytest.approx([0.7, 0.9])
    # with no slack the first final (end 1.95) does not reach 2.0: the next final (5.4) settles it; none reaches
    # 4.5, which only the end of the stream settles (unknown here → None)
    assert final_latencies(STREAM, [2.0, 4.5], slack_s=0.0) == [pytest.approx(3.4), None]
    assert final_latencies(STREAM, [2.0, 4.5], slack_s=0.0, end_t=6.0) == pytest.approx([3.4, 1.5])
    # a final without an audio end says nothing about which audio it settles
    assert final_latencies([ev("final", "hi", 3.0)], [2.0]) == [None]
    # an utterance no final reaches is settled by the end of the stream
    assert final_latencies(STREAM, [2.0, 9.0], end_t=10.0) == pytest.approx([0.7, 1.0])


def test_revision_rate_counts_partial_words_that_later_change():
    rate, shown, changed = revision_rate(STREAM, normalize_words)
    # partial words shown: 2 + 3 + 2 + 3 = 10; only "to" (→ "too") later changed
    assert (shown, changed) == (10, 1) and rate == pytest.approx(0.1)
    stable = [ev("partial", "a b", 1), ev("final", "a b c", 2)]
    assert revision_rate(stable, normalize_words) == (0.0, 2, 0)
    flicker = [ev("partial", "x y", 1), ev("partial", "a q", 2), ev("final", "a b", 3)]
    assert revision_rate(flicker, normalize_words) == (pytest.approx(3 / 4), 4, 3)
    # case and punctuation are not changes; a final alone has no partial words
    assert revision_rate([ev("partial", "Hello,", 1), ev("final", "hello", 2)], normalize_words)[0] == 0.0
    assert revision_rate([ev("final", "hello", 2)], normalize_words) == (None, 0, 0)


def test_revision_rate_with_two_open_segments():
    events = [ev("partial", "one two", 1, seg="a"), ev("partial", "three", 1.5, seg="b"),
              ev("final", "one two", 2, seg="a"), ev("final", "four", 3, seg="b")]
    # shown: "one two" (2), "one two three" (3) → "three" changed (final says "four")
    assert revision_rate(events, normalize_words) == (pytest.approx(1 / 5), 5, 1)


def test_stream_figures_and_scores():
    res = StreamResult(events=STREAM, audio_s=5.0, compute_s=1.0, end_t=5.4, chunk_s=0.5, pace="simulated")
    fig = stream_figures(res, REFERENCE)
    assert fig.first_partial_s == pytest.approx(0.6)
    assert fig.final_latency_s == pytest.approx(0.8) and fig.final_latency_max_s == pytest.approx(0.9)
    assert fig.revision_rate == pytest.approx(0.1) and fig.rtf == pytest.approx(0.2)
    assert (fig.partials, fig.finals, fig.utterances) == (4, 2, 2)
    scores = {s.metric: s for s in stream_scores(fig, "r:c", {"window_s": 8})}
    assert set(scores) == {"stream_first_partial_s", "stream_final_latency_s", "stream_revision_rate", "stream_rtf"}
    assert scores["stream_final_latency_s"].detail["per_utterance_s"] == [0.7, 0.9]
    assert all(s.detail["window_s"] == 8 for s in scores.values())
    assert "how" not in str([s.detail for s in scores.values()])  # numbers only, no transcript text
    remote = StreamResult(events=STREAM, audio_s=5.0, compute_s=None, end_t=5.4, chunk_s=0.5, pace="realtime")
    assert "stream_rtf" not in {s.metric for s in stream_scores(stream_figures(remote, REFERENCE), "r:c")}


def test_stream_result_round_trips_through_metadata():
    res = StreamResult(events=STREAM, audio_s=5.0, compute_s=1.0, end_t=5.4, chunk_s=0.5, pace="simulated",
                       scribe="x")
    back = StreamResult.from_metadata(res.to_metadata())
    assert back.events == res.events and (back.audio_s, back.compute_s, back.scribe) == (5.0, 1.0, "x")
    assert back.final_text() == "How are you today? not too bad, thanks."
