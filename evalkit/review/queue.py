"""Clinician review: the queue, review status and annotation helpers the app's pages call.

Every function takes the acting :class:`~evalkit.review.auth.User` and checks its permission first
(server side), so a page cannot do what its user's role does not allow. Annotations are
appended with :meth:`Store.add_annotation` — never updated or deleted — and carry who and when.
The session view model lives in :mod:`evalkit.review.session_view`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, get_args

import pandas as pd

from .auth import User, require
from .blinding import label_is_blind, label_key
from ..errors import InputError
from ..schema import Annotation, ErrorType, Omission, Severity, Verdict
from ..store import Store

STATUSES = ("to_review", "in_review", "done", "needs_adjudication")
STATUS_LABELS = {"to_review": "To review", "in_review": "In review", "done": "Done",
                 "needs_adjudication": "Needs adjudication"}
VERDICTS: tuple[str, ...] = get_args(Verdict)
CREOLA_TYPES: tuple[str, ...] = get_args(ErrorType)  # fabrication, negation, causality, contextual
SEVERITIES: tuple[str, ...] = get_args(Severity)
OMISSION_CATEGORIES: tuple[str, ...] = get_args(Omission.model_fields["category"].annotation)

#: PDQI-9 (Stetson et al. 2012): key, label, what a 5 means. Score metric names are pdqi_<key>.
PDQI_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("up_to_date", "Up-to-date", "contains the most recent test results and recommendations"),
    ("accurate", "Accurate", "true: free of incorrect information"),
    ("thorough", "Thorough", "complete: documents all of the issues of importance"),
    ("useful", "Useful", "relevant, providing information that helps the clinician"),
    ("organized", "Organized", "well-formed, structured so the reader understands the care"),
    ("comprehensible", "Comprehensible", "clear, without ambiguity or sections hard to understand"),
    ("succinct", "Succinct", "brief, to the point, without redundancy"),
    ("synthesized", "Synthesized", "reflects the author's understanding of the patient's status"),
    ("internally_consistent", "Internally consistent", "no part contradicts any other part"),
)
PDQI_KEYS = tuple(k for k, _, _ in PDQI_ITEMS)


@dataclass
class QueueFilter:
    """The review queue's filters; every one is passed to SQL as a bound parameter.

    ``status`` is one of :data:`STATUSES`, or ``"open"`` for every status but done.
    """

    run_id: str | None = None
    scribe: str | None = None
    specialty: str | None = None
    flag_rule: str | None = None
    status: str | None = None
    assigned_to: str | None = None
    flagged_only: bool = False

    def __post_init__(self) -> None:
        if self.status and self.status not in STATUSES + ("open",):
            raise InputError("queue", "status", f"unknown status {self.status!r}", f"use one of {STATUSES}")

    def params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QueuePage:
    rows: pd.DataFrame
    counts: dict[str, int]
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.counts["total"] // self.page_size))

    @property
    def progress(self) -> str:
        """E.g. '12 of 40 reviewed'."""
        return progress_text(self.counts)


def progress_text(counts: dict[str, int]) -> str:
    return f"{counts.get('done', 0)} of {counts.get('total', 0)} reviewed"


def review_queue(store: Store, user: User, filt: QueueFilter | None = None, page: int = 0,
                 page_size: int = 25) -> QueuePage:
    """One page of sessions to review, flagged (and most severe) first.

    Args:
        store: the database.
        user: who is asking (needs the ``review`` permission).
        filt: run, scribe, specialty, flag reason, status, assigned-to and flagged-only filters.
        page: 0-based page number.
        page_size: rows per page.
    """
    require(user, "review")
    filt = filt or QueueFilter()
    rows, counts = store.review_queue(**filt.params(), me=user.name, limit=page_size,
                                      offset=max(0, page) * page_size)
    return QueuePage(rows, counts, page, page_size)


STATUS_ICONS = {"to_review": "○ To review", "in_review": "◐ In review", "done": "✓ Done",
                "needs_adjudication": "◆ Needs adjudication"}
#: the queue table as shown on screen, and as its CSV download has it: header → how the cell is made
QUEUE_COLUMNS: dict[str, Any] = {
    "Status": lambda r: r["status"].map(STATUS_ICONS),
    "Case": lambda r: r["consultation_id"],
    "Specialty": lambda r: r["specialty"],
    "Scribe": lambda r: r["scribe"],
    "Severity": lambda r: r["severity"].map({"high": "High", "medium": "Medium", "low": "Low"}).fillna(""),
    "Flag reasons": lambda r: r["flag_rules"].fillna("").where(r["n_flags"] > 0, ""),
    "Major halluc.": lambda r: r["major_hallucinations"],
    "Major omissions": lambda r: r["major_omissions"],
    "Hallucination rate": lambda r: r["hallucination_rate"],
    "Omission rate": lambda r: r["omission_rate"],
    "WER": lambda r: r["wer"],
    "Assigned to": lambda r: r["assigned"].fillna(""),
    "My work": lambda r: r["my_annotations"].map(lambda v: f"{v} labels" if v else ""),
    "Run": lambda r: r["run_id"],
}


def queue_table(rows: pd.DataFrame) -> pd.DataFrame:
    """A queue page's rows with the column headers shown on screen (its CSV download keeps them)."""
    return pd.DataFrame({header: make(rows) for header, make in QUEUE_COLUMNS.items()}, index=rows.index)


