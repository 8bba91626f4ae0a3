"""Clinician review: users and roles, the queue, the session view, blind labels, agreement and the dashboards' data."""

from .agreement import agreement_summary, cohen_kappa, fleiss_kappa, judge_vs_clinician, percent_agreement
from .auth import Auth, LoginResult, PermissionDenied, User, require
from .blinding import hidden_labels, label_is_blind, visible_annotations
from .login_throttle import ThrottlePolicy
from .queue import QueueFilter, QueuePage, STATUS_LABELS, STATUSES, review_queue, set_status
from .session_view import SessionView, load_session

__all__ = [
    "Auth", "LoginResult", "PermissionDenied", "QueueFilter", "QueuePage", "STATUSES", "STATUS_LABELS",
    "SessionView", "ThrottlePolicy", "User", "agreement_summary", "cohen_kappa", "fleiss_kappa", "hidden_labels",
    "judge_vs_clinician", "label_is_blind", "load_session", "percent_agreement", "require", "review_queue",
    "set_status", "visible_annotations",
]
