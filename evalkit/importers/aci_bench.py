"""ACI-Bench importer: CSVs of ``dataset, encounter_id, dialogue, note`` → Consultations.

ACI-Bench (Yim et al., Nature Scientific Data 2023, CC BY 4.0) pairs real doctor–patient
dialogues with clinician-written notes. Each row becomes a :class:`~evalkit.schema.Consultation`
whose case id is the encounter id, whose turns come from :func:`evalkit.text.parse_transcript`
and whose reference note is parsed with the ``HISTORY_AND_PHYSICAL`` template. The optional
metadata CSV (``*_metadata.csv``) adds the patient's age, sex and name and the chief complaint.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..paths import datasets_dir
from ..schema import Case, Clinician, Consultation, Persona, Sex
from ..text import parse_note, parse_transcript

TEMPLATE = "HISTORY_AND_PHYSICAL"
REQUIRED_COLUMNS = ("encounter_id", "dialogue", "note")
METADATA_KEY = "encounter_id"
SAMPLE_DIR = "aci-bench-sample"

_PRONOUNS = {Sex.FEMALE: "she/her", Sex.MALE: "he/him"}


def read_csv_rows(path: Path, required: tuple[str, ...], fix: str) -> list[dict[str, str]]:
    """Read a UTF-8 CSV into dicts, with one-line errors for bad encoding or missing columns.

    Args:
        path: the CSV file.
        required: column names that must be present in the header.
        fix: what to tell the user when a column is missing.
    """
    if not path.is_file():
        raise InputError(str(path), None, "file not found", "give the path of an existing CSV file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        prefix = raw[: e.start].decode("utf-8", errors="replace")
        line = prefix.count("\n") + 1
        row = max(len(list(csv.reader(io.StringIO(prefix)))) - 1, 1)
        raise InputError(str(path), f"row {row} (line {line})",
                         f"is not UTF-8 (byte 0x{raw[e.start]:02x})",
                         "re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8") from None
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        rows = list(reader)
    except csv.Error as e:
        raise InputError(str(path), None, f"is not a valid CSV ({e})", "check quoting of multi-line cells") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(str(path), f"column {missing[0]!r}",
                         f"missing (header has: {', '.join(header) or 'nothing'})", fix)
    return rows


def _clean(v: Any) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s if s and s.lower() not in {"nan", "none", "null", "n/a"} else None


def _name(first: str | None, last: str | None) -> str | None:
    parts = [p for p in (first, last) if p]
    if not parts:
        return None
    name = " ".join(parts)
    return name.title() if name == name.lower() else name


def parse_age(value: Any) -> int | None:
    """Age in whole years from ACI-Bench's free-form ages (``58``, ``61.0``, ``22-month``)."""
    s = _clean(value)
    if s is None:
        return None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*[- ]?\s*(year|yr|y|month|mo|m|week|wk|w|day|d)?", s.lower())
    if not m:
        return None
    n = float(m.group(1))
    unit = (m.group(2) or "y")[0]
    years = {"y": n, "m": n / 12, "w": n / 52, "d": n / 365}[unit]
    return int(years) if 0 <= years <= 120 else None


def parse_sex(value: Any) -> Sex:
    s = (_clean(value) or "").lower()
    if s in {"female", "f", "woman"}:
        return Sex.FEMALE
    if s in {"male", "m", "man"}:
        return Sex.MALE
    return Sex.OTHER if s in {"other", "non-binary", "nonbinary"} else Sex.UNKNOWN


def load_metadata(path: str | Path) -> dict[str, dict[str, str]]:
    """Read an ACI-Bench metadata CSV into ``{encounter_id: row}``.

    Args:
        path: a ``*_metadata.csv`` with at least an ``encounter_id`` column.
    """
    p = Path(path)
    rows = read_csv_rows(p, (METADATA_KEY,), "use the ACI-Bench *_metadata.csv (columns dataset, encounter_id, "
                                              "patient_gender, patient_age, ..., cc)")
    return {r[METADATA_KEY].strip(): r for r in rows if _clean(r.get(METADATA_KEY))}


