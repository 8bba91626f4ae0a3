"""Review queue: flagged sessions first, filters, progress, and one click into a session."""

from __future__ import annotations

import streamlit as st

from evalkit.review import queue as review
from evalkit.review.queue import STATUS_ICONS, STATUS_LABELS, QueueFilter  # noqa: F401 (STATUS_ICONS: re-export)

from . import common

PAGE_SIZE = 25


def open_session(session_id: str) -> None:
    """Go to the session page showing ``session_id`` (URL ?session=...)."""
    st.session_state["ek_session"] = session_id
    pages = st.session_state.get("ek_pages", {})
    if "session" in pages:
        st.switch_page(pages["session"], query_params={"session": session_id})
    st.query_params["session"] = session_id
    st.rerun()


def current_filter() -> QueueFilter:
    return st.session_state.get("ek_filter") or QueueFilter()


@st.cache_data(ttl=30, show_spinner=False)
def _options(db: str) -> tuple[dict, dict]:
    """Filter choices and run labels (refreshed every 30 s: new runs appear without a restart)."""
    store = common.store()
    runs = store.list_runs()
    return store.queue_options(), {r.run_id: f"{r.label or r.run_id} · {r.scribe}" for r in runs.itertuples()}


@st.cache_data(max_entries=128, show_spinner=False)
def _queue(db: str, version: tuple, name: str, role: str, params: tuple, page: int, page_size: int,
           _store, _user, _filt: QueueFilter) -> review.QueuePage:
    """One queue page, cached until the database changes (``version`` is ``Store.data_version()``)."""
    return review.review_queue(_store, _user, _filt, page=page, page_size=page_size)


def _filters(store, user) -> QueueFilter:
    opts, labels = _options(str(store.path))
    prev = current_filter()
    c = st.columns(5)

    def pick(col, label, options, current, key, fmt=None):
        choices = [None] + list(options)
        idx = choices.index(current) if current in choices else 0
        return col.selectbox(label, choices, index=idx, key=key,
                             format_func=lambda v: "All" if v is None else (fmt(v) if fmt else str(v)))

    run_id = pick(c[0], "Run", opts["runs"], prev.run_id, "qf_run", lambda v: labels.get(v, v))
    scribe = pick(c[1], "Scribe", opts["scribes"], prev.scribe, "qf_scribe")
    specialty = pick(c[2], "Specialty", opts["specialties"], prev.specialty, "qf_spec")
    rule = pick(c[3], "Flag reason", opts["flag_rules"], prev.flag_rule, "qf_rule")
    status = pick(c[4], "Status", review.STATUSES, prev.status, "qf_status", lambda v: STATUS_LABELS[v])
    t = st.columns([1, 1, 3])
    mine = t[0].toggle("Assigned to me", value=bool(prev.assigned_to), key="qf_mine")
    flagged = t[1].toggle("Flagged only", value=prev.flagged_only, key="qf_flagged")
    filt = QueueFilter(run_id=run_id, scribe=scribe, specialty=specialty, flag_rule=rule, status=status,
                       assigned_to=user.name if mine else None, flagged_only=flagged)
    if filt != prev:
        st.session_state["ek_qpage"] = 0
    st.session_state["ek_filter"] = filt
    return filt


def render() -> None:
    user = common.guard("review")
    store = common.store()
    st.title("Review queue")
    filt = _filters(store, user)
    page_no = st.session_state.get("ek_qpage", 0)
    q = _queue(str(store.path), store.data_version(), user.name, user.role, tuple(sorted(filt.params().items())),
               page_no, PAGE_SIZE, store, user, filt)
    n = q.counts
    top = st.columns([3, 2])
    with top[0]:
        st.progress(n["done"] / n["total"] if n["total"] else 0.0, text=f"**{q.progress}**")
        common.html_block(" ".join([
            common.chip(f"{n['flagged']} flagged", "red" if n["flagged"] else ""),
            common.chip(f"{n['to_review']} to review", "blue"),
            common.chip(f"{n['in_review']} in review", "amber"),
            common.chip(f"{n['needs_adjudication']} need adjudication", "amber" if n["needs_adjudication"] else ""),
        ]))
    rows = q.rows
    with top[1]:
        open_rows = rows[rows["status"] != "done"] if filt.status in (None, "open") and page_no == 0 else rows[:0]
        nxt = str(open_rows.iloc[0]["session_id"]) if len(open_rows) else _first_open(store, user, filt)
        if nxt:
            if st.button("Start reviewing: next open session", type="primary", key="q_next_open",
                         icon=":material/play_arrow:", width="stretch"):
                open_session(nxt)
        elif n["total"]:
            st.success("Everything in this queue is reviewed.", icon=":material/celebration:")
    if rows.empty:
        st.info("No session matches these filters.", icon=":material/search_off:")
        return
    table = review.queue_table(rows)  # the headers on screen are the CSV download's too
    hmax = max(0.2, float(rows["hallucination_rate"].max() or 0))
    cols = {"Status": st.column_config.TextColumn(width="small"),
            "Severity": st.column_config.TextColumn(width="small", help="The most severe flag's severity "
                                                    "(from its flag rule): the queue's first sort key"),
            "Flag reasons": st.column_config.TextColumn(width="medium"),
            "Major halluc.": st.column_config.NumberColumn(format="%d"),
            "Major omissions": st.column_config.NumberColumn(format="%d"),
            "Hallucination rate": st.column_config.ProgressColumn(min_value=0.0, max_value=hmax, format="%.3f"),
            "Omission rate": st.column_config.NumberColumn(format="%.3f"),
            "WER": st.column_config.NumberColumn(format="%.3f")}
    st.caption("Click a row to open the session.")
    event = st.dataframe(table, column_config=cols, hide_index=True, on_select="rerun",
                         selection_mode="single-row", key=f"q_table_{page_no}", width="stretch")
    sel = getattr(getattr(event, "selection", None), "rows", None) if event is not None else None
    if sel:
        open_session(rows.iloc[sel[0]]["session_id"])
    if q.pages > 1:
        c = st.columns([1, 2, 1])
        if c[0].button("◀ Previous page", disabled=page_no == 0, key="q_prev_page"):
            st.session_state["ek_qpage"] = page_no - 1
            st.rerun()
        c[1].markdown(f"<div style='text-align:center'>Page {page_no + 1} of {q.pages}</div>",
                      unsafe_allow_html=True)
        if c[2].button("Next page ▶", disabled=page_no + 1 >= q.pages, key="q_next_page"):
            st.session_state["ek_qpage"] = page_no + 1
            st.rerun()
    with st.expander("Open a session by id"):
        sid = st.selectbox("Session", rows["session_id"].tolist(), key="q_pick")
        if st.button("Open", key="q_open"):
            open_session(sid)


def _first_open(store, user, filt: QueueFilter) -> str | None:
    """First session in queue order (flagged, most severe first) that is not done."""
    if filt.status == "done":
        return None
    f = QueueFilter(**{**filt.params(), "status": filt.status or "open"})
    page = review.review_queue(store, user, f, page=0, page_size=1)
    return None if page.rows.empty else str(page.rows.iloc[0]["session_id"])
