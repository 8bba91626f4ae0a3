"""Open the review app under streamlit's AppTest, logged in (``EVALKIT_DB`` names the database)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "apps" / "app.py"
PW = "correct-horse-9"


def open_app(user: str | None = "dr.ada", *, password: str = PW, session: str | None = None,
             page: str | None = None) -> AppTest:
    """The app after its first run: on ``session`` (a deep link) if given, logged in as ``user`` unless
    None, then on ``page`` if given."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    if session:
        at.query_params["session"] = session
    at.run()
    if user:
        at.text_input(key="login_name").input(user)
        at.text_input(key="login_pw").input(password)
        at.button[0].click().run()
    if page:
        at.session_state["ek_page"] = page
        at.run()
    return at
