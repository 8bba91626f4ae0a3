"""Shared plumbing for the app's pages: the store, the logged-in user, permission guards,
the "database busy" message, and escaping of untrusted text.

Pages never contain SQL: they call :mod:`evalkit.review.queue`, :mod:`evalkit.review.session_view`,
:mod:`evalkit.review.agreement` and :mod:`evalkit.review.dashboards`, which check permissions themselves.
"""

from __future__ import annotations

import html
import os
import re
import sys
import time
from pathlib import Path

import streamlit as st

from evalkit.review.auth import Auth, PermissionDenied, User
from evalkit.store import Store

TOKEN_KEY = "ek_token"
BUSY_MESSAGE = "The database is busy — an evalkit run is writing. Retrying…"


def db_path() -> Path:
    """The database file: ``--db FILE`` after ``--`` on the streamlit command line, else $EVALKIT_DB."""
    argv = sys.argv[1:]
    for i, a in enumerate(argv):
        if a == "--db" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if a.startswith("--db="):
            return Path(a.split("=", 1)[1])
    return Path(os.environ.get("EVALKIT_DB", "evalkit.duckdb"))


def _on_busy(_msg: str) -> None:
    """Called by the Store (in the page's own thread) each time it waits for the file lock."""
    try:
        now = time.monotonic()
        if now - st.session_state.get("_ek_busy_at", 0.0) > 3.0:
            st.session_state["_ek_busy_at"] = now
            st.toast(BUSY_MESSAGE, icon=":material/hourglass_top:")
    except Exception:  # outside a script run (e.g. a background thread): nothing to show
        pass


@st.cache_resource(show_spinner=False)
def _store(path: str) -> Store:
    return Store(path, busy_timeout=float(os.environ.get("EVALKIT_APP_BUSY_TIMEOUT", "30")), on_busy=_on_busy,
                 keep_open=float(os.environ.get("EVALKIT_APP_KEEP_OPEN", "2")))


@st.cache_resource(show_spinner=False)
def _auth(path: str) -> Auth:
    ttl = float(os.environ.get("EVALKIT_SESSION_HOURS", "8"))
    return Auth(_store(path), ttl_hours=ttl)


def store() -> Store:
    return _store(str(db_path().resolve()))


#: Store methods the pages may read through :func:`cached` (pure reads of the whole database).
CACHED_READS = frozenset({"list_runs", "metric_summary", "metric_values", "metric_breakdown", "finding_breakdown",
                          "paired_metric", "queue_options"})


@st.cache_data(max_entries=256, show_spinner=False)
def _cached(path: str, version: tuple, method: str, args: tuple, kwargs: tuple):
    return getattr(_store(path), method)(*args, **dict(kwargs))


def cached(method: str, *args, **kwargs):
    """``store().<method>(*args, **kwargs)``, cached until the database changes.

    Keyed by :meth:`Store.data_version` (size and time of the file and its log, read without
    opening the database), so a Streamlit rerun with unchanged data skips the query, and a
    commit by this app or a CLI run shows at the next rerun.
    """
    if method not in CACHED_READS:
        raise ValueError(f"{method} is not a cached read")
    s = store()
    freeze = lambda v: tuple(v) if isinstance(v, list) else v  # noqa: E731
    return _cached(str(s.path), s.data_version(), method, tuple(freeze(a) for a in args),
                   tuple(sorted((k, freeze(v)) for k, v in kwargs.items())))


def auth() -> Auth:
    return _auth(str(db_path().resolve()))


COOKIE = "evalkit_session"


def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this run (bare mode)
        return None
    return value if isinstance(value, str) and value else None


def current_user() -> User | None:
    """The logged-in user, re-read from the database on every run (expiry, role, disabled).

    The login token lives in this browser tab's session and in a cookie, so a reload or a
    ``?session=`` link opened in another tab keeps the login until it expires or logs out.
    """
    token = st.session_state.get(TOKEN_KEY)
    if not token and not st.session_state.get("_ek_logged_out"):
        token = _cookie_token()
        if token:
            st.session_state[TOKEN_KEY] = token
    if not token:
        return None
    user = auth().user_for_token(token)
    if user is None:
        st.session_state.pop(TOKEN_KEY, None)
    return user


