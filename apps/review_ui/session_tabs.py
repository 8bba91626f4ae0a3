"""The session page's annotation forms and lower tabs."""

from __future__ import annotations

import streamlit as st

from evalkit.review import queue as review
from evalkit.errors import InputError
from evalkit.metrics.info import info_or_default, sort_key
from evalkit.review.queue import CREOLA_TYPES, OMISSION_CATEGORIES, PDQI_ITEMS, SEVERITIES, STATUS_LABELS, VERDICTS
from evalkit.schema import Finding
from evalkit.review.session_view import SessionView, diff_counts, misheard_numbers

from . import common
from .transcript_html import SEEK_JS, turn_rows

NONE = "—"


def _saved(msg: str) -> None:
    st.toast(msg, icon=":material/check_circle:")


def _err(e: InputError) -> None:
    st.error(e.problem + (f" — {e.fix}" if e.fix else ""))


def _label_words(p: dict) -> str:
    return " · ".join(str(x) for x in (p.get("verdict"), p.get("type"), p.get("severity")) if x)


def claim_labels(store, user, view: SessionView, claim: Finding, n: int = 1, of: int = 1,
                 sentence: str = "") -> None:
    """One claim of the selected sentence: its text, the judge's verdict, the labels this user may see
    (blind labelling: others' only once this user labelled it), and for clinicians their saved label
    and the form to add one."""
    k = claim.id.replace(".", "_").replace("#", "_")
    with st.container(border=True, key=f"claim-{k}"):
        if of > 1 or (claim.text or "").strip().rstrip(".") != sentence.strip().rstrip("."):
            st.markdown(f"**Claim {n} of {of}:** “{common.md(claim.text)}”" if of > 1 else
                        f"**Claim:** “{common.md(claim.text)}”")
        bits = [x for x in (claim.verdict, claim.type, claim.severity) if x]
        st.markdown(f"**Judge:** {' · '.join(bits) or 'not checked'}"
                    + (f" — {common.md(claim.rationale)}" if claim.rationale else ""))
        labels = [a for a in view.annotations if a.kind in ("claim_label", "adjudication") and a.target == claim.id]
        for a in labels:
            if a.reviewer == user.name and a.kind == "claim_label":
                continue  # your own: the saved line below
            who = "adjudicated by " if a.kind == "adjudication" else ""
            extra = f" — corrected: “{common.md(a.payload['corrected_text'])}”" if a.payload.get("corrected_text") else ""
            st.caption(f"{who}{common.md(a.reviewer)} ({a.created_at:%d %b %H:%M}): {_label_words(a.payload)}{extra}")
        hidden = view.hidden.get(claim.id, 0)
        if hidden:
            whose = "1 other clinician's label is" if hidden == 1 else f"{hidden} other clinicians' labels are"
            st.caption(f"{whose} hidden until you label this claim (blind labelling).")
        if not user.can("annotate"):
            return
        mine = [a for a in labels if a.reviewer == user.name and a.kind == "claim_label"]
        if mine:
            p = mine[-1].payload
            extra = f" — corrected: “{common.esc(p['corrected_text'])}”" if p.get("corrected_text") else ""
            common.html_block(f"{common.chip('✓ Saved', 'green')} your label ({mine[-1].created_at:%d %b %H:%M}): "
                              f"<b>{common.esc(_label_words(p))}</b>"
                              f"{' (agrees with the judge)' if p.get('agree') else ''}{extra}")
        _label_form(store, user, view, claim, k, mine[-1].payload if mine else None)


def _label_form(store, user, view: SessionView, claim: Finding, k: str, saved: dict | None) -> None:
    jv = claim.verdict or "supported"
    if st.button(f"Agree with the judge ({jv})", icon=":material/thumb_up:", key=f"agree-{k}",
                 help="Record that the judge's verdict, type and severity are right"):
        review.label_claim(store, user, view.session_id, claim.id, agree=True, judge_verdict=jv,
                           type=claim.type, severity=claim.severity)
        _saved("Label saved")
        st.rerun()
    st.caption("…or correct the judge" + (" (a new label; earlier ones stay in the history):" if saved else ":"))
    start = saved or {"verdict": jv, "type": claim.type, "severity": claim.severity}
    with st.form(f"label-{k}", border=False):
        a, b, c = st.columns(3)
        verdict = a.selectbox("Your verdict", VERDICTS, index=VERDICTS.index(start.get("verdict") or jv),
                              key=f"lv-{k}")
        types = [NONE, *CREOLA_TYPES]
        typ = b.selectbox("Error type (CREOLA)", types, key=f"lt-{k}",
                          index=types.index(start["type"]) if start.get("type") in types else 0)
        sevs = [NONE, *SEVERITIES]
        sev = c.selectbox("Severity", sevs, key=f"ls-{k}",
                          index=sevs.index(start["severity"]) if start.get("severity") in sevs else 0)
        corrected = st.text_input("Corrected text (optional)", key=f"lc-{k}", value=(saved or {}).get(
            "corrected_text") or "", placeholder="What the note should say")
        if st.form_submit_button("Save label", type="primary"):
            try:
                review.label_claim(store, user, view.session_id, claim.id, agree=(verdict == jv), judge_verdict=jv,
                                   verdict=verdict, type=None if typ == NONE else typ,
                                   severity=None if sev == NONE else sev, corrected_text=corrected)
                _saved("Label saved")
                st.rerun()
            except InputError as e:
                _err(e)


