"""Fuzz the dataset importers: ACI-Bench CSV, JSONL through the Hugging Face importer, TextGrid.

Every broken file must be refused with an InputError on one line naming the file (and the row
or field when the break is in one), never with a parser's own exception.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.importers import load_aci_bench, load_hf
from evalkit.importers.aci_bench import read_aci_bench
from evalkit.importers.textgrid import Interval, Tier, read_textgrid, write_textgrid

from ._support import FUZZ, Tally, expect_refusal, json_values, junk_text, names

DIALOGUE = "[doctor] hi , how are you ?\n[patient] i have had a cough for two weeks .\n[doctor] any fever ?"
NOTE = "CHIEF COMPLAINT\n\nCough.\n\nHISTORY OF PRESENT ILLNESS\n\nTwo weeks of cough. No fever."
HEADER = ["dataset", "encounter_id", "dialogue", "note"]


def _csv(rows: list[list[str]], header: list[str] = HEADER) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


@st.composite
def bad_aci_csv(draw) -> tuple[str | bytes, str | None]:
    """An ACI-Bench CSV with one generated defect; returns (content, what the error must name)."""
    n = draw(st.integers(1, 4))
    rows = [["virtassist", f"D2N{i:03d}", DIALOGUE, NOTE] for i in range(n)]
    k = draw(st.integers(0, n - 1))
    kind = draw(st.sampled_from(["drop_column", "empty_dialogue", "empty_note", "empty_id", "duplicate_id",
                                 "bad_id", "no_speaker", "not_utf8", "no_rows", "empty_file"]))
    if kind == "drop_column":
        col = draw(st.sampled_from(["encounter_id", "dialogue", "note"]))
        i = HEADER.index(col)
        return _csv([r[:i] + r[i + 1:] for r in rows], HEADER[:i] + HEADER[i + 1:]), col
    if kind == "empty_dialogue":
        rows[k][2] = draw(st.sampled_from(["", "   ", "\n\n"]))
        return _csv(rows), "dialogue"
    if kind == "empty_note":
        rows[k][3] = draw(st.sampled_from(["", "  ", "\n"]))
        return _csv(rows), "note"
    if kind == "empty_id":
        rows[k][1] = ""
        return _csv(rows), "encounter_id"
    if kind == "duplicate_id":
        rows.append(list(rows[k]))
        return _csv(rows), "encounter_id"
    if kind == "bad_id":
        rows[k][1] = draw(st.sampled_from(["-x", "a b", "é", "x/y", "_lead", "a?"]))
        return _csv(rows), f"row {k + 1}"
    if kind == "no_speaker":
        rows[k][2] = draw(junk_text.filter(lambda s: s.strip() and "[" not in s and "\r" not in s))
        return _csv(rows), "transcript"
    if kind == "not_utf8":
        return _csv(rows).encode("utf-8").replace(b"cough", b"c\xf6ugh", 1), "not UTF-8"
    if kind == "no_rows":
        return _csv([]), None
    return "", None


def test_aci_bench_csv_refuses_bad_input_clearly():
    tally = Tally("ACI-Bench CSV import")
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)

        @FUZZ
        @given(case=bad_aci_csv(), n=st.integers(0, 10**6))
        def run(case, n):
            content, must_name = case
            p = d / f"f{n}.csv"
            p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
            expect_refusal(tally, load_aci_bench, p, source=str(p), field=must_name)

        run()
    assert tally.refused >= 35 and tally.accepted == 0


@FUZZ
@given(first=junk_text.filter(lambda s: s.strip() and "[" not in s and len(s.splitlines()) == 1))
def test_a_first_turn_without_a_tag_is_taken_with_a_warning_naming_the_row(first):
    with tempfile.TemporaryDirectory() as t:
        p = Path(t) / "x.csv"
        p.write_text(_csv([["aci", "D2N001", DIALOGUE, NOTE], ["aci", "D2N002", first + "\n" + DIALOGUE, NOTE]]),
                     encoding="utf-8")
        rep = read_aci_bench(p)
        assert [c.id for c in rep.items] == ["D2N001", "D2N002"] and not rep.problems
        assert len(rep.warnings) == 1 and "row 2 (D2N002)" in rep.warnings[0]
        assert rep.items[1].turns[0].text == first.strip() and len(rep.items[1].turns) == len(rep.items[0].turns) + 1


# ---------------------------------------------------------------------------- JSONL via the HF importer

_bad_value = st.one_of(st.integers(), st.booleans(), st.just(""), st.just("   "),
                       st.lists(st.integers(), min_size=1, max_size=3),
                       st.lists(st.builds(lambda s: {"speaker": "doctor", "text": "hi", "start": s},
                                          st.sampled_from(["soon", "1:02", "x"])), min_size=1, max_size=2))


@st.composite
def bad_jsonl(draw) -> tuple[str | bytes, str | None]:
    row = {"id": draw(names), "dialogue": DIALOGUE, "note": "SUBJECTIVE\nCough.\n\nPLAN\nRest."}
    kind = draw(st.sampled_from(["dialogue", "note", "no_dialogue", "not_json", "not_utf8", "empty"]))
    if kind == "dialogue":
        row["dialogue"] = draw(_bad_value)
        return json.dumps(row) + "\n", None
    if kind == "note":
        row["note"] = draw(st.one_of(st.integers(), st.just(""), st.just("  "), st.lists(st.integers(), min_size=1)))
        return json.dumps(row) + "\n", None
    if kind == "no_dialogue":
        row.pop("dialogue")
        row["text_" + draw(names)] = "x"
        return json.dumps(row) + "\n", "dialogue"
    if kind == "not_json":
        return draw(st.sampled_from(['{"id": 1,\n', "not json at all\n", '{"id": "a"} trailing\n'])), None
    if kind == "not_utf8":
        return (json.dumps(row) + "\n").encode().replace(b"Cough", b"C\xf6ugh"), None
    return "", None


def test_jsonl_import_refuses_bad_input_clearly():
    tally = Tally("JSONL (HF) import")
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)

        @settings(FUZZ, max_examples=20)  # each example builds an Arrow dataset: slow
        @given(case=bad_jsonl(), n=st.integers(0, 10**6))
        def run(case, n):
            content, must_name = case
            p = d / f"f{n}.jsonl"
            p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
            expect_refusal(tally, load_hf, p, source=str(p), field=must_name, allow_ok=False)

        run()
    assert tally.refused >= 15


# ---------------------------------------------------------------------------- TextGrid


def _good_textgrid(path: Path) -> str:
    tiers = [Tier("Doctor", "IntervalTier", [Interval(0.0, 1.5, "hello there"), Interval(1.5, 3.0, "")]),
             Tier("Patient", "IntervalTier", [Interval(3.0, 4.2, "I have a \"cough\"")])]
    write_textgrid(path, tiers)
    return path.read_text(encoding="utf-8")


@st.composite
def bad_textgrid(draw, good: str) -> bytes:
    kind = draw(st.sampled_from(["truncate", "junk_number", "header", "huge_size", "not_utf", "odd_utf16",
                                 "binary"]))
    if kind == "truncate":  # cut before the last interval's text is complete
        cut = draw(st.integers(0, good.rindex('text = "') + 7))
        return good[:cut].encode()
    if kind == "junk_number":
        target = draw(st.sampled_from(["xmin = 0 ", "size = 2 ", "intervals: size = 2 ", "xmax = 1.5 "]))
        return good.replace(target, target.split("=")[0] + "= " + draw(st.sampled_from(['"x"', "<exists>", ""])) + " ",
                            1).encode()
    if kind == "header":
        return good.replace("ooTextFile", draw(st.sampled_from(["ooBinaryFile", "", "text"])), 1).encode()
    if kind == "huge_size":
        return good.replace("size = 2 ", f"size = {draw(st.sampled_from(['1e400', '99999999', '-3e308']))} ",
                            1).encode()
    if kind == "not_utf":
        return good.encode("utf-8").replace(b"hello", b"h\xe9llo")
    if kind == "odd_utf16":
        return b"\xff\xfe" + good.encode("utf-16-le")[:-1]
    return bytes(draw(st.lists(st.integers(0, 255), min_size=1, max_size=64)))


def test_textgrid_refuses_bad_input_clearly():
    tally = Tally("TextGrid import")
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        good = _good_textgrid(d / "good.TextGrid")
        assert [x.name for x in read_textgrid(d / "good.TextGrid")] == ["Doctor", "Patient"]

        @settings(FUZZ, max_examples=60)
        @given(content=bad_textgrid(good), n=st.integers(0, 10**6))
        def run(content, n):
            p = d / f"f{n}.TextGrid"
            p.write_bytes(content)
            expect_refusal(tally, read_textgrid, p, source=str(p), allow_ok=True)

        run()
        missing = d / "missing.TextGrid"
        expect_refusal(tally, read_textgrid, missing, source=str(missing))
    assert tally.refused >= 45
