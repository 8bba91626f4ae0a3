"""Fuzz the scriptable JSONL contracts: ``evalkit judge`` and ``evalkit wer`` input lines.

Each generated file mixes bad lines (not JSON, not an object, a missing or wrongly typed field,
a malformed turn, an empty note, bytes that are not UTF-8) with one good line. The command must
report every bad line on its own ``error: FILE:LINE: ...`` line, score the good line, exit with
code 1 — and never print a traceback.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.cli.judge import read_cases
from evalkit.cli.wer import score_pair
from evalkit.errors import InputError

from ._support import FUZZ, Tally, assert_clear, json_values, junk_text, names

GOOD_TRANSCRIPT = "[doctor] Any chest pain?\n[patient] No chest pain, just a cough for two weeks."
GOOD_NOTE = "SUBJECTIVE\nCough for two weeks. Denies chest pain.\n\nPLAN\nReview in two weeks."

_bad_turn = st.one_of(
    json_values.filter(lambda v: not isinstance(v, dict)),
    st.dictionaries(st.sampled_from(["speaker", "start", "end"]), json_values, max_size=3),  # no "text"
    st.builds(lambda s: {"speaker": "doctor", "text": "hello", "start": s},
              st.text(alphabet="abcxyz", min_size=1, max_size=5) | st.lists(st.integers(), min_size=1)),
    st.builds(lambda e: {"speaker": "patient", "text": "hi", "end": e}, st.dictionaries(names, st.integers(),
                                                                                     min_size=1)),
)

#: transcript values that are certainly unusable
bad_transcripts = st.one_of(
    st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False),
    st.dictionaries(names, json_values, max_size=3),
    st.just(""), st.just("   \n  "), junk_text.map(lambda s: "no speaker tag " + s.replace("[", "")),
    st.lists(_bad_turn, min_size=1, max_size=3),
    st.just([]), st.just([{"speaker": "doctor", "text": "   "}]),
)

#: note values that are certainly unusable
bad_notes = st.one_of(
    st.integers() | st.booleans() | st.none(), st.lists(json_values, max_size=3),
    st.dictionaries(names, json_values, max_size=2), st.just(""), st.just("  \n\n "),
)


@st.composite
def bad_judge_line(draw) -> str | bytes:
    kind = draw(st.sampled_from(["not_json", "not_object", "missing", "transcript", "note", "bytes"]))
    good = {"id": draw(names), "transcript": GOOD_TRANSCRIPT, "note": GOOD_NOTE}
    if kind == "not_json":
        return draw(st.sampled_from(["{", "{'id': 1}", "[1, 2", "id=1", "{\"id\": }", "nul", "{\"a\": 1}}"]))
    if kind == "not_object":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict))))
    if kind == "missing":
        for f in draw(st.lists(st.sampled_from(["id", "transcript", "note"]), min_size=1, unique=True)):
            good.pop(f)
        return json.dumps(good)
    if kind == "transcript":
        good["transcript"] = draw(bad_transcripts)
        return json.dumps(good)
    if kind == "note":
        good["note"] = draw(bad_notes)
        return json.dumps(good)
    return b'{"id": "x", "transcript": "[doctor] caf\xe9", "note": "PLAN\\nRest."}'


@st.composite
def bad_wer_line(draw) -> str | bytes:
    kind = draw(st.sampled_from(["not_json", "not_object", "missing", "reference", "hypothesis", "terms", "bytes"]))
    good = {"id": draw(names), "reference": GOOD_TRANSCRIPT, "hypothesis": "any chest pain no chest pain"}
    if kind == "not_json":
        return draw(st.sampled_from(["{", "[", "{\"id\": 1,}", "reference: x", "\"unterminated"]))
    if kind == "not_object":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict))))
    if kind == "missing":
        for f in draw(st.lists(st.sampled_from(["id", "reference", "hypothesis"]), min_size=1, unique=True)):
            good.pop(f)
        return json.dumps(good)
    if kind == "reference":  # plain text is a valid reference: only blank text, wrong types, broken turns
        good[kind] = draw(bad_transcripts.filter(lambda v: not (isinstance(v, str) and v.strip())))
        return json.dumps(good)
    if kind == "hypothesis":  # a hypothesis may be empty (the scribe heard nothing): only wrong types, broken turns
        good[kind] = draw(bad_transcripts.filter(
            lambda v: not isinstance(v, str) and v != [] and v != [{"speaker": "doctor", "text": "   "}]))
        return json.dumps(good)
    if kind == "terms":
        good["terms"] = draw(st.one_of(junk_text, st.integers(), st.lists(st.integers() | st.none(), min_size=1),
                                       st.dictionaries(names, names, min_size=1)))
        return json.dumps(good)
    return b'{"id": "x", "reference": "caf\xe9 au lait", "hypothesis": "x"}'


def _write_lines(path: Path, lines: list[str | bytes]) -> None:
    with path.open("wb") as f:
        for ln in lines:
            f.write((ln if isinstance(ln, bytes) else ln.encode("utf-8")) + b"\n")


def _run_cli(runner: CliRunner, cmd: str, lines: list[str | bytes], good: str, tmp: Path, n: int, tally: Tally):
    inp, out = tmp / f"in{n}.jsonl", tmp / f"out{n}.jsonl"
    all_lines = list(lines) + [good]
    _write_lines(inp, all_lines)
    db = ["--db", str(tmp / "j.duckdb")] if cmd == "judge" else []
    res = runner.invoke(app, [cmd, "--input", str(inp), "--output", str(out), *db])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output, res.output
    assert res.exit_code == 1, (res.exit_code, res.output)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == len(lines), res.stderr
    for k, e in enumerate(errors, 1):
        assert e.startswith(f"error: {inp}:{k}: ") and " — fix: " in e, e
        tally.refused += 1
        if len(tally.messages) < 5:
            tally.messages.append(e)
    assert len(out.read_text().splitlines()) == 1  # the good line was scored


def test_judge_cli_reports_every_bad_line_and_goes_on():
    tally = Tally("evalkit judge JSONL lines")
    runner = CliRunner()
    good = json.dumps({"id": "ok", "transcript": GOOD_TRANSCRIPT, "note": GOOD_NOTE})
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)

        @settings(FUZZ, max_examples=20)
        @given(lines=st.lists(bad_judge_line(), min_size=1, max_size=4), n=st.integers(0, 10**6))
        def run(lines, n):
            _run_cli(runner, "judge", lines, good, tmp, n, tally)

        run()
    assert tally.refused >= 30


def test_wer_cli_reports_every_bad_line_and_goes_on():
    tally = Tally("evalkit wer JSONL lines")
    runner = CliRunner()
    good = json.dumps({"id": "ok", "reference": GOOD_TRANSCRIPT, "hypothesis": "any chest pain"})
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)

        @settings(FUZZ, max_examples=20)
        @given(lines=st.lists(bad_wer_line(), min_size=1, max_size=4), n=st.integers(0, 10**6))
        def run(lines, n):
            _run_cli(runner, "wer", lines, good, tmp, n, tally)

        run()
    assert tally.refused >= 30


def test_library_entry_points_raise_input_error_only(tmp_path):
    """read_cases never raises; score_pair raises InputError naming the field — checked directly."""
    tally = Tally("judge/wer library calls")

    @FUZZ
    @given(line=bad_judge_line())
    def judge_line(line):
        p = tmp_path / "c.jsonl"
        _write_lines(p, [line])
        (item,) = list(read_cases(p))
        n, rec, err = item
        assert rec is None and err and err.startswith(f"{p}:1: ") and "\n" not in err, err
        tally.refused += 1

    @FUZZ
    @given(rec=st.dictionaries(st.sampled_from(["id", "reference", "hypothesis", "terms"]), json_values)
           .filter(lambda d: not ({"id", "reference", "hypothesis"} <= set(d)
                                  and isinstance(d["reference"], str) and d["reference"].strip())))
    def wer_pair(rec):
        try:
            score_pair(rec)
        except InputError as e:
            assert_clear(e, source=e.source)
            tally.refused += 1
            return
        # a valid pair by chance (e.g. a list reference with a turn that has text)
        tally.accepted += 1

    judge_line()
    wer_pair()
    assert tally.refused >= 60