def neighbours(store: Store, user: User, session_id: str, filt: QueueFilter | None = None) -> dict:
    """Previous and next session in the filtered queue: {"position", "total", "prev", "next"}."""
    require(user, "review")
    return store.queue_position(session_id, **(filt or QueueFilter()).params(), me=user.name)


def run_of(session_id: str) -> str:
    """The run id part of a session id (``run_id:consultation_id``)."""
    return session_id.split(":", 1)[0]


# ------------------------------------------------------------------------- annotations


def _append(store: Store, user: User, session_id: str, kind: str, payload: dict[str, Any],
            target: str | None = None, *, auto_status: bool = True) -> str:
    aid = store.add_annotation(Annotation(session_id=session_id, reviewer=user.name, kind=kind,
                                          target=target, payload=payload), run_id=run_of(session_id))
    if auto_status and kind != "status" and store.session_status(session_id) == "to_review":
        store.add_annotation(Annotation(session_id=session_id, reviewer=user.name, kind="status",
                                        payload={"status": "in_review", "auto": True}),
                             run_id=run_of(session_id))
    return aid


def _choice(value: Any, allowed: tuple[str, ...], field: str, optional: bool = True) -> str | None:
    if value in (None, "") and optional:
        return None
    if value not in allowed:
        raise InputError("annotation", field, f"unknown value {value!r}", f"use one of: {', '.join(allowed)}")
    return value


def latest_labels(store: Store, session_id: str) -> dict[tuple[str, str], dict]:
    """Latest claim label per (claim id, reviewer) in a session."""
    out: dict[tuple[str, str], dict] = {}
    for a in store.annotations(session_id=session_id):
        if a.kind == "claim_label" and a.target:
            out[(a.target, a.reviewer)] = a.payload
    return out


