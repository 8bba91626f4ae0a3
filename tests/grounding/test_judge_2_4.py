"""Judge 2.4 on real ACI-Bench dialogues: what it now flags (invented referrals, results and findings)
and the false flags it no longer raises (read on unlabelled test1 notes and on train reference notes).

Each case is a note sentence judged against its real consultation; the note sentences are quoted from
published notes (the system is named) unless marked as written for the test.
"""

from __future__ import annotations

import pytest

from evalkit.metrics.hallucination import judge_note
from evalkit.schema import SpeakerRole, Turn
from evalkit.text.parse import parse_note


def _claims(c, note: str):
    return judge_note(c.turns, parse_note(note), c.case).claims


def _rules(c, note: str) -> set[str]:
    """The rules of the note's flagged claims."""
    return {cl.rule for cl in _claims(c, note) if cl.verdict != "supported"}


# ---------------------------------------------------------------- what is now flagged


def test_a_referral_to_a_specialty_never_spoken_of_is_flagged(cons):
    # D2N093 (gpt-4): the plan sends a heart-failure patient to cardiology; the visit names an
    # endocrinologist only
    c = cons["D2N093"]
    flags = [cl for cl in _claims(c, "PLAN\nRefer to cardiology for further evaluation and management.")
             if cl.verdict != "supported"]
    assert [(f.rule, f.severity) for f in flags] == [("referral.absent", "major")]
    assert "referral.absent" not in _rules(c, "PLAN\nFollow up with endocrinology.\nReferral to endocrinology.")


def _visit(*lines: str) -> list[Turn]:
    return [Turn(id=i, speaker=SpeakerRole.CLINICIAN if i % 2 == 0 else SpeakerRole.PATIENT, text=t)
            for i, t in enumerate(lines)]


@pytest.mark.parametrize("said", [
    "i want you to see a heart doctor about that murmur",  # plain words next to "doctor"
    "i'm going to send you to someone for your heart",  # plain words in a turn that sends the patient
    "i'm gon na just have you go back to dr. reyes to manage all of that",  # a named doctor: specialty unknown
])
def test_a_referral_said_in_other_words_is_not_flagged(said):
    from evalkit.grounding.index import transcript_index
    from evalkit.grounding.ground import ground_claim

    turns = _visit("how is the chest pain", "it comes and goes", said, "okay")
    g = ground_claim("Refer to cardiology.", transcript_index(turns), "plan")
    assert g.verdict == "supported", said
    g = ground_claim("Refer to cardiology.", transcript_index(_visit("how is the chest pain", "it comes and goes")),
                     "plan")
    assert g.rule == "referral.absent"


def test_a_past_referral_is_the_record_not_a_plan():
    from evalkit.grounding.index import transcript_index
    from evalkit.grounding.ground import ground_claim

    idx = transcript_index(_visit("what brings you in", "my kidneys"))
    assert ground_claim("She was referred to nephrology by genetics.", idx, "hpi").verdict == "supported"
    assert ground_claim("She will be referred to nephrology.", idx, "plan").rule == "referral.absent"


def test_an_abnormal_result_of_a_test_the_visit_named_only_as_labs_is_flagged(cons):
    # D2N093 (biobart-division): "your labs look okay" is all the visit says of blood tests
    c = cons["D2N093"]
    assert _rules(c, "RESULTS\nLyme titer: elevated.") == {"result.unnamed_test"}
    assert _rules(c, "RESULTS\nAutoimmune panel: positive.") == {"result.unnamed_test"}
    assert not _rules(c, "RESULTS\nLabs were unremarkable.")
    assert not _rules(c, "PLAN\nWe will order a lipid panel.")  # an order, not a result


def test_a_result_whose_value_was_said_under_another_name_is_not_flagged(cons):
    # train D2N027 (the reference note): "most recent cmd showed elevation at 156" (CMP, misheard)
    c = cons["D2N027"]
    assert "result.unnamed_test" not in _rules(c, "ASSESSMENT AND PLAN\nMost recent CMP showed elevation at 156 IU/L.")


