"""Hostile input (issue 18): each one is refused with one line, or recorded as one failed case, within
bounded memory and a bounded time — and the run goes on.

Every command that could blow up runs in a subprocess under an address-space cap
(:mod:`tests.reliability._capped`), so a regression fails the test instead of hurting the machine;
where memory is the point, the child's peak RSS must stay under 1 GB.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
import yaml

from evalkit.store import Store
from tests.conftest import REPO, make_consultation
from tests.reliability._capped import python, run_capped

GB = 1024  # MB
NOTE = "SUBJECTIVE\nCough for two weeks.\n\nPLAN\nReview in four weeks."


def _db(tmp: Path, n: int = 3) -> Path:
    db = tmp / "h.duckdb"
    Store(db).put_consultations([make_consultation(f"h{i}") for i in range(n)])
    return db


def _suite(tmp: Path, scribe: str, options: dict, metrics=("adherence",), name: str = "hostile") -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump({"name": name, "dataset": "unit", "scribes": [scribe], "metrics": list(metrics),
                                 "scribe_options": {scribe.split("+")[0]: options}, "concurrency": 1}))
    return p


def _sessions(db: Path) -> dict[str, dict]:
    store = Store(db)
    (rid,) = store.list_runs().run_id.tolist()
    return {r["consultation_id"]: r for r in store.run_sessions(rid).to_dict("records")}


# ---------------------------------------------------------------------------- 1. a lone surrogate


def test_a_lone_surrogate_from_a_backend_is_repaired_and_the_scribe_is_not_called_again(tmp_path):
    """A command scribe answering ``"better \\ud83d."`` (valid JSON): the case is stored with U+FFFD,
    marked, the other cases run, and a resume does not call the scribe again."""
    db = _db(tmp_path)
    calls = tmp_path / "calls.txt"
    prog = tmp_path / "scribe.py"
    prog.write_text(
        "import json, sys\n"
        "case = json.load(open(sys.argv[1]))\n"
        f"open({str(calls)!r}, 'a').write(case['consultation_id'] + '\\n')\n"
        "note = 'SUBJECTIVE\\nFeeling better \\ud83d.\\n\\nPLAN\\nReview.' if case['consultation_id'] == 'h1' else "
        f"{NOTE!r}\n"
        "sys.stdout.write(json.dumps({'note': note}))\n")  # json.dumps writes the lone surrogate as \\ud83d
    suite = _suite(tmp_path, "command", {"command": [sys.executable, str(prog), "{input}"]})
    for _ in range(2):  # the second run is a resume of the same run: nothing left to do
        r = run_capped(["evalkit", "run", str(suite), "--db", str(db)], timeout=120)
        assert r.returncode == 0, r.stderr
    assert sorted(calls.read_text().split()) == ["h0", "h1", "h2"]  # each case called once, over both runs
    sess = _sessions(db)
    assert {s["status"] for s in sess.values()} == {"ok"}
    out = Store(db).session_output(sess["h1"]["session_id"])
    assert "Feeling better \ufffd." in out.note.to_text() and out.metadata["repaired_characters"] == 1


def test_a_plugin_scribe_and_a_judge_returning_lone_surrogates_do_not_stop_the_run(tmp_path, monkeypatch):
    """What no backend repaired — a Python scribe's note, a judge's rationale — is repaired before it is stored."""
    from evalkit.run import runner
    from evalkit.schema import Claim, JudgeResult, Note, NoteSection, NoteSentence, ScribeOutput
    from evalkit.scribes.base import register
    from evalkit.run.suite import Suite

    class HalfEmoji:
        name, version, needs_audio = "half-emoji", "1", False

        def run(self, item):
            note = Note(template="SOAP", sections=[NoteSection(key="plan", title="PLAN", sentences=[
                NoteSentence(id="plan.0", text="Feeling better \ud83d.")])])
            return ScribeOutput(consultation_id=item.consultation.id, transcript=list(item.consultation.turns),
                                note=note, backend="half-emoji")

    class OddJudge:
        name, version, prompt_hash = "odd", "1", None

        def judge(self, transcript, note, case=None):
            return JudgeResult(claims=[Claim(id="plan.0#0", sentence_id="plan.0", section="plan", text="x",
                                             verdict="unsupported", rationale="cut \udc00 here")],
                               judge="odd", judge_version="1")

    register("half-emoji")(lambda **kw: HalfEmoji())
    monkeypatch.setattr(runner, "_judge_for", lambda suite, store=None: OddJudge())
    store = Store(tmp_path / "p.duckdb")
    store.put_consultations([make_consultation("p0"), make_consultation("p1")])
    suite = Suite(name="p", dataset="unit", scribes=["half-emoji"], metrics=["hallucination"])
    (rid,) = runner.run_suite(suite, store, progress=False)
    sess = store.run_sessions(rid)
    assert len(sess) == 2 and (sess.status == "ok").all()
    detail = store.session_detail(f"{rid}:p0")
    assert detail["output"].note.sections[0].sentences[0].text == "Feeling better \ufffd."
    assert detail["output"].metadata["repaired_characters"] == 1
    assert detail["findings"][0].rationale == "cut \ufffd here"


def test_evalkit_judge_takes_a_line_with_a_lone_surrogate(tmp_path):
    p = tmp_path / "cases.jsonl"
    good = {"id": "g", "transcript": "[doctor] how are you\n[patient] better thanks", "note": "SUBJECTIVE\nBetter."}
    p.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "s", "note": "SUBJECTIVE\nBetter \ud83d."}) + "\n")
    r = run_capped(["evalkit", "judge", "--input", str(p), "--output", str(tmp_path / "out.jsonl")], timeout=120)
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["id"] for x in (tmp_path / "out.jsonl").read_text().splitlines()] == ["g", "s"]
    assert any(f"{p}:2: 1 lone surrogate" in ln and "U+FFFD" in ln for ln in r.lines), r.stderr
    assert "Traceback" not in r.stderr


# ---------------------------------------------------------------------------- 5. deadlines


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"  # a zombie has been killed; only its exit status is left for its (new) parent


def test_http_timeout_is_a_total_deadline_against_a_trickling_server(tmp_path):
    """One byte every 0.25 s would take a minute; timeout_s 2 ends the case at about 2 s, recorded as failed."""
    import http.server
    import threading
    import time

    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite

    body = json.dumps({"note": NOTE, "pad": "x" * 200}).encode()

    class Trickle(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.25)
            except OSError:  # the client gave up: expected
                pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        store = Store(tmp_path / "t.duckdb")
        store.put_consultations([make_consultation("t0")])
        suite = Suite(name="t", dataset="unit", scribes=["http"], metrics=["adherence"], scribe_options={
            "http": {"url": f"http://127.0.0.1:{srv.server_address[1]}/s", "timeout_s": 2, "retries": 2}})
        t0 = time.monotonic()
        (rid,) = run_suite(suite, store, progress=False)
        took = time.monotonic() - t0
    finally:
        srv.shutdown()
    (err,) = store.run_sessions(rid).error.tolist()
    assert "within timeout_s 2s (a total deadline, retries included" in err and "timed out" in err
    assert took < 10, took  # generous: the deadline is 2 s, retries included; the trickle would take 60 s


def test_command_timeout_kills_a_setsid_child_holding_stdout(tmp_path):
    """The program prints its answer and exits, but a child it started in a new session keeps stdout open:
    at timeout_s the case fails, the child is killed, and the run records the session."""
    import time

    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite

    pidfile = tmp_path / "child.pid"
    prog = tmp_path / "scribe.py"
    prog.write_text(
        "import json, subprocess, sys\n"
        "child = subprocess.Popen(['sleep', '300'], start_new_session=True)  # inherits stdout\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        f"print(json.dumps({{'note': {NOTE!r}}}), flush=True)\n")
    store = Store(tmp_path / "c.duckdb")
    store.put_consultations([make_consultation("c0"), make_consultation("c1")])
    suite = Suite(name="c", dataset="unit", scribes=["command"], metrics=["adherence"], concurrency=1,
                  scribe_options={"command": {"command": [sys.executable, str(prog), "{input}"], "timeout_s": 2}})
    t0 = time.monotonic()
    (rid,) = run_suite(suite, store, progress=False, limit=1)
    took = time.monotonic() - t0
    (err,) = store.run_sessions(rid).error.tolist()
    assert "timed out after 2s" in err and "killed" in err
    assert took < 15, took  # generous: 2 s deadline; without it the run waited for `sleep 300`
    assert not _alive(int(pidfile.read_text()))
    assert store.get_run(rid)["status"] == "finished"


# ---------------------------------------------------------------------------- 6. memory bounds


def test_command_printing_2_gb_is_refused_in_bounded_memory(tmp_path):
    db = _db(tmp_path, 2)
    suite = _suite(tmp_path, "command", {"command": ["head", "-c", "2000000000", "/dev/zero"], "timeout_s": 120})
    r = run_capped(["evalkit", "run", str(suite), "--db", str(db)], timeout=240)
    assert r.returncode == 0, r.stderr
    errors = {s["error"] for s in _sessions(db).values()}
    assert len(errors) == 1 and "stdout passed max_reply_mb (32 MB); the program was killed" in errors.pop()
    assert r.peak_rss_mb < GB, r.peak_rss_mb


@pytest.mark.parametrize("announce", [True, False], ids=["content-length", "no-length"])
def test_http_2_gb_answer_is_refused_in_bounded_memory(tmp_path, announce):
    import http.server
    import threading

    class Huge(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if announce:
                self.send_header("Content-Length", str(2 * 10**9))
            self.end_headers()
            block = b" " * (1 << 20)
            try:
                for _ in range(2000):
                    self.wfile.write(block)
            except OSError:  # the client stopped reading: expected
                pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Huge)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        db = _db(tmp_path, 1)
        suite = _suite(tmp_path, "http", {"url": f"http://127.0.0.1:{srv.server_address[1]}/", "retries": 0})
        r = run_capped(["evalkit", "run", str(suite), "--db", str(db)], timeout=240)
    finally:
        srv.shutdown()
    assert r.returncode == 0, r.stderr
    (err,) = [s["error"] for s in _sessions(db).values()]
    assert "larger than max_reply_mb (32 MB)" in err
    assert r.peak_rss_mb < GB, r.peak_rss_mb


def _laughs(indent: str) -> str:
    """Nine anchored lists, each holding the one before nine times: 9**9 values once expanded."""
    lines = [f'{indent}- &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(8):
        lines.append(f"{indent}- &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_suite_is_refused_with_one_line(tmp_path):
    db = _db(tmp_path, 1)
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("name: bomb\ndataset: unit\nscribes: [reference]\nscribe_options:\n  reference:\n    laughs:\n"
                    + _laughs("      "))
    assert bomb.stat().st_size < 1000
    r = run_capped(["evalkit", "run", str(bomb), "--db", str(db)], timeout=120)
    assert r.returncode == 2 and len(r.lines) == 1, r.stderr
    assert r.lines[0].startswith(f"error: {bomb}: line ") and "expands to more than 100,000 values" in r.lines[0]
    assert r.peak_rss_mb < GB, r.peak_rss_mb


def test_billion_laughs_case_card_and_gate_file_are_refused_with_one_line(tmp_path):
    card = (REPO / "synthetic" / "cards" / "gp-tonsillitis-uk-01.yaml").read_text()
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "bomb.yaml").write_text(card + "metadata:\n  laughs:\n" + _laughs("    "))
    r = run_capped(["evalkit", "generate", "--cards", str(cards), "--n", "1", "--db", str(tmp_path / "g.duckdb")],
                   timeout=120)
    assert r.returncode == 2 and len(r.lines) == 1 and "expands to more than 100,000 values" in r.lines[0], r.stderr
    assert r.peak_rss_mb < GB, r.peak_rss_mb
    gate = tmp_path / "gate.yaml"
    gate.write_text("checks:\n  - {name: w, check: wer <= 0.2}\nseed:\n" + _laughs("  "))
    r = run_capped(["evalkit", "gate", "latest", "-c", str(gate), "--db", str(tmp_path / "g.duckdb")], timeout=120)
    assert r.returncode == 2 and len(r.lines) == 1 and "expands to more than 100,000 values" in r.lines[0], r.stderr


def test_yaml_anchors_in_moderation_still_load(tmp_path):
    from evalkit.run.suite import load_suite

    p = tmp_path / "s.yaml"
    p.write_text("name: a\ndataset: unit\nscribes: [http, command]\nscribe_options:\n"
                 "  http: &opts {timeout_s: 30, retries: 1, url: 'http://x/'}\n  command: {<<: *opts, command: [x]}\n")
    s = load_suite(p)
    assert s.scribe_options["command"]["timeout_s"] == 30


def _wav_3hz(path: Path) -> Path:
    data = b"\x01\x00" * 200_000  # 400 KB of samples; at 3 Hz that is 18.5 hours
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 3, 6, 2, 16)
    path.write_bytes(hdr + b"data" + struct.pack("<I", len(data)) + data)
    return path


def test_wav_whose_header_says_3_hz_is_refused_before_decoding(tmp_path):
    wav = _wav_3hz(tmp_path / "three_hz.wav")
    r = python("import sys\nfrom evalkit.errors import InputError\nfrom evalkit.scribes._audio import load_wav\n"
               "from evalkit.synth.tts import read_wav\n"
               "for f in (load_wav, read_wav):\n"
               "    try:\n        f(sys.argv[1])\n    except InputError as e:\n        print(e)\n", str(wav), timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2 and all(ln.startswith(f"{wav}: sample rate: header says 3 Hz") for ln in lines), r.stdout
    assert r.peak_rss_mb < GB, r.peak_rss_mb


def test_a_run_meeting_the_3_hz_wav_records_the_case_and_goes_on(tmp_path):
    from evalkit.schema import Audio

    db = _db(tmp_path, 2)
    wav = _wav_3hz(tmp_path / "three_hz.wav")
    Store(db).set_audio("h0", Audio(path=str(wav), sample_rate=3, duration=1.0))
    suite = _suite(tmp_path, "whisper+rules", {}, metrics=("wer",))
    r = run_capped(["evalkit", "run", str(suite), "--db", str(db)], timeout=240)
    assert r.returncode == 0, r.stderr
    sess = _sessions(db)
    assert "sample rate: header says 3 Hz" in sess["h0"]["error"]
    assert "needs audio and the case has none" in sess["h1"]["error"]  # no audio at all: its own error
    assert r.peak_rss_mb < GB, r.peak_rss_mb


def test_jsonl_line_nested_100000_deep_is_one_bad_line(tmp_path):
    good = {"id": "g", "transcript": "[doctor] how are you\n[patient] better thanks", "note": "SUBJECTIVE\nBetter."}
    p = tmp_path / "cases.jsonl"
    p.write_text(json.dumps(good) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + json.dumps({**good, "id": "h"}) + "\n")
    out = tmp_path / "out.jsonl"
    r = run_capped(["evalkit", "judge", "--input", str(p), "--output", str(out)], timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["g", "h"]
    assert [ln for ln in r.lines if ln.startswith("error:")] == [
        f"error: {p}:2: JSON is nested deeper than 64 levels — fix: flatten the JSON (evalkit reads at most 64 "
        "levels of nested objects and lists)"]
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"id": "a", "reference": "a b", "hypothesis": "a c"}) + "\n"
                     + '{"id": "d", "reference": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    r = run_capped(["evalkit", "wer", "--input", str(pairs), "--output", str(tmp_path / "w.jsonl")], timeout=120)
    assert r.returncode == 1 and "nested deeper than 64 levels" in r.stderr and "Traceback" not in r.stderr
    assert len((tmp_path / "w.jsonl").read_text().splitlines()) == 1


def test_replay_file_nested_too_deep_is_refused_with_one_line(tmp_path):
    db = _db(tmp_path, 1)
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"id": "h0", "note": NOTE}) + "\n" + '{"id": "x", "note": ' + "[" * 100_000 + "]" * 100_000
                      + "}\n")
    r = run_capped(["evalkit", "run", str(_suite(tmp_path, "replay", {"path": str(replay)})), "--db", str(db)],
                   timeout=120)
    assert r.returncode == 2 and len(r.lines) == 1, r.stderr
    assert r.lines[0] == (f"error: {replay}: line 2: JSON is nested deeper than 64 levels — fix: flatten the JSON "
                          "(evalkit reads at most 64 levels of nested objects and lists)")


def test_transcripts_longer_than_the_limit_are_refused_per_line(tmp_path):
    from evalkit.security.limits import MAX_LINE_BYTES, MAX_TRANSCRIPT_CHARS

    turn = "[doctor] take the amoxicillin 500 mg three times a day for a week\n"
    good = {"id": "g", "transcript": "[doctor] how are you\n[patient] better thanks", "note": "SUBJECTIVE\nBetter."}
    long = {"id": "long", "transcript": turn * (MAX_TRANSCRIPT_CHARS // len(turn) + 1), "note": "PLAN\nAmoxicillin."}
    p = tmp_path / "cases.jsonl"
    with p.open("w") as f:
        f.write(json.dumps(good) + "\n" + json.dumps(long) + "\n")
        f.write('{"id": "huge", "transcript": "' + "x" * (MAX_LINE_BYTES + 10) + '"}\n')  # a 32 MB+ line
        f.write(json.dumps({**good, "id": "h"}) + "\n")
    out = tmp_path / "out.jsonl"
    r = run_capped(["evalkit", "judge", "--input", str(p), "--output", str(out)], timeout=180)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["g", "h"]
    errors = [ln for ln in r.lines if ln.startswith("error:")]
    assert len(errors) == 2, r.stderr
    assert errors[0].startswith(f"error: {p}:2: transcript: is ") and "more than the 1,000,000 evalkit reads" in errors[0]
    assert errors[1] == f"error: {p}:3: is longer than 32 MB — fix: one case per line; split a longer consultation into parts"
    assert r.peak_rss_mb < GB, r.peak_rss_mb


_LLM_HOSTILE = r'''
import asyncio, sys, zlib
from evalkit.llm import LLMCallError, LLMClient, ModelSpec

def reply(kind):
    if kind == "length":  # announces 2 GB
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n", b" " * (1 << 20), 2000
    if kind == "close":  # no length: 2 GB to the close
        return b"HTTP/1.0 200 OK\r\n\r\n", b" " * (1 << 20), 2000
    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip: 1 GB of spaces in about 1 MB
    block = b" " * (1 << 20)
    z = b"".join(c.compress(block) for _ in range(1024)) + c.flush()
    return b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(z), z, 1

kind = sys.argv[1]
head, block, times = reply(kind)
served = []

async def handle(reader, writer):
    served.append(1)
    await reader.readuntil(b"\r\n\r\n")
    writer.write(head)
    try:
        for _ in range(times):
            writer.write(block)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):  # the client hung up, or the loop is closing
        pass
    writer.close()

async def start():
    return await asyncio.start_server(handle, "127.0.0.1", 0)

client = LLMClient(None, retries=0)
server = client.run(start())  # on the client's own loop
port = server.sockets[0].getsockname()[1]
spec = ModelSpec(model="openai/hostile", api_base=f"http://127.0.0.1:{port}/v1", transport="lean", timeout=60)
try:
    client.complete(spec, [{"role": "user", "content": "hi"}])
    print(kind, "accepted")
except LLMCallError as e:
    print(kind, e.kind, "retryable" if e.retryable else "final", len(served))
server.close()
client.close()
'''


@pytest.mark.parametrize("kind", ["length", "close", "gzip"])
def test_llm_client_refuses_a_2_gb_or_inflating_reply_in_bounded_memory(kind):
    """The lean LLM route (aiohttp): an answer announcing, sending or inflating to gigabytes is refused,
    once (not re-sent), in bounded memory."""
    r = python(_LLM_HOSTILE, kind, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{kind} HTTP reply larger than 32 MB final 1"), r.stdout
    assert r.peak_rss_mb < GB, r.peak_rss_mb
