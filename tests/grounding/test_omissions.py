"""Omissions on real ACI-Bench conversations: what a complete note of the visit would say, and no more."""

from __future__ import annotations

import pytest

from evalkit.calibrate.realnotes import omission_matches
from evalkit.metrics.hallucination import judge_note
from evalkit.text.parse import parse_note


@pytest.fixture(scope="module")
def aci_train():
    from evalkit.importers.aci_bench import load_aci_bench
    from tests.conftest import ACI

    return {c.id: c for c in load_aci_bench(ACI / "train.csv", ACI / "train_metadata.csv")}


@pytest.fixture(scope="module")
def aci(aci_train):
    """ACI-Bench train and valid encounters by id."""
    from evalkit.importers.aci_bench import load_aci_bench
    from tests.conftest import ACI

    return {**aci_train, **{c.id: c for c in load_aci_bench(ACI / "valid.csv", ACI / "valid_metadata.csv")}}


def _omitted(c, note_text: str) -> list[str]:
    return [o.text for o in judge_note(c.turns, parse_note(note_text), c.case).omissions]


def test_drug_in_one_sentence_and_its_action_in_the_next_is_covered(aci_train):
    # D2N035: "i want you to continue on the cozaar one hundred milligrams daily continue on the norvasc
    # five milligrams once daily" (the second "continue" announces the norvasc without "i want you to")
    c = aci_train["D2N035"]
    drugs = "Hypertension.\nShe is on Cozaar 100 mg daily and Norvasc 5 mg once daily."
    with_action = _omitted(c, f"ASSESSMENT AND PLAN\n\n{drugs}\nWe will continue these as is.")
    without = _omitted(c, f"ASSESSMENT AND PLAN\n\n{drugs}")
    assert not [t for t in with_action if "cozaar" in t or "norvasc" in t], with_action
    assert "plan: continue cozaar" in without and "plan: continue norvasc" in without


def test_an_order_written_under_results_covers_the_plan_item(aci_train):
    # D2N040: "i am going to order a hemoglobin a1c and also a cbc"
    c = aci_train["D2N040"]
    ordered = _omitted(c, "RESULTS\n\nA hemoglobin A1c and a CBC were ordered today.\n\nPLAN\n\nContinue metformin.")
    only_a_value = _omitted(c, "RESULTS\n\nHemoglobin A1c was 8 last time.\n\nPLAN\n\nContinue metformin.")
    assert not [t for t in ordered if "a1c" in t or "cbc" in t], ordered
    assert "plan: order hemoglobin a1c" in only_a_value and "plan: order cbc" in only_a_value


@pytest.mark.parametrize("cid", ["D2N001", "D2N006", "D2N009", "D2N013", "D2N028"])
def test_exam_talk_is_not_a_plan_item(aci_train, cid):
    # "let's go ahead and listen to your heart and lungs", "i'm gon na check your heart and lungs": before,
    # the filter meant to drop these never ran (its pattern began with ^ and was matched mid-turn)
    c = aci_train[cid]
    plan = [o.text for o in judge_note(c.turns, c.reference_note, c.case).omissions if o.category == "plan"]
    assert not [t for t in plan if any(w in t for w in ("listen", "heart", "lungs", "exam", "look"))], plan


def test_a_question_or_a_past_event_is_not_a_plan_item(aci_train):
    # D2N013 T10 "did they put you on medication ?"; D2N017 T32 "let's take a look at your x-ray first"
    from evalkit.grounding.facts import transcript_facts
    from evalkit.grounding.index import transcript_index

    c = aci_train["D2N013"]
    assert not [it.text for it in transcript_facts(transcript_index(c.turns, c.case)).plan if 10 in it.turns]
    c = aci_train["D2N017"]
    facts = transcript_facts(transcript_index(c.turns, c.case))
    assert not [it.text for it in facts.plan if "x-ray" in it.text]
    assert ("x ray", 32) in facts.results  # the x-ray looked at is a result the note should give


