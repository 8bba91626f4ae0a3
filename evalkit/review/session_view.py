"""The session view model: everything the session page shows, as plain objects.

Built from :meth:`Store.session_detail`: the reference transcript (with audio times), the
scribe's ASR transcript, the note with each sentence's verdict and evidence turns, omissions,
the word-level diff behind WER, the template adherence checklist, all scores and flags, and
the annotation history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth import User, require
from .blinding import hidden_labels, visible_annotations
from ..schema import Annotation, Audio, Finding, Note, Turn
from ..store import Store

_VERDICT_RANK = {"contradicted": 3, "unsupported": 2, "supported": 1}


@dataclass
class SentenceView:
    id: str
    section: str  # section title as written
    text: str
    verdict: str  # supported | unsupported | contradicted | unchecked
    claims: list[Finding] = field(default_factory=list)
    evidence: list[int] = field(default_factory=list)  # the judge's and the scribe's, together
    scribe_evidence: list[int] = field(default_factory=list)  # turns the scribe linked to the sentence
    judge_evidence: list[int] = field(default_factory=list)  # turns the judge cited for its claims

    @property
    def worst_claim(self) -> Finding | None:
        return max(self.claims, key=lambda c: _VERDICT_RANK.get(c.verdict or "", 0), default=None)


def evidence_note(s: SentenceView) -> tuple[str, list[int]]:
    """What the session page says above a sentence's transcript turns, and which turns it lists.

    The caption always matches the list: it never promises turns that are not there.
    """
    if s.judge_evidence:
        return "**Evidence in the transcript** (highlighted on the left; click a line to play it):", s.evidence
    judge = ("The judge did not check this sentence" if not s.claims else
             "The judge found no turn that supports this sentence" if s.verdict != "supported" else
             "The judge cited no turn for this sentence")
    if s.scribe_evidence:
        return f"{judge}; below are the turns the scribe linked to it (click a line to play it):", s.scribe_evidence
    return f"{judge}, and the scribe linked none: no transcript turn is shown.", []


@dataclass
class DiffOp:
    op: str  # equal | substitute | delete | insert
    ref: str = ""
    hyp: str = ""
    medical: bool = False  # the reference word is a medical term


@dataclass
class SessionView:
    session_id: str
    run_id: str
    consultation_id: str
    scribe: str
    specialty: str
    template: str
    status: str
    flags: list[dict]
    scores: dict[str, dict]
    turns: list[Turn]
    asr_turns: list[Turn]
    sentences: list[SentenceView]
    claims: list[Finding]
    omissions: list[Finding]
    audio: Audio | None
    audio_path: Path | None
    diff: list[DiffOp]
    checklist: list[dict]
    annotations: list[Annotation]  # those this user may see (blind labelling: evalkit.review.blinding)
    hidden: dict[str, int] = field(default_factory=dict)  # claim id → other reviewers' labels hidden

    def turn_start(self, turn_id: int) -> float | None:
        """Audio time (s) at which a turn starts, when known."""
        if self.audio:
            for tt in self.audio.turn_times:
                if tt.turn_id == turn_id:
                    return tt.start
        for t in self.turns:
            if t.id == turn_id:
                return t.start
        return None

    def sections(self) -> list[tuple[str, list[SentenceView]]]:
        out: list[tuple[str, list[SentenceView]]] = []
        for s in self.sentences:
            if not out or out[-1][0] != s.section:
                out.append((s.section, []))
            out[-1][1].append(s)
        return out

    def verdict_counts(self) -> dict[str, int]:
        counts = {"supported": 0, "unsupported": 0, "contradicted": 0, "unchecked": 0}
        for s in self.sentences:
            counts[s.verdict] = counts.get(s.verdict, 0) + 1
        return counts


def load_session(store: Store, user: User, session_id: str, *, detail: dict | None = None,
                 extras: bool = True) -> SessionView:
    """Build the session view (needs the ``review`` permission).

    Args:
        store: the database.
        user: who is looking.
        session_id: ``run_id:consultation_id``.
        detail: :meth:`Store.session_detail` for this session when the caller cached it (a
            session's output, findings and scores never change; its annotations do and are
            always re-read).
        extras: also compute the WER diff and the adherence checklist (see :func:`view_extras`).

    The view holds only the annotations ``user`` may see: another clinician's label on a claim stays
    hidden until this one has labelled it (:mod:`evalkit.review.blinding`).

    Raises:
        KeyError: no such session.
    """
    require(user, "review")
    d = detail if detail is not None else store.session_detail(session_id)
    s, cons, out = d["session"], d["consultation"], d["output"]
    findings: list[Finding] = d["findings"]
    claims = [f for f in findings if f.kind == "claim"]
    omissions = [f for f in findings if f.kind == "omission"]
    note = out.note if out else Note()
    turns = list(cons.turns) if cons else []
    asr = list(out.transcript) if out else []
    audio: Audio | None = d["audio"]
    if out is not None and isinstance(out.metadata.get("audio"), dict):  # a sweep session: the audio it heard
        try:
            audio = Audio.model_validate(out.metadata["audio"])
        except ValueError:
            pass
    every = store.annotations(session_id=session_id)
    annotations = visible_annotations(user, every)
    view = SessionView(
        session_id=session_id, run_id=s["run_id"], consultation_id=s["consultation_id"],
        scribe=s.get("scribe") or "", specialty=cons.case.specialty if cons else "",
        template=(note.template or (cons.template if cons else "")) or "",
        status=status_of(every), flags=d["flags"], scores=d["scores"], turns=turns,
        asr_turns=asr, sentences=sentence_views(note, claims), claims=claims, omissions=omissions,
        audio=audio, audio_path=resolve_audio(store, audio), diff=[], checklist=[], annotations=annotations,
        hidden=hidden_labels(user, every),
    )
    if extras:
        view.diff, view.checklist = view_extras(view, d)
    return view


def view_extras(view: SessionView, detail: dict) -> tuple[list[DiffOp], list[dict]]:
    """The WER word diff and the adherence checklist of a session (fixed once the session is stored)."""
    out = detail["output"]
    note = out.note if out else Note()
    cons = detail["consultation"]
    diff = word_diff(view.turns, view.asr_turns, view.scores.get("wer", {}).get("detail", {})) \
        if view.asr_turns else []
    checklist = adherence_checklist(view.scores.get("adherence", {}).get("detail", {}), note,
                                    note.template or (cons.template if cons else None))
    return diff, checklist


def status_of(annotations: list[Annotation]) -> str:
    """A session's review status: the latest status (or adjudication) annotation; 'to_review' if none."""
    status = "to_review"
    for a in annotations:  # oldest first
        if a.kind in ("status", "adjudication") and a.payload.get("status"):
            status = a.payload["status"]
    return status


