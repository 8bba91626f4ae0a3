"""Session view: audio with jump-to-turn, transcript beside the colour-coded note, the selected
sentence's evidence and label form, and tabs for omissions, the WER diff, the template
checklist, all scores, the overall review (PDQI-9, comment, flag, status) and the history.
"""

from __future__ import annotations

import streamlit as st

from evalkit.review import queue as review
from evalkit.review.queue import STATUS_LABELS
from evalkit.review.session_view import SentenceView, SessionView, evidence_note, load_session, view_extras

from . import common, session_tabs
from .transcript_html import SEEK_JS, turn_rows
from .queue_page import current_filter, open_session

VERDICT_ICON = {"supported": ":material/check_circle:", "unsupported": ":material/help:",
                "contradicted": ":material/cancel:", "unchecked": ":material/radio_button_unchecked:"}
VERDICT_CHIP = {"supported": "green", "unsupported": "amber", "contradicted": "red", "unchecked": ""}
VERDICT_WORD = {"supported": "Supported", "unsupported": "Unsupported", "contradicted": "Contradicted",
                "unchecked": "Not checked"}
KEY_METRICS = (("wer", "WER"), ("medical_wer", "Medical WER"), ("hallucination_rate", "Hallucination rate"),
               ("major_hallucinations", "Major hallucinations"), ("omission_rate", "Omission rate"),
               ("adherence", "Template adherence"))


def jump(t: float | None) -> None:
    """Play the audio from ``t`` seconds on the next run."""
    if t is not None:
        st.session_state["ek_audio_t"] = float(t)
        st.session_state["ek_audio_play"] = True


def _session_id() -> str | None:
    sid = st.query_params.get("session") or st.session_state.get("ek_session")
    if sid and st.session_state.get("ek_session") != sid:
        st.session_state["ek_session"] = sid
        for k in ("ek_audio_t", "ek_audio_play", "ek_sel"):
            st.session_state.pop(k, None)
    if sid and st.query_params.get("session") != sid:
        st.query_params["session"] = sid
    return sid


def render() -> None:
    user = common.guard("review")
    store = common.store()
    sid = _session_id()
    if not sid:
        st.title("Session")
        st.info("Open a session from the review queue.", icon=":material/inbox:")
        return
    try:
        detail = _detail(str(store.path), sid)
        view = load_session(store, user, sid, detail=detail, extras=False)
        view.diff, view.checklist = _extras(str(store.path), sid, view, detail)
    except KeyError:
        st.title("Session")
        st.error("No session with this id in this database. Check the link, or open one from the queue.")
        return
    _header(store, user, view)
    _scores(view)
    _main_area(view)
    session_tabs.render_tabs(store, user, view)


@st.fragment
def _main_area(view: SessionView) -> None:
    """Audio, transcript, note and inspector: selecting a sentence reruns only this part."""
    user = common.guard("review")  # re-checked on every fragment run too
    store = common.store()
    left, right = st.columns([5, 6], gap="large")
    with left:
        _audio(view)
        _transcript(view)
    with right:
        _note(user, view)
        _inspector(store, user, view)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _detail(db: str, session_id: str) -> dict:
    """A stored session's output, findings and scores (they never change once written)."""
    return common.store().session_detail(session_id)


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _extras(db: str, session_id: str, _view: SessionView, _detail: dict):
    return view_extras(_view, _detail)


def _header(store, user, view: SessionView) -> None:
    filt = current_filter()
    pos = review.neighbours(store, user, view.session_id, filt)
    if pos["position"] is None and filt != review.QueueFilter():
        pos = review.neighbours(store, user, view.session_id, review.QueueFilter())
    a, b = st.columns([3, 2])
    with a:
        st.title(common.md(view.consultation_id), anchor=False)
        chips = [common.chip(view.specialty or "specialty unknown", "blue"), common.chip(f"scribe: {view.scribe}"),
                 common.chip(f"run {view.run_id}"), common.chip(f"template: {view.template or '–'}"),
                 common.chip(STATUS_LABELS.get(view.status, view.status),
                             "green" if view.status == "done" else "amber")]
        chips += [common.chip(f"⚑ {f['reason'] or f['rule']}", "red") for f in view.flags]
        common.html_block(" ".join(chips))
    with b:
        c = st.columns(3)
        if c[0].button("◀ Previous", disabled=not pos["prev"], key="s_prev", width="stretch"):
            open_session(pos["prev"])
        c[1].markdown(f"<div style='text-align:center;padding-top:6px'>{pos['position'] or '–'} of "
                      f"{pos['total']} in queue</div>", unsafe_allow_html=True)
        if c[2].button("Next ▶", disabled=not pos["next"], key="s_next", width="stretch"):
            open_session(pos["next"])
        if user.can("annotate") and view.status != "done":
            if st.button("✓ Mark done and open next", type="primary", key="s_done_next", width="stretch"):
                review.set_status(store, user, view.session_id, "done")
                if pos["next"]:
                    open_session(pos["next"])
                st.rerun()
    _next_step(user, view)


