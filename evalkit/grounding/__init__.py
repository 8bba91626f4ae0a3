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
- ``records``: fast construction of the output records
"""

GROUNDING_VERSION = "1.5"  # 1.1: list negation scope, allergies by substance, measurement values
# 1.2: names with digits (free T4, L4-L5) are not numbers, self-corrections ("no, sorry") do not
#      negate, a denied specific finding does not deny the broader one, "Plan:"/"give" cover plan items
# 1.3: "practise"/"recheck" sentences cover plan items
# 1.4: a named drug is not grounded by another drug of its class (naproxen for ibuprofen is a substitution)
# 1.5: omissions rebuilt on real notes (plan items near their announcement, covered by a plan sentence
#      or its neighbour; follow-up intervals, results, the clinician's diagnoses, red-flag symptoms);
#      claims are unchanged
