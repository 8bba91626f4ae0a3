"""Internals of the offline grounding judge (public entry: ``evalkit.metrics.hallucination``).

- ``lexicon``: tokens, stems, term lists and synonym groups
- ``numbers``: numbers in notes (digits) and transcripts (digits and words)
- ``negation``: ConText triggers compiled to regexes; yes/no answers
- ``entities``: analysed text units (matches, laterality, scopes)
- ``index``: the transcript index, built once per transcript
- ``claims``: note sentence → claims
- ``ground``: claim → verdict, type, severity, evidence
- ``omissions``: salient transcript facts missing from the note
"""

GROUNDING_VERSION = "1.0"