def resolve_audio(store: Store, audio: Audio | None) -> Path | None:
    """The audio file on disk (stored paths are relative to the database's folder), if it exists."""
    if audio is None or not audio.path:
        return None
    p = Path(audio.path)
    p = p if p.is_absolute() else store.root / p
    return p if p.is_file() else None


def sentence_views(note: Note, claims: list[Finding]) -> list[SentenceView]:
    """Each note sentence with the worst verdict of its claims and the union of their evidence."""
    by_sentence: dict[str, list[Finding]] = {}
    for c in claims:
        by_sentence.setdefault(c.sentence_id or "", []).append(c)
    out = []
    for sec, sent in note.sentences():
        cs = by_sentence.get(sent.id, [])
        verdict = max((c.verdict or "supported" for c in cs), key=lambda v: _VERDICT_RANK.get(v, 0),
                      default="unchecked")
        judged = sorted(set().union(*[set(c.evidence) for c in cs])) if cs else []
        ev = sorted(set(sent.evidence).union(judged))
        out.append(SentenceView(id=sent.id, section=sec.title, text=sent.text, verdict=verdict, claims=cs,
                                evidence=ev, scribe_evidence=sorted(set(sent.evidence)), judge_evidence=judged))
    return out


_WORD = re.compile(r"[a-z0-9]+(?:['.][a-z0-9]+)*")


def _words(turns: list[Turn]) -> list[str]:
    return _WORD.findall(" ".join(t.text for t in turns).lower())


