"""HTTP scribe against a real local server on 127.0.0.1 (http.server in a thread)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import soundfile as sf

from evalkit.errors import InputError
from evalkit.run.runner import process_case
from evalkit.schema import Audio
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.scribes._json_output import ScribeError, jsonpath
from evalkit.run.suite import Suite
from tests.conftest import make_consultation

SECTIONS = {"note": {"sections": [
    {"name": "SUBJECTIVE", "body": "Cough for two weeks. Denies chest pain."},
    {"name": "PLAN", "body": "Start beclometasone."}]}, "meta": {"v": "srv-2"}, "price": 0.012}


class _Handler(BaseHTTPRequestHandler):
    calls: dict[str, int] = {}
    seen: list[dict] = []

    def log_message(self, *a):  # keep test output quiet
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        self.path = key = self.path.split("?", 1)[0]
        _Handler.calls[key] = _Handler.calls.get(key, 0) + 1
        _Handler.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path == "/ok":
            self._send(200, json.dumps(SECTIONS).encode())
        elif self.path == "/text":
            self._send(200, json.dumps({"note": "SUBJECTIVE\n\nCough.\n\nPLAN\n\nInhaler.", "version": "t-1"}).encode())
        elif self.path == "/garbage":
            self._send(200, b"<html>Internal oops</html>", "text/html")
        elif self.path == "/wrongjson":
            self._send(200, json.dumps({"result": 42}).encode())
        elif self.path == "/flaky":
            if _Handler.calls[key] <= 2:
                self._send(503, b"busy", "text/plain")
            else:
                self._send(200, json.dumps(SECTIONS).encode())
        elif self.path == "/slow":
            time.sleep(1.0)
            self._send(200, json.dumps(SECTIONS).encode())
        elif self.path == "/auth":
            if self.headers.get("Authorization") != "Bearer s3cret":
                self._send(401, b"{}")
            else:
                self._send(200, json.dumps(SECTIONS).encode())
        elif self.path == "/audio":
            ok = b"RIFF" in body and self.headers.get("Content-Type", "").startswith("multipart/form-data")
            self._send(200 if ok else 400, json.dumps({"note": "PLAN\n\nRest.", "transcript": [
                {"speaker": "doctor", "text": "rest please", "start": 0.0, "end": 1.0}]}).encode())
        else:
            self._send(404, b"{}")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):  # the timed-out client hung up: expected
        pass


@pytest.fixture(scope="module")
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


MAPPING = {"sections": "$.note.sections[*]", "section_title": "name", "section_text": "body",
           "version": "$.meta.v", "cost_usd": "$.price"}


def _item(template="SOAP", audio_path=None):
    return ScribeInput(consultation=make_consultation("h1"), template=template, audio_path=audio_path)


def test_json_request_and_response_mapping(server):
    s = get_scribe("http", {"http": {"url": f"{server}/ok", "response": MAPPING,
                                     "request": {"text": "{transcript}", "fmt": "{template}", "turns": "{turns}"},
                                     "headers": {"X-Team": "qa"}}})
    out = s.run(_item())
    assert [sec.key for sec in out.note.sections] == ["subjective", "plan"]
    assert [x.text for x in out.note.sections[0].sentences] == ["Cough for two weeks.", "Denies chest pain."]
    assert out.backend == "http" and out.backend_version == "srv-2" and out.cost_usd == pytest.approx(0.012)
    assert len(out.transcript) == 10  # text scribe: the true transcript is kept
    sent = json.loads(_Handler.seen[-1]["body"])
    assert sent["fmt"] == "SOAP" and isinstance(sent["turns"], list) and sent["turns"][1]["speaker"] == "patient"
    assert sent["text"].startswith("[clinician] Good morning")
    assert _Handler.seen[-1]["headers"]["X-Team"] == "qa"


def test_default_shape_note_text(server):
    out = get_scribe("http", {"http": {"url": f"{server}/text"}}).run(_item())
    assert [s.key for s in out.note.sections] == ["subjective", "plan"] and out.backend_version == "t-1"


def test_garbage_answer_is_a_clear_scribe_error(server):
    s = get_scribe("http", {"http": {"url": f"{server}/garbage?token=abc", "retries": 0}})
    with pytest.raises(ScribeError) as e:
        s.run(_item())
    msg = str(e.value)
    assert "not JSON" in msg and "/garbage" in msg and "token" not in msg and "oops" not in msg
    with pytest.raises(ScribeError, match="no 'note' or 'sections'"):
        get_scribe("http", {"http": {"url": f"{server}/wrongjson"}}).run(_item())


def test_runner_records_failed_case_and_goes_on(server, tmp_path):
    suite = Suite(name="t", dataset="unit", scribes=["http"], metrics=["adherence"],
                  scribe_options={"http": {"url": f"{server}/garbage", "retries": 0}})
    res = process_case(make_consultation("g1"), None, "http", suite, str(tmp_path), "run1")
    assert res.output is None and res.error and "not JSON" in res.error


def test_retries_on_503_then_succeeds(server):
    _Handler.calls.pop("/flaky", None)
    s = get_scribe("http", {"http": {"url": f"{server}/flaky", "response": MAPPING, "retries": 3,
                                     "backoff_s": 0.01}})
    assert s.run(_item()).note.sections
    assert _Handler.calls["/flaky"] == 3


def test_timeout_is_a_total_deadline_retries_included(server):
    s = get_scribe("http", {"http": {"url": f"{server}/slow", "timeout_s": 0.2, "retries": 1, "backoff_s": 0.01}})
    with pytest.raises(ScribeError, match=r"no complete answer within timeout_s 0.2s \(a total deadline, retries included; "
                                          r"1 attempt\(s\), last: timed out"):
        s.run(_item())


def test_auth_header_from_env(server, monkeypatch):
    cfg = {"http": {"url": f"{server}/auth", "auth_env": "EVALKIT_TEST_TOKEN", "response": MAPPING}}
    monkeypatch.delenv("EVALKIT_TEST_TOKEN", raising=False)
    with pytest.raises(InputError, match="EVALKIT_TEST_TOKEN is not set"):
        get_scribe("http", cfg).run(_item())
    monkeypatch.setenv("EVALKIT_TEST_TOKEN", "wrong")
    with pytest.raises(ScribeError, match="HTTP 401"):
        get_scribe("http", cfg).run(_item())
    monkeypatch.setenv("EVALKIT_TEST_TOKEN", "s3cret")
    assert get_scribe("http", cfg).run(_item()).note.sections


def test_multipart_audio(server, tmp_path):
    wav = tmp_path / "a.wav"
    sf.write(str(wav), np.zeros(1600, dtype="float32"), 16000)
    s = get_scribe("http", {"http": {"url": f"{server}/audio", "input": "audio", "send": "multipart"}})
    assert s.needs_audio
    out = s.run(_item(audio_path=wav))
    assert out.transcript[0].text == "rest please" and out.transcript[0].end == 1.0
    with pytest.raises(InputError, match="has none"):
        s.run(_item())
    # through the runner: a case without audio is recorded as failed, not raised
    suite = Suite(name="t", dataset="unit", scribes=["http"], metrics=["adherence"],
                  scribe_options={"http": {"url": f"{server}/audio", "input": "audio", "send": "multipart"}})
    res = process_case(make_consultation("a1"), Audio(path="a.wav", duration=0.1), "http", suite, str(tmp_path), "r")
    assert res.error is None and res.output.note.sections[0].key == "plan"


def test_bad_options_are_input_errors():
    with pytest.raises(InputError, match="url"):
        get_scribe("http", {"http": {}})
    with pytest.raises(InputError, match="send"):
        get_scribe("http", {"http": {"url": "http://x", "send": "multipart"}})
    with pytest.raises(InputError, match="not a mapping field"):
        get_scribe("http", {"http": {"url": "http://x", "response": {"notes": "$.n"}}})
    with pytest.raises(InputError, match="cannot read the path"):
        get_scribe("http", {"http": {"url": "http://x", "response": {"note_text": "$.a[?(@.b)]"}}})


def test_jsonpath_subset():
    doc = {"a": {"b c": [{"d": 1}, {"d": 2}]}, "x": [1, 2, 3]}
    assert jsonpath(doc, '$.a["b c"][*].d') == [1, 2]
    assert jsonpath(doc, "$.x[-1]") == [3] and jsonpath(doc, "x[0]") == [1]
    assert jsonpath(doc, "$.missing.z") == []


def test_multipart_body_is_a_valid_form_with_fields_and_the_wav(tmp_path):
    """The multipart body (encoded by httpx) parses back into the request fields and the WAV file part."""
    from email.parser import BytesParser
    from email.policy import HTTP

    wav = tmp_path / "a.wav"
    sf.write(str(wav), np.zeros(1600, dtype="float32"), 16000)
    s = get_scribe("http", {"http": {"url": "http://127.0.0.1:9/x", "input": "audio", "send": "multipart",
                                     "audio_field": "file", "request": {"fmt": "{template}", "meta": {"a": [1]}}}})
    body, headers = s.build_request(_item(audio_path=wav))
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body)
    parts = {p.get_param("name", header="content-disposition"): p for p in msg.iter_parts()}
    assert set(parts) == {"fmt", "meta", "file"}
    assert parts["fmt"].get_content().strip() == "SOAP" and json.loads(parts["meta"].get_content()) == {"a": [1]}
    f = parts["file"]
    assert f.get_filename() == "h1.wav" and f.get_content_type() == "audio/wav"
    assert f.get_payload(decode=True) == wav.read_bytes()