def test_follow_up_interval(aci_train):
    # D2N035 T52 "... and then i'll see you again in three months"
    c = aci_train["D2N035"]
    assert "follow-up: in three months" not in _omitted(c, "PLAN\n\nFollow up in 3 months.")
    assert "follow-up: in three months" in _omitted(c, "PLAN\n\nFollow up in 2 weeks.")
    assert "follow-up: in three months" in _omitted(c, "PLAN\n\nContinue Cozaar.")


def test_a_denied_red_flag_is_a_pertinent_negative(aci_train):
    c = aci_train["D2N035"]
    assert "symptom: denies chest pain" in _omitted(c, "PLAN\n\nFollow up in 3 months.")
    assert "symptom: denies chest pain" not in _omitted(c, "HPI\n\nShe denies chest pain.\n\nPLAN\n\nFollow up in "
                                                          "3 months.")


def test_every_omission_is_major_and_cites_turns(aci_train):
    # CREOLA: medication, dose, allergy, diagnosis, result, plan and follow-up are major
    c = aci_train["D2N035"]
    res = judge_note(c.turns, parse_note("PLAN\n\nFollow up."), c.case)
    assert res.omissions and all(o.severity == "major" and o.evidence for o in res.omissions)
    assert {o.category for o in res.omissions} >= {"plan", "diagnosis", "symptom"}


def test_complete_human_notes_have_few_omissions(aci_valid):
    # the ACI-Bench reference notes are complete: an omission reported there is usually false
    # (2.85 a note before the omission rework, 0.4 after)
    n = sum(len(judge_note(c.turns, c.reference_note, c.case).omissions) for c in aci_valid)
    assert n / len(aci_valid) <= 0.8, n


def test_omission_matcher_plural():
    assert omission_matches("symptom: headache", [30, 31], "Headaches", [31])
    assert omission_matches("plan: start exercises", [72], "Ice and morning exercise", [72])
    assert not omission_matches("symptom: headache", [30], "Neck pain", [30])


def _facts(c):
    from evalkit.grounding.facts import transcript_facts
    from evalkit.grounding.index import transcript_index

    return transcript_facts(transcript_index(c.turns, c.case))


def test_follow_up_said_as_a_range(aci):
    # D2N085 T6 "i wan na see you again in one to two weeks": either end is the follow-up
    c = aci["D2N085"]
    assert [f[0] for f in _facts(c).follow_ups] == ["in one to two weeks"]
    for said in ("Follow up in 2 weeks.", "Follow up in 1 to 2 weeks.", "Return in 1-2 weeks."):
        assert not [t for t in _omitted(c, f"PLAN\n\n{said}") if t.startswith("follow-up")], said
    assert "follow-up: in one to two weeks" in _omitted(c, "PLAN\n\nFollow up in 3 months.")


@pytest.mark.parametrize("cid,turn,dx", [
    ("D2N078", 34, "strain"),  # "so you have what we call a mcl strain"
    ("D2N079", 26, "rotator cuff tendinopathy"),  # "your symptoms are most likely due to a rotator cuff tendinopathy"
    ("D2N012", 31, "asthma"),  # "from an asthma standpoint , let's continue you o..."
    ("D2N049", 54, "diabetes"),  # "and then for your diabetes we'll keep you on the five hundred of metformin"
])
def test_diagnosis_said_without_an_assessment_phrase(aci, cid, turn, dx):
    assert any(a.text == dx and turn in a.turns for a in _facts(aci[cid]).assessed)


def test_a_drugs_indication_is_not_a_problem_taken_in_turn(aci):
    # D2N049 T26 "you're on two . five of norvasc for your high blood pressure": history, not the assessment
    assert not [a for a in _facts(aci["D2N049"]).assessed if 26 in a.turns]


