"""``evalkit export RUN --format parquet|hf|csv --out PATH``: results out of DuckDB."""

from __future__ import annotations

from pathlib import Path

import typer

from . import app
from ._common import DB_OPTION, console, fail, open_store


@app.command("export")
def export_cmd(
    run: str = typer.Argument(..., help="Run id, label, baseline label or 'latest'."),
    format: str = typer.Option("parquet", "--format", "-f", help="parquet | csv | hf (datasets save_to_disk)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder."),
    no_text: bool = typer.Option(False, "--no-text", help="Leave transcripts and notes out (scores and ids only)."),
    db: str = DB_OPTION,
) -> None:
    """Export a run's sessions, scores, findings and flags."""
    from ..errors import InputError
    from ..run.export import export_run

    if format == "hf":
        import datasets

        datasets.disable_progress_bars()
    try:
        counts = export_run(open_store(db), run, format, out, include_output=not no_text)
    except InputError as e:
        fail(str(e))
    parts = ", ".join(f"{n} {k}" for k, n in counts.items())
    from rich.markup import escape

    console.print(f"exported {parts} to [bold]{escape(str(out))}[/] ({format})")
