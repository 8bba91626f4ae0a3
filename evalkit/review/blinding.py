"""Blind labelling: what a reviewer sees of the other reviewers' labels on a session.

Inter-rater agreement (κ) means something only when each clinician labels without seeing the
others' labels, as annotation tools do for inter-rater studies. So, for a clinician:

- another reviewer's label on a claim (and an adjudication of it) shows once this clinician has
  labelled that claim, or when the claim is in dispute (two reviewers' latest labels differ, or it
  was adjudicated): a disputed claim is the adjudicators' to see, and every clinician may adjudicate
  one they did not label;
- another reviewer's PDQI-9 ratings and added omissions show once this clinician has rated or added
  one, or has marked the session done;
- comments, flags, clears and status changes are the team's messages: always shown.

Engineers and admins label nothing, so they see everything. Each claim label records whether it
was made blind — no other reviewer's label on that claim could have been on screen — and the
agreement page computes κ on blind labels (:func:`evalkit.review.agreement.label_table`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .auth import User
    from ..schema import Annotation

LABEL_KINDS = ("claim_label", "adjudication")
SESSION_KINDS = ("pdqi", "omission")  # shown once you have made one yourself, or marked the session done


def label_key(payload: dict) -> tuple:
    """What two labels must share to agree: verdict, CREOLA type, severity."""
    return (payload.get("verdict"), payload.get("type"), payload.get("severity"))


def disputed_claims(annotations: list["Annotation"]) -> set[str]:
    """Claims whose reviewers' latest labels differ, or that were adjudicated."""
    latest: dict[tuple[str, str], dict] = {}
    adjudicated: set[str] = set()
    for a in annotations:  # oldest first: the latest label of each reviewer wins
        if a.kind == "claim_label" and a.target:
            latest[(a.target, a.reviewer)] = a.payload
        elif a.kind == "adjudication" and a.target:
            adjudicated.add(a.target)
    keys: dict[str, set] = {}
    for (claim, _who), p in latest.items():
        keys.setdefault(claim, set()).add(label_key(p))
    return adjudicated | {c for c, k in keys.items() if len(k) > 1}


def _sees_everything(user: "User") -> bool:
    return not user.can("annotate")


def visible_annotations(user: "User", annotations: list["Annotation"]) -> list["Annotation"]:
    """The session's annotations this user may see (see the module docstring), in the same order."""
    if _sees_everything(user):
        return list(annotations)
    mine = [a for a in annotations if a.reviewer == user.name]
    my_claims = {a.target for a in mine if a.kind == "claim_label"}
    my_kinds = {a.kind for a in mine}
    done = any(a.kind == "status" and a.payload.get("status") == "done" for a in mine)
    disputed = disputed_claims(annotations)
    out = []
    for a in annotations:
        if a.reviewer == user.name:
            out.append(a)
        elif a.kind in LABEL_KINDS:
            if a.target in my_claims or a.target in disputed:
                out.append(a)
        elif a.kind in SESSION_KINDS:
            if a.kind in my_kinds or done:
                out.append(a)
        else:
            out.append(a)
    return out


def hidden_labels(user: "User", annotations: list["Annotation"]) -> dict[str, int]:
    """Per claim: how many other reviewers' labels are hidden from this user until they label it."""
    shown = {id(a) for a in visible_annotations(user, annotations)}
    out: dict[str, set[str]] = {}
    for a in annotations:
        if a.kind == "claim_label" and a.target and id(a) not in shown:
            out.setdefault(a.target, set()).add(a.reviewer)
    return {claim: len(who) for claim, who in out.items()}


def label_is_blind(user: "User", claim_id: str, annotations: list["Annotation"]) -> bool:
    """Whether a label this user saves now on ``claim_id`` is blind: no other reviewer's label on the
    claim was visible to them (``annotations``: the session's, before this label)."""
    others = {id(a) for a in annotations
              if a.kind in LABEL_KINDS and a.target == claim_id and a.reviewer != user.name}
    return not others & {id(a) for a in visible_annotations(user, annotations)}


__all__ = ["LABEL_KINDS", "disputed_claims", "hidden_labels", "label_is_blind", "label_key", "visible_annotations"]
