"""Accented voices, disfluencies, overlaps in the turn times, and the optional piper engine."""

from __future__ import annotations

import hashlib
import random
import re

import numpy as np
import pytest

from evalkit.errors import InputError
from evalkit.schema import SpeakerRole
from evalkit.synth import generate_consultation, load_cards, read_wav, synthesize
from evalkit.synth.accents import ACCENTS, REGION_ACCENTS, accent_of, choose_accent_voices
from evalkit.synth.disfluency import KINDS, add_disfluencies, disfluent
from evalkit.synth.tts import speech_mask


@pytest.fixture(scope="module")
def cards():
    return {c.id: c for c in load_cards()}


@pytest.fixture(scope="module")
def short(cards):
    c = generate_consultation(cards["gp-tonsillitis-uk-01"], 7)
    return c.model_copy(update={"turns": c.turns[:8]})


# --------------------------------------------------------------------------- accents


def test_every_accent_voice_speaks():
    from evalkit.synth.espeak import EspeakSession, VoiceSpec

    with EspeakSession(seed=0) as s:
        for accent, base in ACCENTS.items():
            for variant in ("", "+f3", "+m3"):
                assert s.speak("Hello, how are you?", VoiceSpec(base + variant)).size > 1000, (accent, variant)


def test_accents_follow_the_region_and_the_two_speakers_differ(cards):
    for card in cards.values():
        pat_pool, clin_pool = REGION_ACCENTS[card.region]
        for seed in range(12):
            v = choose_accent_voices(card, random.Random(seed))
            clin, pat = v[SpeakerRole.CLINICIAN.value], v[SpeakerRole.PATIENT.value]
            assert accent_of(pat.voice) in pat_pool and accent_of(clin.voice) in clin_pool
            assert clin.voice != pat.voice
            assert abs(clin.pitch - pat.pitch) >= 12 or clin.voice.split("+")[1][0] != pat.voice.split("+")[1][0]
    uk = cards["gp-tonsillitis-uk-01"]
    seen = {accent_of(choose_accent_voices(uk, random.Random(s))[SpeakerRole.PATIENT.value].voice) for s in range(60)}
    assert {"rp", "scottish", "northern", "west_midlands"} <= seen  # the UK pool is really used


def test_card_metadata_chooses_the_accent_and_bad_names_are_errors(cards):
    card = cards["gp-tonsillitis-uk-01"]
    carib = card.model_copy(update={"metadata": {**card.metadata, "accent": "caribbean", "clinician_accent": "indian"}})
    v = choose_accent_voices(carib, random.Random(1))
    assert v["PATIENT"].voice.startswith("en-029+") and v["CLINICIAN"].voice.startswith("hi+")
    india = card.model_copy(update={"region": "IN"})
    assert accent_of(choose_accent_voices(india, random.Random(2))["PATIENT"].voice) == "indian"
    bad = card.model_copy(update={"metadata": {"accent": "martian"}})
    with pytest.raises(InputError, match="metadata.accent"):
        choose_accent_voices(bad, random.Random(0))


def test_rate_and_pitch_vary_per_persona_and_are_seeded(short, tmp_path):
    a = synthesize(short, tmp_path / "a.wav", seed=3, accents=True)
    b = synthesize(short, tmp_path / "b.wav", seed=3, accents=True)
    assert a.voices == b.voices
    labels = {synthesize(short, tmp_path / f"{s}.wav", seed=s, accents=True).voices["PATIENT"] for s in range(4)}
    assert len(labels) >= 3  # rate/pitch/accent differ between seeds


# --------------------------------------------------------------------------- disfluencies


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+(?:[./]\d+)?", text)


def test_disfluencies_are_seeded_keep_numbers_and_the_note(cards):
    c = generate_consultation(cards["bh-alcohol-au-11"], 5)
    a, counts = add_disfluencies(c, 0.5, seed=1)
    b, _ = add_disfluencies(c, 0.5, seed=1)
    assert a == b and sum(counts.values()) >= 5
    assert a.reference_note == c.reference_note
    changed = [(x, y) for x, y in zip(c.turns, a.turns) if x.text != y.text]
    assert len(changed) == sum(counts.values())
    for x, y in changed:
        assert _numbers(x.text) == _numbers(y.text)  # numbers and doses are never touched
        assert len(y.text) > len(x.text)
    same, none = add_disfluencies(c, 0.0, seed=1)
    assert same == c and sum(none.values()) == 0


