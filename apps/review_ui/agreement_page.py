"""Agreement: κ between clinicians and against the judge, disagreements, adjudication."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from evalkit.review import agreement as ag
from evalkit.review import queue as review
from evalkit.errors import InputError
from evalkit.review.queue import CREOLA_TYPES, SEVERITIES, VERDICTS

from . import common
from .queue_page import open_session

NONE = "—"


def render() -> None:
    user = common.guard("agreement")
    store = common.store()
    st.title("Agreement")
    st.caption("Sessions labelled by two or more clinicians. κ is Cohen's for a pair of reviewers "
               "(linear-weighted for ordinal labels), Fleiss' for all reviewers together; 1 = perfect, "
               "0 = chance. The judge is compared with each clinician's verdict. Labelling is blind: a "
               "clinician sees another's label on a claim only after labelling it (or to adjudicate it).")
    runs = store.list_runs()
    labels = {r.run_id: f"{r.label or r.run_id} · {r.scribe}" for r in runs.itertuples()}
    run_id = st.selectbox("Run", [None, *labels], format_func=lambda v: "All runs" if v is None else labels[v],
                          key="ag_run")
    ann = store.annotation_frame(kinds=["claim_label"], run_id=run_id)
    if ann.empty:
        st.info("No claim has been labelled yet. Agreement appears once two clinicians label the same session "
                "(an admin can assign one session to several clinicians).", icon=":material/group:")
        return
    blind = st.toggle("Blind labels only", value=True, key="ag_blind",
                      help="κ on the labels each clinician made without another clinician's label on the "
                           "claim in view: the ones an inter-rater study counts.")
    n = ag.blind_counts(ann)
    st.caption(f"{n['blind']} blind label{'s' if n['blind'] != 1 else ''}; {n['not_blind']} made with "
               "another reviewer's label in view (a re-label after seeing theirs, a label on a disputed claim, "
               "or one saved before blind labelling) " + ("left out." if blind else "included."))
    summary = ag.agreement_summary(ann, blind_only=blind)
    st.subheader("Summary" + (" — blind labels" if blind else " — all labels"), anchor=False)
    st.dataframe(summary.rename(columns={"label": "Label", "items": "Items with ≥2 reviewers",
                                         "fleiss_kappa": "Fleiss κ", "disagreements": "Disagreements"}),
                 hide_index=True, width="stretch",
                 column_config={"Fleiss κ": st.column_config.NumberColumn(format="%.3f")})
    field = st.segmented_control("Label", ag.LABEL_FIELDS, default="verdict", key="ag_field") or "verdict"
    table = ag.label_table(ann, field, blind_only=blind)
    a, b = st.columns(2, gap="large")
    with a:
        st.subheader("Reviewer pairs", anchor=False)
        pk = ag.pairwise_kappa(table, field)
        if pk.empty:
            st.caption("Only one reviewer so far.")
        else:
            st.dataframe(pk, hide_index=True, width="stretch", column_config={
                c: st.column_config.NumberColumn(format="%.3f") for c in ("agreement", "kappa", "weighted_kappa")})
    with b:
        st.subheader("Judge vs clinicians (verdict)", anchor=False)
        vt = ag.label_table(ann, "verdict", blind_only=blind)
        sids = sorted({s for s, _ in vt.index}) if not vt.empty else []
        jv = ag.judge_vs_clinician(vt, store.claim_findings(sids))
        st.dataframe(jv, hide_index=True, width="stretch", column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in ("agreement", "kappa")})
    _disagreements(store, user, ann)


def _disagreements(store, user, ann: pd.DataFrame) -> None:
    st.subheader("Disagreements", anchor=False)
    table = ag.label_table(ann, "verdict")
    rows = []
    for field in ("verdict", "type", "severity"):
        d = ag.disagreements(ag.label_table(ann, field))
        for (sid, cid), r in d.iterrows():
            rows.append({"session_id": sid, "claim_id": cid, "label": field, "labels": r["labels"]})
    if not rows:
        st.success("No disagreement: every multiply-labelled claim got the same labels.", icon=":material/handshake:")
        return
    adj = store.annotation_frame(kinds=["adjudication"])
    settled = set(zip(adj["session_id"], adj["target"])) if not adj.empty else set()
    df = pd.DataFrame(rows)
    df["settled"] = [(s, c) in settled for s, c in zip(df["session_id"], df["claim_id"])]
    st.dataframe(df, hide_index=True, width="stretch")
    open_items = df[~df["settled"]][["session_id", "claim_id"]].drop_duplicates()
    if open_items.empty:
        st.success("Every disagreement is adjudicated.", icon=":material/check_circle:")
        return
    if not user.can("adjudicate"):
        st.caption("A clinician who did not label a claim adjudicates it.")
        return
    st.markdown("**Adjudicate** (as a third reviewer)")
    keys = [f"{s} · {c}" for s, c in open_items.itertuples(index=False)]
    pick = st.selectbox("Claim", keys, key="adj_pick")
    sid, cid = pick.split(" · ", 1)
    labellers = [c for c in table.columns if table.loc[(sid, cid), c] is not None] if (sid, cid) in table.index else []
    if st.button("Open this session", key="adj_open"):
        open_session(sid)
    if user.name in labellers:
        st.warning("You labelled this claim yourself: a third clinician must adjudicate it.")
        return
    _claim_text(ann, sid, cid)
    with st.form("adjudicate"):
        a, b, c = st.columns(3)
        verdict = a.selectbox("Final verdict", VERDICTS, key="adj_v")
        typ = b.selectbox("Error type", [NONE, *CREOLA_TYPES], key="adj_t")
        sev = c.selectbox("Severity", [NONE, *SEVERITIES], key="adj_s")
        why = st.text_input("Rationale", key="adj_why")
        if st.form_submit_button("Save adjudication", type="primary"):
            try:
                review.adjudicate(store, user, sid, cid, verdict=verdict, type=None if typ == NONE else typ,
                                  severity=None if sev == NONE else sev, rationale=why)
                st.toast("Adjudication saved", icon=":material/check_circle:")
                st.rerun()
            except InputError as e:
                st.error(e.problem + (f" — {e.fix}" if e.fix else ""))


def _claim_text(ann: pd.DataFrame, sid: str, cid: str) -> None:
    sub = ann[(ann["session_id"] == sid) & (ann["target"] == cid)]
    for r in sub.itertuples():
        p = json.loads(r.payload) if isinstance(r.payload, str) else r.payload
        bits = " · ".join(str(x) for x in (p.get("verdict"), p.get("type"), p.get("severity")) if x)
        st.caption(f"{common.md(r.reviewer)}: {bits}")
