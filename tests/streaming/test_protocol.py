"""The streaming protocol: chunking, the simulated clock, event stamping, bad scribes, the WebSocket adapter,
and a streaming scribe inside a suite run (stored and scored like any other run)."""

import numpy as np
import pytest

from evalkit.errors import InputError
from evalkit.scribes._json_output import ScribeError
from evalkit.streaming.protocol import RealClock, SimulatedClock, TranscriptEvent, run_stream
from evalkit.streaming.websocket import WebSocketStreamer, map_message
from evalkit.testing.stub_stream import StubStreamServer

SR = 16000


class FakeClock(SimulatedClock):
    """A simulated clock whose scribe 'compute' is set by the scribe itself (no real time measured)."""

    def __init__(self, cost):
        super().__init__()
        self.cost = cost

    def spend(self, seconds):
        super().spend(self.cost.pop(0) if self.cost else 0.0)


class ScriptedScribe:
    """Emits a partial with the chunk count after every chunk, and one final at the end."""

    name, version, remote = "scripted", "1", False

    def __init__(self):
        self.chunks = []

    def open(self, item, clock):
        outer = self

        class S:
            def feed(self, chunk, audio_end):
                outer.chunks.append((len(chunk), audio_end))
                return [TranscriptEvent("partial", f"w{len(outer.chunks)}", start=0.0, end=audio_end)]

            def finish(self):
                return [TranscriptEvent("final", "done", start=0.0, end=outer.chunks[-1][1])]

        return S()


def test_audio_is_fed_in_chunks_with_their_end_times():
    scribe = ScriptedScribe()
    res = run_stream(scribe, None, np.zeros(int(2.25 * SR), np.float32), chunk_s=0.5)
    assert scribe.chunks == [(8000, 0.5), (8000, 1.0), (8000, 1.5), (8000, 2.0), (4000, 2.25)]
    assert [e.kind for e in res.events] == ["partial"] * 5 + ["final"]
    assert res.audio_s == 2.25 and res.chunk_s == 0.5 and res.pace == "simulated"


def test_simulated_clock_stamps_events_when_the_work_is_done_and_queues_a_slow_scribe():
    # chunks arrive at 0.5, 1.0, 1.5, 2.0; the scribe needs 0.2, 0.9, 0.1, 0.1 s and 0.3 s to finish
    clock = FakeClock([0.2, 0.9, 0.1, 0.1, 0.3])
    res = run_stream(ScriptedScribe(), None, np.zeros(2 * SR, np.float32), chunk_s=0.5, clock=clock)
    # 0.5+0.2; 1.0+0.9; the third chunk waits for the scribe (1.9)+0.1; 2.0 arrives while busy → 2.0+0.1; +0.3
    assert [round(e.t, 3) for e in res.events] == [0.7, 1.9, 2.0, 2.1, 2.4]
    assert res.end_t == pytest.approx(2.4)


def test_compute_time_gives_the_real_time_factor_and_remote_scribes_have_none():
    res = run_stream(ScriptedScribe(), None, np.zeros(SR, np.float32), chunk_s=0.25)
    assert res.compute_s is not None and res.rtf == pytest.approx(res.compute_s / 1.0)
    remote = ScriptedScribe()
    remote.remote = True
    assert run_stream(remote, None, np.zeros(SR, np.float32), chunk_s=0.25).rtf is None


def test_real_clock_paces_chunks_on_the_wall_clock():
    waits = []
    clock = RealClock(sleep=waits.append)
    run_stream(ScriptedScribe(), None, np.zeros(SR, np.float32), chunk_s=0.25, pace="realtime", clock=clock)
    assert len(waits) == 4 and waits[-1] > waits[0]  # it waited for each chunk's audio to have been spoken


def test_bad_settings_and_bad_events_are_one_line_errors():
    with pytest.raises(InputError, match="pace"):
        run_stream(ScriptedScribe(), None, np.zeros(SR, np.float32), pace="warp")
    with pytest.raises(InputError, match="chunk_s"):
        run_stream(ScriptedScribe(), None, np.zeros(SR, np.float32), chunk_s=0)

    class Bad(ScriptedScribe):
        def open(self, item, clock):
            class S:
                def feed(self, chunk, audio_end):
                    return [{"kind": "partial", "text": "x"}]

                def finish(self):
                    return []

            return S()

    with pytest.raises(InputError) as e:
        run_stream(Bad(), None, np.zeros(SR, np.float32))
    assert "TranscriptEvent" in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------ the generic WebSocket adapter

SCRIPT = [
    (0.5, {"type": "partial", "text": "good mor", "start": 0.1, "end": 0.5, "segment_id": "a"}),
    (1.0, {"type": "partial", "text": "good morning", "start": 0.1, "end": 0.9, "segment_id": "a"}),
    (1.2, {"type": "ack", "bytes": 1}),
    (1.5, {"type": "final", "text": "Good morning.", "start": 0.1, "end": 1.0, "segment_id": "a",
           "speaker": "clinician"}),
    ("end", {"type": "final", "text": "How can I help?", "start": 1.2, "end": 1.9, "segment_id": "b",
             "speaker": "clinician"}),
]


def test_websocket_adapter_streams_pcm_and_maps_the_service_events():
    with StubStreamServer(SCRIPT) as srv:
        res = run_stream(WebSocketStreamer(srv.url), None, np.zeros(2 * SR, np.float32), chunk_s=0.1)
    assert srv.received_bytes == 2 * SR * 2  # 16-bit PCM
    assert srv.start_messages == [{"type": "start", "sample_rate": 16000, "encoding": "pcm_s16le"}]
    assert [(e.kind, e.text) for e in res.events] == [("partial", "good mor"), ("partial", "good morning"),
                                                      ("final", "Good morning."), ("final", "How can I help?")]
    assert all(e.t is not None for e in res.events) and res.rtf is None
    assert res.events[2].speaker == "clinician" and res.events[3].end == 1.9