def _next_step(user, view: SessionView) -> None:
    problems = [s for s in view.sentences if s.verdict in ("unsupported", "contradicted")]
    mine = {a.target for a in view.annotations if a.kind == "claim_label" and a.reviewer == user.name}
    todo = [s for s in problems if not {c.id for c in s.claims} <= mine]
    if not user.can("annotate"):
        msg = "Read-only view: only clinicians label sessions."
    elif view.status == "needs_adjudication":
        msg = "Reviewers disagree on this session: a third clinician settles it on the <b>Agreement</b> page."
    elif todo:
        msg = (f"<b>Next step:</b> {len(todo)} highlighted sentence{'s' if len(todo) > 1 else ''} "
               f"need{'' if len(todo) > 1 else 's'} your label — click one in the note, check its evidence, "
               "then agree or correct the judge.")
    elif view.status != "done":
        msg = ("<b>Next step:</b> every flagged sentence is labelled. Add anything the note missed "
               "(Omissions tab), rate it (Review tab), then <b>Mark done</b>.")
    else:
        msg = "This session is reviewed. Use <b>Next ▶</b> for the next one."
    st.markdown(f"<div class='ek-next'>{msg}</div>", unsafe_allow_html=True)


def _scores(view: SessionView) -> None:
    cols = st.columns(len(KEY_METRICS))
    for col, (m, label) in zip(cols, KEY_METRICS):
        v = view.scores.get(m, {}).get("value")
        col.metric(label, common.fmt_value(v, 0 if m == "major_hallucinations" else 3))


def _audio(view: SessionView) -> None:
    st.subheader("Audio", anchor=False)
    if view.audio_path is None:
        st.caption("No audio stored for this consultation (text-only case).")
        return
    t = st.session_state.get("ek_audio_t", 0.0)
    play = st.session_state.pop("ek_audio_play", False)
    st.audio(str(view.audio_path), start_time=int(t), autoplay=play)
    st.caption(f"Duration {common.fmt_time(view.audio.duration if view.audio else None)} · click a transcript "
               "turn or an evidence line to play from there.")


def _selected(view: SessionView) -> SentenceView | None:
    sel = st.session_state.get("ek_sel")
    by_id = {s.id: s for s in view.sentences}
    if sel in by_id:
        return by_id[sel]
    rank = {"contradicted": 0, "unsupported": 1}
    worst = sorted((s for s in view.sentences if s.verdict in rank), key=lambda s: rank[s.verdict])
    return worst[0] if worst else (view.sentences[0] if view.sentences else None)


def _transcript(view: SessionView) -> None:
    st.subheader("Transcript", anchor=False)
    sel = _selected(view)
    ev = set(sel.evidence) if sel else set()
    st.html(f"<div class='ek-transcript'>{turn_rows(view, highlight=ev)}</div>{SEEK_JS}",
            unsafe_allow_javascript=True)


def _select(sentence_id: str) -> None:
    st.session_state["ek_sel"] = sentence_id


def _note(user, view: SessionView) -> None:
    st.subheader("Scribe note", anchor=False)
    counts = view.verdict_counts()
    st.markdown("<div class='ek-legend'>" + "".join(
        f"<span><span class='ek-dot' style='background:{col}'></span>{VERDICT_WORD[v]} {counts.get(v, 0)}</span>"
        for v, col in (("supported", "#2e7d32"), ("unsupported", "#ef8f00"), ("contradicted", "#c62828"),
                       ("unchecked", "#afb8c1"))) + "</div>", unsafe_allow_html=True)
    sel = _selected(view)
    mine = {a.target for a in view.annotations if a.kind == "claim_label" and a.reviewer == user.name}
    with st.container(height=380, border=True):
        for title, sents in view.sections():
            st.markdown(f"<div class='ek-sec'>{common.esc(title)}</div>", unsafe_allow_html=True)
            for s in sents:
                is_sel = sel is not None and s.id == sel.id
                done = bool(s.claims) and all(c.id in mine for c in s.claims)  # you labelled every claim
                with st.container(key=f"sent-{s.verdict}-{s.id.replace('.', '_')}{'-sel' if is_sel else ''}"):
                    st.button(common.md(s.text) + ("  ✎" if done else ""), key=f"sentbtn-{s.id}",
                              icon=VERDICT_ICON.get(s.verdict), on_click=_select, args=(s.id,), width="stretch")


def _inspector(store, user, view: SessionView) -> None:
    sel = _selected(view)
    if sel is None:
        st.info("This note has no sentences.")
        return
    with st.container(border=True, key="inspector"):
        common.html_block(f"{common.chip(VERDICT_WORD[sel.verdict], VERDICT_CHIP[sel.verdict])} "
                          f"{common.chip(sel.section)} <b>{common.esc(sel.text)}</b>")
        caption, turns = evidence_note(sel)  # the caption always matches the turns listed
        if turns:
            st.markdown(caption)
            _evidence_list(view, turns)
        else:
            st.caption(caption)
        for i, c in enumerate(sel.claims, 1):  # one block per claim, each with its own text and form
            session_tabs.claim_labels(store, user, view, c, i, len(sel.claims), sel.text)


def _evidence_list(view: SessionView, turn_ids: list[int]) -> None:
    st.html(f"<div class='ek-evidence'>{turn_rows(view, turn_ids, set(turn_ids))}</div>{SEEK_JS}",
            unsafe_allow_javascript=True)