def test_a_plain_word_item_is_covered_by_what_it_names_not_by_a_weak_word(aci):
    # D2N012 "i want you to continue to monitor your blood sugars at home": "Blood pressure is stable" shares
    # only "blood"; before, any one of the item's words covered it
    c = aci["D2N012"]
    item = "plan: continue to monitor your blood sugars at home"
    assert item in _omitted(c, "PLAN\n\nBlood pressure is stable.")
    assert item not in _omitted(c, "PLAN\n\nContinue to monitor her blood sugars at home.")
    assert item not in _omitted(c, "PLAN\n\nDiabetes.\nContinue to monitor blood glucose.")


def test_an_abnormal_finding_on_examination_is_salient(aci):
    # D2N001 T30 "on your heart exam , i do appreciate a three out of six systolic ejection murmur ... and on your
    # lower extremities , i do appreciate one plus pitting edema": one omission for the examination
    c = aci["D2N001"]
    exam = [t for t in _omitted(c, "PHYSICAL EXAM\n\nNormal exam.") if t.startswith("exam:")]
    assert exam == ["exam: three out of six systolic ejection murmur; one plus pitting edema"]
    assert not [t for t in _omitted(c, "PHYSICAL EXAM\n\nHeart: 3/6 systolic ejection murmur.\nExtremities: 1+ pitting "
                                       "edema.") if t.startswith("exam:")]


def test_a_strength_grade_on_examination(aci):
    # D2N004 T70 "for your strength , you do have a 4 out of 5 on your right and 5 out of 5 on your left"
    c = aci["D2N004"]
    assert "strength 4 out of 5" in [f.text for f in _facts(c).exam]
    assert not [t for t in _omitted(c, "PHYSICAL EXAM\n\nStrength 4/5 on the right, 5/5 on the left.")
                if "strength" in t]


@pytest.mark.parametrize("cid,turn,canon", [
    ("D2N041", 42, "murmur"),  # "i do n't appreciate any murmur or or rub": not found
    ("D2N080", 56, "decreas rang of motion"),  # "is there any decreased range of motion do you feel ...": asked
    ("D2N026", 4, "tender"),  # "i hear you are having pain this arm": not an examination
])
def test_what_is_not_found_on_examination(aci, cid, turn, canon):
    from evalkit.grounding.exam import exam_concepts

    assert canon in exam_concepts()
    assert not [f.text for f in _facts(aci[cid]).exam if f.turn == turn and f.canon == canon]


def test_plain_word_instructions(aci):
    # D2N040 T36 "i do want you to check your blood sugars daily" ("check your" is not "check you" on exam, and
    # "i do want you to" announces as "i want you to" does)
    c = aci["D2N040"]
    assert [it.text for it in _facts(c).generic if 36 in it.turns] == [
        "check your blood sugars daily and that will be very"]
    assert not [t for t in _omitted(c, "PLAN\n\nShe will check her blood sugar daily.") if "sugars" in t]
    # D2N035 T20 "we need to probably stop eating those now": what to stop was said before, in other words
    # (the note: "limiting her sodium intake"); D2N048 T26 "go ahead stop me let me know" is no instruction
    assert not [it.text for it in _facts(aci["D2N035"]).generic if 20 in it.turns]
    assert not [it.text for it in _facts(aci["D2N048"]).generic if "stop" in it.text]


def test_a_referral_to_a_named_doctor(aci):
    # D2N073 T47 "the second thing we can do is have you see a hematologist"; T57 "we will send a referral to
    # dr. flores who is is the hematologist": one referral, covered by the specialist or the doctor's name
    c = aci["D2N073"]
    assert [(it.text, it.turns) for it in _facts(c).generic if "refer" in it.acts] == [
        ("refer to hematologist", [47, 57])]
    assert not [t for t in _omitted(c, "PLAN\n\nA referral was sent for her to see a hematologist.") if "hemat" in t]
    assert "plan: refer to hematologist" in _omitted(c, "PLAN\n\nContinue iron.")


