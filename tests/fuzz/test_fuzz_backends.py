"""Fuzz what scribe backends send back: replay files, HTTP answers, command output.

A backend's answer is outside input like any file: not JSON, JSON of the wrong shape, a note of
the wrong type, sections that are not objects, evidence that is not turn ids, a malformed
transcript, an HTTP error. Each must become one clear line naming the backend (the replay file,
the URL, the program) — an InputError or the backends' ScribeError — never a traceback; and a run
records such a case as failed and goes on with the others.
"""

from __future__ import annotations

import json
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.errors import InputError
from evalkit.run.runner import run_suite
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.scribes._json_output import ScribeError
from evalkit.run.suite import FlagRule, Suite
from tests.conftest import make_consultation

from ._support import FUZZ, Tally, expect_refusal, json_values, junk_text, names

CLEAR = (InputError, ScribeError)
GOOD_NOTE = "SUBJECTIVE\nCough for two weeks.\n\nPLAN\nReview in four weeks."


@st.composite
def bad_answer(draw) -> bytes:
    """A backend answer evalkit cannot use."""
    kind = draw(st.sampled_from(["bytes", "text", "not_object", "no_note", "note_type", "empty_note", "sections",
                                 "evidence", "transcript", "headings_only"]))
    if kind == "bytes":
        return bytes(draw(st.lists(st.integers(0, 255), min_size=1, max_size=60))) + b"\xff"
    if kind == "text":
        return draw(st.sampled_from(["<html>502 Bad Gateway</html>", "OK", "note: fine", "{'note': 'x'}", ""])).encode()
    if kind == "not_object":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict)))).encode()
    if kind == "no_note":
        doc = draw(st.dictionaries(names.filter(lambda k: k not in ("note", "sections")), json_values, max_size=3))
        return json.dumps(doc).encode()
    if kind == "note_type":
        return json.dumps({"note": draw(st.integers() | st.booleans() | st.none()
                                        | st.lists(st.integers(), min_size=1, max_size=3))}).encode()
    if kind == "empty_note":
        return json.dumps({"note": draw(st.sampled_from(["", "   ", "\n\n", "PLAN\n", "SUBJECTIVE\n\nPLAN\n"]))}).encode()
    if kind == "sections":
        items = draw(st.lists(st.integers() | junk_text | st.lists(st.integers(), max_size=2), min_size=1, max_size=3))
        return json.dumps({"sections": items}).encode()
    if kind == "evidence":
        ev = draw(st.sampled_from(["T3", [1.5], ["a"], {"turn": 1}, [None]]))
        return json.dumps({"sections": [{"title": "PLAN", "sentences": [{"text": "Rest.", "evidence": ev}]}]}).encode()
    if kind == "transcript":
        bad = draw(st.sampled_from([5, {"a": 1}, [1, 2], [{"speaker": "x"}], "no tag here",
                                    [{"speaker": "doctor", "text": "hi", "start": "soon"}]]))
        return json.dumps({"note": GOOD_NOTE, "transcript": bad}).encode()
    return json.dumps({"note": "SUBJECTIVE\n\nPLAN\n"}).encode()


def _item(cid: str = "be-1") -> ScribeInput:
    return ScribeInput(consultation=make_consultation(cid), template="SOAP")


# ---------------------------------------------------------------------------- command


def test_command_scribe_refuses_bad_output_clearly(tmp_path):
    tally = Tally("command scribe output")
    reply = tmp_path / "reply.json"
    scribe = get_scribe("command", {"command": {"command": ["cat", str(reply)], "timeout_s": 30}})

    @settings(FUZZ, max_examples=40)
    @given(data=bad_answer())
    def run(data):
        reply.write_bytes(data)
        expect_refusal(tally, scribe.run, _item(), source="command cat", types=CLEAR)

    run()
    failing = get_scribe("command", {"command": {"command": ["sh", "-c", "echo boom >&2; exit 3"]}})
    expect_refusal(tally, failing.run, _item(), source="command sh", types=CLEAR)
    assert tally.refused >= 35


# ---------------------------------------------------------------------------- http