def _case(eid: str, row: dict[str, str], meta: dict[str, str] | None, note_cc: str | None) -> Case:
    meta = meta or {}
    sex = parse_sex(meta.get("patient_gender"))
    persona: dict[str, Any] = {"sex": sex, "pronouns": _PRONOUNS.get(sex, "they/them")}
    age = parse_age(meta.get("patient_age"))
    if age is not None:
        persona["age"] = age
    name = _name(_clean(meta.get("patient_firstname")), _clean(meta.get("patient_familyname")))
    if name:
        persona["name"] = name
    doctor = _clean(meta.get("doctor_name"))
    clinician = Clinician(name=f"Dr {doctor.title() if doctor == doctor.lower() else doctor}" if doctor
                          else "the clinician")
    cc = _clean(meta.get("cc")) or note_cc or "not recorded"
    secondary = [s.strip() for s in (_clean(meta.get("2nd_complaints")) or "").split(";")
                 if s.strip() and s.strip().lower() != "none"]
    extra = {k: v for k, v in {
        "aci_subset": _clean(row.get("dataset")) or _clean(meta.get("dataset")),
        "aci_id": _clean(meta.get("id")),
        "patient_age_raw": _clean(meta.get("patient_age")),
        "secondary_complaints": secondary or None,
    }.items() if v is not None}
    return Case(id=eid, specialty=_clean(meta.get("specialty")) or "general", persona=Persona(**persona),
                clinician=clinician, chief_complaint=cc, template=TEMPLATE,
                source="aci-bench", metadata=extra)


def load_aci_bench(csv_path: str | Path, metadata: str | Path | None = None,
                   dataset: str = "aci-bench") -> list[Consultation]:
    """Load an ACI-Bench CSV (``dataset, encounter_id, dialogue, note``) as consultations.

    Args:
        csv_path: the ACI-Bench CSV, e.g. ``valid.csv``.
        metadata: optional ``*_metadata.csv`` for patient age/sex/name and chief complaint.
        dataset: the store dataset name given to every consultation.

    Raises:
        InputError: a non-UTF-8 file, a missing column, or an empty dialogue or note (naming
            the file, the row and the fix).
    """
    path = Path(csv_path)
    rows = read_csv_rows(path, REQUIRED_COLUMNS,
                         "ACI-Bench CSVs have the columns dataset, encounter_id, dialogue, note")
    meta = load_metadata(metadata) if metadata else {}
    out: list[Consultation] = []
    seen: set[str] = set()
    for n, row in enumerate(rows, start=1):
        eid = _clean(row.get("encounter_id"))
        if not eid:
            raise InputError(str(path), f"row {n}: encounter_id", "is empty", "give every row an encounter id")
        where = f"{path}: row {n} ({eid})"
        if eid in seen:
            raise InputError(where, "encounter_id", "is duplicated", "keep one row per encounter")
        seen.add(eid)
        dialogue, note_text = row.get("dialogue") or "", row.get("note") or ""
        if not dialogue.strip():
            raise InputError(where, "dialogue", "is empty", "give the dialogue as '[doctor] ...' lines, or drop the row")
        if not note_text.strip():
            raise InputError(where, "note", "is empty", "give the reference note text, or drop the row")
        turns = parse_transcript(dialogue, source=where)
        note = parse_note(note_text, TEMPLATE, source=where)
        cc_sec = next((s for s in note.sections if s.key == "chief_complaint" and s.sentences), None)
        note_cc = cc_sec.sentences[0].text.rstrip(".") if cc_sec else None
        try:
            case = _case(eid, row, meta.get(eid), note_cc)
        except ValueError as e:  # pydantic: e.g. an encounter id that is not a slug
            from ..errors import pydantic_to_input_error

            raise pydantic_to_input_error(where, e, "encounter ids use letters, digits, '-', '_' or '.'") from None
        out.append(Consultation(id=eid, case=case, turns=turns, reference_note=note, template=TEMPLATE,
                                dataset=dataset, generator="aci-bench", generator_version="1"))
    if not out:
        raise InputError(str(path), None, "has no data rows", "give a CSV with at least one encounter")
    return out


def find_metadata(csv_path: str | Path) -> Path | None:
    """The ``<stem>_metadata.csv`` next to an ACI-Bench CSV, if there is one."""
    p = Path(csv_path)
    cand = p.with_name(f"{p.stem}_metadata.csv")
    return cand if cand.is_file() and cand != p else None


def sample_path() -> Path:
    """The shipped 3-encounter sample (``datasets/aci-bench-sample/valid.csv``)."""
    return datasets_dir() / SAMPLE_DIR / "valid.csv"


def load_aci_bench_sample(dataset: str = "aci-bench-sample") -> list[Consultation]:
    """Load the shipped ACI-Bench sample (3 encounters from the valid split, with metadata)."""
    p = sample_path()
    return load_aci_bench(p, find_metadata(p), dataset=dataset)