def test_each_disfluency_kind():
    text = "I have been taking metformin 500 mg twice a day since March."
    rng = random.Random(0)
    hes = disfluent(text, "hesitation", rng, "UK")
    assert re.search(r"\b(er|erm|um)\b", hes, re.I)
    rep = disfluent(text, "repetition", rng)
    assert rep.startswith("I have, I have been")
    fs = disfluent(text, "false_start", rng)
    assert fs.endswith(text) and fs != text
    sc = disfluent(text, "self_correction", rng)
    assert re.search(r", (I mean|sorry|or rather|well), ", sc)
    for kind in KINDS:
        assert "500 mg" in disfluent(text, kind, random.Random(3))


# --------------------------------------------------------------------------- overlaps


def test_overlaps_are_in_the_turn_times_and_in_the_audio(short, tmp_path):
    plain = synthesize(short, tmp_path / "plain.wav", seed=3)
    assert all(p.end <= q.start for p, q in zip(plain.turn_times, plain.turn_times[1:]))
    ov = synthesize(short, tmp_path / "ov.wav", seed=3, overlap_rate=1.0)
    roles = {t.id: t.speaker for t in short.turns}
    over = [(p, q) for p, q in zip(ov.turn_times, ov.turn_times[1:]) if q.start < p.end]
    assert over, "no overlap at rate 1.0"
    for p, q in over:  # only the patient talks over the clinician, briefly
        assert roles[p.turn_id] == SpeakerRole.CLINICIAN and roles[q.turn_id] == SpeakerRole.PATIENT
        assert 0.1 <= p.end - q.start <= 0.61
    assert ov.duration < plain.duration
    x, sr = read_wav(tmp_path / "ov.wav")
    p, q = over[0]
    both = x[int(q.start * sr): int(p.end * sr)]
    assert np.sqrt(np.mean(both ** 2)) > 0.02  # speech, not silence, where they overlap
    mask = speech_mask(len(x), ov.turn_times, sr)
    assert mask.mean() > 0.5
    again = synthesize(short, tmp_path / "ov2.wav", seed=3, overlap_rate=1.0)
    assert again.turn_times == ov.turn_times


# --------------------------------------------------------------------------- piper (optional extra)


def test_piper_engine(short, tmp_path):
    from evalkit.synth import piper_engine

    if not piper_engine.available():
        with pytest.raises(InputError, match="evalkit\\[voices\\]"):
            synthesize(short, tmp_path / "x.wav", engine="piper")
        pytest.skip("the voices extra (piper-tts) is not installed")
    two = short.model_copy(update={"turns": short.turns[:2]})
    a = synthesize(two, tmp_path / "a.wav", seed=3, engine="piper")
    synthesize(two, tmp_path / "b.wav", seed=3, engine="piper")
    assert hashlib.sha256((tmp_path / "a.wav").read_bytes()).digest() == \
        hashlib.sha256((tmp_path / "b.wav").read_bytes()).digest()
    assert a.engine == "piper" and a.voices["CLINICIAN"] != a.voices["PATIENT"]
    assert a.voices["PATIENT"].startswith("piper:joe")
    x, sr = read_wav(tmp_path / "a.wav")
    assert sr == 16000 and x.size / sr == pytest.approx(a.duration, abs=1e-3)
    assert all(t.start < t.end for t in a.turn_times)
    # the derived speaker is pitch-shifted: a different spectral centroid from the clinician's turn
    cen = []
    for t in a.turn_times:
        seg = x[int(t.start * sr): int(t.end * sr)].astype(np.float64)
        p = np.abs(np.fft.rfft(seg)) ** 2
        f = np.fft.rfftfreq(seg.size, 1 / sr)
        cen.append((p * f).sum() / p.sum())
    assert abs(cen[0] - cen[1]) > 50
