"""The grounding judge on real ACI-Bench notes: planted errors are caught, clean notes mostly pass."""

from __future__ import annotations

import random

import pytest

from evalkit.calibrate.plant import plant_error
from evalkit.grounding.lexicon import lexicon, tokens
from evalkit.metrics.hallucination import GroundingJudge, hallucination_scores, judge_note
from evalkit.schema import JudgeResult, Note, NoteSection, NoteSentence, SpeakerRole, Turn


def _flagged(res: JudgeResult, sentence_id: str):
    return [c for c in res.claims if c.sentence_id == sentence_id and c.verdict != "supported"]


def _plant_and_judge(consultation, kind: str, seeds=range(12)):
    """Plant ``kind`` in the first note/seed where it applies; judge the result."""
    for seed in seeds:
        got = plant_error(consultation.reference_note, consultation.turns, kind, random.Random(seed))
        if got is not None:
            note, err = got
            return err, judge_note(consultation.turns, note, consultation.case)
    pytest.skip(f"no place for {kind} in {consultation.id}")


@pytest.mark.parametrize("kind", ["fabricated_medication", "fabricated_dose", "laterality_swap", "negation_flip",
                                  "fabricated_history"])
def test_planted_errors_are_flagged_major(aci_valid, kind):
    caught = tried = 0
    for c in aci_valid[:8]:
        for seed in range(3):
            got = plant_error(c.reference_note, c.turns, kind, random.Random(seed))
            if got is None:
                continue
            note, err = got
            tried += 1
            flagged = _flagged(judge_note(c.turns, note, c.case), err.sentence_id)
            if flagged:
                # a flipped negation is major for a red-flag symptom or a diagnosis, minor otherwise
                assert kind == "negation_flip" or any(f.severity == "major" for f in flagged), (kind, err.detail)
                assert all(f.type in ("fabrication", "negation", "causality", "contextual") for f in flagged)
                caught += 1
    assert tried >= 5
    assert caught / tried >= 0.6, f"{kind}: caught {caught}/{tried}"


def test_fabricated_drug_names_the_drug(aci_valid):
    err, res = _plant_and_judge(aci_valid[0], "fabricated_medication")
    flagged = _flagged(res, err.sentence_id)
    assert flagged and flagged[0].verdict == "unsupported" and flagged[0].type == "fabrication"
    assert err.detail["to"] in flagged[0].rationale.lower()


def test_laterality_swap_is_contradicted_with_evidence(aci_valid):
    for c in aci_valid:
        got = plant_error(c.reference_note, c.turns, "laterality_swap", random.Random(0))
        if got is None:
            continue
        note, err = got
        flagged = _flagged(judge_note(c.turns, note, c.case), err.sentence_id)
        if flagged and flagged[0].verdict == "contradicted":
            ev = flagged[0].evidence
            assert ev, "a contradiction cites the turns that say the other side"
            assert all(err.detail["from"] in c.turns[i].text.lower() for i in ev)
            return
    pytest.fail("no laterality swap was contradicted")


def test_deleted_plan_item_is_an_omission(aci_valid):
    from evalkit.calibrate.measure import caught

    hits = tried = 0
    for c in aci_valid[:10]:
        got = plant_error(c.reference_note, c.turns, "deleted_plan_item", random.Random(1))
        if got is None:
            continue
        note, err = got
        tried += 1
        clean = judge_note(c.turns, c.reference_note, c.case)
        altered = judge_note(c.turns, note, c.case)
        hits += caught(err, clean, altered)[0]
        assert len(altered.omissions) >= len(clean.omissions)
    assert tried >= 5 and hits / tried >= 0.4, f"{hits}/{tried}"


def test_untouched_notes_have_few_flags(aci_valid):
    n = flagged = 0
    for c in aci_valid[:10]:
        res = judge_note(c.turns, c.reference_note, c.case)
        n += len(res.claims)
        flagged += sum(1 for x in res.claims if x.verdict != "supported")
        assert len(res.claims) >= len(list(c.reference_note.sentences()))
    assert flagged / n <= 0.08, f"{flagged}/{n} clean claims flagged"