def label_claim(store: Store, user: User, session_id: str, claim_id: str, *, agree: bool,
                judge_verdict: str | None = None, verdict: str | None = None, type: str | None = None,
                severity: str | None = None, corrected_text: str | None = None) -> str:
    """Label one of the judge's claims: agree or not, and the clinician's verdict, CREOLA type, severity.

    When ``agree`` is True the clinician's verdict is the judge's. If another clinician's latest
    label for the same claim differs, the session is marked ``needs_adjudication``. The label
    records ``blind``: whether no other clinician's label on the claim was visible to this one
    (:mod:`evalkit.review.blinding`); agreement (κ) is computed on blind labels.

    Args:
        store: the database.
        user: a clinician (``annotate`` permission).
        session_id: the session.
        claim_id: the judge's claim id (``<sentence id>#<n>``).
        agree: does the clinician agree with the judge's verdict.
        judge_verdict: the judge's verdict, stored alongside for agreement statistics.
        verdict: the clinician's verdict when they disagree.
        type: CREOLA hallucination type (fabrication, negation, causality, contextual).
        severity: major or minor.
        corrected_text: what the sentence should say.
    """
    require(user, "annotate")
    judge_verdict = _choice(judge_verdict, VERDICTS, "judge_verdict")
    verdict = judge_verdict if agree and not verdict else _choice(verdict, VERDICTS, "verdict")
    if verdict is None:
        raise InputError("annotation", "verdict", "a disagreement needs the clinician's verdict",
                         "choose supported, unsupported or contradicted")
    payload = {"agree": bool(agree), "judge_verdict": judge_verdict, "verdict": verdict,
               "type": _choice(type, CREOLA_TYPES, "type") if verdict != "supported" else None,
               "severity": _choice(severity, SEVERITIES, "severity") if verdict != "supported" else None,
               "corrected_text": (corrected_text or "").strip() or None,
               "blind": label_is_blind(user, claim_id, store.annotations(session_id=session_id))}
    aid = _append(store, user, session_id, "claim_label", payload, target=claim_id)
    others = [p for (cid, who), p in latest_labels(store, session_id).items()
              if cid == claim_id and who != user.name]
    if any(label_key(p) != label_key(payload) for p in others):
        set_status(store, user, session_id, "needs_adjudication", _auto=True)
    return aid


def add_omission(store: Store, user: User, session_id: str, text: str, *, category: str = "other",
                 severity: str = "minor", evidence: list[int] | None = None) -> str:
    """Record a fact the note left out (with the transcript turns that state it)."""
    require(user, "annotate")
    if not (text or "").strip():
        raise InputError("annotation", "text", "the omission is empty", "describe the missing fact")
    payload = {"text": text.strip(), "category": _choice(category, OMISSION_CATEGORIES, "category", False),
               "severity": _choice(severity, SEVERITIES, "severity", False),
               "evidence": sorted({int(t) for t in (evidence or [])})}
    return _append(store, user, session_id, "omission", payload)


def rate_pdqi(store: Store, user: User, session_id: str, ratings: dict[str, int]) -> str:
    """PDQI-9 ratings, 1–5 per item (items from :data:`PDQI_KEYS`; unrated items may be left out)."""
    require(user, "annotate")
    clean: dict[str, int] = {}
    for k, v in ratings.items():
        if k not in PDQI_KEYS:
            raise InputError("annotation", f"pdqi.{k}", "unknown PDQI-9 item", f"use one of {PDQI_KEYS}")
        if v is None:
            continue
        if not isinstance(v, int) or not 1 <= v <= 5:
            raise InputError("annotation", f"pdqi.{k}", "rating must be 1-5", "pick a whole number 1 to 5")
        clean[k] = v
    if not clean:
        raise InputError("annotation", "pdqi", "no item rated", "rate at least one PDQI-9 item")
    return _append(store, user, session_id, "pdqi", clean)


def comment(store: Store, user: User, session_id: str, text: str) -> str:
    """A free-text comment on the session."""
    require(user, "annotate")
    if not (text or "").strip():
        raise InputError("annotation", "comment", "the comment is empty", "type a comment")
    return _append(store, user, session_id, "comment", {"text": text.strip()})


def flag_session(store: Store, user: User, session_id: str, reason: str) -> str:
    """A clinician's own flag on the session (kept apart from the suite's automatic flags)."""
    require(user, "annotate")
    return _append(store, user, session_id, "flag", {"reason": (reason or "").strip() or "flagged by reviewer"})


def clear_flag(store: Store, user: User, session_id: str, reason: str = "") -> str:
    """Clear the session's flags after review (the automatic flags stay stored; this records the decision)."""
    require(user, "annotate")
    return _append(store, user, session_id, "clear", {"reason": (reason or "").strip()})


