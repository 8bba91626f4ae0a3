"""Users and assignments (admin only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.review import queue as review
from evalkit.review.auth import ROLES
from evalkit.errors import InputError
from evalkit.review.queue import QueueFilter

from . import common


def _err(e: InputError) -> None:
    st.error(e.problem + (f" — {e.fix}" if e.fix else ""))


def render() -> None:
    user = common.guard("manage_users")
    store, auth = common.store(), common.auth()
    st.title("Users & assignments")
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader("Accounts", anchor=False)
        st.dataframe(store.list_users(), hide_index=True, width="stretch")
    with right, st.form("add_user", clear_on_submit=True):
        st.subheader("Add an account", anchor=False)
        name = st.text_input("Name", key="nu_name")
        role = st.selectbox("Role", ROLES, key="nu_role")
        pw = st.text_input("Initial password (8+ characters)", type="password", key="nu_pw")
        if st.form_submit_button("Add", type="primary"):
            try:
                auth.add_user(name.strip(), role, pw)
                st.toast(f"Added {name}", icon=":material/check_circle:")
            except InputError as e:
                _err(e)
    names = [u.name for u in auth.users()]
    with st.form("edit_user"):
        st.subheader("Change an account", anchor=False)
        c = st.columns(4)
        who = c[0].selectbox("Account", names, key="eu_name")
        role = c[1].selectbox("Role", [None, *ROLES], format_func=lambda v: "keep" if v is None else v, key="eu_role")
        action = c[2].selectbox("Access", ["keep", "disable", "enable"], key="eu_access")
        pw = c[3].text_input("New password", type="password", key="eu_pw")
        if st.form_submit_button("Apply"):
            try:
                if who == user.name and (action == "disable" or (role and role != "admin")):
                    raise InputError("users", "name", "you cannot disable or demote yourself",
                                     "ask another admin")
                if role:
                    auth.set_role(who, role)
                if action != "keep":
                    auth.set_disabled(who, action == "disable")
                if pw:
                    auth.set_password(who, pw)
                st.toast(f"Updated {who}", icon=":material/check_circle:")
                st.rerun()
            except InputError as e:
                _err(e)
    _assignments(store, user, auth)


def _assignments(store, user, auth) -> None:
    st.subheader("Assign sessions", anchor=False)
    st.caption("Assign the same session to two or more clinicians to measure agreement.")
    clinicians = [u.name for u in auth.users() if u.role == "clinician" and not u.disabled]
    if not clinicians:
        st.info("Add a clinician account first.")
        return
    opts = store.queue_options()
    with st.form("assign"):
        c = st.columns(4)
        who = c[0].multiselect("Clinicians", clinicians, key="as_who")
        run_id = c[1].selectbox("Run", [None, *opts["runs"]], format_func=lambda v: "All" if v is None else v,
                                key="as_run")
        flagged = c[2].toggle("Flagged sessions only", value=True, key="as_flagged")
        n = c[3].number_input("How many (queue order)", 1, 10_000, 10, key="as_n")
        if st.form_submit_button("Assign", type="primary"):
            page = review.review_queue(store, user, QueueFilter(run_id=run_id, flagged_only=flagged),
                                       page_size=int(n))
            sids = page.rows["session_id"].tolist()
            try:
                added = sum(review.assign(store, user, sids, w) for w in who)
                st.toast(f"{added} new assignment(s)", icon=":material/check_circle:")
            except InputError as e:
                _err(e)
    df = store.list_assignments()
    st.markdown(f"**{len(df)}** assignments")
    if not df.empty:
        st.dataframe(df.sort_values("created_at", ascending=False), hide_index=True, width="stretch")
        counts = df.groupby("reviewer").size().rename("sessions").reset_index()
        st.dataframe(pd.DataFrame(counts), hide_index=True)
