"""Channels: seeded bytes, SNR on the output file, the phone band, the room, errors."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from evalkit.errors import InputError
from evalkit.synth import generate_consultation, load_cards, read_wav, synthesize
from evalkit.synth.channels import ChannelSpec, apply_channel, apply_phone, make_noise, parse_snr, room_impulse_response
from evalkit.synth.tts import measured_snr


@pytest.fixture(scope="module")
def short():
    card = next(c for c in load_cards() if c.id == "gp-tonsillitis-uk-01")
    c = generate_consultation(card, 7)
    return c.model_copy(update={"turns": c.turns[:6]})


def _sha(p) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


CONDITIONS = [
    ("clean", 20.0, "pink"), ("clean", 5.0, "babble"), ("room", 10.0, "hum"), ("room", 30.0, "brown"),
    ("phone", 10.0, "pink"), ("phone", None, "pink"),
]


@pytest.mark.parametrize("name,snr,noise", CONDITIONS)
def test_same_seed_same_bytes_other_seed_other_bytes(short, tmp_path, name, snr, noise):
    spec = {"name": name, "noise": noise}
    a = synthesize(short, tmp_path / "a.wav", seed=3, channel=spec, snr_db=snr)
    b = synthesize(short, tmp_path / "b.wav", seed=3, channel=spec, snr_db=snr)
    c = synthesize(short, tmp_path / "c.wav", seed=4, channel=spec, snr_db=snr)
    assert _sha(tmp_path / "a.wav") == _sha(tmp_path / "b.wav")
    assert _sha(tmp_path / "a.wav") != _sha(tmp_path / "c.wav")
    assert a.provenance["channel"]["channel"]["name"] == name  # recorded in the provenance
    assert a.provenance["channel"]["channel"]["snr_db"] == snr
    assert a.snr_db == snr and a.duration == b.duration


@pytest.mark.parametrize("noise", ["pink", "brown", "white", "hum", "babble"])
@pytest.mark.parametrize("snr", [30.0, 5.0])
def test_measured_snr_of_the_output_file_matches_the_request(short, tmp_path, noise, snr):
    clean_audio = synthesize(short, tmp_path / "clean.wav", seed=3)
    noisy_audio = synthesize(short, tmp_path / "noisy.wav", seed=3, channel={"name": "clean", "noise": noise},
                             snr_db=snr)
    x, _ = read_wav(tmp_path / "clean.wav")
    y, _ = read_wav(tmp_path / "noisy.wav")
    got = measured_snr(x, y, clean_audio.turn_times)
    assert got == pytest.approx(snr, abs=0.5)
    assert noisy_audio.provenance["measured_snr_db"] == pytest.approx(snr, abs=0.5)


def test_room_snr_is_measured_against_the_reverberant_speech(short, tmp_path):
    dry = synthesize(short, tmp_path / "dry.wav", seed=3)
    synthesize(short, tmp_path / "room.wav", seed=3, channel="room")
    synthesize(short, tmp_path / "room10.wav", seed=3, channel="room", snr_db=10)
    x, _ = read_wav(tmp_path / "room.wav")
    y, _ = read_wav(tmp_path / "room10.wav")
    d, _ = read_wav(tmp_path / "dry.wav")
    assert measured_snr(x, y, dry.turn_times) == pytest.approx(10.0, abs=0.5)
    # reverberation fills the pauses: more energy outside the turns than the dry recording has
    from evalkit.synth.tts import speech_mask

    m = speech_mask(len(d), dry.turn_times)
    assert np.mean(x[~m] ** 2) / np.mean(x[m] ** 2) > 5 * np.mean(d[~m] ** 2) / np.mean(d[m] ** 2)


def test_phone_has_no_energy_above_4khz(short, tmp_path):
    a = synthesize(short, tmp_path / "p.wav", seed=3, channel={"name": "phone", "packet_loss": 0.05}, snr_db=20)
    y, sr = read_wav(tmp_path / "p.wav")
    assert sr == 16000  # back to 16 kHz for the scribe
    power = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(y.size, 1 / sr)
    assert power[f > 4000].sum() / power.sum() < 1e-4
    assert power[(f > 300) & (f < 3400)].sum() / power.sum() > 0.95
    info = a.provenance["channel"]["phone"]
    assert info["packets"] > 100 and 0 < info["lost"] < info["packets"] * 0.15


def test_phone_packet_loss_makes_gaps():
    rng = np.random.default_rng(0)
    t = np.arange(16000 * 4) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    y, info = apply_phone(tone, np.random.default_rng(1), packet_loss=0.2)
    assert info["lost"] == pytest.approx(0.2 * info["packets"], abs=4 * np.sqrt(0.2 * 0.8 * info["packets"]))
    frames = y[: y.size // 160 * 160].reshape(-1, 160)  # 10 ms windows: each 20 ms gap holds one
    silent = (np.sqrt(np.mean(frames ** 2, axis=1)) < 0.01).sum()
    assert silent >= info["lost"] // 2  # lost packets are audible as silent 20 ms gaps
    clean, _ = apply_phone(tone, rng, packet_loss=0.0)
    assert np.sqrt(np.mean(clean[4000:-4000] ** 2)) > 0.2  # a tone inside the band passes


def test_room_impulse_response_decays_at_rt60():
    rng = np.random.default_rng(0)
    for rt60 in (0.3, 0.9):
        h = room_impulse_response(rt60, rng, distance_m=3.0)
        e = np.cumsum(h[::-1] ** 2)[::-1]  # Schroeder backward integration
        edc = 10 * np.log10(e / e[0])
        t = np.arange(h.size) / 16000
        i5, i25 = np.argmax(edc < -5), np.argmax(edc < -25)
        t60 = 3 * (t[i25] - t[i5])  # T20 extrapolated
        assert t60 == pytest.approx(rt60, rel=0.25)


def test_farther_microphone_is_quieter_and_more_reverberant(short):
    x = np.zeros(16000)
    x[100] = 0.1  # small enough that nothing is limited
    near, _ = apply_channel(x, [], {"name": "room", "mic_distance_m": 0.5}, seed=1)
    far, _ = apply_channel(x, [], {"name": "room", "mic_distance_m": 4.0}, seed=1)
    assert np.max(np.abs(far)) < np.max(np.abs(near)) / 4
    direct = lambda h: np.max(np.abs(h)) ** 2 / np.sum(h ** 2)  # noqa: E731
    assert direct(far) < direct(near)


def test_noises_are_unit_power_and_seeded():
    for kind in ("pink", "brown", "white", "hum", "babble"):
        a = make_noise(kind, 32000, np.random.default_rng(5))
        b = make_noise(kind, 32000, np.random.default_rng(5))
        assert np.mean(a ** 2) == pytest.approx(1.0, rel=1e-6)
        assert np.array_equal(a, b)
    pink = make_noise("pink", 64000, np.random.default_rng(1))
    p = np.abs(np.fft.rfft(pink)) ** 2
    f = np.fft.rfftfreq(pink.size, 1 / 16000)
    assert p[(f > 100) & (f < 200)].mean() > 10 * p[(f > 4000) & (f < 8000)].mean()  # 1/f slope


def test_bad_channel_options_are_input_errors(short, tmp_path):
    with pytest.raises(InputError, match="unknown channel"):
        synthesize(short, tmp_path / "x.wav", channel="tin-can")
    with pytest.raises(InputError, match="noise"):
        ChannelSpec(noise="traffic")
    with pytest.raises(InputError, match="rt60"):
        ChannelSpec(name="room", rt60=9)
    with pytest.raises(InputError, match="unknown channel option"):
        ChannelSpec.coerce({"name": "phone", "codec": "opus"})
    assert parse_snr("inf") is None and parse_snr(" 12.5 ") == 12.5
    with pytest.raises(InputError, match="not a number"):
        parse_snr("loud")
