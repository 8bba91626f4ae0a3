"""PriMock57 importer: mock primary-care consultations with audio, transcripts and notes.

Layout of a PriMock57 folder (Babylon Health, 2022)::

    transcripts/day1_consultation01_doctor.TextGrid   one interval tier per speaker, with times
    transcripts/day1_consultation01_patient.TextGrid  (one file holding both tiers works too)
    notes/day1_consultation01.json                    {presenting_complaint, note, highlights...}
    audio/day1_consultation01_doctor.wav              optional; one channel per speaker, 16 kHz

Utterances become turns (with start/end times); the free-text note (``PMH:``, ``DH:``,
``Imp:``, ``Plan:``...) becomes a ``HISTORY_AND_PHYSICAL`` note; the two speakers' WAVs are
mixed into one file next to the database when an ``audio_root`` is given.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import InputError
from ..schema import Audio, Case, Clinician, Consultation, SpeakerRole, Turn, TurnTime
from ..text.parse import is_heading, parse_note, speaker_role
from .textgrid import read_textgrid

TEMPLATE = "HISTORY_AND_PHYSICAL"
_SUFFIX = re.compile(r"[_-](doctor|clinician|patient)$", re.I)
_TAG = re.compile(r"</?[A-Za-z]+/?>")

#: free-text note labels (lower case, without the colon) → heading understood by the template
NOTE_LABELS = {
    "hpc": "HISTORY OF PRESENT ILLNESS", "hpi": "HISTORY OF PRESENT ILLNESS", "pc": "HISTORY OF PRESENT ILLNESS",
    "presenting complaint": "HISTORY OF PRESENT ILLNESS", "history": "HISTORY OF PRESENT ILLNESS",
    "ros": "REVIEW OF SYSTEMS", "systems review": "REVIEW OF SYSTEMS",
    "pmh": "PAST MEDICAL HISTORY", "pmhx": "PAST MEDICAL HISTORY", "past medical history": "PAST MEDICAL HISTORY",
    "psh": "PAST MEDICAL HISTORY", "medical history": "PAST MEDICAL HISTORY",
    "dh": "MEDICATIONS", "dhx": "MEDICATIONS", "meds": "MEDICATIONS", "medications": "MEDICATIONS",
    "medication": "MEDICATIONS", "drug history": "MEDICATIONS", "allergies": "ALLERGIES", "allergy": "ALLERGIES",
    "sh": "SOCIAL HISTORY", "shx": "SOCIAL HISTORY", "social history": "SOCIAL HISTORY", "social": "SOCIAL HISTORY",
    "fh": "FAMILY HISTORY", "fhx": "FAMILY HISTORY", "family history": "FAMILY HISTORY",
    "o/e": "PHYSICAL EXAMINATION", "oe": "PHYSICAL EXAMINATION", "exam": "PHYSICAL EXAMINATION",
    "examination": "PHYSICAL EXAMINATION", "on examination": "PHYSICAL EXAMINATION",
    "imp": "ASSESSMENT", "impression": "ASSESSMENT", "assessment": "ASSESSMENT", "diagnosis": "ASSESSMENT",
    "dx": "ASSESSMENT", "ddx": "ASSESSMENT", "plan": "PLAN", "mx": "PLAN", "management": "PLAN",
}
_LABEL = re.compile(r"^\s*([A-Za-z][A-Za-z/ ]{0,24}?)\s*[:\-]\s*(.*)$")


def clean_utterance(text: str) -> str:
    """Drop transcriber tags (``<UNSURE>``, ``</UNSURE>``, ``<UNIN/>``) and squeeze spaces."""
    return re.sub(r"\s+", " ", _TAG.sub(" ", text)).strip()


def note_to_text(note: str) -> str:
    """Turn a PriMock57 free-text note into text with upper-case headings.

    Args:
        note: the clinician's note, e.g. ``"3/7 hx of ...\\nPMH: Asthma\\nPlan:\\n..."``.
    """
    out: list[str] = []
    for line in note.splitlines():
        m = _LABEL.match(line)
        heading = NOTE_LABELS.get(m.group(1).strip().lower()) if m else None
        if heading:
            out += ["", heading, ""]
            if m.group(2).strip():
                out.append(m.group(2).strip())
        else:
            if not out and line.strip():
                out += ["HISTORY OF PRESENT ILLNESS", ""]
            # an all-capitals body line ("NKDA") must not be read back as a heading
            out.append(line.rstrip() + "." if is_heading(line) else line.rstrip())
    return "\n".join(out).strip()


def _consultation_id(stem: str) -> str:
    return _SUFFIX.sub("", stem)


def read_turns(files: list[Path]) -> list[Turn]:
    """Merge the speaker tiers of one consultation into time-ordered turns.

    Args:
        files: the consultation's TextGrid files (one per speaker, or one with several tiers).
    """
    utts: list[tuple[float, float, SpeakerRole, str]] = []
    for f in files:
        m = _SUFFIX.search(f.stem)
        file_role = speaker_role(m.group(1)) if m else SpeakerRole.OTHER
        for tier in read_textgrid(f):
            role = speaker_role(tier.name)
            if role is SpeakerRole.OTHER:
                role = file_role
            for iv in tier.intervals:
                text = clean_utterance(iv.text)
                if text:
                    utts.append((iv.start, iv.end, role, text))
    order = {SpeakerRole.CLINICIAN: 0, SpeakerRole.PATIENT: 1, SpeakerRole.OTHER: 2}
    utts.sort(key=lambda u: (u[0], order[u[2]]))
    return [Turn(id=i, speaker=r, text=t, start=round(s, 3), end=round(e, 3)) for i, (s, e, r, t) in enumerate(utts)]


def _mix_audio(cid: str, wavs: list[Path], turns: list[Turn], audio_root: Path, dataset: str) -> Audio:
    import numpy as np
    import soundfile as sf

    from ..security.audio_check import checked_info

    chans, rate = [], None
    for w in wavs:
        checked_info(w)  # rate, channels and duration sane before a sample is decoded
        data, sr = sf.read(str(w), dtype="float32", always_2d=True)
        if rate is not None and sr != rate:
            raise InputError(str(w), "sample rate", f"{sr} Hz differs from {rate} Hz of the other speaker",
                             "resample both WAVs to the same rate")
        rate = sr
        chans.append(data.mean(axis=1))
    n = max(len(c) for c in chans)
    mix = np.zeros(n, dtype="float32")
    for c in chans:
        mix[: len(c)] += c
    peak = float(np.abs(mix).max()) if n else 0.0
    if peak > 1.0:
        mix /= peak
    rel = Path("audio") / dataset / f"{cid}.wav"
    out = audio_root / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), mix, rate, subtype="PCM_16")
    return Audio(path=rel.as_posix(), sample_rate=int(rate), duration=round(n / rate, 3),
                 turn_times=[TurnTime(turn_id=t.id, start=t.start, end=t.end) for t in turns
                             if t.start is not None and t.end is not None],
                 engine="recorded", provenance={"source": "primock57", "files": [w.name for w in wavs]})


def load_primock57(directory: str | Path, dataset: str = "primock57",
                   audio_root: str | Path | None = None) -> tuple[list[Consultation], dict[str, Audio]]:
    """Load a PriMock57 folder.

    Args:
        directory: folder holding ``transcripts/`` and ``notes/`` (and optionally ``audio/``).
        dataset: the store dataset name.
        audio_root: when given, each consultation's speaker WAVs are mixed into
            ``audio_root/audio/<dataset>/<id>.wav`` and an :class:`Audio` record (path relative
            to ``audio_root``) is returned for it. Use the store's root.

    Returns:
        The consultations and ``{consultation id: Audio}`` for those with audio.

    Raises:
        InputError: missing folders, a malformed TextGrid or note, naming the file and the fix.
    """
    root = Path(directory)
    tdir, ndir, adir = root / "transcripts", root / "notes", root / "audio"
    if not tdir.is_dir():
        raise InputError(str(root), "transcripts/", "folder not found",
                         "point at the PriMock57 folder that holds transcripts/ and notes/")
    groups: dict[str, list[Path]] = {}
    for f in sorted(tdir.glob("*.TextGrid")):
        groups.setdefault(_consultation_id(f.stem), []).append(f)
    if not groups:
        raise InputError(str(tdir), None, "has no .TextGrid files", "give the PriMock57 transcripts folder")
    items: list[Consultation] = []
    audio: dict[str, Audio] = {}
    for cid, files in groups.items():
        turns = read_turns(files)
        if not turns:
            raise InputError(str(files[0]), "intervals", "no utterance has text", "check the transcript tiers")
        npath = ndir / f"{cid}.json"
        if not npath.is_file():
            raise InputError(str(npath), None, "note file not found",
                             f"add notes/{cid}.json or remove the consultation's TextGrid files")
        try:
            meta = json.loads(npath.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(str(npath), None, f"is not valid UTF-8 JSON ({type(e).__name__})",
                             "fix or re-download the note file") from None
        note_text = meta.get("note") if isinstance(meta, dict) else None
        if not isinstance(note_text, str) or not note_text.strip():
            raise InputError(str(npath), "note", "is missing or empty", "give the clinician's note text")
        note = parse_note(note_to_text(note_text), TEMPLATE, source=str(npath))
        case = Case(id=cid, specialty="primary care", setting="remote GP consultation", region="UK",
                    clinician=Clinician(name="the clinician", role="GP"),
                    chief_complaint=str(meta.get("presenting_complaint") or "not recorded").strip(),
                    template=TEMPLATE, source="primock57",
                    metadata={k: meta[k] for k in ("day", "consultation", "highlights") if k in meta})
        items.append(Consultation(id=cid, case=case, turns=turns, reference_note=note, template=TEMPLATE,
                                  dataset=dataset, generator="primock57", generator_version="1"))
        if audio_root is not None and adir.is_dir():
            wavs = sorted(adir.glob(f"{cid}_*.wav")) or sorted(adir.glob(f"{cid}.wav"))
            if wavs:
                audio[cid] = _mix_audio(cid, wavs, turns, Path(audio_root), dataset)
    return items, audio
