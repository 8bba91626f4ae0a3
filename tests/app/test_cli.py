"""`evalkit users` and `evalkit app` (command line; the server itself is driven by test_browser)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.cli.app_cmd import app_script, streamlit_command
from evalkit.store import Store

runner = CliRunner()


def test_users_commands(tmp_path):
    db = str(tmp_path / "u.duckdb")
    r = runner.invoke(app, ["users", "add", "dr.ada", "--role", "clinician", "--password-stdin", "--db", db],
                      input="long-enough-pw\n")
    assert r.exit_code == 2 and "must be an admin" in r.output
    r = runner.invoke(app, ["users", "add", "root", "--role", "admin", "--password-stdin", "--db", db],
                      input="long-enough-pw\n")
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "dr.ada", "--role", "clinician", "--password-stdin", "--db", db],
                      input="long-enough-pw\n")
    assert r.exit_code == 0
    r = runner.invoke(app, ["users", "add", "dr.bob", "--role", "surgeon", "--password-stdin", "--db", db],
                      input="long-enough-pw\n")
    assert r.exit_code != 0 and "unknown role" in (r.output + str(r.exception))
    r = runner.invoke(app, ["users", "list", "--db", db])
    assert "dr.ada" in r.output and "clinician" in r.output and "argon2" not in r.output
    assert runner.invoke(app, ["users", "role", "dr.ada", "engineer", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "dr.ada", "--db", db]).exit_code == 0
    rec = Store(db).get_user("dr.ada")
    assert rec["role"] == "engineer" and rec["disabled"]
    old = rec["password_hash"]
    r = runner.invoke(app, ["users", "passwd", "dr.ada", "--password-stdin", "--db", db], input="another-pw-1\n")
    assert r.exit_code == 0 and Store(db).get_user("dr.ada")["password_hash"] != old


def test_app_command_line(tmp_path):
    r = runner.invoke(app, ["app", "--db", str(tmp_path / "missing.duckdb")])
    assert r.exit_code == 2 and "no such database" in " ".join(r.output.split())
    cmd = streamlit_command(Path("/x/review.duckdb"), "127.0.0.1", 8600)
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(app_script())
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1" and cmd[cmd.index("--server.port") + 1] == "8600"
    assert cmd[-3:] == ["--", "--db", "/x/review.duckdb"] and app_script().exists()