def test_websocket_adapter_realtime_pace_against_the_stub():
    with StubStreamServer(SCRIPT) as srv:
        res = run_stream(WebSocketStreamer(srv.url), None, np.zeros(SR, np.float32), chunk_s=0.25, pace="realtime")
    assert [e.kind for e in res.events][-1] == "final"
    times = [e.t for e in res.events]
    assert times == sorted(times)  # stamped on receipt, in order


def test_map_message_field_options():
    aws = {"IsPartial": False, "Content": "hello", "BeginAudioTime": 1500, "EndAudioTime": 2100, "SegmentId": "s1"}
    e = map_message(aws, {"text": "Content", "start": "BeginAudioTime", "end": "EndAudioTime",
                          "segment_id": "SegmentId"}, is_partial_field="IsPartial", time_scale=0.001)
    assert (e.kind, e.text, e.start, e.end, e.segment_id) == ("final", "hello", 1.5, 2.1, "s1")
    assert map_message({"is_final": False, "text": "he"}, is_final_field="is_final").kind == "partial"
    assert map_message({"type": "metadata"}) is None and map_message(["x"]) is None
    with pytest.raises(ScribeError, match="text"):
        map_message({"type": "final"})
    with pytest.raises(ScribeError, match="start"):
        map_message({"type": "final", "text": "x", "start": "soon"})


def test_websocket_errors_name_the_problem():
    with pytest.raises(InputError, match="url"):
        WebSocketStreamer("http://example.invalid/stream")
    with pytest.raises(InputError, match="fields"):
        WebSocketStreamer("ws://127.0.0.1:9/x", fields={"words": "w"})
    with StubStreamServer([(0.1, "this is not json")]) as srv:
        with pytest.raises(ScribeError, match="not JSON"):
            run_stream(WebSocketStreamer(srv.url), None, np.zeros(SR, np.float32), chunk_s=0.1)
    with StubStreamServer([]) as srv:
        url = srv.url
    with pytest.raises(ScribeError, match="cannot connect"):
        run_stream(WebSocketStreamer(url, open_timeout_s=2), None, np.zeros(SR, np.float32))


# ------------------------------------------------------------------ a streaming scribe in a suite run

def streamed_run(store, tmp_path):
    """A consultation with silent audio, streamed through ``websocket-stream+rules`` to a stub that plays its
    dialogue back (a partial with a word that never makes it, then the turn as a final); returns (run id,
    consultation)."""
    import soundfile as sf

    from evalkit.run.runner import run_suite
    from evalkit.schema import Audio, TurnTime
    from evalkit.run.suite import Suite
    from tests.conftest import make_consultation

    c = make_consultation("s1")
    turns = c.turns
    t, times = 0.2, []
    for turn in turns:
        times.append((t, t + 1.0))
        t += 1.5
    c = c.model_copy(update={"turns": [tu.model_copy(update={"start": a, "end": b})
                                       for tu, (a, b) in zip(turns, times)]})
    sf.write(str(tmp_path / "s1.wav"), np.zeros(int((t + 0.5) * SR), np.float32), SR)
    audio = Audio(path="s1.wav", duration=t + 0.5, turn_times=[TurnTime(turn_id=i, start=a, end=b)
                                                               for i, (a, b) in enumerate(times)])
    store.put_consultations([c], {"s1": audio})
    script = []
    for i, (turn, (a, b)) in enumerate(zip(turns, times)):
        words = turn.text.split()
        script.append((a + 0.5, {"type": "partial", "text": " ".join(words[:2] + ["zebra"]), "segment_id": str(i)}))
        script.append((b + 0.4, {"type": "final", "text": turn.text, "start": a, "end": b, "segment_id": str(i),
                                 "speaker": turn.speaker.value}))
    assert store.root == tmp_path  # the audio path is relative to the database's folder
    with StubStreamServer(script) as srv:
        suite = Suite(dataset="unit", scribes=["websocket-stream+rules"], metrics=["wer"],
                      scribe_options={"websocket-stream": {"url": srv.url, "pace": "simulated", "chunk_s": 0.1}})
        rid = run_suite(suite, store, progress=False)[0]
    return rid, c


def test_streaming_scribe_runs_in_a_suite_and_its_figures_are_stored(store, tmp_path):
    """``websocket-stream+rules`` against the stub: the final transcript is scored like a batch one, and the
    streaming figures are stored as scores of the same sessions."""
    rid, c = streamed_run(store, tmp_path)
    sessions = store.run_sessions(rid)
    assert list(sessions["status"]) == ["ok"], list(sessions["error"])
    scores = store.scores_frame([rid]).set_index("metric")["value"]
    assert scores["wer"] == 0.0 and scores["cpwer"] == 0.0  # the finals are the dialogue, with its speakers
    assert scores["stream_revision_rate"] > 0  # every partial showed a word ("zebra") that never made it
    assert scores["stream_final_latency_s"] >= 0 and scores["stream_first_partial_s"] >= 0
    assert "stream_rtf" not in scores  # a remote service: its compute is not ours to measure
    out = store.session_output(sessions["session_id"].iloc[0])
    assert out.metadata["stream"]["settings"]["pace"] == "simulated"
    from itertools import groupby

    # consecutive finals of one speaker make one turn
    assert [t.speaker for t in out.transcript] == [k for k, _ in groupby(t.speaker for t in c.turns)]
