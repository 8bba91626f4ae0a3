"""The real-note benchmark: labels tied to note text, figures with known answers, the shipped labels, the CLI."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.calibrate.labels import labeller_agreement, load_labelled_set
from evalkit.calibrate.realnotes import fit_confidence, judge_bench, judge_notes, omission_matches
from evalkit.calibrate.segment import segment_note
from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.schema import Claim, JudgeResult, Omission
from tests.conftest import ACI

LABELS = ACI.parent / "aci-bench-labels"

# ---------------------------------------------------------------------------------------------- segments


def test_segments_are_exact_spans_and_split_published_layouts():
    with (ACI / "test1" / "systems" / "gpt-4.csv").open(encoding="utf-8") as f:
        note = next(r["note"] for r in csv.DictReader(f) if r["encounter_id"] == "D2N091")
    spans = segment_note(note)
    assert all(note[s.start:s.end] == s.text for s in spans)
    heads = [s.text for s in spans if s.heading]
    # "Possible clinical note:  HISTORY OF PRESENT ILLNESS: Jerry is ..." is two headings and a sentence
    assert heads[:2] == ["Possible clinical note:", "HISTORY OF PRESENT ILLNESS:"]
    texts = [s.text for s in spans if not s.heading]
    assert texts[0].startswith("Jerry is a 54 year old male") and "Follow up as needed." in texts
    # inline bullets " - Osteoporosis: ... - Multiple sclerosis: ..." are items of their own
    assert any(t.startswith("Osteoporosis: Continue fosamax") for t in texts)
    assert any(t.startswith("Multiple sclerosis: Continue") for t in texts)


# ---------------------------------------------------------------------------------------------- known answers

DIALOGUE = ("[doctor] any chest pain ?\n[patient] no .\n[doctor] i'll start you on metformin 500 mg and see you "
            "in two weeks .\n[patient] okay .")
NOTE = "HPI\n\nDenies chest pain. Reports a cough.\n\nPLAN\n\nStart metformin 500 mg. Order an MRI. Follow up in 2 weeks."


def _labelled_set(tmp_path: Path, labels_b: bool = False) -> Path:
    d = tmp_path / "set"
    (d / "data").mkdir(parents=True)
    with (d / "data" / "enc.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, ["dataset", "encounter_id", "dialogue", "note"])
        w.writeheader()
        w.writerow({"dataset": "x", "encounter_id": "E1", "dialogue": DIALOGUE, "note": NOTE})
    (d / "manifest.json").write_text(json.dumps({"data": "data", "dialogues": "enc.csv", "metadata": None}))
    spans = segment_note(NOTE)
    # the sentences, in order: HPI, Denies chest pain., Reports a cough., PLAN, Start metformin 500 mg.,
    # Order an MRI., Follow up in 2 weeks.
    lab = {"Reports a cough.": ("error", "minor", "fabrication"), "Order an MRI.": ("error", "major", "fabrication")}

    def note(labeller: str, flip: bool = False) -> dict:
        sents = []
        for i, s in enumerate(spans):
            label, sev, typ = lab.get(s.text, ("ok", None, "heading" if s.heading else None))
            if flip and s.text == "Reports a cough.":
                label, sev, typ = "ok", None, None
            sents.append({"id": f"s{i}", "start": s.start, "end": s.end, "text": s.text, "label": label,
                          "severity": sev, "type": typ, "why": "x"})
        return {"encounter_id": "E1", "system": "sys", "split": "test", "labeller": labeller, "source": "enc.csv",
                "sentences": sents, "omissions": [{"text": "follow-up visit in two weeks", "severity": "major",
                                                   "turns": [2], "why": "T2"}]}
    (d / "labels-A.jsonl").write_text(json.dumps(note("A")) + "\n")
    if labels_b:
        (d / "labels-B.jsonl").write_text(json.dumps(note("B", flip=True)) + "\n")
    return d


class _Scripted:
    """A judge that flags the claims whose text contains one of ``flag``, with a severity and confidence."""

    name, version, prompt_hash = "scripted", "1", None

    def __init__(self, flag: dict[str, tuple[str, float]], omissions: list[Omission]):
        self.flag, self.omissions = flag, omissions

    def judge(self, turns, note, case=None) -> JudgeResult:
        claims = []
        for sec in note.sections:
            for s in sec.sentences:
                hit = next((v for k, v in self.flag.items() if k in s.text), None)
                claims.append(Claim(id=f"{s.id}#0", sentence_id=s.id, section=sec.key, text=s.text,
                                    verdict="unsupported" if hit else "supported", severity=hit[0] if hit else None,
                                    type="fabrication" if hit else None, confidence=hit[1] if hit else None,
                                    rule="scripted" if hit else None))
        return JudgeResult(claims=claims, omissions=self.omissions)


def test_figures_have_the_known_answers(tmp_path):
    lset = load_labelled_set(_labelled_set(tmp_path), "A")
    judge = _Scripted({"MRI": ("major", 0.9), "chest pain": ("major", 0.6)},
                      [Omission(id="o1", text="plan: follow up in two weeks", severity="major", evidence=[2]),
                       Omission(id="o2", text="medication: aspirin", severity="major", evidence=[0])])
    f = judge_bench(judge, lset)["overall"]
    assert (f["errors"], f["major_errors"], f["flagged"]) == (2, 1, 2)
    assert f["precision"] == 0.5 and f["recall"] == 0.5 and f["recall_major"] == 1.0  # MRI caught, cough missed
    assert f["false_major_per_note"] == 1.0 and f["major_on_major"] == 0.5 and f["severity_agreement"] == 1.0
    assert f["omission_precision"] == 0.5 and f["omission_recall_major"] == 1.0
    # a confidence threshold drops the unsure false flag
    g = judge_bench(judge, lset, min_confidence=0.8)["overall"]
    assert g["flagged"] == 1 and g["precision"] == 1.0
    rel = {r["confidence"]: r for r in judge_bench(judge, lset)["reliability"]}
    assert rel["[0.6, 0.7)"]["flags"] == 1 and rel["[0.6, 0.7)"]["precision"] == 0.0
    assert rel["[0.9, 1.0]"]["precision"] == 1.0
    table = fit_confidence(judge_notes(judge, lset))["rules"]["scripted"]
    assert table == {"flags": 2, "right": 1, "confidence": 0.5}


def test_labeller_agreement_on_a_disagreement(tmp_path):
    d = _labelled_set(tmp_path, labels_b=True)
    agr = labeller_agreement(load_labelled_set(d, "A"), load_labelled_set(d, "B"))
    assert agr["notes"] == 1 and agr["errors"] == [2, 1] and agr["agreement_error"] == round(6 / 7, 3)
    assert 0 < agr["kappa_error"] < 1


def test_a_label_whose_span_no_longer_matches_the_note_is_refused(tmp_path):
    d = _labelled_set(tmp_path)
    line = json.loads((d / "labels-A.jsonl").read_text())
    line["sentences"][1]["start"] += 1
    (d / "labels-A.jsonl").write_text(json.dumps(line) + "\n")
    with pytest.raises(InputError, match=r"s1.start/end.*re-make"):
        load_labelled_set(d, "A")


def test_omission_matching_needs_a_shared_turn_and_word_or_two_words():
    assert omission_matches("plan: MRI of the lumbar spine", [12], "MRI lumbar spine ordered", [30])
    assert omission_matches("medication: meloxicam", [5], "meloxicam 15 mg daily", [5])
    assert not omission_matches("medication: meloxicam", [5], "meloxicam 15 mg daily", [9])
    assert not omission_matches("plan: physical therapy", [3], "follow up in two weeks", [3])


# ---------------------------------------------------------------------------------------------- shipped labels


def test_the_shipped_labels_cover_what_the_benchmark_promises():
    test = load_labelled_set(LABELS, "A", splits=("test",))
    assert len(test.notes) >= 30 and sum(len(n.sentences) for n in test.notes) >= 800
    assert {n.system for n in test.notes} >= {"human", "gpt-4", "chatgpt", "text-davinci-003", "biobart-division",
                                             "bart-large"}
    dev = load_labelled_set(LABELS, "A", splits=("dev",))
    assert not {n.encounter_id for n in dev.notes} & {n.encounter_id for n in test.notes}
    second = load_labelled_set(LABELS, "B")
    assert len(second.notes) >= len(test.notes) / 5  # a fifth redone by an independent labeller
    assert "CC BY 4.0" in (LABELS / "README.md").read_text()


def test_the_holdout_split_is_labelled_apart_and_the_cli_reads_it(tmp_path):
    hold = load_labelled_set(LABELS, "A", splits=("holdout",))
    others = load_labelled_set(LABELS, "A", splits=("dev", "test"))
    assert len(hold.notes) >= 24 and not {n.encounter_id for n in hold.notes} & {n.encounter_id for n in others.notes}
    out = tmp_path / "h.json"
    r = CliRunner().invoke(app, ["judge-bench", "--split", "holdout", "--systems", "gpt-4", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["splits"] == ["holdout"]
    r = CliRunner().invoke(app, ["judge-bench", "--split", "train"])
    assert r.exit_code != 0 and "test, dev, holdout or all" in r.output


def test_a_claim_running_past_an_inline_heading_counts_on_its_sentence_only():
    from evalkit.calibrate.labels import LabelledNote, LabelledSentence
    from evalkit.calibrate.realnotes import assign
    from evalkit.text.parse import parse_note

    text = "PHYSICAL EXAM\nMSK: Examination of the left knee: Tender medial joint line.\n"
    sents = [LabelledSentence(f"s{i}", sp.start, sp.end, sp.text, "error" if not sp.heading else "ok",
                              None if sp.heading else "major", "heading" if sp.heading else "fabrication")
             for i, sp in enumerate(segment_note(text))]
    parsed = parse_note(text)
    sent = parsed.sections[0].sentences[0]
    assert sent.text.startswith("MSK:")  # the parser keeps the one-word label in the claim
    claim = Claim(id=f"{sent.id}#0", sentence_id=sent.id, section="physical_exam", text=sent.text,
                  verdict="unsupported", severity="major", type="fabrication", confidence=0.9, rule="x")
    outs = assign(LabelledNote("E", "sys", "test", "A", text, sents, []), parsed, JudgeResult(claims=[claim]))
    assert [len(o.claims) for o in outs] == [0, 0, 1]


def test_offline_judge_on_the_dev_labels_keeps_its_figures():
    # a regression guard on the split the rules were developed on (the test split is measured by make bench)
    lset = load_labelled_set(LABELS, "A", splits=("dev",))
    from evalkit.metrics.hallucination import GroundingJudge

    f = judge_bench(GroundingJudge(), lset)["overall"]
    assert f["precision"] >= 0.85 and f["recall_major"] >= 0.45 and f["false_major_per_note"] <= 0.3


def test_judge_bench_cli_on_a_few_notes(tmp_path):
    out = tmp_path / "r.json"
    rows = tmp_path / "rows.jsonl"
    r = CliRunner().invoke(app, ["judge-bench", "--split", "test", "--systems", "gpt-4,human", "--json", str(out),
                                 "--rows", str(rows)])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert set(res["systems"]) == {"gpt-4", "human"} and res["overall"]["notes"] == 16
    assert res["labeller_agreement"]["notes"] >= 4 and res["labeller_agreement"]["kappa_error"] is not None
    lines = [json.loads(x) for x in rows.read_text().splitlines()]
    assert len(lines) == sum(v["sentences"] for v in res["systems"].values())
    r = CliRunner().invoke(app, ["judge-bench", "--split", "test", "--systems", "gpt-4", "--min-precision", "1.01"])
    assert r.exit_code == 1 and "gate failed" in r.output


def _flag_results(req: dict) -> dict:
    """A stub LLM judge: flags (major, confidence 0.9) every note sentence that names an x-ray, else supported."""
    import re

    text = "\n".join(str(m.get("content") or "") for m in req.get("messages", []) if m.get("role") == "user")
    claims = []
    for sid, sentence in re.findall(r"^\s*\[S:([^\]]+)\]\s*(.*)$", text, re.M):
        bad = "x-ray" in sentence.lower()
        claims.append({"sentence_id": sid, "text": "paraphrased claim", "verdict": "unsupported" if bad else "supported",
                       "type": "fabrication" if bad else None, "severity": "major" if bad else None,
                       "evidence": [], "rationale": "stub"})
    return {"claims": claims, "salient_facts": 0, "omissions": []}


def test_an_llm_judge_reads_the_same_benchmark(tmp_path):
    # with no model here, the wiring is tested against a local OpenAI-compatible stub: its flags land on
    # the labelled sentences they were made of, whatever text the model gives its claims
    from evalkit.testing.stub_llm import StubLLM

    out, db = tmp_path / "r.json", tmp_path / "j.duckdb"
    with StubLLM(responder="tests.grounding.test_realnotes:_flag_results") as stub:
        args = ["judge-bench", "--split", "test", "--systems", "chatgpt", "--judge", "openai/stub", "--api-base",
                stub.api_base, "--db", str(db), "--json", str(out), "--min-confidence", "0"]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        calls = stub.calls
        assert calls >= 8  # one request per note at least
        res = json.loads(out.read_text())
        lset = load_labelled_set(LABELS, "A", splits=("test",), systems=("chatgpt",))
        with_xray = sum(1 for n in lset.notes for s in n.sentences if "x-ray" in s.text.lower() and s.type != "heading")
        assert res["judge"] != "grounding" and res["overall"]["flagged"] == with_xray > 0
        assert CliRunner().invoke(app, args).exit_code == 0 and stub.calls == calls  # the second run is cached


def test_judge_output_is_byte_identical_whatever_the_hash_seed():
    # the lexicon once kept the first of two spellings ("spasm", "spasms") in hash order
    import os
    import subprocess
    import sys

    script = ("import hashlib\nfrom evalkit.calibrate.labels import load_labelled_set\n"
              "from evalkit.calibrate.realnotes import judge_notes\nfrom evalkit.metrics.hallucination import GroundingJudge\n"
              f"lset = load_labelled_set({str(LABELS)!r}, 'A', encounters=('D2N127', 'D2N100'))\n"
              "outs = judge_notes(GroundingJudge(), lset)\n"
              "print(hashlib.sha256(''.join(o.result.model_dump_json() for o in outs).encode()).hexdigest())\n")
    got = {subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONHASHSEED": seed}, check=True,
                          capture_output=True, text=True).stdout for seed in ("0", "1", "123")}
    assert len(got) == 1
