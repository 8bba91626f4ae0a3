"""``evalkit import aci-bench|primock57|hf``: bring real datasets into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import DB_OPTION, console, fail, open_store, warning_line

import_app = typer.Typer(name="import", help="Import real datasets (ACI-Bench, PriMock57, Hugging Face) "
                                            "as consultations.", no_args_is_help=True)
app.add_typer(import_app, name="import")


def _report(store, items, dataset: str, with_audio: int = 0) -> None:
    n = store.put_consultations(items[0], items[1]) if isinstance(items, tuple) else store.put_consultations(items)
    extra = f", {with_audio} with audio" if with_audio else ""
    from rich.markup import escape

    console.print(f"imported [bold]{n}[/] consultations into dataset [bold]{escape(dataset)}[/]{extra} "
                  f"({escape(str(store.path))})")


@import_app.command("aci-bench")
def aci_bench(
    csv_file: Path = typer.Argument(..., help="ACI-Bench CSV with columns dataset, encounter_id, dialogue, note."),
    metadata: Optional[Path] = typer.Option(None, "--metadata", "-m",
                                            help="Metadata CSV (age, sex, name, chief complaint). Default: "
                                                 "<stem>_metadata.csv next to the CSV, when present."),
    no_metadata: bool = typer.Option(False, "--no-metadata", help="Ignore any metadata CSV."),
    dataset: str = typer.Option("aci-bench", "--dataset", "-d", help="Store dataset name."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Import only the first N encounters."),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when any row was skipped (the good rows are "
                                "still imported)."),
    db: str = DB_OPTION,
) -> None:
    """Import ACI-Bench dialogues and reference notes (template HISTORY_AND_PHYSICAL).

    Bad rows (empty dialogue or note, duplicate id, bytes that are not UTF-8...) are listed with
    their fix and skipped; the good rows are imported. A dialogue whose first turn has no speaker
    tag is taken with a warning."""
    from ..errors import InputError
    from ..importers.aci_bench import find_metadata, read_aci_bench

    meta = None if no_metadata else (metadata or find_metadata(csv_file))
    if meta is not None and metadata is None:
        console.print(f"using metadata {meta}")
    try:
        rep = read_aci_bench(csv_file, meta, dataset=dataset)
    except InputError as e:
        fail(str(e))
    items = rep.items if limit is None else rep.items[:limit]
    if not items:  # nothing to import: one line, the first problem (and how many rows had one)
        n = len(rep.problems)
        fail(f"{rep.problems[0]} (no row could be imported{f'; {n} rows had a problem' if n > 1 else ''})" if n else
             f"{csv_file}: has no data rows — fix: give a CSV with at least one encounter")
    for w in rep.warnings:
        warning_line(w)
    for e in rep.problems:
        warning_line(f"skipped {e}")
    _report(open_store(db), items, dataset)
    if rep.problems:
        console.print(f"{len(rep.problems)} row(s) skipped, listed above with their fix", highlight=False)
        if strict:
            raise typer.Exit(1)


@import_app.command("primock57")
def primock57(
    directory: Path = typer.Argument(..., help="PriMock57 folder with transcripts/, notes/ and optionally audio/."),
    dataset: str = typer.Option("primock57", "--dataset", "-d", help="Store dataset name."),
    audio: bool = typer.Option(True, "--audio/--no-audio",
                               help="Mix the doctor and patient WAVs into one file next to the database."),
    db: str = DB_OPTION,
) -> None:
    """Import PriMock57 consultations (TextGrid transcripts with times, JSON notes, audio)."""
    from ..errors import InputError
    from ..importers.primock57 import load_primock57

    store = open_store(db)
    try:
        items, audio_map = load_primock57(directory, dataset=dataset,
                                          audio_root=store.root if audio else None)
    except InputError as e:
        fail(str(e))
    _report(store, (items, audio_map), dataset, with_audio=len(audio_map))


@import_app.command("hf")
def hf(
    source: str = typer.Argument(..., help="A parquet/json/jsonl/csv/arrow file or folder, a save_to_disk "
                                           "folder, or a hub dataset name (needs network)."),
    split: str = typer.Option("train", "--split", "-s", help="Split to read."),
    mapping: str = typer.Option("", "--map",
                                help="Column mapping, e.g. dialogue=conversation,note=soap,id=encounter_id. "
                                     "Fields: id, dialogue, note, specialty, chief_complaint, template."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Store dataset name (default: from source)."),
    template: str = typer.Option("SOAP", "--template", help="Note template used to parse reference notes."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Import only the first N rows."),
    db: str = DB_OPTION,
) -> None:
    """Import any Hugging Face ``datasets`` source with a column mapping."""
    from ..errors import InputError
    from ..importers.hf import default_dataset_name, load_hf, parse_mapping

    name = dataset or default_dataset_name(source)
    try:
        items = load_hf(source, split=split, mapping=parse_mapping(mapping), dataset=name, template=template,
                        limit=limit)
    except InputError as e:
        fail(str(e))
    _report(open_store(db), items, name)