def test_an_unlisted_finding_never_said_is_flagged_when_asserted(cons):
    # D2N104 (biobart-division): words no lexicon lists, nothing like them in the visit
    c = cons["D2N104"]
    assert _rules(c, "RESULTS\nMitochondritis dissecans is present.") == {"term.absent"}
    assert _rules(c, "RESULTS\nProlipidemia: Elevation.") == {"term.absent"}
    # not asserted: denied, a risk, something to rule out
    for sentence in ("No mitochondritis.", "We discussed the risk of mitochondritis.",
                     "Mitochondritis dissecans was ruled out."):
        assert "term.absent" not in _rules(c, "ASSESSMENT\n" + sentence), sentence


def test_operations_and_words_like_the_visit_s_are_not_unlisted_findings(cons):
    # train D2N029/D2N032/D2N075 reference notes write "Cholecystectomy." for "had my gallbladder out"
    for cid in ("D2N029", "D2N032", "D2N075"):
        assert "term.absent" not in _rules(cons[cid], "SURGICAL HISTORY\nCholecystectomy."), cid
    # a word sharing its root with the visit's ("thyromegaly" when the thyroid was discussed) is not flagged
    from evalkit.grounding.index import transcript_index
    from evalkit.grounding.ground import ground_claim

    idx = transcript_index(_visit("let me feel your thyroid", "okay"))
    assert ground_claim("Thyromegaly is present.", idx, "exam").verdict == "supported"


# ---------------------------------------------------------------- false flags that are gone


def test_a_denial_inside_an_if_clause_is_a_condition(cons):
    # D2N109 (text-davinci-002): the visit suspects a fracture; the plan depends on the x-ray
    c = cons["D2N109"]
    note = "PLAN\nIf the x-ray does not reveal a fracture, the patient will be allowed to partially weight bear."
    assert not _rules(c, note)
    assert _rules(c, "RESULTS\nThe x-ray does not reveal a fracture.")  # the same denial, asserted


def test_negation_stops_at_a_cause(cons):
    # D2N089 (text-davinci-002): "no joint pain or stiffness from her arthritis" does not deny the arthritis
    c = cons["D2N089"]
    note = ("HPI\nShe reports that she has been doing well overall, with no joint pain or stiffness from her "
            "arthritis in the last year.")
    assert not _rules(c, note)


def test_a_symptom_at_one_point_or_prior_is_a_past_one(cons):
    # train D2N025 (the reference note): heartburn that resolved on Prilosec; the visit says no problems now
    c = cons["D2N025"]
    for sentence in ("Regarding her prior symptoms of heartburn, she denies any recent gastrointestinal issues.",
                     "She notes that her heartburn was severe at one point but resolved after trying Prilosec."):
        assert not any(r.startswith("negation.") for r in _rules(c, "HPI\n" + sentence)), sentence


def test_an_answer_naming_one_asked_finding_answers_for_it_only(cons):
    # train D2N010: "body aches , joint pain ?" / "uh , a bit of joint pain ." — the body aches were not affirmed
    c = cons["D2N010"]
    assert not _rules(c, "REVIEW OF SYSTEMS\nHe denies any fever, chills, or body aches.")
    assert "negation.denies_affirms" in _rules(c, "REVIEW OF SYSTEMS\nHe denies joint pain.")


def test_lay_words_the_lexicon_now_reads(cons):
    # D2N099 (text-davinci-002): "he ca n't go to sleep"; lexicon terms with "n't" never matched before
    assert not _rules(cons["D2N099"], "HPI\nHe has been having trouble sleeping.")
    # D2N102 (text-davinci-002): "drink ... ounces of water a day" — fluids to drink are not an effusion
    assert not _rules(cons["D2N102"], "PLAN\nShe is advised to drink plenty of fluids.")
    # D2N126 (text-davinci-002): "there is decreased flexion and extension"
    assert not _rules(cons["D2N126"], "EXAM\nThe right knee has decreased range of motion.")


# ---------------------------------------------------------------- false flags read on the clinicians' notes
# (train/valid reference notes: two independent readers judged every flag at confidence >= 0.5 against the
# whole dialogue; these were false)


