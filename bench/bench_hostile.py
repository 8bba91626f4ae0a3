"""Hostile inputs (issue 18): peak memory and wall time of evalkit meeting each one.

Every input runs in its own subprocess, watched: it is killed when its resident memory passes
``--cap-mb`` (default 3,000 MB) or it runs longer than ``--time-limit`` seconds (default 90), so a
regression cannot hurt the machine. Peak RSS comes from ``wait4`` (the evalkit process itself,
not the backend program it starts). For each input the result file records the peak, the time,
the exit code and what happened (the last line evalkit printed, or "killed at the memory cap").

Usage::

    .venv/bin/python bench/bench_hostile.py                  # all inputs → bench/results/hostile.json
    .venv/bin/python bench/bench_hostile.py --only yaml_bomb_suite wav_3hz
    .venv/bin/python bench/bench_hostile.py --out /tmp/before.json   # e.g. on an older checkout
    .venv/bin/python bench/bench_hostile.py --before /tmp/before.json  # figures with the older ones beside
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import _common  # noqa: E402

EVALKIT = Path(sys.executable).with_name("evalkit")
SAMPLE = REPO / "datasets" / "aci-bench-sample" / "valid.csv"

# ---------------------------------------------------------------------------- servers


class _Trickle(http.server.BaseHTTPRequestHandler):
    """One byte of a valid answer every 0.5 s (``/trickle``) or a 2 GB body as fast as it goes (``/huge``)."""

    def log_message(self, *a):  # quiet
        pass

    def do_POST(self):  # noqa: N802
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        try:
            if self.path == "/huge":
                size = 2 * 10**9
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                block = b" " * (1 << 20)
                for _ in range(size // len(block)):
                    self.wfile.write(block)
                return
            body = json.dumps({"note": "SUBJECTIVE\nCough for two weeks.\n\nPLAN\nReview in four weeks."}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for i in range(len(body)):
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _server() -> tuple[socketserver.TCPServer, str]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


# ---------------------------------------------------------------------------- inputs


def _db(tmp: Path) -> Path:
    db = tmp / "h.duckdb"
    subprocess.run([str(EVALKIT), "import", "aci-bench", str(SAMPLE), "--dataset", "h", "--db", str(db)],
                   check=True, capture_output=True)
    return db


def _suite(tmp: Path, scribe: str, options: dict, name: str = "hostile", metrics=("adherence",)) -> Path:
    p = tmp / "suite.yaml"
    p.write_text(json.dumps({"name": name, "dataset": "h", "scribes": [scribe], "scribe_options": {scribe: options},
                             "metrics": list(metrics), "concurrency": 1}))
    return p


def _ids(db: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-c", "import sys; from evalkit.store import Store; "
                          "print('\\n'.join(Store(sys.argv[1]).consultation_ids('h')))", str(db)],
                         check=True, capture_output=True, text=True)
    return out.stdout.split()


NOTE = "SUBJECTIVE\nCough for two weeks.\n\nPLAN\nReview in four weeks."


def surrogate_replay(tmp: Path, url: str) -> list[str]:
    db = _db(tmp)
    rows = [{"id": cid, "note": NOTE} for cid in _ids(db)]
    rows[0]["note"] = "SUBJECTIVE\nFeeling better \ud83d.\n\nPLAN\nReview in four weeks."
    replay = tmp / "replay.jsonl"
    replay.write_text("\n".join(json.dumps(r) for r in rows) + "\n")  # json.dumps escapes the lone surrogate
    return ["run", str(_suite(tmp, "replay", {"path": str(replay)})), "--db", str(db)]


def surrogate_judge(tmp: Path, url: str) -> list[str]:
    p = tmp / "cases.jsonl"
    good = {"id": "g", "transcript": "[doctor] how are you\n[patient] better thanks", "note": "SUBJECTIVE\nBetter."}
    bad = {**good, "id": "s", "note": "SUBJECTIVE\nFeeling better \ud83d."}
    p.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    return ["judge", "--input", str(p), "--output", str(tmp / "out.jsonl")]


def http_trickle(tmp: Path, url: str) -> list[str]:
    db = _db(tmp)
    return ["run", str(_suite(tmp, "http", {"url": url + "/trickle", "timeout_s": 3, "retries": 0})), "--db", str(db),
            "--limit", "1"]


def http_2gb(tmp: Path, url: str) -> list[str]:
    db = _db(tmp)
    return ["run", str(_suite(tmp, "http", {"url": url + "/huge", "timeout_s": 60, "retries": 0})), "--db", str(db),
            "--limit", "1"]


def command_setsid(tmp: Path, url: str) -> list[str]:
    db = _db(tmp)
    script = tmp / "scribe.sh"
    script.write_text("#!/bin/sh\nsetsid sleep 600 &\necho '{\"note\": \"PLAN\\nReview.\"}'\nsleep 600\n")
    script.chmod(0o755)
    return ["run", str(_suite(tmp, "command", {"command": [str(script)], "timeout_s": 5})), "--db", str(db),
            "--limit", "1"]


def command_2gb(tmp: Path, url: str) -> list[str]:
    db = _db(tmp)
    return ["run", str(_suite(tmp, "command", {"command": ["head", "-c", "2000000000", "/dev/zero"],
                                               "timeout_s": 120})), "--db", str(db), "--limit", "1"]


def _laughs(indent: str = "") -> str:
    """Nine anchored lists, each holding the one before nine times: 9**9 = 387 million strings when expanded."""
    lines = [f'{indent}- &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(8):
        prev, cur = chr(97 + i), chr(98 + i)
        lines.append(f"{indent}- &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def yaml_bomb_suite(tmp: Path, url: str) -> list[str]:
    p = tmp / "bomb.yaml"
    p.write_text("name: bomb\ndataset: h\nscribes: [reference]\nscribe_options:\n  reference:\n    laughs:\n"
                 + _laughs("      "))
    return ["run", str(p), "--db", str(_db(tmp))]


def yaml_bomb_card(tmp: Path, url: str) -> list[str]:
    card = (REPO / "synthetic" / "cards" / "gp-tonsillitis-uk-01.yaml").read_text()
    d = tmp / "cards"
    d.mkdir()
    (d / "bomb.yaml").write_text(card + "metadata:\n  laughs:\n" + _laughs("    "))
    return ["generate", "--cards", str(d), "--n", "1", "--db", str(tmp / "g.duckdb")]


def wav_3hz(tmp: Path, url: str) -> list[str]:
    data = b"\x01\x00" * 200_000
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 3, 6, 2, 16)
    wav = tmp / "three_hz.wav"
    wav.write_bytes(hdr + b"data" + struct.pack("<I", len(data)) + data)
    db = _db(tmp)
    code = ("import sys; from evalkit.store import Store; from evalkit.schema import Audio; s = Store(sys.argv[1]); "
            "cid = s.consultation_ids('h')[0]; s.set_audio(cid, Audio(path=sys.argv[2], sample_rate=3, duration=1.0))")
    subprocess.run([sys.executable, "-c", code, str(db), str(wav)], check=True)
    return ["run", str(_suite(tmp, "whisper+rules", {"model": "tiny.en"}, metrics=("wer",)).with_name("suite.yaml")),
            "--db", str(db), "--limit", "1"]


def jsonl_deep(tmp: Path, url: str) -> list[str]:
    p = tmp / "cases.jsonl"
    good = {"id": "g", "transcript": "[doctor] how are you\n[patient] better thanks", "note": "SUBJECTIVE\nBetter."}
    p.write_text(json.dumps(good) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n" + json.dumps({**good, "id": "h"}) + "\n")
    return ["judge", "--input", str(p), "--output", str(tmp / "out.jsonl")]


def long_transcript(tmp: Path, url: str) -> list[str]:
    p = tmp / "cases.jsonl"
    turn = "[doctor] take the amoxicillin 500 mg three times a day for a week and come back if the fever returns\n"
    good = {"id": "g", "transcript": "[doctor] how are you\n[patient] better thanks", "note": "SUBJECTIVE\nBetter."}
    big = {"id": "big", "transcript": turn * (50_000_000 // len(turn)), "note": "PLAN\nAmoxicillin 500 mg."}
    p.write_text(json.dumps(good) + "\n" + json.dumps(big) + "\n")
    return ["judge", "--input", str(p), "--output", str(tmp / "out.jsonl")]


_LLM = (REPO / "tests" / "reliability" / "test_hostile_inputs.py").read_text().split("_LLM_HOSTILE = r\'\'\'", 1)[1] \
    .split("\'\'\'", 1)[0]


def llm_2gb(tmp: Path, url: str) -> list[str]:
    script = tmp / "llm.py"
    script.write_text(_LLM)
    return [sys.executable, str(script), "length"]


def llm_gzip(tmp: Path, url: str) -> list[str]:
    script = tmp / "llm.py"
    script.write_text(_LLM)
    return [sys.executable, str(script), "gzip"]


INPUTS = {
    "surrogate_replay": (surrogate_replay, "replay note with a lone surrogate (\\ud83d), evalkit run"),
    "surrogate_judge": (surrogate_judge, "judge JSONL line with a lone surrogate"),
    "http_trickle": (http_trickle, "HTTP scribe, timeout_s 3, server trickles 1 byte / 0.5 s"),
    "command_setsid": (command_setsid, "command scribe, timeout_s 5, setsid child holds stdout"),
    "command_2gb": (command_2gb, "command scribe printing 2 GB"),
    "http_2gb": (http_2gb, "HTTP scribe answering a 2 GB body"),
    "yaml_bomb_suite": (yaml_bomb_suite, "billion-laughs suite YAML"),
    "yaml_bomb_card": (yaml_bomb_card, "billion-laughs case card"),
    "wav_3hz": (wav_3hz, "400 KB WAV whose header says 3 Hz, whisper+rules"),
    "jsonl_deep": (jsonl_deep, "judge JSONL: a line nested 100,000 deep between two good lines"),
    "long_transcript": (long_transcript, "judge JSONL: a 50 MB transcript"),
    "llm_2gb": (llm_2gb, "LLM lean HTTP client: a reply announcing 2 GB"),
    "llm_gzip": (llm_gzip, "LLM lean HTTP client: 1 MB of gzip inflating to 1 GB"),
}

# ---------------------------------------------------------------------------- measuring


def _rss_mb(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def measure(argv: list[str], cap_mb: float, time_limit: float) -> dict:
    env = {**os.environ, "COLUMNS": "200", "EVALKIT_BUSY_TIMEOUT": "30"}
    t0 = time.monotonic()
    cmd = argv if argv[0] == sys.executable else [str(EVALKIT), *argv]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
    reader.start()
    why = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # wait4, not poll(): it gives the child's peak RSS
        if pid:
            break
        if not why and _rss_mb(proc.pid) > cap_mb:
            why = f"killed at the {cap_mb:.0f} MB cap"
        elif not why and time.monotonic() - t0 > time_limit:
            why = f"killed after {time_limit:.0f} s"
        if why:
            os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # anything the run left behind (a backend's children)
    except (ProcessLookupError, PermissionError):
        pass
    reader.join(5)
    text = (out[0] if out else b"").decode("utf-8", "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not set(ln.strip()) <= set("━─│┃╭╮╰╯ ")]
    rc = proc.returncode
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_s": round(wall, 2), "exit_code": rc,
            "outcome": why or (lines[-1][:300] if lines else ""), "output_tail": lines[-6:]}


def _sessions(db: str) -> list[dict]:
    """Status and error of each session the run stored (read after the measured process ended)."""
    code = ("import json, sys; from evalkit.store import Store; s = Store(sys.argv[1]); "
            "runs = s.list_runs(); print(json.dumps([{'run_status': st, **r} for rid, st in zip(runs.run_id, runs.status) "
            "for r in s.run_sessions(rid)[['consultation_id', 'status', 'error']].to_dict('records')]))")
    out = subprocess.run([sys.executable, "-c", code, db], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return [{"error": (out.stderr.strip().splitlines() or ["(no database)"])[-1]}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", default=None, help="run only these inputs")
    ap.add_argument("--cap-mb", type=float, default=3000.0)
    ap.add_argument("--time-limit", type=float, default=90.0)
    ap.add_argument("--out", type=Path, default=None, help="result file (default bench/results/hostile.json)")
    ap.add_argument("--before", type=Path, nargs="*", default=[],
                    help="result files (--out) measured on an older checkout, recorded beside each figure")
    args = ap.parse_args()
    srv, url = _server()
    results, figures = {}, []
    for name in args.only or list(INPUTS):
        setup, what = INPUTS[name]
        with tempfile.TemporaryDirectory(prefix=f"evalkit-hostile-{name}-") as tmp:
            argv = setup(Path(tmp), url)
            r = measure(argv, args.cap_mb, args.time_limit)
            if argv[0] == "run" and "--db" in argv:
                r["sessions"] = _sessions(argv[argv.index("--db") + 1])
        r["input"] = what
        results[name] = r
        print(f"{name}: {r['peak_rss_mb']} MB, {r['wall_s']} s, exit {r['exit_code']}: {r['outcome']}", flush=True)
        for sess in r.get("sessions", []):
            print(f"    {sess}", flush=True)
        figures.append({"figure": f"hostile input: {what}: peak RSS", "measured": r["peak_rss_mb"], "unit": "MB",
                        "target": "< 1000", "ok": r["peak_rss_mb"] < 1000})
    srv.shutdown()
    before: dict = {}
    for f in args.before:
        before.update(json.loads(f.read_text())["results"])
    for name, fig in zip(results, figures):
        if name in before:
            b = before[name]
            results[name]["before"] = {k: b[k] for k in ("peak_rss_mb", "wall_s", "exit_code", "outcome")}
            fig["before"] = f"{b['peak_rss_mb']} MB, {b['wall_s']} s: {b['outcome'][:120]}"
    if args.out:
        args.out.write_text(json.dumps({"results": results, "machine": _common.machine()}, indent=2))
    else:
        _common.write_result("hostile", figures, results=results)


if __name__ == "__main__":
    main()
