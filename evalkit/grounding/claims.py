"""Split note sentences into claims: one checkable statement each.

A sentence is split on ";" and on "and"/"but" that join two clauses with their own
subject ("She denies fever and she has no cough"). Lists ("chest pain, shortness of
breath, and swelling") stay in one claim so a negation keeps its whole scope. Section
labels ("Medical Treatment:") stay with their claim.
"""

from __future__ import annotations

import re
from typing import Final

_SUBJECT: Final = r"(?:she|he|they|we|i|the patient|patient|it|this|there|her \w+|his \w+|mr\.? \w+|mrs\.? \w+|ms\.? \w+)"
_SPLIT: Final = re.compile(
    r"\s*;\s*|,?\s+(?:and|but|however)\s+(?=" + _SUBJECT + r"\s+(?:is|was|has|had|have|will|would|should|"
    r"can|could|does|did|do|denies|denied|reports|reported|notes|noted|states|stated|endorses|endorsed|"
    r"admits|complains|describes|continues|takes|took|started|stopped|feels|felt|went|are|were|also|"
    r"recommend|advised|discussed|\w+ed|\w+s)\b)", re.I)


_ALNUM: Final = re.compile(r"[A-Za-z0-9]")


def split_claims(sentence: str) -> list[str]:
    """Claims of one note sentence, in order; the sentence itself when it holds one claim.

    Args:
        sentence: the sentence text as written in the note.
    """
    low = sentence.lower()
    if (";" not in low and " and " not in low and " but " not in low and " however " not in low
            and "\t" not in low and "\n" not in low):
        one = sentence.strip(" ,")  # nothing to split on (most sentences): skip the regex
        return [one] if one and _ALNUM.search(one) else [sentence]
    parts = [p.strip(" ,") for p in _SPLIT.split(sentence)]
    out = [p for p in parts if p and _ALNUM.search(p)]
    return out or [sentence]


_LABEL: Final = re.compile(r"^\s*(?:[A-Z][A-Za-z0-9/&,\- ]{1,40}?):\s+(?=\S)")


def strip_label(claim: str) -> str:
    """The claim without a leading structural label ("Medical Treatment: ...", "HENT: ...").

    Args:
        claim: a claim's text.
    """
    m = _LABEL.match(claim)
    return claim[m.end():] if m else claim