def word_diff(ref_turns: list[Turn], hyp_turns: list[Turn], detail: dict | None = None) -> list[DiffOp]:
    """Word alignment of reference vs ASR transcript (equal / substitute / delete / insert).

    Uses the alignment stored in the ``wer`` score's detail (``ops`` or ``alignment``) when
    present; else :func:`evalkit.metrics.wer.wer_details` (the same normalisation as the WER
    score, with medical terms marked); else a plain jiwer alignment of lower-cased words.
    """
    ops = (detail or {}).get("ops") or (detail or {}).get("alignment")
    if isinstance(ops, list) and ops:
        out = []
        for o in ops:
            if isinstance(o, dict):
                out.append(DiffOp(str(o.get("op", "equal")), o.get("ref") or "", o.get("hyp") or "",
                                  bool(o.get("medical"))))
            elif isinstance(o, (list, tuple)) and len(o) >= 3:
                out.append(DiffOp(str(o[0]), o[1] or "", o[2] or ""))
        if out:
            return out
    try:
        from ..metrics.wer import wer_details

        res = wer_details(ref_turns, hyp_turns)
        return [DiffOp(a.op, a.ref or "", a.hyp or "", bool(a.medical)) for a in res.alignment]
    except ImportError:
        pass
    import jiwer

    ref, hyp = _words(ref_turns), _words(hyp_turns)
    if not ref or not hyp:
        return [DiffOp("delete", w) for w in ref] + [DiffOp("insert", "", w) for w in hyp]
    res = jiwer.process_words(" ".join(ref), " ".join(hyp))
    out = []
    for ch in res.alignments[0]:
        r, h = ref[ch.ref_start_idx:ch.ref_end_idx], hyp[ch.hyp_start_idx:ch.hyp_end_idx]
        if ch.type == "equal":
            out.extend(DiffOp("equal", a, b) for a, b in zip(r, h))
        elif ch.type == "substitute":
            out.extend(DiffOp("substitute", a, b) for a, b in zip(r, h))
        elif ch.type == "delete":
            out.extend(DiffOp("delete", a, "") for a in r)
        else:
            out.extend(DiffOp("insert", "", b) for b in h)
    return out


def diff_counts(ops: list[DiffOp]) -> dict[str, int]:
    c = {"equal": 0, "substitute": 0, "delete": 0, "insert": 0}
    for o in ops:
        c[o.op] = c.get(o.op, 0) + 1
    return c


def _check_label(name: str) -> str:
    kind, _, section = name.partition(":")
    kind = {"present": "section present", "not_empty": "section has text", "order": "sections in template order"
            }.get(kind, kind.replace("_", " "))
    return f"{section.replace('_', ' ').title()}: {kind}" if section else kind.capitalize()


def adherence_checklist(detail: dict[str, Any] | None, note: Note, template: str | None) -> list[dict]:
    """Template adherence as a checklist of {item, ok, why}.

    Re-runs :func:`evalkit.metrics.adherence.adherence` on the note (every check, passed or
    not); without that module, lists the failed checks from the ``adherence`` score's detail.
    """
    detail = detail or {}
    tpl = detail.get("template") or template
    if tpl:
        try:
            from ..metrics.adherence import adherence

            res = adherence(note, tpl)
            return [{"item": _check_label(c.name), "ok": bool(c.passed), "why": c.why} for c in res.checks]
        except ImportError:
            pass
        except Exception:  # unknown template or a note the checker cannot read: fall back to the detail
            pass
    return [{"item": _check_label(str(f.get("check", "check"))), "ok": False, "why": str(f.get("why", ""))}
            for f in detail.get("failed", []) if isinstance(f, dict)]


# --------------------------------------------------------------------------- numeric safety (issue 9)


def misheard_numbers(view: SessionView) -> list[dict]:
    """Numbers and doses the ASR got wrong: ``[{"said": "500 mg", "heard": "100 mg"}]`` (``heard``
    None when the number was dropped), from the ``numeric_error_rate`` score's detail."""
    detail = view.scores.get("numeric_error_rate", {}).get("detail", {}) or {}
    return [m for m in detail.get("misheard", []) if isinstance(m, dict)]


__all__ = ["evidence_note", "misheard_numbers", "DiffOp", "SentenceView", "SessionView", "adherence_checklist", "diff_counts", "load_session",
           "resolve_audio", "sentence_views", "status_of", "view_extras", "word_diff"]
