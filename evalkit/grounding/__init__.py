"""Internals of the offline grounding judge (public entry: ``evalkit.metrics.hallucination``).

- ``lexicon``: tokens, stems, term lists and synonym groups
- ``numbers``: numbers in notes (digits) and transcripts (digits and words)
- ``negation``: ConText triggers compiled to regexes; yes/no answers
- ``entities``: analysed text units (matches, laterality, scopes)
- ``index``: the transcript index, built once per transcript
- ``claims``: note sentence → claims
- ``checks``: what a check returns (Check, Grounded)
- ``ground``: claim → verdict, type, severity, evidence
- ``allergies``: transcript allergies (by substance) and the note's allergy claims
- ``plan_items``: what the clinician announces will be done (tests, drugs, referrals, instructions)
- ``facts``: the salient facts of a transcript (plan items, follow-up, results, diagnoses, medications...)
- ``omissions``: which of those facts the note leaves out
- ``referrals``: referrals in a note to a specialty the visit never spoke of
- ``unlisted``: clinical words no lexicon lists (-itis, -osis...), asserted but never said
- ``plan_checks``: follow-up intervals and treatments the visit declined, against the note's plan
- ``exam_quality``: examination measures (range of motion, strength...) read normal vs abnormal
- ``result_quality``: test results read normal vs abnormal (the note's reading against the clinician's)
- ``severity``: CREOLA severity of a flag and its confidence (``rubrics/grounding/confidence.json``)
- ``records``: fast construction of the output records
"""

GROUNDING_VERSION = "2.5"  # 1.1: list negation scope, allergies by substance, measurement values
# 1.2: names with digits (free T4, L4-L5) are not numbers, self-corrections ("no, sorry") do not
#      negate, a denied specific finding does not deny the broader one, "Plan:"/"give" cover plan items
# 1.3: "practise"/"recheck" sentences cover plan items
# 1.4: a named drug is not grounded by another drug of its class (naproxen for ibuprofen is a substitution)
# 2.0: developed on real notes (ACI-Bench test1 dev labels): notes parsed as published (inline and
#      mid-line headings), yes/no answers and hedged assessments, history vs exam denials, negation
#      that stops at a finding's location, scores on their scale, unit conversions, the record as
#      evidence (sources), severity by what is wrong and a confidence per flag, invented tests and
#      results, long turns judged in pieces (near-linear time); omissions rebuilt (plan items near
#      their announcement, covered by a plan sentence or its neighbour; follow-up intervals,
#      results, the clinician's diagnoses, red-flag symptoms)
# 2.1: omissions: abnormal examination findings, symptoms asked about and affirmed, diagnoses said without
#      an assessment phrase, "needed no more" decisions, referrals to a specialist in other words, follow-up
#      ranges; coverage by passive lists, "discussed", compound synonyms, members of a broader item (claims
#      unchanged)
# 2.2: a patient-tagged "any history of ..." / "have you ever ..." is the clinician's question; "sharp or
#      dull" is pinprick testing; brain, brainstem and skull are the head; "dermatologic" grounds a rash
#      (read on unlabelled D2N125 notes)
# 2.3: "heart disease" only in its own synonym group (lay "heart problems", "heart trouble"...), not
#      also in coronary artery disease's, where the first group won
# 2.4: referrals to a specialty the visit never named; an abnormal result of a test the visit named only as
#      "labs"; unlisted clinical words (-itis, -osis, -emia...) asserted but never said. False flags read on the
#      unlabelled text-davinci-002 notes and on every flag of the 87 train/valid clinicians' notes: a denial in
#      an "if" clause; negation into a cause ("from her arthritis"); "prior"/"at one point" symptoms; an answer
#      naming one asked finding; "any" after a negation is no question; "not appreciate/see" reaches like
#      "no"; a side-specific denial vs the other side; a once-affirmed finding is not outvoted; a denied
#      history of a symptom vs the current episode; spoken numbers (".6", "sixties", "five or six hundred",
#      "a month" = 4 weeks); lexicon terms with "n't"/"cannot"; lay words (gives out, can't catch my breath,
#      heart race, peeing a lot...); "non-tender"; "no drug allergies" vs hay fever. Omissions: a limp or
#      cane, daily weights, drinking fluids; "stressed the importance of" covers. Confidences refitted on dev
# 2.5: a follow-up interval the visit never gave (or gave none); a treatment the clinician said is not needed;
#      an examination measure or a test result read the other way ("normal range of motion" / "limited range
#      of motion"; "chest x-ray demonstrates CHF" / "looks good"); a dose said beside another drug; a result
#      when labs were only planned. False flags: "does not show X or Y"; "Tylenol for fever" (what a drug is
#      for); "if a croup cough develops" (a contingency); "covid vaccines" grounds a vaccination; "ronchi";
#      "one fifty one sixty"; "examination of the left ankle:" is a label, not a manoeuvre; a quantity's topic
#      up to six turns away. Omissions: "i don't think he needs any antibiotics"; a follow-up without its
#      interval. Confidences refitted on dev; a real-note holdout (4 encounters) labelled after the rules froze