def remember_login() -> None:
    """Store the session token in a cookie (once per tab session); only its hash is in the database."""
    token = st.session_state.get(TOKEN_KEY)
    if token and st.session_state.get("_ek_cookie") != token and _cookie_token() != token:
        hours = float(os.environ.get("EVALKIT_SESSION_HOURS", "8"))
        st.html(f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age={int(hours * 3600)}; "
                "SameSite=Strict';</script>", unsafe_allow_javascript=True)
    st.session_state["_ek_cookie"] = token


def forget_login() -> None:
    """Log out: end the server-side session and clear the cookie."""
    auth().logout(st.session_state.pop(TOKEN_KEY, None) or _cookie_token())
    st.session_state["_ek_logged_out"] = True
    st.session_state.pop("_ek_cookie", None)


DEVICE_COOKIE = "evalkit_device"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def client_address() -> str:
    """The client's address for login throttling.

    Streamlit reports None for a loopback peer. The app listens on 127.0.0.1 by default, so a
    loopback peer is either a local browser or the TLS reverse proxy in front of the app: then the
    last address in X-Forwarded-For (the one the proxy itself saw; earlier entries are the client's
    own say) is the client. A peer that is not loopback is taken as it is, its headers ignored.
    """
    try:
        ip = st.context.ip_address
        if isinstance(ip, str) and ip and ip not in _LOOPBACK:
            return ip[:64]
        fwd = st.context.headers.get("X-Forwarded-For")
    except Exception:  # no browser behind this run (bare mode, AppTest)
        return "local"
    last = fwd.split(",")[-1].strip() if isinstance(fwd, str) else ""
    return last[:64] if last else "local"


def device_id() -> str:
    """This browser's random device id (a cookie): a browser that logged in to an account before is
    not slowed down by other clients' failed logins on it (see evalkit.review.login_throttle)."""
    try:
        dev = st.context.cookies.get(DEVICE_COOKIE)
    except Exception:
        dev = None
    if isinstance(dev, str) and 20 <= len(dev) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", dev):
        st.session_state["_ek_device"] = dev
        return dev
    dev = st.session_state.get("_ek_device")
    if not dev:
        import secrets

        dev = st.session_state["_ek_device"] = secrets.token_urlsafe(24)
        st.html(f"<script>document.cookie = '{DEVICE_COOKIE}={dev}; path=/; max-age={90 * 24 * 3600}; "
                "SameSite=Strict';</script>", unsafe_allow_javascript=True)
    return dev


def clear_cookie_script() -> None:
    if st.session_state.get("_ek_logged_out"):
        st.html(f"<script>document.cookie = '{COOKIE}=; path=/; max-age=0; SameSite=Strict';</script>",
                unsafe_allow_javascript=True)


def guard(permission: str) -> User:
    """The current user if their role holds ``permission``; otherwise show why and stop the page."""
    user = current_user()
    try:
        from evalkit.review.auth import require

        return require(user, permission)
    except PermissionDenied as e:
        st.error(f"Not allowed: {e}. Ask an administrator if you need access.", icon=":material/lock:")
        st.stop()
        raise  # unreachable: st.stop raises


# ------------------------------------------------------------------------- untrusted text

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^])")


def esc(text: object) -> str:
    """HTML-escape untrusted text (notes, transcripts, names) before any unsafe_allow_html.

    Newlines become spaces, so a ``<div>``-started snippet stays one raw HTML block and the
    text inside it is never read as Markdown (no links or images from note text).
    """
    s = "" if text is None else str(text)
    return html.escape(" ".join(s.splitlines()), quote=True)


def html_block(inner: str) -> None:
    """Render trusted markup (with :func:`esc`-aped text inside) as one raw HTML block."""
    st.markdown(f"<div>{inner}</div>", unsafe_allow_html=True)


def md(text: object) -> str:
    """Escape untrusted text for Markdown labels (buttons, captions): no links, images, HTML or LaTeX."""
    s = "" if text is None else str(text)
    return _MD_SPECIAL.sub(r"\\\1", s).replace("\n", " ")


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–:––"
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d}"


