"""The login form, and the first-run form that creates the administrator."""

from __future__ import annotations

import math

import streamlit as st

from evalkit.errors import InputError

from . import common


def render_login() -> None:
    auth = common.auth()
    device = common.device_id()
    _, mid, _ = st.columns([1, 1.3, 1])
    with mid:
        st.title(":material/stethoscope: evalkit review")
        if "session" in st.query_params:
            st.info("Log in to open the session you were sent.", icon=":material/link:")
        if auth.needs_bootstrap():
            st.subheader("Create the administrator account")
            st.caption("No account exists yet in this database. The first account is an administrator, "
                       "who then adds clinicians and engineers (or use `evalkit users add`).")
            with st.form("bootstrap"):
                name = st.text_input("Administrator name", key="boot_name")
                pw = st.text_input("Password (8+ characters)", type="password", key="boot_pw")
                pw2 = st.text_input("Repeat password", type="password", key="boot_pw2")
                if st.form_submit_button("Create administrator", type="primary"):
                    if pw != pw2:
                        st.error("The passwords differ.")
                    else:
                        try:
                            auth.bootstrap_admin(name.strip(), pw)
                            st.session_state[common.TOKEN_KEY] = auth.login(
                                name.strip(), pw, client=common.client_address(), device=device)
                            st.session_state.pop("_ek_logged_out", None)
                            st.rerun()
                        except InputError as e:
                            st.error(e.problem + (f" — {e.fix}" if e.fix else ""))
            return
        st.caption("Clinician review of AI scribe notes. Log in with the account your administrator gave you.")
        with st.form("login"):
            name = st.text_input("User name", key="login_name")
            pw = st.text_input("Password", type="password", key="login_pw")
            if st.form_submit_button("Log in", type="primary", width="stretch"):
                res = auth.attempt(name.strip(), pw, client=common.client_address(), device=device)
                if res.token:
                    st.session_state[common.TOKEN_KEY] = res.token
                    st.session_state.pop("_ek_logged_out", None)
                    st.rerun()
                if res.reason == "throttled":
                    st.error(f"Too many failed logins from here: try again in {math.ceil(res.retry_after)} s.",
                             icon=":material/hourglass_top:")
                else:
                    st.error("Wrong user name or password (or the account is disabled). After a few failed "
                             "tries, each next try waits a little longer.")
