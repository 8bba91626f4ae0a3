"""``evalkit users``: accounts for the review app (clinician, engineer, admin)."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from . import app
from ._common import DB_OPTION, console, fail, open_store

users_app = typer.Typer(help="Manage review-app accounts: add, list, passwd, role, disable, enable.",
                        no_args_is_help=True)
app.add_typer(users_app, name="users")


def _auth(db: str):
    from ..review.auth import Auth

    return Auth(open_store(db))


def _password(stdin: bool) -> str:
    if stdin:
        pw = sys.stdin.readline().rstrip("\r\n")
        if not pw:
            fail("--password-stdin: nothing on standard input — fix: echo the password into the command")
        return pw
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(name: str = typer.Argument(..., help="Login name, e.g. dr.patel"),
        role: str = typer.Option(..., "--role", help="clinician, engineer or admin"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
        db: str = DB_OPTION) -> None:
    """Add an account (the first account of a database must be an admin)."""
    from ..review.auth import validate_name, validate_role

    auth = _auth(db)
    validate_name(name, "--name")
    validate_role(role, "--role")
    if auth.needs_bootstrap() and role != "admin":
        fail("no account exists yet, so the first one must be an admin — fix: evalkit users add NAME --role admin")
    pw = _password(password_stdin)
    if auth.needs_bootstrap():
        auth.bootstrap_admin(name, pw)
    else:
        auth.add_user(name, role, pw)
    console.print(f"added [bold]{name}[/] ({role})")


@users_app.command("list")
def list_(db: str = DB_OPTION) -> None:
    """List accounts (never their passwords)."""
    df = open_store(db).list_users()
    table = Table(header_style="bold")
    for col in ("name", "role", "disabled", "created"):
        table.add_column(col)
    for r in df.itertuples():
        table.add_row(r.name, r.role, "yes" if r.disabled else "", str(r.created_at)[:19])
    console.print(table if len(df) else "no accounts yet — add an admin: evalkit users add NAME --role admin")


@users_app.command("passwd")
def passwd(name: str, password_stdin: bool = typer.Option(False, "--password-stdin"),
           db: str = DB_OPTION) -> None:
    """Set a new password (logs the account out everywhere)."""
    auth = _auth(db)
    auth.set_password(name, _password(password_stdin))
    console.print(f"password changed for [bold]{name}[/]")


@users_app.command("role")
def role(name: str, new_role: str = typer.Argument(..., metavar="ROLE"), db: str = DB_OPTION) -> None:
    """Change an account's role."""
    _auth(db).set_role(name, new_role)
    console.print(f"{name} is now {new_role}")


@users_app.command("disable")
def disable(name: str, db: str = DB_OPTION) -> None:
    """Disable an account and end its sessions."""
    _auth(db).set_disabled(name, True)
    console.print(f"{name} disabled")


@users_app.command("enable")
def enable(name: str, db: str = DB_OPTION) -> None:
    """Enable a disabled account."""
    _auth(db).set_disabled(name, False)
    console.print(f"{name} enabled")
