"""Audit log: every annotation, who and when (append-only, nothing is ever overwritten), and every
login attempt (failed and throttled ones included; never a password)."""

from __future__ import annotations

import streamlit as st

from evalkit.review import dashboards as dash
from evalkit.review import queue as review

from . import common


def render() -> None:
    user = common.guard("audit")
    store = common.store()
    st.title("Audit log")
    ann_tab, login_tab = st.tabs(["Annotations", "Logins"])
    with login_tab:
        _logins(store, user)
    with ann_tab:
        _annotations(store, user)


def _logins(store, user) -> None:
    st.caption("Every login attempt: the account (only when it exists — a name that is not an account may be "
               "a password typed in the wrong box, so it is not kept), the client's address and the outcome. "
               "Repeated failures slow the failing client down; they never lock an account.")
    failed = st.toggle("Failed and throttled only", value=True, key="au_login_failed")
    df = review.login_log(store, user, failed_only=failed, limit=2000)
    st.markdown(f"**{len(df)}** login attempt{'' if len(df) == 1 else 's'}"
                + (" (the latest 2,000)" if len(df) == 2000 else ""))
    st.dataframe(df.rename(columns={"attempted_at": "When", "name": "Account", "client": "Client",
                                    "outcome": "Outcome"}), hide_index=True, width="stretch",
                 column_config={"When": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})


def _annotations(store, user) -> None:
    st.caption("Annotations are appended, never changed or deleted: this is the full record.")
    c = st.columns(4)
    runs = store.queue_options()["runs"]
    run_id = c[0].selectbox("Run", [None, *runs], format_func=lambda v: "All" if v is None else v, key="au_run")
    users = [u.name for u in common.auth().users()]
    reviewer = c[1].selectbox("Reviewer", [None, *users], format_func=lambda v: "All" if v is None else v,
                              key="au_rev")
    kinds = c[2].multiselect("Kinds", ["flag", "clear", "claim_label", "omission", "pdqi", "comment", "status",
                                       "adjudication"], key="au_kinds")
    limit = c[3].number_input("Show at most", 10, 100_000, 500, step=100, key="au_limit")
    df = review.audit_log(store, user, run_id=run_id, reviewer=reviewer, kinds=kinds or None, limit=int(limit))
    st.markdown(f"**{len(df)}** annotations")
    st.dataframe(df, hide_index=True, width="stretch",
                 column_order=["created_at", "reviewer", "kind", "session_id", "target", "payload", "run_id", "id"],
                 column_config={"created_at": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm:ss"),
                                "payload": st.column_config.TextColumn("what", width="large"),
                                "id": st.column_config.TextColumn("id", width="small")})
    st.download_button("Download CSV", dash.frame_csv(df), file_name="audit.csv", mime="text/csv", key="au_csv",
                       on_click="ignore")