def render_tabs(store, user, view: SessionView) -> None:
    names = [f"Omissions ({len(view.omissions)})", "ASR diff (WER)", "Template checklist", "All scores",
             "Review & status", f"History ({len(view.annotations)})"]
    tabs = st.tabs(names)
    with tabs[0]:
        _omissions(store, user, view)
    with tabs[1]:
        _diff(view)
    with tabs[2]:
        _checklist(view)
    with tabs[3]:
        _all_scores(view)
    with tabs[4]:
        _review(store, user, view)
    with tabs[5]:
        _history(view)


def _turn_buttons(view: SessionView, turn_ids: list[int], key: str) -> None:
    if turn_ids:
        st.html(f"<div class='ek-evidence'>{turn_rows(view, turn_ids, set(turn_ids))}</div>{SEEK_JS}",
                unsafe_allow_javascript=True)


def _omissions(store, user, view: SessionView) -> None:
    st.markdown("Facts the judge found in the transcript but not in the note:")
    if not view.omissions:
        st.caption("The judge found no omission.")
    for o in view.omissions:
        colour = "red" if o.severity == "major" else "amber"
        common.html_block(f"{common.chip(o.severity or 'minor', colour)} {common.chip(o.category or 'other')} "
                          f"{common.esc(o.text)}")
        _turn_buttons(view, o.evidence, f"om-{o.id}")
    mine = [a for a in view.annotations if a.kind == "omission"]
    if mine:
        st.markdown("**Added by reviewers:**")
        for a in mine:
            p = a.payload
            common.html_block(f"{common.chip(p.get('severity'), 'red' if p.get('severity') == 'major' else 'amber')} "
                              f"{common.chip(p.get('category'))} {common.esc(p.get('text'))} "
                              f"<small>— {common.esc(a.reviewer)}</small>")
    if not user.can("annotate"):
        return
    with st.form("add-omission"):
        st.markdown("**Add an omission**")
        text = st.text_input("What is missing from the note?", key="om_text")
        a, b, c = st.columns(3)
        cat = a.selectbox("Category", OMISSION_CATEGORIES, index=OMISSION_CATEGORIES.index("other"), key="om_cat")
        sev = b.selectbox("Severity", SEVERITIES, index=SEVERITIES.index("minor"), key="om_sev")
        turns = c.multiselect("Transcript turns that state it", [t.id for t in view.turns], key="om_turns")
        if st.form_submit_button("Add omission", type="primary"):
            try:
                review.add_omission(store, user, view.session_id, text, category=cat, severity=sev, evidence=turns)
                _saved("Omission added")
                st.rerun()
            except InputError as e:
                _err(e)


def _diff(view: SessionView) -> None:
    if not view.asr_turns:
        st.caption("This scribe returned no transcript (text-only input), so there is no WER diff.")
        return
    c = diff_counts(view.diff)
    wer = view.scores.get("wer", {}).get("value")
    common.html_block(f"WER <b>{common.fmt_value(wer)}</b> · {c['substitute']} substitutions "
                f"(<span class='ek-diff'><span class='sub'>orange underline</span></span>: "
                f"<del>reference</del> → <ins>heard</ins>) · {c['delete']} deletions (<del>struck</del>) · "
                      f"{c['insert']} insertions (<ins>green</ins>) · medical terms in <b>bold</b>")
    parts = []
    for o in view.diff:
        cls = " med" if o.medical else ""
        if o.op == "equal":
            parts.append(f"<span class='{cls.strip()}'>{common.esc(o.ref)}</span>" if cls else common.esc(o.ref))
        elif o.op == "substitute":
            parts.append(f"<span class='sub{cls}'><del>{common.esc(o.ref)}</del> <ins>{common.esc(o.hyp)}</ins></span>")
        elif o.op == "delete":
            parts.append(f"<del class='{cls.strip()}'>{common.esc(o.ref)}</del>")
        else:
            parts.append(f"<ins>{common.esc(o.hyp)}</ins>")
    with st.container(height=320, border=True):
        st.markdown(f"<div class='ek-diff'>{' '.join(parts)}</div>", unsafe_allow_html=True)
    _numbers(view)


