"""``replay``: outputs computed elsewhere, read from a CSV or JSONL file keyed by case id.

Use it to score a scribe that cannot run here (a vendor's export, last month's outputs). Each
row holds ``id``, ``transcript`` (ACI-Bench ``[doctor] ...`` text or a JSON list of
``{speaker, text}``) and ``note`` (plain text with upper-case headings); optional ``latency_s``,
``cost_usd`` and ``backend``. As a transcriber (``replay+rules``) only ``transcript`` is needed.

A consultation with no row fails alone, with an InputError naming the file and the id; the
runner records it and goes on. Text holding a lone surrogate escape (``"\\ud83d"``, half an
emoji) is repaired as it is read: each becomes U+FFFD (�), and the output's metadata says how
many (``repaired_characters``). The scribe's version is the file's content digest, so a file
whose contents change is a new version: a new run, and no cached output of the old one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import threading
from pathlib import Path
from typing import Any

from ..security import safe_json
from ..errors import InputError
from ..schema import ScribeOutput, Turn
from ..text.parse import parse_note, parse_transcript
from .base import ScribeInput, register

_Rows = dict[str, tuple[int, dict[str, Any]]]
_CACHE: dict[tuple[str, int, int], tuple[_Rows, set[str], str, dict[int, int]]] = {}
_LOCK = threading.Lock()


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(str(path), f"line {line}", f"is not UTF-8 (byte 0x{raw[e.start]:02x})",
                         f"re-save the file as UTF-8, e.g. iconv -f latin1 -t utf-8 {path.name} > fixed{path.suffix}") from None


def _rows_csv(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        out = []
        for row in reader:
            out.append((reader.line_num, {(k or "").strip(): v for k, v in row.items()}))
    except csv.Error as e:
        raise InputError(str(path), None, f"is not a valid CSV ({e})", "quote cells that hold newlines or commas") from None
    return out


def _rows_jsonl(path: Path, text: str, repaired: dict[int, int]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj, fixed = safe_json.loads(line, str(path), f"line {n}")
            if fixed:
                repaired[n] = fixed
        except json.JSONDecodeError as e:
            raise InputError(str(path), f"line {n}", f"is not valid JSON ({e.msg})",
                             "write one JSON object per line (JSON Lines)") from None
        if not isinstance(obj, dict):
            raise InputError(str(path), f"line {n}", "is not a JSON object", 'write {"id": ..., "note": ...} per line')
        out.append((n, obj))
    return out


def _rows_json(path: Path, text: str, repaired: dict[int, int]) -> list[tuple[int, dict[str, Any]]]:
    try:
        data, fixed = safe_json.loads(text, str(path))
    except json.JSONDecodeError as e:
        raise InputError(str(path), f"line {e.lineno}", f"is not valid JSON ({e.msg})", "fix the JSON syntax") from None
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise InputError(str(path), None, "must be a JSON list of objects", 'write [{"id": ..., "note": ...}, ...]')
    if fixed:  # a JSON list: per row is not worth a second pass; every row is marked
        repaired.update({i + 1: fixed for i in range(len(data))})
    return [(i + 1, x) for i, x in enumerate(data)]


def load_replay(path: str | Path, id_field: str = "id") -> tuple[_Rows, set[str], str, dict[int, int]]:
    """Read a replay file once (cached by path, size and mtime).

    Args:
        path: a ``.csv``, ``.jsonl``/``.ndjson`` or ``.json`` file.
        id_field: the column holding the case id.

    Returns:
        (rows by id with their line numbers, ids seen more than once, short content hash,
        line → lone surrogates repaired on it).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), "path", "replay file not found", "give replay path=<a CSV or JSONL file of outputs>")
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    raw = p.read_bytes()
    text = _decode(p, raw)
    suffix = p.suffix.lower()
    head = text.lstrip()[:1]
    repaired: dict[int, int] = {}
    if suffix in (".jsonl", ".ndjson") or (suffix not in (".csv", ".json") and head == "{"):
        rows = _rows_jsonl(p, text, repaired)
    elif suffix == ".json" or (suffix != ".csv" and head == "["):
        rows = _rows_json(p, text, repaired)
    else:
        rows = _rows_csv(p, text)
    if rows and all(id_field not in r for _, r in rows):
        raise InputError(str(p), f"column {id_field!r}", "is missing", f"add an {id_field!r} column holding each case id")
    by_id: dict[str, tuple[int, dict[str, Any]]] = {}
    dups: set[str] = set()
    for line, r in rows:
        rid = str(r.get(id_field) or "").strip()
        if not rid:
            continue
        if rid in by_id:
            dups.add(rid)
        by_id[rid] = (line, r)
    out = (by_id, dups, hashlib.sha256(raw).hexdigest()[:12], repaired)
    with _LOCK:
        _CACHE[key] = out
    return out