@pytest.mark.parametrize("cid,section,sentence", [
    ("D2N023", "RESULTS", "PSA 0.6 ng/mL."),  # "it's , uh , .6 i think"
    ("D2N051", "VITALS", "Heart rate: 60s"),  # "nice and slow in the sixties"
    ("D2N086", "HPI", "At one point, he had a blood sugar spike to either 500 or 600."),  # "five or six hundred"
    ("D2N086", "HPI", "His blood sugar has been trending in the 300 to 400's."),  # "three to four hundreds"
    ("D2N077", "PLAN", "The patient will follow up with me in 4 weeks."),  # "how about in a month"
])
def test_numbers_said_the_way_people_say_them(cons, section, cid, sentence):
    assert not _rules(cons[cid], f"{section}\n{sentence}")


@pytest.mark.parametrize("cid,sentence", [
    ("D2N080", "Musculoskeletal: Reports left knee pain and instability."),  # "all of a sudden it gives out"
    ("D2N086", "He has experienced shortness of breath with ambulation."),  # "difficult time catching my breath"
    ("D2N022", "Dexamethasone causes palpitations."),  # "which causes his heart to race" (not a question)
    ("D2N045", "There is no evidence of any fracture or arthritis."),  # "i do n't even see any signs of any arthritis"
])
def test_clinicians_words_for_what_was_said(cons, cid, sentence):
    assert not _rules(cons[cid], "HPI\n" + sentence)


def test_a_denial_on_one_side_is_checked_against_that_side(cons):
    # valid D2N046: "i appreciate a left adnexal mass and there is no masses on the right"
    c = cons["D2N046"]
    assert not _rules(c, "PHYSICAL EXAM\nNo masses on the right.")
    assert "negation.denies_affirms" in _rules(c, "PHYSICAL EXAM\nNo masses on the left.")


def test_a_denied_history_of_a_symptom_is_not_the_current_episode(cons):
    # train D2N011: chest pain that brought him to the ER; "had you ever had that before?" "no, i never have"
    c = cons["D2N011"]
    assert not _rules(c, "HPI\nHe denies a history of chest pain.")
    assert "negation.denies_affirms" in _rules(c, "HPI\nHe denies chest pain.")


def test_an_affirmation_said_once_backs_the_note_against_later_denials(cons):
    # train D2N031: the 2019 ultrasound "revealed a mass"; today's exam: "no palpable masses", "no masses"
    c = cons["D2N031"]
    assert not _rules(c, "HPI\nShe then had a right breast ultrasound which revealed a mass at the 2 o'clock position.")


def test_any_after_a_negation_is_a_statement_unless_the_clause_asks():
    from evalkit.grounding.ground import ground_claim
    from evalkit.grounding.index import transcript_index

    told = transcript_index(_visit("he did not want any steroid because of the reaction , which makes his heart race .",
                                   "right"))
    assert ground_claim("Steroids cause palpitations.", told, "hpi").verdict == "supported"
    asked = transcript_index(_visit("you have n't had any trauma recently or felt a pop anywhere or anything like "
                                    "that have you", "not that i can recall"))
    assert ground_claim("No trauma or popping sensation.", asked, "hpi").verdict == "supported"


def test_non_negates_the_word_it_prefixes(cons):
    # D2N095 and D2N102 (gpt-4, unlabelled): "Abdomen is soft and non-tender." was read as tenderness
    for cid in ("D2N095", "D2N102"):
        assert not _rules(cons[cid], "PHYSICAL EXAM\nAbdomen is soft and non-tender."), cid
    from evalkit.grounding.entities import Unit
    from evalkit.grounding.lexicon import lexicon

    u = Unit("She was treated for non small cell lung cancer.", lexicon())
    assert [u.polarity(s) for s, _, t in u.matches if t.category == "condition"] == ["affirmed"]


def test_no_drug_allergies_does_not_deny_hay_fever(cons):
    # D2N102 (gpt-4, unlabelled): "you're only taking alavert 10 milligrams a day and have no drug allergies"
    assert not _rules(cons["D2N102"], "HPI\nShe takes alavert 10 mg daily for allergies.")