def set_status(store: Store, user: User, session_id: str, status: str, *, _auto: bool = False) -> str:
    """Move a session to to_review, in_review, done or needs_adjudication."""
    require(user, "annotate")
    _choice(status, STATUSES, "status", optional=False)
    payload: dict[str, Any] = {"status": status}
    if _auto:
        payload["auto"] = True
    return _append(store, user, session_id, "status", payload, auto_status=False)


def adjudicate(store: Store, user: User, session_id: str, claim_id: str, *, verdict: str,
               type: str | None = None, severity: str | None = None, rationale: str = "") -> str:
    """Settle a disagreement on a claim; the adjudicator must not be one of the claim's labellers.

    When no disagreement is left in the session its status becomes ``done``.
    """
    require(user, "adjudicate")
    labels = {who: p for (cid, who), p in latest_labels(store, session_id).items() if cid == claim_id}
    if user.name in labels:
        raise InputError("adjudication", "reviewer", "you labelled this claim yourself",
                         "ask a third clinician to adjudicate")
    verdict = _choice(verdict, VERDICTS, "verdict", optional=False)
    payload = {"verdict": verdict,
               "type": _choice(type, CREOLA_TYPES, "type") if verdict != "supported" else None,
               "severity": _choice(severity, SEVERITIES, "severity") if verdict != "supported" else None,
               "rationale": (rationale or "").strip(), "reviewers": sorted(labels)}
    aid = _append(store, user, session_id, "adjudication", payload, target=claim_id, auto_status=False)
    if not open_disagreements(store, session_id):
        set_status(store, user, session_id, "done", _auto=True)
    return aid


def open_disagreements(store: Store, session_id: str) -> list[str]:
    """Claim ids in a session whose reviewers disagree and that no adjudication settled yet."""
    settled = {a.target for a in store.annotations(session_id=session_id) if a.kind == "adjudication"}
    by_claim: dict[str, set] = {}
    for (cid, _who), p in latest_labels(store, session_id).items():
        by_claim.setdefault(cid, set()).add(label_key(p))
    return sorted(c for c, keys in by_claim.items() if len(keys) > 1 and c not in settled)


def assign(store: Store, user: User, session_ids: list[str], reviewer: str) -> int:
    """Assign sessions to a clinician (admin only). Returns how many assignments were new."""
    require(user, "assign")
    target = store.get_user(reviewer)
    if target is None or target["role"] != "clinician":
        raise InputError("assignment", "reviewer", f"{reviewer!r} is not a clinician account",
                         "assign sessions to a clinician")
    return store.assign_sessions(session_ids, reviewer, user.name)


def audit_log(store: Store, user: User, *, run_id: str | None = None, session_id: str | None = None,
              reviewer: str | None = None, kinds: list[str] | None = None, limit: int = 500) -> pd.DataFrame:
    """Every annotation, newest first: when, who, what kind, which session and target, payload."""
    require(user, "audit")
    return store.annotation_frame(kinds=kinds, run_id=run_id, session_id=session_id, reviewer=reviewer,
                                  limit=limit)


def login_log(store: Store, user: User, *, failed_only: bool = False, limit: int = 500) -> pd.DataFrame:
    """Login attempts, newest first: when, account (real accounts only), client address, outcome
    (ok, wrong_password, unknown_user, disabled, throttled). Never a password."""
    require(user, "audit")
    return store.login_attempts(failed_only=failed_only, limit=limit)


__all__ = [
    "CREOLA_TYPES", "PDQI_ITEMS", "PDQI_KEYS", "QUEUE_COLUMNS", "QueueFilter", "QueuePage", "STATUSES", "STATUS_ICONS",
    "STATUS_LABELS", "add_omission", "adjudicate", "assign", "audit_log", "clear_flag", "comment", "flag_session",
    "label_claim", "latest_labels", "login_log", "neighbours", "open_disagreements", "progress_text", "queue_table",
    "rate_pdqi", "review_queue", "run_of", "set_status",
]