def _float(v: Any) -> float | None:
    try:
        return None if v in (None, "") else float(v)
    except (TypeError, ValueError):
        return None


class ReplayScribe:
    """Returns the transcript and note stored for each case in a file."""

    name = "replay"
    needs_audio = False

    def __init__(self, path: str, id_field: str = "id"):
        """Args:
            path: the CSV/JSONL/JSON file of outputs.
            id_field: the column holding the case id.
        """
        self.path = Path(path)
        self.id_field = id_field
        load_replay(self.path, id_field)  # a bad file fails now, not on the first case

    @property
    def version(self) -> str:
        """The file's content digest (re-read when the file changes): new contents, new version."""
        return load_replay(self.path, self.id_field)[2]

    def _row(self, item: ScribeInput) -> tuple[str, int, dict[str, Any]]:
        rows, dups, _, _ = load_replay(self.path, self.id_field)
        c = item.consultation
        for key in (c.id, c.case.id):
            if key in rows:
                if key in dups:
                    raise InputError(str(self.path), f"id {key!r}", "appears on more than one row",
                                     "keep one row per case id")
                line, row = rows[key]
                return key, line, row
        raise InputError(str(self.path), f"id {c.id!r}", "no row for this consultation",
                         f"add a row with {self.id_field}={c.id!r}, or run the replay only on the cases it holds")

    def _turns(self, key: str, line: int, row: dict[str, Any]) -> list[Turn]:
        value = row.get("transcript")
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        if isinstance(value, str) and value.lstrip().startswith("[{"):
            try:
                value, _ = safe_json.loads(value, f"{self.path} (line {line}, id {key})", "transcript")
            except json.JSONDecodeError:
                pass
        return parse_transcript(value, source=f"{self.path} (line {line}, id {key})")

    def transcribe(self, item: ScribeInput) -> list[Turn]:
        """The stored transcript turns for the case (empty if the row has none).

        Args:
            item: the scribe input; its consultation id picks the row.
        """
        key, line, row = self._row(item)
        return self._turns(key, line, row)

    def run(self, item: ScribeInput) -> ScribeOutput:
        """The stored transcript and note for the case.

        Args:
            item: the scribe input; its consultation id picks the row, its template maps headings.
        """
        key, line, row = self._row(item)
        turns = self._turns(key, line, row)
        note_text = row.get("note")
        source = f"{self.path} (line {line}, id {key})"
        if not isinstance(note_text, str) or not note_text.strip():
            raise InputError(source, "note", "is empty or missing", "give the note as plain text with section headings")
        note = parse_note(note_text, template=item.template, source=source)
        meta: dict[str, Any] = {"source_file": self.path.name, "row_line": line}
        fixed = load_replay(self.path, self.id_field)[3].get(line)
        if fixed:
            meta["repaired_characters"] = fixed
        if row.get("backend"):
            meta["replayed_backend"] = str(row["backend"])
        return ScribeOutput(consultation_id=item.consultation.id, transcript=turns, note=note, backend=self.name,
                            backend_version=self.version, latency_s=_float(row.get("latency_s")) or 0.0,
                            cost_usd=_float(row.get("cost_usd")), metadata=meta)


@register("replay")
def make_replay(**options: Any) -> ReplayScribe:
    """Factory for the ``replay`` scribe; options: ``path`` (required), ``id_field``."""
    if "path" not in options:
        raise InputError("scribe_options.replay", "path", "is required", "set scribe_options: {replay: {path: outputs.csv}}")
    return ReplayScribe(**options)