@pytest.mark.parametrize("cid,turn,text", [
    ("D2N047", 36, "refer to urologist"),  # "i wan na go ahead and refer you to a urologist"
    ("D2N086", 14, "refer to endocrinologist"),  # "i do want you to follow up with your endocrinologist"
    ("D2N049", 54, "refer to urology"),  # "... refer you to urology"; "a referral to nutrition to a dietitian" is
    # the dietitian's plan item
])
def test_a_referral_to_a_specialist(aci, cid, turn, text):
    assert [it.text for it in _facts(aci[cid]).generic if turn in it.turns and "refer" in it.acts] == [text]


def test_a_follow_up_declined_is_no_referral(aci):
    # D2N071 T34 "i do n't think you need to follow up with the surgeon anymore"
    assert not [it.text for it in _facts(aci["D2N071"]).generic if "surgeon" in it.text]


def test_a_list_ordered_in_the_passive_covers_each_test(aci):
    # D2N040 "i am going to order a hemoglobin a1c and also a cbc"
    c = aci["D2N040"]
    for note in ("PLAN\n\nHemoglobin A1c, CBC, and a Chem-12 test were ordered today.",
                 "PLAN\n\nHemoglobin A1c, lipid panel, CBC, and a Chem-12 test were ordered today."):
        assert not [t for t in _omitted(c, note) if "a1c" in t or "cbc" in t], note
    assert "plan: order hemoglobin a1c" in _omitted(c, "PLAN\n\nHemoglobin A1c was 8, which is high.")


def test_a_plan_discussed_and_a_name_in_other_words(aci):
    # D2N032 T92 "we can also try a cortisone injection into the right hip joint"
    c = aci["D2N032"]
    for note in ("PLAN\n\nCortisone injection was discussed as an option.",
                 "PLAN\n\nShe will proceed with a steroid injection into the right hip."):
        assert not [t for t in _omitted(c, note) if "injection" in t], note
    assert "plan: start cortisone injection" in _omitted(c, "PLAN\n\nContinue NSAIDs.")


def test_a_symptom_the_visit_dwells_on(aci):
    # D2N008 T5 "i've been really tired and dizzy" ... T13 "i have felt a bit dizzy" ... T14 "so , you endorse some
    # dizziness . you endorse some fatigue": named in two turns or more, said by the patient
    c = aci["D2N008"]
    assert set(_facts(c).discussed) >= {"fatigu", "dizzi"}
    omitted = _omitted(c, "PLAN\n\nCheck labs.")
    assert "symptom: fatigue (tired)" in omitted and "symptom: dizziness (dizzy)" in omitted
    covered = _omitted(c, "HPI\n\nShe reports fatigue and dizziness for 2 months.\n\nPLAN\n\nCheck labs.")
    assert not [t for t in covered if "fatigue" in t or "dizz" in t]


def test_what_is_needed_no_more_is_a_plan_decision(aci):
    # D2N025 T52 "we do n't need any more blood work because we did that today"
    c = aci["D2N025"]
    assert [it.text for it in _facts(c).generic if 52 in it.turns] == ["no more blood work"]
    assert "plan: no more blood work" in _omitted(c, "PLAN\n\nRepeat EKG today.")
    assert "plan: no more blood work" not in _omitted(c, "PLAN\n\nNo further blood work is needed today.")


def test_a_procedure_performed_in_plain_words():
    # ACI-Bench test1 D2N110 (a dev-split encounter of the labelled benchmark) T32 "i'm also gon na perform a
    # debridement here in the office to take off some of the dead tissue"
    from evalkit.importers.aci_bench import load_aci_bench
    from tests.conftest import ACI

    c = next(c for c in load_aci_bench(ACI / "test1" / "test1.csv", ACI / "test1" / "test1_metadata.csv")
             if c.id == "D2N110")
    assert "debridement" in [it.key[0] for it in _facts(c).generic if 32 in it.turns]
    assert not [t for t in _omitted(c, "PLAN\n\nDebridement was performed in the office.") if "debridement" in t]