class _Server:
    """A loopback HTTP backend whose answer (status, body) the test sets."""

    def __init__(self) -> None:
        self.status, self.body = 200, b"{}"
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *a):  # quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/scribe"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def test_http_scribe_refuses_bad_answers_clearly(server):
    tally = Tally("HTTP scribe answers")
    scribe = get_scribe("http", {"http": {"url": server.url, "retries": 0, "timeout_s": 10}})
    where = server.url.rsplit("/", 1)[0]

    @settings(FUZZ, max_examples=40)
    @given(data=bad_answer(), status=st.sampled_from([200] * 6 + [400, 404, 500, 503]))
    def run(data, status):
        server.status, server.body = status, data
        expect_refusal(tally, scribe.run, _item(), source=where, types=CLEAR)

    run()
    assert tally.refused >= 35


# ---------------------------------------------------------------------------- replay files


@st.composite
def bad_replay_row(draw) -> dict:
    row = {"id": "be-1", "note": GOOD_NOTE}
    kind = draw(st.sampled_from(["note_type", "empty_note", "no_note", "transcript", "wrong_id"]))
    if kind == "note_type":
        row["note"] = draw(st.integers() | st.lists(st.integers(), min_size=1) | st.dictionaries(names, names))
    elif kind == "empty_note":
        row["note"] = draw(st.sampled_from(["", "  ", "PLAN\n"]))
    elif kind == "no_note":
        row.pop("note")
    elif kind == "transcript":
        row["transcript"] = draw(st.sampled_from([7, {"x": 1}, [3], [{"speaker": "doctor"}], "untagged line",
                                                  [{"text": "hi", "end": [1]}]]))
    else:
        row["id"] = "other-" + draw(names)
    return row


def test_replay_scribe_refuses_bad_rows_clearly():
    tally = Tally("replay files")
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)

        @settings(FUZZ, max_examples=40)
        @given(row=bad_replay_row(), n=st.integers(0, 10**6), fmt=st.sampled_from(["jsonl", "json"]))
        def run(row, n, fmt):
            p = d / f"r{n}.{fmt}"
            p.write_text(json.dumps(row) + "\n" if fmt == "jsonl" else json.dumps([row]), encoding="utf-8")
            scribe = get_scribe("replay", {"replay": {"path": str(p)}})
            expect_refusal(tally, scribe.run, _item(), source=str(p), types=CLEAR)

        run()
        for content, suffix in ((b"\xff\xfe garbage", ".jsonl"), (b'{"id": "be-1", "note": ', ".jsonl"),
                                (b"[1, 2", ".json"), (b'{"a": 1}', ".json"), (b'"id","note"\n"be-1', ".csv")):
            p = d / f"broken{len(content)}{suffix}"
            p.write_bytes(content)
            expect_refusal(tally, lambda: get_scribe("replay", {"replay": {"path": str(p)}}).run(_item()),
                           source=str(p), types=CLEAR, allow_ok=False)
    assert tally.refused >= 40


# ---------------------------------------------------------------------------- a run goes on


def test_run_records_bad_backend_answers_and_goes_on(store, tmp_path):
    """Half the cases get unusable answers: they are stored as failed with a clear error; the rest score."""
    ids = [f"rb-{i}" for i in range(6)]
    store.put_consultations([make_consultation(i) for i in ids])
    bad = {"rb-1": {"note": 42}, "rb-3": {"note": "   "}, "rb-5": {"note": GOOD_NOTE, "transcript": [{"x": 1}]}}
    rows = [dict(bad.get(i, {"note": GOOD_NOTE}), id=i) for i in ids if i != "rb-4"]  # rb-4 has no row at all
    replay = tmp_path / "outputs.jsonl"
    replay.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    suite = Suite(name="fuzz-run", dataset="unit", scribes=["replay"], scribe_options={"replay": {"path": str(replay)}},
                  metrics=["wer", "adherence"], flag_rules=[FlagRule(name="x", metric="wer", op=">", value=9)])
    (rid,) = run_suite(suite, store, progress=False)
    s = store.run_sessions(rid).set_index("consultation_id")
    assert list(s.index) == ids
    failed = set(s.index[s.status == "failed"])
    assert failed == {"rb-1", "rb-3", "rb-4", "rb-5"}
    for cid in failed:
        err = s.loc[cid, "error"]
        assert str(replay) in err and "\n" not in err and "Traceback" not in err, err
    assert "no row for this consultation" in s.loc["rb-4", "error"]
    ok = store.scores_frame([rid])
    assert set(ok.consultation_id) == {"rb-0", "rb-2"} and (ok.metric == "adherence").sum() == 2
