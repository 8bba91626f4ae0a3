"""No patient text in error fields (issue 18, item 2).

A canary — a made-up patient name and remedy — is said in the transcript. Then every backend fails
in a way that echoes what it was given: a command scribe writing the case to stderr or stdout, an
HTTP server putting it in its reason phrase and body, an LLM answering with the prompt, AWS
HealthScribe's failure reason, a replay file's bad row, a plugin's exception message. Each case
must be recorded as failed with a one-line error; the canary must be in no error field, no log
record, no export made with ``--no-text`` (CSV, Parquet, Hugging Face), and no field the review
app's data functions return besides the transcript itself.
"""

from __future__ import annotations

import http.server
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from evalkit.run.runner import run_suite
from evalkit.schema import Audio
from evalkit.scribes.base import register
from evalkit.store import Store
from evalkit.run.suite import Suite
from tests.conftest import make_consultation

NAME, REMEDY = "Quillonary Vexbridge", "vexroot"
TOKENS = ("quillonary", "vexbridge", "vexroot")
EVALKIT = Path(sys.executable).with_name("evalkit")


def _canary(text: object) -> list[str]:
    low = str(text).lower()
    return [t for t in TOKENS if t in low]


def _case(cid: str):
    c = make_consultation(cid)
    said = c.turns[1].model_copy(update={"id": len(c.turns),
                                         "text": f"My name is {NAME} and I have been taking {REMEDY} drops."})
    return c.model_copy(update={"turns": list(c.turns) + [said]})


# ---------------------------------------------------------------------------- backends that echo


ECHO_PROG = """
import json, sys
mode, case = sys.argv[1], json.load(open(sys.argv[2]))
if mode == "stderr":
    sys.stderr.write("could not write a note for: " + case["transcript"] + "\\n")
    sys.exit(3)
if mode == "stdout":
    print("NOTE DRAFT " + case["transcript"])
if mode == "title":
    print(json.dumps({"note": {"sections": [{"title": case["transcript"][-80:],
                                             "sentences": [{"text": "x.", "evidence": ["turn one"]}]}]}}))
"""