def test_evidence_points_at_turns_that_mention_the_entity(aci_valid):
    lx = lexicon()
    checked = 0
    for c in aci_valid[:6]:
        res = judge_note(c.turns, c.reference_note, c.case)
        for claim in res.claims:
            if claim.verdict != "supported" or not claim.evidence:
                continue
            drugs = [t for _, _, t in lx.match([*map(__import__("evalkit.grounding.lexicon", fromlist=["stem"]).stem,
                                                   tokens(claim.text))]) if t.category == "drug"]
            if not drugs:
                continue
            names = {m.text for lst in lx.first.values() for m in lst if m.canonical == drugs[0].canonical}
            turn_text = " ".join(c.turns[i].text.lower() for i in claim.evidence)
            assert any(n in turn_text for n in names), (claim.text, claim.evidence)
            checked += 1
    assert checked >= 5


def test_question_answer_negation_is_contradicted():
    C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT
    turns = [Turn(id=0, speaker=C, text="any chest pain or shortness of breath ?"),
             Turn(id=1, speaker=P, text="no , not that i've noticed ."),
             Turn(id=2, speaker=C, text="and your right knee , how is the swelling ?"),
             Turn(id=3, speaker=P, text="it's still swollen and it hurts ."),
             Turn(id=4, speaker=C, text="okay , i'm going to start you on meloxicam 15 milligrams once a day .")]

    def note(*sents: str) -> Note:
        return Note(sections=[NoteSection(key="hpi", title="HPI", sentences=[
            NoteSentence(id=f"hpi.{i}", text=t) for i, t in enumerate(sents)])])

    good = judge_note(turns, note("Denies chest pain or shortness of breath.", "Right knee swelling.",
                                  "Start meloxicam 15 mg daily."))
    assert [c.verdict for c in good.claims] == ["supported"] * 3
    bad = judge_note(turns, note("Reports chest pain.", "Left knee swelling.", "Start meloxicam 30 mg daily.",
                                 "Start metoprolol 25 mg daily."))
    verdicts = [(c.verdict, c.type, c.severity) for c in bad.claims]
    assert verdicts[0] == ("contradicted", "negation", "major")
    assert verdicts[1] == ("contradicted", "contextual", "major")
    assert verdicts[2][0] != "supported"
    assert verdicts[3] == ("unsupported", "fabrication", "major")
    assert bad.claims[0].evidence == [0]


def test_scores_use_the_shared_metric_names(aci_valid):
    c = aci_valid[0]
    res = GroundingJudge().judge(c.turns, c.reference_note, c.case)
    scores = {s.metric: s for s in hallucination_scores(res, "run1:" + c.id)}
    assert set(scores) == {"hallucination_rate", "contradiction_rate", "major_hallucinations",
                           "hallucination_rate_fabrication", "hallucination_rate_negation",
                           "hallucination_rate_causality", "hallucination_rate_contextual",
                           "omission_rate", "omissions", "major_omissions"}
    flagged = sum(1 for x in res.claims if x.verdict != "supported")
    assert scores["hallucination_rate"].value == pytest.approx(flagged / len(res.claims))
    assert scores["omissions"].value == len(res.omissions)
    assert res.salient_facts and scores["omission_rate"].value == pytest.approx(len(res.omissions) / res.salient_facts)
    assert all(s.session_id == "run1:" + c.id for s in scores.values())
    failed = hallucination_scores(JudgeResult(error="timeout"), "r:x")
    assert all(s.value is None for s in failed)


def test_runner_uses_this_judge_and_reuses_the_transcript_index(aci_valid):
    from evalkit.grounding.index import transcript_index
    from evalkit.run.runner import make_judge

    c = aci_valid[2]
    judge = make_judge("grounding")
    res = judge.judge(c.turns, c.reference_note, c.case)
    assert res.judge == "grounding" and res.claims and res.error is None
    assert transcript_index(c.turns, c.case) is transcript_index(list(c.turns), c.case)
    assert transcript_index(c.turns, None) is not transcript_index(c.turns, c.case)
    # the case card grounds the age; without it the age is unsupported
    age = str(c.case.persona.age)
    with_case = [x for x in res.claims if age in x.text and "year" in x.text]
    if with_case:
        assert all(x.verdict == "supported" for x in with_case)