def _numbers(view: SessionView) -> None:
    """Numbers and doses the ASR got wrong (issue 9's numeric safety class)."""
    if "numeric_error_rate" not in view.scores:
        return
    rate = view.scores["numeric_error_rate"].get("value")
    wrong = misheard_numbers(view)
    st.markdown(f"**Numbers misheard** · numeric error rate {common.fmt_value(rate)}")
    if not wrong:
        st.caption("Every number and dose in the transcript was heard as said.")
        return
    rows = "".join(f"<li><del>{common.esc(m.get('said'))}</del> → "
                   f"{'<ins>' + common.esc(m.get('heard')) + '</ins>' if m.get('heard') else '<i>dropped</i>'}</li>"
                   for m in wrong)
    common.html_block(f"<ul class='ek-diff ek-numbers'>{rows}</ul>")


def _checklist(view: SessionView) -> None:
    score = view.scores.get("adherence", {}).get("value")
    common.html_block(f"Template <b>{common.esc(view.template or '–')}</b> · adherence "
                      f"<b>{common.fmt_value(score)}</b>")
    if not view.checklist:
        st.caption("No adherence checks for this session.")
    lines = []
    for item in view.checklist:
        icon = ("<b style='color:#2e7d32'>✓</b>" if item["ok"] else
                ("<b style='color:#777'>–</b>" if item["ok"] is None else "<b style='color:#c62828'>✗</b>"))
        why = f" — <small>{common.esc(item['why'])}</small>" if item["why"] and not item["ok"] else ""
        lines.append(f"<div style='margin:2px 0'>{icon} {common.esc(item['item'])}{why}</div>")
    if lines:
        common.html_block("".join(lines))


def _all_scores(view: SessionView) -> None:
    import pandas as pd

    rows = []
    for m in sorted(view.scores, key=sort_key):
        info = info_or_default(m)
        rows.append({"metric": m, "what": info.label, "value": info.fmt(view.scores[m]["value"]),
                     "better": {"lower": "lower", "higher": "higher"}.get(info.direction or "", "")})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _review(store, user, view: SessionView) -> None:
    if not user.can("annotate"):
        st.caption("Only clinicians rate and change the status of a session.")
        return
    left, right = st.columns(2, gap="large")
    with left, st.form("pdqi"):
        st.markdown("**PDQI-9** — rate the note, 1 (not at all) to 5 (extremely)")
        ratings = {}
        for key, label, help_ in PDQI_ITEMS:
            ratings[key] = st.segmented_control(label, [1, 2, 3, 4, 5], help=help_, key=f"pdqi-{key}")
        if st.form_submit_button("Save ratings", type="primary"):
            try:
                review.rate_pdqi(store, user, view.session_id, ratings)
                _saved("Ratings saved")
                st.rerun()
            except InputError as e:
                _err(e)
    with right:
        with st.form("comment"):
            text = st.text_area("Comment", key="cm_text", placeholder="Anything the team should know")
            if st.form_submit_button("Add comment"):
                try:
                    review.comment(store, user, view.session_id, text)
                    _saved("Comment added")
                    st.rerun()
                except InputError as e:
                    _err(e)
        with st.form("flag"):
            reason = st.text_input("Flag reason / note", key="fl_reason")
            a, b = st.columns(2)
            if a.form_submit_button("⚑ Flag session"):
                review.flag_session(store, user, view.session_id, reason)
                _saved("Flagged")
                st.rerun()
            if b.form_submit_button("Clear flags"):
                review.clear_flag(store, user, view.session_id, reason)
                _saved("Flags cleared")
                st.rerun()
        statuses = list(review.STATUSES)
        new = st.radio("Status", statuses, index=statuses.index(view.status), horizontal=True,
                       format_func=STATUS_LABELS.get, key="st_status")
        if st.button("Set status", key="st_set", disabled=new == view.status):
            review.set_status(store, user, view.session_id, new)
            _saved(f"Status: {STATUS_LABELS[new]}")
            st.rerun()


def _history(view: SessionView) -> None:
    if not view.annotations:
        st.caption("No annotation yet.")
        return
    lines = []
    for a in reversed(view.annotations):
        p = {k: v for k, v in a.payload.items() if v not in (None, "", [])}
        body = ", ".join(f"{k}: {v}" for k, v in p.items())
        target = f" on {a.target}" if a.target else ""
        lines.append(f"<div style='margin:3px 0'><small>{a.created_at:%Y-%m-%d %H:%M:%S}</small> "
                     f"<b>{common.esc(a.reviewer)}</b> {common.esc(a.kind)}{common.esc(target)} — "
                     f"{common.esc(body)}</div>")
    common.html_block("".join(lines))
