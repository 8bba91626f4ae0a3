"""Accented voices: which espeak-ng English variant each persona speaks with, by the card's region.

espeak-ng ships these English accents (voice ids as ``espeak_SetVoiceByName`` takes them):

==================  ===================  ==================================================
accent              espeak voice         notes
==================  ===================  ==================================================
``rp``              ``en-gb-x-rp``       British Received Pronunciation
``british``         ``en``               espeak's default (southern) British English
``scottish``        ``en-gb-scotland``   Scottish English
``northern``        ``en-gb-x-gbclan``   Northern English (Lancastrian)
``west_midlands``   ``en-gb-x-gbcwmd``   West Midlands English
``us``              ``en-us``            General American
``new_york``        ``en-us-nyc``        New York City
``caribbean``       ``en-029``           Caribbean English
``indian``          ``hi``               espeak's Hindi voice reading English text: an
                                         Indian-accented approximation, not a native model
==================  ===================  ==================================================

A voice is ``<base>+<variant>`` (``en-gb-scotland+f3``): the variant sets the sex and timbre.
Use ``en+f3``, not ``en-gb+f3`` (espeak silently drops the variant of ``en-gb``).

A card chooses accents through its ``region`` (each region has a pool of plausible accents for
patients and for clinicians) or explicitly with ``metadata.accent`` (the patient) and
``metadata.clinician_accent``. ``metadata.voices`` (``{clinician: ..., patient: ...}``) still
overrides the final voice id.
"""

from __future__ import annotations

import random

from ..errors import InputError
from ..schema import Case, SpeakerRole
from .espeak import VoiceSpec

#: accent name → espeak base voice
ACCENTS: dict[str, str] = {
    "rp": "en-gb-x-rp", "british": "en", "scottish": "en-gb-scotland", "northern": "en-gb-x-gbclan",
    "west_midlands": "en-gb-x-gbcwmd", "us": "en-us", "new_york": "en-us-nyc", "caribbean": "en-029",
    "indian": "hi",
}

#: region → (patient accent pool, clinician accent pool)
REGION_ACCENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "UK": (("rp", "british", "scottish", "northern", "west_midlands"), ("rp", "british", "scottish", "indian")),
    "IE": (("british", "northern", "scottish"), ("british", "rp", "indian")),
    "US": (("us", "new_york"), ("us", "new_york", "indian")),
    "CA": (("us",), ("us", "british")),
    "AU": (("british", "west_midlands"), ("british", "rp", "indian")),
    "NZ": (("british", "west_midlands"), ("british", "rp")),
    "IN": (("indian",), ("indian",)),
    "other": (("caribbean", "indian", "british", "us"), ("british", "us", "indian")),
}

_FEMALE = ("f2", "f3", "f4", "f5")
_MALE = ("m1", "m3", "m7", "m2")
_RATE = {"hesitant": (140, 155), "slow": (140, 155), "chatty": (178, 195), "fast": (180, 198), "terse": (165, 180)}


def _check_accent(name: str, field: str) -> str:
    if name not in ACCENTS:
        raise InputError("case card", field, f"unknown accent {name!r}", f"use one of: {', '.join(ACCENTS)}")
    return name


def _voice_id(accent: str, variant: str) -> str:
    return f"{ACCENTS[accent]}+{variant}"


def choose_accent_voices(case: Case, rng: random.Random) -> dict[str, VoiceSpec]:
    """Seeded voices for the clinician, the patient-side speaker and any third speaker.

    The patient's accent comes from ``metadata.accent`` or the region's patient pool, the
    clinician's from ``metadata.clinician_accent`` or the region's clinician pool. Sex follows
    the persona (or the parent speaking: ``metadata.speaker`` mum/dad). The two always differ
    audibly: different voice ids, and pitches at least 12 apart when they share a sex.

    Args:
        case: the case card.
        rng: the consultation's seeded generator.

    Returns:
        ``{"CLINICIAN": VoiceSpec, "PATIENT": VoiceSpec, "OTHER": VoiceSpec}``.
    """
    pat_pool, clin_pool = REGION_ACCENTS.get(case.region, REGION_ACCENTS["other"])
    meta = case.metadata or {}
    pat_accent = _check_accent(meta["accent"], "metadata.accent") if meta.get("accent") else rng.choice(pat_pool)
    clin_accent = (_check_accent(meta["clinician_accent"], "metadata.clinician_accent")
                   if meta.get("clinician_accent") else rng.choice(clin_pool))
    speaker = meta.get("speaker", "self")
    sex = case.persona.sex.value
    if speaker in ("mum", "mom"):
        sex = "female"
    elif speaker == "dad":
        sex = "male"
    elif speaker != "self" or sex not in ("female", "male"):
        sex = rng.choice(["female", "male"])
    clin_sex = rng.choice(["female", "male"])
    clin_var = rng.choice(_FEMALE if clin_sex == "female" else _MALE)
    pat_var = rng.choice([v for v in (_FEMALE if sex == "female" else _MALE) if v != clin_var])
    clin_pitch = rng.randint(55, 64) if clin_sex == "female" else rng.randint(36, 44)
    pat_pitch = rng.randint(60, 72) if sex == "female" else rng.randint(26, 36)
    if clin_sex == sex and abs(clin_pitch - pat_pitch) < 12:
        pat_pitch = clin_pitch + 12 if sex == "female" else clin_pitch - 12
    lo, hi = _RATE.get((case.persona.speech_style or "").lower(), (160, 178))
    override = meta.get("voices") or {}
    clin = override.get("clinician", _voice_id(clin_accent, clin_var))
    pat = override.get("patient", _voice_id(pat_accent, pat_var))
    other_sex_pool = _MALE if sex == "female" else _FEMALE
    other = _voice_id(pat_accent, rng.choice(other_sex_pool))
    return {
        SpeakerRole.CLINICIAN.value: VoiceSpec(clin, rate=rng.randint(168, 186), pitch=clin_pitch),
        SpeakerRole.PATIENT.value: VoiceSpec(pat, rate=rng.randint(lo, hi), pitch=pat_pitch),
        SpeakerRole.OTHER.value: VoiceSpec(other, rate=165, pitch=50),
    }


def accent_of(voice_id: str) -> str | None:
    """The accent name of an espeak voice id such as ``en-gb-scotland+f3`` (None if not one of :data:`ACCENTS`)."""
    base = voice_id.split("+", 1)[0].split("@", 1)[0]
    return next((name for name, v in ACCENTS.items() if v == base), None)


__all__ = ["ACCENTS", "REGION_ACCENTS", "accent_of", "choose_accent_voices"]