def _note(*texts: str) -> Note:
    return Note(sections=[NoteSection(key="plan", title="PLAN", sentences=[
        NoteSentence(id=f"plan.{i}", text=t) for i, t in enumerate(texts)])])


def test_a_drug_of_the_same_class_is_a_substitution_not_support(aci_valid):
    # ACI-Bench D2N070: "i took some tylenol , i took some ibuprofen" — the note swaps in naproxen
    c = next(x for x in aci_valid if x.id.endswith("D2N070"))
    sent = next(s for sec in c.reference_note.sections for s in sec.sentences if "ibuprofen" in s.text.lower())
    swapped = c.reference_note.model_copy(deep=True)
    for sec in swapped.sections:
        for s in sec.sentences:
            if s.id == sent.id:
                s.text = s.text.replace("ibuprofen", "naproxen").replace("Ibuprofen", "Naproxen")
    flagged = _flagged(judge_note(c.turns, swapped, c.case), sent.id)
    assert flagged and flagged[0].type == "fabrication" and flagged[0].severity == "major"
    assert "naproxen" in (flagged[0].rationale or "")
    assert not _flagged(judge_note(c.turns, c.reference_note, c.case), sent.id)  # the true drug passes


def test_a_drug_class_is_still_grounded_by_a_member():
    turns = [Turn(id=0, speaker=SpeakerRole.PATIENT, text="i have been taking ibuprofen for the knee pain ."),
             Turn(id=1, speaker=SpeakerRole.CLINICIAN, text="okay , let's keep the ibuprofen going .")]
    res = judge_note(turns, _note("Continue NSAIDs for knee pain.", "Start naproxen 500 mg twice daily."))
    verdicts = {c.sentence_id: c.verdict for c in res.claims}
    assert verdicts["plan.0"] == "supported"  # the class, said as one of its drugs
    assert verdicts["plan.1"] == "unsupported"  # a sibling drug never said


@pytest.mark.parametrize("note,severity", [
    ("HPI\n\nDenies chest pain.", "major"),  # a red-flag symptom the patient reported
    ("HPI\n\nDenies fatigue.", "minor"),  # another symptom
    ("ASSESSMENT AND PLAN\n\nStart metformin 500 mg twice daily.", "major"),  # an invented medication
    ("HPI\n\nShe reports a cough that is worse at night and some nausea.", "minor"),  # asked about, never confirmed
])
def test_severity_follows_what_is_wrong(note, severity):
    from evalkit.text.parse import parse_note, parse_transcript

    turns = parse_transcript("[doctor] any chest pain or nausea ?\n[patient] yes some chest pain and i'm so tired all "
                             "the time , exhausted .\n[doctor] okay , we will check an ecg .\n[patient] okay .")
    flagged = [c for c in judge_note(turns, parse_note(note)).claims if c.verdict != "supported"]
    assert flagged and {c.severity for c in flagged} == {severity}, [(c.text, c.rule, c.severity) for c in flagged]
    assert all(0 < c.confidence <= 1 and c.rule for c in flagged)


def test_a_very_long_turn_is_judged_in_pieces_that_keep_its_id():
    from evalkit.grounding.index import MAX_TURN_WORDS, bounded_turns
    from evalkit.schema import SpeakerRole, Turn
    from evalkit.text.parse import parse_note

    sentence = "i have been taking lisinopril ten milligrams every morning for my blood pressure . "
    long = Turn(id=7, speaker=SpeakerRole.PATIENT, text=sentence * 400)  # ~5,600 words, one turn
    pieces = bounded_turns([Turn(id=6, speaker=SpeakerRole.CLINICIAN, text="what do you take ?"), long])
    assert len(pieces) > 5 and {t.id for t in pieces[1:]} == {7}
    assert all(t.text.count(" ") < MAX_TURN_WORDS + 20 for t in pieces)
    assert " ".join(t.text for t in pieces[1:]).split() == long.text.split()  # nothing lost
    res = judge_note([pieces[0], long], parse_note("MEDICATIONS\n\nLisinopril 10 mg daily.\n\nPLAN\n\nStart warfarin."))
    by = {c.text: c for c in res.claims}
    assert by["Lisinopril 10 mg daily."].verdict == "supported" and by["Lisinopril 10 mg daily."].evidence == [7]
    assert by["Start warfarin."].rule == "drug.absent"
