"""Negation check: a finding the note denies must not be affirmed in the dialogue, and back.

A finding is compared with the transcript's mentions of the same concept; a body part
named with it ("right knee pain", "swelling in her legs") narrows the mentions to those
that name the same part, so "no knee pain" is not contradicted by "my back hurts". Generic
findings (pain, swelling) are only compared when such a body part pins them down.
"""

from __future__ import annotations

from ..schema import SpeakerRole
from .entities import Unit
from .index import UNKNOWN, TranscriptIndex
from .lexicon import GENERIC, GENERIC_FINDINGS, STOPWORDS, Term, lexicon
from .negation import AFF, HIST, NEG

_WINDOW = 10  # tokens between a finding and its body part in a transcript turn


def _generic(canonicals: list[str]) -> bool:
    return all(all(w in GENERIC_FINDINGS or w in STOPWORDS or w in GENERIC for w in c.split()) for c in canonicals)


def claim_anatomy(u: Unit, s: int, e: int, term: Term) -> set[str]:
    """Body parts named with the finding at tokens ``[s, e)`` of a claim."""
    lx = lexicon()
    anat = set(lx.parts(term)[1])
    if not anat:
        others = [(s2, e2) for s2, e2, t2 in u.matches if s2 != s and t2.category != "anatomy"]
        for a0, a1, t in lx.anatomy.match(u.sts, max(0, s - 5), min(len(u.sts), e + 6)):  # type: ignore[union-attr]
            if not any(s2 <= a0 < e2 for s2, e2 in others):  # not the body part of another finding
                anat.add(t.canonical)
    return anat


def _turn_has_anatomy(idx: TranscriptIndex, i: int, tok: int, anat: set[str]) -> bool:
    key = ("anat", i, tok, frozenset(anat))
    got = idx.memo.get(key)
    if got is None:
        got = idx.memo[key] = _turn_has_anatomy_uncached(idx, i, tok, anat)
    return got


def _turn_has_anatomy_uncached(idx: TranscriptIndex, i: int, tok: int, anat: set[str]) -> bool:
    lx = lexicon()
    u = idx.units[i]
    lo, hi = max(0, tok - _WINDOW), min(len(u.sts), tok + _WINDOW)
    for s, e, t in lx.anatomy.match(u.sts, lo, hi):  # type: ignore[union-attr]
        if t.canonical in anat:
            return True
    if i > 0 and idx.roles[i] == SpeakerRole.PATIENT and idx.roles[i - 1] != SpeakerRole.PATIENT:
        # an answer ("no numbness") to a question that named the body part ("...in your foot?")
        return any(t.canonical in anat for _, _, t in lx.anatomy.match(idx.units[i - 1].sts))  # type: ignore[union-attr]
    return False


def transcript_polarities(idx: TranscriptIndex, findings: list[str], anat: set[str]) -> dict[str, list[int]]:
    """Polarity → turn indexes over the transcript's mentions of ``findings`` (with ``anat`` if given)."""
    out: dict[str, list[int]] = {}
    for c in findings:
        for i, tok in idx.concept_turns.get(c, ()):
            if anat and not _turn_has_anatomy(idx, i, tok, anat):
                continue
            p = idx.mention_polarity(i, tok)
            if p == HIST:
                p = AFF
            if p in (AFF, NEG):
                out.setdefault(p, []).append(i)
    return out


def check_polarity(u: Unit, s: int, e: int, term: Term, pol: str, idx: TranscriptIndex) -> tuple[str, list[int], str] | None:
    """A negation contradiction for the finding at ``[s, e)``, or None.

    Returns:
        ``(direction, evidence turn indexes, rationale)`` when the note's polarity is the
        opposite of every polarity the transcript gives the finding.
    """
    if pol == HIST:
        pol = AFF
    if pol not in (AFF, NEG):
        return None
    lx = lexicon()
    findings, _ = lx.parts(term)
    anat = claim_anatomy(u, s, e, term)
    if not anat and _generic(findings):
        return None
    pols = transcript_polarities(idx, findings, anat)
    if pol == NEG and AFF in pols and NEG not in pols:
        return "denies", sorted(set(pols[AFF]))[:3], f"note denies '{term.text}', the transcript affirms it"
    if pol == AFF and NEG in pols and AFF not in pols:
        return "affirms", sorted(set(pols[NEG]))[:3], f"note affirms '{term.text}', the transcript denies it"
    return None


__all__ = ["check_polarity", "claim_anatomy", "transcript_polarities", "UNKNOWN"]
