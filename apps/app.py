"""evalkit clinician review app (Streamlit).

Run with ``evalkit app --db FILE`` (or ``streamlit run apps/app.py -- --db FILE``).
A session opens directly at ``http://HOST:PORT/?session=<session_id>``.
Every page checks the logged-in user's role on the server before it renders or acts.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamlit as st  # noqa: E402

from evalkit.review.auth import PermissionDenied  # noqa: E402
from evalkit.store import StoreBusy  # noqa: E402
from review_ui import common  # noqa: E402
from review_ui.login import render_login  # noqa: E402
from review_ui.pages import PAGES  # noqa: E402

#: the tab icon is a file served by the app itself: a ":material/..." icon would make every page load
#: fetch it from fonts.gstatic.com (the app makes no outside request at all: tests/app/test_browser.py)
FAVICON = Path(__file__).resolve().parent / "static" / "favicon.svg"
st.set_page_config(page_title="evalkit review", page_icon=str(FAVICON), layout="wide")
common.inject_css()


def _main() -> None:
    user = common.current_user()
    if user is None:
        common.clear_cookie_script()
        render_login()
        return
    wanted = st.session_state.pop("ek_page", None)  # in-app jump (and tests) to a page by key
    opening_session = "session" in st.query_params
    pages, by_key = [], {}
    for spec in PAGES:
        allowed = user.can(spec.permission)
        default = (opening_session and spec.key == "session") or (not opening_session and spec.key == _home(user))
        page = st.Page(spec.render, title=spec.title, icon=spec.icon, url_path=spec.key, default=default,
                       visibility="visible" if allowed and spec.in_menu else "hidden")
        pages.append((spec.section, page))
        by_key[spec.key] = page
    st.session_state["ek_pages"] = by_key
    sections: dict[str, list] = {}
    for section, page in pages:
        sections.setdefault(section, []).append(page)
    with st.sidebar:
        st.markdown(f"**{common.esc(user.name)}** · {user.role}")
        if st.button("Log out", key="logout", icon=":material/logout:"):
            common.forget_login()
            st.rerun()
        common.remember_login()
    nav = st.navigation(sections)
    if wanted in by_key and nav.url_path != wanted:
        st.switch_page(by_key[wanted])
    nav.run()


def _home(user) -> str:
    return {"clinician": "queue", "engineer": "dashboards", "admin": "users"}.get(user.role, "queue")


try:
    _main()
except StoreBusy:
    st.error("The database stayed busy: an evalkit run is still writing to it. Everything saved before "
             "is kept, but your last change (if you were saving one) was not saved — try it again in a "
             "minute.", icon=":material/hourglass_top:")
    st.button("Try again", key="busy_retry")
except PermissionDenied as e:
    st.error(f"Not allowed: {e}.", icon=":material/lock:")
