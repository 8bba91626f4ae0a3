"""``evalkit app``: start the clinician review app (Streamlit) on a database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import typer

from . import app
from ._common import DB_OPTION, console, fail, open_store


def app_script() -> Path:
    """apps/app.py of this checkout (EVALKIT_APP_SCRIPT overrides)."""
    from ..paths import ROOT

    return Path(os.environ.get("EVALKIT_APP_SCRIPT", ROOT / "apps" / "app.py"))


def streamlit_command(db: Path, host: str, port: int) -> list[str]:
    """The ``streamlit run`` command line that serves the app on ``host:port`` for ``db``."""
    return [sys.executable, "-m", "streamlit", "run", str(app_script()),
            "--server.address", host, "--server.port", str(port), "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer", "--runner.magicEnabled", "false",
            "--theme.primaryColor", "#1f6fb2",
            "--", "--db", str(db)]


@app.command("app")
def app_cmd(
    db: str = DB_OPTION,
    port: int = typer.Option(8501, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (127.0.0.1 keeps it on this machine)."),
) -> None:
    """Start the review app: queue, session view, annotation, agreement, dashboards.

    Sessions open directly at http://HOST:PORT/?session=<session_id>.
    """
    path = Path(db).resolve()
    if not path.exists():
        fail(f"{db}: no such database — fix: run 'evalkit demo --db {db}' or 'evalkit run SUITE --db {db}' first")
    script = app_script()
    if not script.exists():
        fail(f"{script}: the app is missing — fix: run evalkit from a source checkout (apps/ beside evalkit/)")
    store = open_store(path)
    if store.count_users() == 0:
        console.print("[yellow]No account yet.[/] Open the app to create the administrator, or run "
                      f"[bold]evalkit users add NAME --role admin --db {db}[/].")
    console.print(f"Review app on [bold]http://{host}:{port}/[/] (database {path}); Ctrl+C stops it.")
    env = {**os.environ, "EVALKIT_DB": str(path)}
    try:
        code = subprocess.call(streamlit_command(path, host, port), env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