class _Echo(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        sent = json.loads(body)["transcript"].replace("\n", " ")
        if self.path == "/reason":  # a reason phrase and a body quoting the input
            self.send_response(422, f"Cannot process {sent[-60:]}")
        elif self.path == "/busy":
            self.send_response(503, f"Busy with {sent[-60:]}")
        else:
            self.send_response(200)
        out = ("note draft: " + sent).encode()
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def _prompt_echo(req: dict) -> dict:
    """An LLM that answers with the prompt it was sent, in no shape evalkit asked for."""
    return {"reply": " ".join(str(m.get("content")) for m in req.get("messages", []))}


class _Plugin:
    name, version, needs_audio = "leaky-plugin", "1", False

    def run(self, item):
        raise ValueError(f"cannot parse transcript: {item.consultation.transcript_text()[-200:]}")


def _healthscribe(tmp: Path):
    """A HealthScribe whose job FAILED with a reason quoting the audio (stubbed AWS, no network)."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    from botocore.stub import Stubber

    from evalkit.scribes.healthscribe import HealthScribe

    mock = moto.mock_aws()
    mock.start()
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="in-bucket")
    tc = boto3.client("transcribe", region_name="us-east-1")
    hs = HealthScribe(bucket="in-bucket", role_arn="arn:aws:iam::123456789012:role/x", transcribe_client=tc,
                      s3_client=s3, sleep=lambda s: None)
    stub = Stubber(tc)
    for _ in range(2):  # one job per case
        stub.add_response("get_medical_scribe_job", {"MedicalScribeJob": {
            "MedicalScribeJobName": "evalkit-x", "MedicalScribeJobStatus": "FAILED",
            "FailureReason": f"The speaker said {NAME} and {REMEDY}; audio quality too low."}})
    stub.activate()
    return hs, mock


@pytest.fixture
def leaky_world(tmp_path, monkeypatch):
    """A store of canary cases and one failed run per echoing backend; yields (store, run ids, logs)."""
    from evalkit.testing.stub_llm import StubLLM

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    store = Store(tmp_path / "leak.duckdb")
    cases = [_case("k0"), _case("k1")]
    store.put_consultations(cases)
    wav = tmp_path / "k.wav"
    sf.write(str(wav), (0.1 * np.sin(np.arange(16000) / 10)).astype("float32"), 16000)
    for c in cases:
        store.set_audio(c.id, Audio(path=str(wav), sample_rate=16000, duration=1.0))
    prog = tmp_path / "echo.py"
    prog.write_text(ECHO_PROG)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    replay = tmp_path / "replay.jsonl"
    replay.write_text(json.dumps({"id": "k0", "transcript": [{"speaker": "doctor", "text": "hi", "start": NAME}],
                                  "note": f"PLAN\n{REMEDY}."}) + "\n")  # k1: no row at all
    hs, mock = _healthscribe(tmp_path)
    register("leaky-plugin")(lambda **kw: _Plugin())
    register("hs-stubbed")(lambda **kw: hs)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    runs = {}
    try:
        with StubLLM(responder=_prompt_echo) as llm:
            backends = {
                "command-stderr": ("command", {"command": [sys.executable, str(prog), "stderr", "{input}"]}),
                "command-stdout": ("command", {"command": [sys.executable, str(prog), "stdout", "{input}"]}),
                "command-title": ("command", {"command": [sys.executable, str(prog), "title", "{input}"]}),
                "http-reason": ("http", {"url": f"{url}/reason", "retries": 0}),
                "http-busy": ("http", {"url": f"{url}/busy", "retries": 1, "backoff_s": 0.01}),
                "http-garbage": ("http", {"url": f"{url}/garbage", "retries": 0}),
                "llm": ("llm", {"model": "openai/echo", "api_base": llm.api_base}),
                "healthscribe": ("hs-stubbed", {}),
                "replay": ("replay", {"path": str(replay)}),
                "plugin": ("leaky-plugin", {}),
            }
            for label, (scribe, opts) in backends.items():
                suite = Suite(name=f"leak-{label}", dataset="unit", scribes=[scribe], metrics=["adherence"],
                              scribe_options={scribe: opts} if opts else {}, concurrency=1)
                (runs[label],) = run_suite(suite, store, label=label, progress=False)
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        srv.shutdown()
        mock.stop()
    yield store, runs, records


def test_every_backend_failure_is_recorded_without_the_case_text(leaky_world):
    store, runs, records = leaky_world
    for label, rid in runs.items():
        sess = store.run_sessions(rid)
        assert len(sess) == 2 and (sess.status == "failed").all(), (label, sess.error.tolist())
        for err in sess.error:
            assert err and "\n" not in err, (label, err)
            assert not _canary(err), (label, err)
    errs = {label: store.run_sessions(rid).error.iloc[0] for label, rid in runs.items()}
    assert "exited with code 3 (stderr " in errs["command-stderr"] and "sha256 " in errs["command-stderr"]
    assert "stdout is not JSON" in errs["command-stdout"]
    assert "section 1 has evidence" in errs["command-title"]
    assert "HTTP 422 Unprocessable Entity" in errs["http-reason"]
    assert "Service Unavailable" in errs["http-busy"] and "not JSON" in errs["http-garbage"]
    assert errs["healthscribe"].startswith("healthscribe: job ") and "FailureReason " in errs["healthscribe"]
    assert errs["plugin"].startswith("ValueError at test_error_fields.py:") and "sha256" in errs["plugin"]
    leaked = [r.getMessage() for r in records if _canary(r.getMessage()) or _canary(r.args)]
    assert not leaked, leaked[:3]


def _cells(df: pd.DataFrame) -> str:
    return "\n".join(map(str, df.to_numpy().ravel().tolist())) + "\n".join(map(str, df.columns))


def test_no_text_exports_and_the_apps_data_hold_no_canary(leaky_world, tmp_path):
    import datasets

    from evalkit.run.export import export_run

    store, runs, _ = leaky_world
    for label, rid in runs.items():
        for fmt in ("csv", "parquet", "hf"):
            out = tmp_path / f"{label}-{fmt}"
            export_run(store, rid, fmt, out, include_output=False)
            if fmt == "csv":
                text = "\n".join(p.read_text() for p in out.glob("*.csv"))
            elif fmt == "parquet":
                text = "\n".join(_cells(pd.read_parquet(p)) for p in out.glob("*.parquet"))
            else:
                text = _cells(datasets.load_from_disk(str(out)).to_pandas())
            assert text.strip() and not _canary(text), (label, fmt, _canary(text))
        for sid in store.run_sessions(rid).session_id:  # the session page's data: the error it shows
            assert not _canary(store.session_detail(sid)["session"]["error"])
    assert not _canary(_cells(store.list_runs()))
    res = subprocess.run([str(EVALKIT), "export", runs["command-stderr"], "--format", "csv", "--no-text",
                          "--out", str(tmp_path / "cli"), "--db", str(store.path)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert not _canary(res.stdout + res.stderr + "".join(p.read_text() for p in (tmp_path / "cli").glob("*.csv")))


def test_no_text_export_of_a_good_run_drops_the_judges_claim_text(tmp_path):
    """``--no-text`` means no note text at all: the judge's claim text and rationale are note sentences."""
    from evalkit.run.export import export_run

    store = Store(tmp_path / "ok.duckdb")
    store.put_consultations([_case("g0")])
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"id": "g0", "note": f"PLAN\n{NAME} to stop {REMEDY} drops."}) + "\n")
    suite = Suite(name="ok", dataset="unit", scribes=["replay"], metrics=["hallucination"],
                  scribe_options={"replay": {"path": str(replay)}})
    (rid,) = run_suite(suite, store, progress=False)
    export_run(store, rid, "csv", tmp_path / "with", include_output=True)
    export_run(store, rid, "csv", tmp_path / "without", include_output=False)
    assert _canary((tmp_path / "with" / "findings.csv").read_text())  # the canary is in the data
    for p in (tmp_path / "without").glob("*.csv"):
        assert not _canary(p.read_text()), p.name
    findings = pd.read_csv(tmp_path / "without" / "findings.csv")
    claims = findings[findings.kind == "claim"]
    assert len(claims) and findings.text.isna().all() and claims.verdict.notna().all()


def test_a_foreign_exception_is_described_not_quoted():
    from evalkit.errors import InputError
    from evalkit.security.redact import error_text

    def parse(text):
        raise KeyError(f"no heading in {text}")

    try:
        parse(f"Mr {NAME}'s note")
    except KeyError as e:
        msg = error_text(e)
    assert msg.startswith("KeyError at test_error_fields.py:") and "message " in msg and not _canary(msg)
    own = InputError("replay.jsonl", "line 3", "is not valid JSON", "write one object per line")
    assert error_text(own) == str(own)  # evalkit's own words are kept
