"""Hugging Face ``datasets`` importer: any source, a column mapping, Consultations out.

Sources: a local parquet/json/jsonl/csv/arrow file or folder of them, a folder written by
``Dataset.save_to_disk``, or a hub dataset name (needs network; evalkit itself never downloads
at run time). The mapping says which column holds what, e.g.
``{"dialogue": "conversation", "note": "soap_note", "id": "encounter_id"}``.

Dialogues may be ACI-Bench text (``[doctor] ...``), ``Doctor: ...`` lines, or a list of turns
as ``{speaker|role|from, text|content|value}`` dicts; notes are text with upper-case headings
(or a dict of section → text).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..context import case_from_context
from ..schema import Case, Consultation, Persona
from ..text.parse import parse_note, parse_transcript

FIELDS = ("id", "dialogue", "note", "specialty", "chief_complaint", "template",
          # the record, evidence for the judge beside the dialogue (evalkit.context)
          "age", "sex", "name", "medications", "conditions", "allergies")
GUESSES = {
    "id": ("id", "encounter_id", "ID", "dialogue_id", "case_id"),
    "dialogue": ("dialogue", "conversation", "transcript", "dialog", "src", "input"),
    "note": ("note", "soap", "soap_note", "reference_note", "summary", "section_text", "tgt", "output"),
}
_FILE_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}
_PLAIN_SPEAKER = re.compile(r"^\s*([A-Za-z][A-Za-z _]{0,24}?)\s*:\s*(.*)$")


def parse_mapping(spec: str) -> dict[str, str]:
    """Parse ``"dialogue=conversation,note=soap"`` into ``{"dialogue": "conversation", ...}``.

    Args:
        spec: comma-separated ``field=column`` pairs; fields are those in :data:`FIELDS`.
    """
    out: dict[str, str] = {}
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        if "=" not in part:
            raise InputError("--map", part, "is not field=column", "write e.g. dialogue=conversation,note=soap")
        k, v = (s.strip() for s in part.split("=", 1))
        if k not in FIELDS:
            raise InputError("--map", k, "is not a field evalkit reads", f"use one of: {', '.join(FIELDS)}")
        if not v:
            raise InputError("--map", k, "has no column name", f"write {k}=COLUMN")
        out[k] = v
    return out


def default_dataset_name(source: str) -> str:
    """A store dataset name from a source: the file stem, or the hub name with ``/`` → ``-``."""
    p = Path(source)
    base = p.stem if p.exists() else source.replace("/", "-")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-") or "hf"


def open_hf_dataset(source: str | Path, split: str = "train") -> Any:
    """Open a ``datasets.Dataset`` from a local file/folder, a save_to_disk folder or a hub name.

    Args:
        source: where the data is.
        split: the split to read (for single files, the name given to the file's rows).
    """
    import datasets

    src = str(source)
    p = Path(src)
    try:
        if p.is_dir() and any((p / m).exists() for m in ("dataset_info.json", "state.json", "dataset_dict.json")):
            ds = datasets.load_from_disk(src)
            if isinstance(ds, datasets.DatasetDict):
                if split not in ds:
                    raise InputError(src, "--split", f"no split {split!r}", f"use one of: {', '.join(ds)}")
                ds = ds[split]
            return ds
        if p.is_file():
            builder = _FILE_BUILDERS.get(p.suffix.lower())
            if builder is None:
                raise InputError(src, None, f"unsupported file type {p.suffix!r}",
                                 f"give one of: {', '.join(_FILE_BUILDERS)}")
            return datasets.load_dataset(builder, data_files={split: src}, split=split)
        if p.is_dir():
            return datasets.load_dataset(src, split=split)
        return datasets.load_dataset(src, split=split)
    except InputError:
        raise
    except Exception as e:  # datasets raises many types; keep one line, no data
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        fix = ("check the split name and the file format" if p.exists()
               else "give a local file or folder, or connect to the network for a hub dataset")
        raise InputError(src, None, f"could not be opened as a dataset ({type(e).__name__}: {first})", fix) from None


def _turns_value(value: Any) -> Any:
    """Normalise the common dialogue shapes to what :func:`parse_transcript` reads."""
    if isinstance(value, str):
        lines = [ln for ln in value.splitlines() if ln.strip()]
        if lines and not lines[0].lstrip().startswith("[") and _PLAIN_SPEAKER.match(lines[0]):
            return "\n".join(_PLAIN_SPEAKER.sub(r"[\1] \2", ln) if _PLAIN_SPEAKER.match(ln) else ln for ln in lines)
        return value
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return _turns_value("\n".join(value))
        out = []
        for v in value:
            if isinstance(v, dict):
                speaker = next((v[k] for k in ("speaker", "role", "from", "name") if v.get(k) is not None), "other")
                text = next((v[k] for k in ("text", "content", "value", "utterance") if v.get(k) is not None), None)
                out.append({"speaker": str(speaker), "text": "" if text is None else str(text),
                            "start": v.get("start"), "end": v.get("end")})
            else:
                out.append(v)
        return out
    return value


def _note_text(value: Any) -> Any:
    if isinstance(value, dict):
        return "\n\n".join(f"{str(k).replace('_', ' ').upper()}\n\n{v}" for k, v in value.items() if v)
    return value


def _resolve(columns: list[str], mapping: dict[str, str], source: str) -> dict[str, str]:
    cols = dict(mapping)
    for f, guesses in GUESSES.items():
        if f not in cols:
            hit = next((g for g in guesses if g in columns), None)
            if hit:
                cols[f] = hit
    for f in ("dialogue", "note"):
        if f not in cols:
            raise InputError(source, f, f"no column for {f} (columns: {', '.join(columns)})",
                             f"map it with --map {f}=COLUMN")
    for f, c in cols.items():
        if c.split(".")[0] not in columns:
            raise InputError(source, f"--map {f}={c}", "column not found", f"use one of: {', '.join(columns)}")
    return cols


def _get(row: dict, column: str) -> Any:
    v: Any = row
    for part in column.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    return v


def load_hf(source: str | Path, split: str = "train", mapping: dict[str, str] | None = None,
            dataset: str | None = None, template: str = "SOAP", limit: int | None = None) -> list[Consultation]:
    """Load consultations from any Hugging Face ``datasets`` source.

    Args:
        source: a local data file or folder, a save_to_disk folder, or a hub name.
        split: which split to read.
        mapping: field → column (fields: id, dialogue, note, specialty, chief_complaint, template,
            and the record: age, sex, name, medications, conditions, allergies; ``a.b`` reads a nested
            field). Unmapped id/dialogue/note are guessed from common names.
        dataset: the store dataset name (default: from the source).
        template: template used to parse reference notes when no template column is mapped.
        limit: read only the first N rows.

    Raises:
        InputError: the source cannot be opened, a column is missing, or a row's dialogue or
            note is empty (naming the row and the fix).
    """
    src = str(source)
    name = dataset or default_dataset_name(src)
    ds = open_hf_dataset(src, split)
    cols = _resolve(list(ds.column_names), mapping or {}, src)
    n = len(ds) if limit is None else min(limit, len(ds))
    out: list[Consultation] = []
    seen: set[str] = set()
    for i in range(n):
        try:
            row = ds[i]
        except Exception as e:  # Arrow decodes rows lazily: bad UTF-8, mixed types...
            raise InputError(f"{src}: row {i + 1}", None, f"could not be read ({type(e).__name__})",
                             "save the file as UTF-8 with the same type in a column on every row") from None
        raw_id = _get(row, cols["id"]) if "id" in cols else None
        if raw_id is None or str(raw_id).strip() == "":
            cid = f"{name}-{i:05d}"
        else:
            cid = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(raw_id).strip()).strip("-.") or f"{name}-{i:05d}"
            if cid[0].isdigit() or not cid[0].isalnum():
                cid = f"{name}-{cid}"
        where = f"{src}: row {i + 1} ({cid})"
        if cid in seen:
            raise InputError(where, cols.get("id", "id"), "is duplicated", "map id to a unique column")
        seen.add(cid)
        dialogue = _get(row, cols["dialogue"])
        note_val = _note_text(_get(row, cols["note"]))
        if dialogue is None or (isinstance(dialogue, str) and not dialogue.strip()):
            raise InputError(where, cols["dialogue"], "is empty", "drop the row or map dialogue to another column")
        if note_val is None or (isinstance(note_val, str) and not note_val.strip()):
            raise InputError(where, cols["note"], "is empty", "drop the row or map note to another column")
        tpl = str(_get(row, cols["template"]) or template) if "template" in cols else template
        turns = parse_transcript(_turns_value(dialogue), source=where)
        note = parse_note(note_val, tpl, source=where)
        cc = _get(row, cols["chief_complaint"]) if "chief_complaint" in cols else None
        spec = _get(row, cols["specialty"]) if "specialty" in cols else None
        record = {f: _get(row, cols[f]) for f in ("age", "sex", "name", "medications", "conditions", "allergies")
                  if f in cols and _get(row, cols[f]) not in (None, "")}
        extra = case_from_context(record, where, cid) if record else None
        case = Case(id=cid, specialty=str(spec or "general"), chief_complaint=str(cc or "not recorded"),
                    template=tpl, source=f"hf:{default_dataset_name(src)}",
                    persona=extra.persona if extra else Persona(), medications=extra.medications if extra else [],
                    conditions=extra.conditions if extra else [], allergies=extra.allergies if extra else [],
                    metadata={"hf_source": Path(src).name if Path(src).exists() else src, "hf_split": split,
                              "hf_row": i})
        out.append(Consultation(id=cid, case=case, turns=turns, reference_note=note, template=tpl, dataset=name,
                                generator="hf", generator_version="1"))
    if not out:
        raise InputError(src, "--split", f"split {split!r} has no rows", "choose a split that has data")
    return out
