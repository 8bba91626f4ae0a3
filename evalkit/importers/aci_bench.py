"""ACI-Bench importer: CSVs of ``dataset, encounter_id, dialogue, note`` → Consultations.

ACI-Bench (Yim et al., Nature Scientific Data 2023, CC BY 4.0) pairs real doctor–patient
dialogues with clinician-written notes. Each row becomes a :class:`~evalkit.schema.Consultation`
whose case id is the encounter id, whose turns come from :func:`evalkit.text.parse.parse_transcript`
and whose reference note is parsed with the ``HISTORY_AND_PHYSICAL`` template. The optional
metadata CSV (``*_metadata.csv``) adds the patient's age, sex and name and the chief complaint.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..paths import datasets_dir
from ..schema import Case, Clinician, Consultation, Persona, Sex
from ..text.parse import parse_note, parse_transcript

TEMPLATE = "HISTORY_AND_PHYSICAL"
REQUIRED_COLUMNS = ("encounter_id", "dialogue", "note")
METADATA_KEY = "encounter_id"
SAMPLE_DIR = "aci-bench-sample"

_PRONOUNS = {Sex.FEMALE: "she/her", Sex.MALE: "he/him"}


#: the largest CSV field read (a whole dialogue); Python's csv default of 128 KB refuses real long visits
FIELD_LIMIT_BYTES = 16 * 1024 * 1024


@dataclass
class CsvRows:
    """Rows of a CSV read leniently: the good rows with their numbers, and a problem per bad row."""

    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (row number, row)
    problems: list[tuple[int, InputError]] = field(default_factory=list)  # (row number, what is wrong)


def read_csv_report(path: Path, required: tuple[str, ...], fix: str) -> CsvRows:
    """Read a UTF-8 CSV row by row; a bad row is listed (file, row, fix), never fatal for the others.

    A byte-order mark and Windows line endings are taken as they are; a field may hold up to
    ``FIELD_LIMIT_BYTES``. A row with bytes that are not UTF-8 is a problem of its own; a broken
    quote stops the reading at that row (the rows before it are kept).

    Args:
        path: the CSV file.
        required: column names that must be present in the header.
        fix: what to tell the user when a column is missing.

    Raises:
        InputError: the file is missing or its header lacks a required column (nothing to import).
    """
    if not path.is_file():
        raise InputError(str(path), None, "file not found", "give the path of an existing CSV file")
    text = path.read_bytes().decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    if csv.field_size_limit() < FIELD_LIMIT_BYTES:
        csv.field_size_limit(FIELD_LIMIT_BYTES)
    out = CsvRows()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as e:
        raise InputError(str(path), "header", f"is not valid CSV ({e})", "check the first line") from None
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(str(path), f"column {missing[0]!r}",
                         f"missing (header has: {', '.join(header) or 'nothing'})", fix)
    n = 0
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            big = "larger than field limit" in str(e)
            out.problems.append((n + 1, InputError(
                str(path), f"row {n + 1} (line {line})",
                f"has a field over {FIELD_LIMIT_BYTES // 2**20} MB" if big else f"is not valid CSV ({e})",
                "split the encounter or shorten the field" if big else
                "check the quotes of this row's multi-line cells; rows after it were not read")))
            break
        n += 1
        bad = next((v for v in row.values() if isinstance(v, str) and _NOT_UTF8.search(v)), None)
        if bad is not None:
            byte = ord(_NOT_UTF8.search(bad).group()) - 0xDC00  # type: ignore[union-attr]
            out.problems.append((n, InputError(str(path), f"row {n} (line {line})", f"is not UTF-8 (byte 0x{byte:02x})",
                                               "re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8")))
            continue
        out.rows.append((n, row))
    return out


_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def read_csv_rows(path: Path, required: tuple[str, ...], fix: str) -> list[dict[str, str]]:
    """Read a UTF-8 CSV into dicts; the first bad row raises (:func:`read_csv_report` lists them all).

    Args:
        path: the CSV file.
        required: column names that must be present in the header.
        fix: what to tell the user when a column is missing.
    """
    got = read_csv_report(path, required, fix)
    if got.problems:
        raise got.problems[0][1]
    return [r for _, r in got.rows]


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


@dataclass
class ImportReport:
    """What an import read: the consultations, the rows it skipped and the rows it repaired."""

    items: list[Consultation] = field(default_factory=list)
    problems: list[InputError] = field(default_factory=list)  # skipped rows: file, row, field, fix
    warnings: list[str] = field(default_factory=list)  # rows taken with a repair, one line each


def read_aci_bench(csv_path: str | Path, metadata: str | Path | None = None,
                   dataset: str = "aci-bench") -> ImportReport:
    """Read an ACI-Bench CSV as published: good rows become consultations, bad rows are listed.

    One bad row (empty dialogue or note, duplicate or malformed id, bytes that are not UTF-8, a
    broken quote) never refuses the file; a dialogue whose first turn has no speaker tag is
    taken with a warning, its role inferred. Roles other than doctor/patient (``[patient_guest]``)
    are kept as ``OTHER`` speakers.

    Args:
        csv_path: the ACI-Bench CSV, e.g. ``valid.csv``.
        metadata: optional ``*_metadata.csv`` for patient age/sex/name and chief complaint.
        dataset: the store dataset name given to every consultation.

    Raises:
        InputError: the file is missing, or a required column is (nothing could be imported).
    """
    path = Path(csv_path)
    got = read_csv_report(path, REQUIRED_COLUMNS, "ACI-Bench CSVs have the columns dataset, encounter_id, dialogue, note")
    meta = load_metadata(metadata) if metadata else {}
    rep = ImportReport()
    problems = list(got.problems)
    seen: set[str] = set()
    for n, row in got.rows:
        try:
            rep.items.append(_consultation(path, n, row, meta, seen, dataset, rep.warnings.append))
        except InputError as e:
            problems.append((n, e))
    rep.problems = [e for _, e in sorted(problems, key=lambda p: p[0])]
    return rep


def _consultation(path: Path, n: int, row: dict[str, str], meta: dict[str, dict[str, str]], seen: set[str],
                  dataset: str, warn: Any) -> Consultation:
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
    turns = parse_transcript(dialogue, source=where, warn=warn)
    note = parse_note(note_text, TEMPLATE, source=where)
    cc_sec = next((s for s in note.sections if s.key == "chief_complaint" and s.sentences), None)
    note_cc = cc_sec.sentences[0].text.rstrip(".") if cc_sec else None
    try:
        case = _case(eid, row, meta.get(eid), note_cc)
    except ValueError as e:  # pydantic: e.g. an encounter id that is not a slug
        from ..errors import pydantic_to_input_error

        raise pydantic_to_input_error(where, e, "encounter ids use letters, digits, '-', '_' or '.'") from None
    return Consultation(id=eid, case=case, turns=turns, reference_note=note, template=TEMPLATE,
                        dataset=dataset, generator="aci-bench", generator_version="1")


def load_aci_bench(csv_path: str | Path, metadata: str | Path | None = None,
                   dataset: str = "aci-bench") -> list[Consultation]:
    """Load an ACI-Bench CSV (``dataset, encounter_id, dialogue, note``) as consultations, strictly.

    Args:
        csv_path: the ACI-Bench CSV, e.g. ``valid.csv``.
        metadata: optional ``*_metadata.csv`` for patient age/sex/name and chief complaint.
        dataset: the store dataset name given to every consultation.

    Raises:
        InputError: the first bad row (a non-UTF-8 row, a missing column, an empty dialogue or
            note...), naming the file, the row and the fix. :func:`read_aci_bench` skips bad
            rows instead and lists them.
    """
    path = Path(csv_path)
    rep = read_aci_bench(path, metadata, dataset)
    if rep.problems:
        raise rep.problems[0]
    if not rep.items:
        raise InputError(str(path), None, "has no data rows", "give a CSV with at least one encounter")
    return rep.items


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