def fmt_value(v: object, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


CSS = """
<style>
.block-container {padding-top: 3.2rem; max-width: 1500px;}
.ek-chip {display:inline-block; padding:1px 9px; margin:0 4px 4px 0; border-radius:12px; font-size:0.82rem;
          border:1px solid #d0d7de; background:#f6f8fa; color:#24292f;}
.ek-chip.red {background:#fdecea; border-color:#f5c2c0; color:#8a1c1c;}
.ek-chip.amber {background:#fff4e0; border-color:#f3d19e; color:#7a4b00;}
.ek-chip.green {background:#e8f5e9; border-color:#b7dfb9; color:#1b5e20;}
.ek-chip.blue {background:#e7f0fa; border-color:#b6cfee; color:#0d4a8f;}
.ek-turn {padding:4px 8px; border-radius:6px; line-height:1.45; font-size:0.95rem;}
.ek-transcript {max-height:720px; overflow-y:auto; border:1px solid #d0d7de; border-radius:8px; padding:6px;}
.ek-row {display:flex; gap:8px; align-items:flex-start; margin-bottom:2px;}
.ek-row[data-ek-t] {cursor:pointer;}
.ek-row[data-ek-t]:hover {background:#f0f4f8;}
.ek-row.ev[data-ek-t]:hover {background:#fff0a8;}
.ek-time {flex:0 0 3.6em; color:#57606a; font-size:0.8rem; padding-top:2px; font-variant-numeric:tabular-nums;}
.ek-text {flex:1 1 auto;}
.ek-spk {flex:0 0 auto;}
.ek-turn.ev {background:#fff7cc; box-shadow: inset 3px 0 0 #e3b400;}
.ek-evidence .ek-row {margin-bottom:4px;}
.ek-spk {font-weight:600; font-size:0.78rem; letter-spacing:0.03em; margin-right:6px; padding:1px 6px;
         border-radius:4px;}
.ek-spk.CLINICIAN {background:#e7f0fa; color:#0d4a8f;}
.ek-spk.PATIENT {background:#f3e8fd; color:#5b2a86;}
.ek-spk.OTHER {background:#eee; color:#444;}
.ek-sec {font-weight:700; font-size:0.8rem; letter-spacing:0.06em; color:#57606a; margin:10px 0 2px 0;}
.ek-legend span {margin-right:14px; font-size:0.85rem;}
.ek-dot {display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:4px; vertical-align:middle;}
.ek-diff {line-height:1.9; font-size:0.95rem;}
.ek-diff del {background:#fdecea; color:#8a1c1c; text-decoration:line-through; padding:0 2px;}
.ek-diff ins {background:#e8f5e9; color:#1b5e20; text-decoration:none; padding:0 2px;}
.ek-diff .sub {border-bottom:2px solid #ef8f00;}
.ek-diff .med {font-weight:700;}
.ek-next {padding:10px 14px; border-radius:8px; background:#e7f0fa; border:1px solid #b6cfee; margin-bottom:8px;}
/* note sentences: a button per sentence, coloured by verdict */
[class*="st-key-sent-"] button {width:100%; justify-content:flex-start; text-align:left; border-radius:6px;
   padding:4px 10px; min-height:0; border:1px solid transparent; font-weight:400;}
[class*="st-key-sent-"] button p {text-align:left; font-size:0.95rem;}
[class*="st-key-sent-"] button div, [class*="st-key-sent-"] button span {justify-content:flex-start !important;}
[class*="st-key-sent-"] button span[data-testid="stIconMaterial"] {margin-top:2px;}
[class*="st-key-sent-supported"] button {background:#f3faf3 !important; border-left:4px solid #2e7d32;}
[class*="st-key-sent-unsupported"] button {background:#fff4e0 !important; border-left:4px solid #ef8f00;}
[class*="st-key-sent-contradicted"] button {background:#fdecea !important; border-left:4px solid #c62828;}
[class*="st-key-sent-unchecked"] button {background:#f6f8fa !important; border-left:4px solid #afb8c1;}
[class*="st-key-sent-"][class*="-sel"] button {outline:2px solid #0969da; outline-offset:1px;}
[class*="st-key-turnrow-"], [class*="st-key-evrow-"] {gap:0.3rem; overflow:visible !important;}
[class*="st-key-turnrow-"] [data-testid="stMarkdownContainer"],
[class*="st-key-evrow-"] [data-testid="stMarkdownContainer"] {margin-bottom:0 !important;}
[class*="st-key-play-"] button {padding:0 6px; min-height:0; font-size:0.8rem; color:#57606a;}
</style>
"""


def inject_css() -> None:
    st.markdown(CSS, unsafe_allow_html=True)


def chip(text: object, colour: str = "") -> str:
    return f'<span class="ek-chip {colour}">{esc(text)}</span>'