@pytest.fixture(scope="module")
def aci_test1():
    """ACI-Bench test1 encounters (those not in the labelled benchmark are used here)."""
    from evalkit.importers.aci_bench import load_aci_bench
    from tests.conftest import ACI

    return {c.id: c for c in load_aci_bench(ACI / "test1" / "test1.csv", ACI / "test1" / "test1_metadata.csv")}


def test_complete_notes_cover_in_their_own_words(aci_test1):
    # D2N118 T56 "i do want to get a couple of labs so we'll get a urinalysis": "Urine culture and urinalysis were
    # ordered" names a member of the labs; D2N123 T14 "we may have to send you to a specialist": "I referred the
    # patient to gastroenterology" is that referral; T24 "get you referred to the er if needed" names no specialist
    for cid in ("D2N118", "D2N123"):
        c = aci_test1[cid]
        omitted = [o.text for o in judge_note(c.turns, c.reference_note, c.case).omissions]
        assert not [t for t in omitted if "labs" in t or "refer" in t], (cid, omitted)
    c = aci_test1["D2N123"]
    assert "plan: refer to specialist" in _omitted(c, "PLAN\n\nPrilosec 20 mg daily.")
    assert not [it.text for it in _facts(c).generic if it.text.endswith(" er")]


def test_the_next_visit_said_as_a_range_or_a_time(aci_test1):
    # D2N103 T43 "let's do a followup in about six to nine months" ("Return to clinic in 6-9 months");
    # D2N111 T60 "i'm gon na go ahead and order an x-ray and when you come back we can have that discussion"
    c = aci_test1["D2N103"]
    assert [f[0] for f in _facts(c).follow_ups] == ["in six to nine months"]
    assert not [o.text for o in judge_note(c.turns, c.reference_note, c.case).omissions if "back" in o.text]
    assert not [it.text for it in _facts(aci_test1["D2N111"]).plan if "come back" in it.text]


def test_push_fluids_is_an_instruction_not_exam_talk(aci):
    # D2N003 "and i want you to push fluids and strain your urine" ("push" was read as "push against my hand");
    # the reference note says it in other words: "I advised the patient to stay well hydrated and to strain his urine"
    # (judge 2.4: drinking fluids is the lexicon's hydration concept, so it is a plan item of its own)
    c = aci["D2N003"]
    assert "push fluids" in [it.text for it in _facts(c).plan]
    assert not [o.text for o in judge_note(c.turns, c.reference_note, c.case).omissions if "fluids" in o.text]
    assert "plan: push fluids" in _omitted(c, "PLAN\n\nCT scan ordered.")


def test_announcements_in_other_words(aci, aci_test1):
    # valid D2N077 T58 "i also wan na get you on get you into physical therapy a few weeks after surgery"
    assert "order physical therapy" in [it.text for it in _facts(aci["D2N077"]).plan]
    # test1 D2N115 T48 "i also wan na give you a muscle relaxant called flexeril": the item is flexeril, and the
    # reference note's "A prescription for Flexeril 10 mg every 12 hours as needed was also provided" covers it
    c = aci_test1["D2N115"]
    assert "start flexeril" in [it.text for it in _facts(c).plan]
    assert not [it.text for it in _facts(c).plan if "relax" in it.text]
    assert not [o.text for o in judge_note(c.turns, c.reference_note, c.case).omissions if "relax" in o.text
                or "flexeril" in o.text]
    # test1 D2N118 T66 "i do wan na give you a consult to nutrition": "Referral to nutrition provided."
    c = aci_test1["D2N118"]
    assert ("consult", "nutrition") in [it.key for it in _facts(c).generic]
    assert not [o.text for o in judge_note(c.turns, c.reference_note, c.case).omissions if "nutrition" in o.text]
    # test1 D2N122 T26 "... i just wan na get a check and and a baseline for your lung function ...": a plain-word
    # instruction is read to a word's end (the 100-character cut left "g", read as grams, a dose)
    assert not [it.text for it in _facts(aci_test1["D2N122"]).generic if "check" in it.text]
