"""Annotations (append-only), assignments and the review queue."""

from __future__ import annotations

import json
import uuid
from typing import Sequence

import pandas as pd

from ..schema import Annotation, utcnow
from .connection import StoreBase
from .rows import _j

__all__ = ["ReviewMixin"]


class ReviewMixin(StoreBase):
    """Annotations (append-only), assignments and the review queue."""

    def add_annotation(self, a: Annotation, run_id: str | None = None) -> str:
        """Append an annotation; never updates or deletes one. Returns its id."""
        aid = a.id or uuid.uuid4().hex
        with self.connect() as con:
            con.execute("INSERT INTO annotations VALUES (?,?,?,?,?,?,?,?)",
                        [aid, a.session_id, run_id, a.reviewer, a.kind, a.target, _j(a.payload), a.created_at])
        return aid

    def annotations(self, session_id: str | None = None, reviewer: str | None = None) -> list[Annotation]:
        sql, args = "SELECT id, session_id, reviewer, kind, target, payload, created_at FROM annotations", []
        conds = []
        if session_id:
            conds.append("session_id = ?")
            args.append(session_id)
        if reviewer:
            conds.append("reviewer = ?")
            args.append(reviewer)
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        with self.connect() as con:
            rows = con.execute(sql + " ORDER BY created_at, id", args).fetchall()
        return [Annotation(id=r[0], session_id=r[1], reviewer=r[2], kind=r[3], target=r[4],
                           payload=json.loads(r[5] or "{}"), created_at=r[6]) for r in rows]

    def assign_sessions(self, session_ids: Sequence[str], reviewer: str, assigned_by: str) -> int:
        """Assign sessions to a reviewer (skips pairs already assigned). Returns how many were new."""
        if not session_ids:
            return 0
        df = pd.DataFrame({"session_id": list(dict.fromkeys(session_ids)), "reviewer": reviewer,
                           "assigned_by": assigned_by, "created_at": utcnow()})
        with self.connect() as con:
            con.register("_a", df)
            n = con.execute("""SELECT count(*) FROM _a WHERE NOT EXISTS (SELECT 1 FROM assignments x
                               WHERE x.session_id=_a.session_id AND x.reviewer=_a.reviewer)""").fetchone()[0]
            con.execute("""INSERT INTO assignments SELECT session_id, reviewer, assigned_by, created_at FROM _a
                           WHERE NOT EXISTS (SELECT 1 FROM assignments x
                           WHERE x.session_id=_a.session_id AND x.reviewer=_a.reviewer)""")
            con.unregister("_a")
        return int(n)

    def list_assignments(self, session_id: str | None = None, reviewer: str | None = None) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("""SELECT session_id, reviewer, assigned_by, created_at FROM assignments
                                  WHERE ($s IS NULL OR session_id=$s) AND ($r IS NULL OR reviewer=$r)
                                  ORDER BY created_at, session_id""", {"s": session_id, "r": reviewer}).df()

    def queue_options(self) -> dict[str, list[str]]:
        """Distinct values for the queue's filters: runs, scribes, specialties, flag rules."""
        with self.connect() as con:
            def col(sql: str) -> list[str]:
                return [r[0] for r in con.execute(sql).fetchall() if r[0] is not None]
            return {
                "runs": col("SELECT run_id FROM runs ORDER BY created_at DESC"),
                "scribes": col("SELECT DISTINCT scribe FROM sessions ORDER BY 1"),
                "specialties": col("SELECT DISTINCT specialty FROM consultations ORDER BY 1"),
                "flag_rules": col("SELECT DISTINCT rule FROM flags ORDER BY 1"),
            }

    # The queue is ordered by sort_key, what matters clinically first (docs/review-app.md):
    #  a. severity: the session's most severe flag, by its rule's severity (high 3, medium 2, low 1,
    #     unflagged 0 — by default major_hallucination is high, major_omission and numeric_error
    #     medium, high_wer and low_adherence low), then the number of major hallucinations, then of
    #     major omissions (scores);
    #  b. the judge's confidence: the highest confidence among the session's errors (unsupported or
    #     contradicted claims, omissions) when its findings carry one; sessions without come after;
    #  c. the rest: number of flags, hallucination rate, session id.
    # b, c and the hallucination rate come from session_severity, written with each flagged session
    # (SessionRows): aggregating every session's scores here doubled the queue's time at 100k
    # sessions / 1M scores. Unflagged sessions follow in id order.
    # The page's other scores are fetched for its own rows only; a session's neighbours are found by
    # comparing keys, without sorting the queue.
    _QUEUE_SQL = """
        WITH st AS (
            SELECT session_id, arg_max(json_extract_string(payload, '$.status'), created_at) AS status
            FROM annotations WHERE kind IN ('status', 'adjudication')
              AND json_extract_string(payload, '$.status') IS NOT NULL GROUP BY session_id),
        fl AS (
            SELECT session_id, count(*) AS n_flags, string_agg(DISTINCT rule, ', ' ORDER BY rule) AS flag_rules,
                   list(DISTINCT rule) AS rule_list,
                   max(CASE severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 ELSE 1 END) AS severity_rank
            FROM flags WHERE ($run IS NULL OR run_id = $run) GROUP BY session_id),
        sev AS (
            SELECT session_id, max(major_hallucinations) AS major_h, max(major_omissions) AS major_o,
                   max(hallucination_rate) AS h_rate, max(confidence) AS confidence
            FROM session_severity WHERE ($run IS NULL OR run_id = $run) GROUP BY session_id),
        mine AS (SELECT session_id, count(*) AS my_annotations FROM annotations
                 WHERE reviewer = $me GROUP BY session_id),
        asg AS (SELECT session_id, string_agg(DISTINCT reviewer, ', ' ORDER BY reviewer) AS assigned,
                       bool_or(reviewer = $assigned) AS to_assignee
                FROM assignments GROUP BY session_id),
        q AS (
            SELECT s.session_id, s.run_id, s.consultation_id, s.scribe, c.specialty, c.template,
                   coalesce(fl.n_flags, 0) AS n_flags, fl.flag_rules,
                   CASE fl.severity_rank WHEN 3 THEN 'high' WHEN 2 THEN 'medium' WHEN 1 THEN 'low' END AS severity,
                   sev.confidence, coalesce(st.status, 'to_review') AS status,
                   asg.assigned, coalesce(mine.my_annotations, 0) AS my_annotations,
                   {'a': -coalesce(fl.severity_rank, 0), 'b': -coalesce(sev.major_h, 0)::DOUBLE,
                    'c': -coalesce(sev.major_o, 0)::DOUBLE, 'd': coalesce(-sev.confidence, 1.0)::DOUBLE,
                    'e': -coalesce(fl.n_flags, 0), 'f': -coalesce(sev.h_rate, 0)::DOUBLE,
                    'g': s.session_id} AS sort_key
            FROM sessions s
            LEFT JOIN consultations c ON c.id = s.consultation_id
            LEFT JOIN fl USING (session_id) LEFT JOIN st USING (session_id)
            LEFT JOIN sev USING (session_id)
            LEFT JOIN mine USING (session_id) LEFT JOIN asg USING (session_id)
            WHERE s.status = 'ok'
              AND ($run IS NULL OR s.run_id = $run)
              AND ($scribe IS NULL OR s.scribe = $scribe)
              AND ($specialty IS NULL OR c.specialty = $specialty)
              AND ($rule IS NULL OR list_contains(fl.rule_list, $rule))
              AND ($status IS NULL OR coalesce(st.status, 'to_review') = $status
                   OR ($status = 'open' AND coalesce(st.status, 'to_review') <> 'done'))
              AND ($assigned IS NULL OR coalesce(asg.to_assignee, FALSE))
              AND (NOT $flagged_only OR fl.n_flags > 0))
    """
    _QUEUE_ORDER = "sort_key"
    _QUEUE_METRICS = ("hallucination_rate", "major_hallucinations", "major_omissions", "omission_rate", "wer")

    @staticmethod
    def _queue_params(run_id: str | None, scribe: str | None, specialty: str | None, flag_rule: str | None,
                      status: str | None, assigned_to: str | None, flagged_only: bool, me: str | None) -> dict:
        return {"run": run_id or None, "scribe": scribe or None, "specialty": specialty or None,
                "rule": flag_rule or None, "status": status or None, "assigned": assigned_to or None,
                "flagged_only": bool(flagged_only), "me": me or ""}

    def review_queue(self, *, run_id: str | None = None, scribe: str | None = None, specialty: str | None = None,
                     flag_rule: str | None = None, status: str | None = None, assigned_to: str | None = None,
                     flagged_only: bool = False, me: str | None = None, limit: int = 50,
                     offset: int = 0) -> tuple[pd.DataFrame, dict]:
        """One page of the review queue (flagged and most severe first) and the totals of the whole filter.

        Every filter is a bound parameter. Returns (rows, {"total", "done", "flagged", "to_review",
        "in_review", "needs_adjudication"}); rows carry position (1-based), severity (of the most
        severe flag: high, medium, low or None), the judge's confidence (None when its findings
        carry none) and the session's hallucination_rate, major_hallucinations, major_omissions,
        omission_rate and wer. The order is :attr:`_QUEUE_SQL`'s sort key.
        """
        p = self._queue_params(run_id, scribe, specialty, flag_rule, status, assigned_to, flagged_only, me)
        p.update(limit=int(limit), offset=int(offset))
        keys = ("total", "done", "flagged", "to_review", "in_review", "needs_adjudication")
        with self.connect() as con:
            rows = con.execute(self._QUEUE_SQL + f"""
                SELECT *, $offset + row_number() OVER (ORDER BY {self._QUEUE_ORDER}) AS position FROM (
                    SELECT *, count(*) OVER () AS _total,  -- (count FILTER OVER is quadratic in DuckDB 2.0)
                           sum((status = 'done')::INT) OVER () AS _done,
                           sum((n_flags > 0)::INT) OVER () AS _flagged,
                           sum((status = 'to_review')::INT) OVER () AS _to_review,
                           sum((status = 'in_review')::INT) OVER () AS _in_review,
                           sum((status = 'needs_adjudication')::INT) OVER () AS _needs_adjudication
                    FROM q ORDER BY {self._QUEUE_ORDER} LIMIT $limit OFFSET $offset)
                ORDER BY position""", p).df()
            if rows.empty:
                tot = con.execute(self._QUEUE_SQL + """
                    SELECT count(*), count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE n_flags > 0),
                           count(*) FILTER (WHERE status = 'to_review'), count(*) FILTER (WHERE status = 'in_review'),
                           count(*) FILTER (WHERE status = 'needs_adjudication') FROM q""",
                                  {k: v for k, v in p.items() if k not in ("limit", "offset")}).fetchone()
                counts = {k: int(v or 0) for k, v in zip(keys, tot)}
            else:
                counts = {k: int(rows[f"_{k}"].iloc[0]) for k in keys}
                con.register("_page", rows[["session_id", "run_id"]])
                sc = con.execute(f"""
                    SELECT session_id, metric, value FROM scores
                    WHERE run_id IN (SELECT DISTINCT run_id FROM _page)
                      AND session_id IN (SELECT session_id FROM _page)
                      AND metric IN ({', '.join('?' * len(self._QUEUE_METRICS))})""",
                                 list(self._QUEUE_METRICS)).df()
                con.unregister("_page")
        rows = rows.drop(columns=[c for c in rows.columns if c.startswith("_") or c == "sort_key"], errors="ignore")
        wide = (sc.pivot_table(index="session_id", columns="metric", values="value", aggfunc="max")
                if not rows.empty and not sc.empty else pd.DataFrame())
        for m in self._QUEUE_METRICS:
            rows[m] = rows["session_id"].map(wide[m]) if m in wide else float("nan")
        return rows, counts

    def queue_position(self, session_id: str, *, run_id: str | None = None, scribe: str | None = None,
                       specialty: str | None = None, flag_rule: str | None = None, status: str | None = None,
                       assigned_to: str | None = None, flagged_only: bool = False,
                       me: str | None = None) -> dict:
        """Where a session sits in a filtered queue: {"position", "total", "prev", "next"} (1-based)."""
        p = self._queue_params(run_id, scribe, specialty, flag_rule, status, assigned_to, flagged_only, me)
        p["sid"] = session_id
        with self.connect() as con:
            row = con.execute(self._QUEUE_SQL + """
                , me AS (SELECT sort_key AS k FROM q WHERE session_id = $sid)
                SELECT count(*) FILTER (WHERE q.sort_key < me.k) + 1, count(*),
                       arg_max(q.session_id, q.sort_key) FILTER (WHERE q.sort_key < me.k),
                       arg_min(q.session_id, q.sort_key) FILTER (WHERE q.sort_key > me.k),
                       count(*) FILTER (WHERE q.session_id = $sid)
                FROM q, me""", p).fetchone()
            if row is None or not row[4]:
                total = con.execute(self._QUEUE_SQL + " SELECT count(*) FROM q",
                                    {k: v for k, v in p.items() if k != "sid"}).fetchone()[0]
                return {"position": None, "total": int(total), "prev": None, "next": None}
        return {"position": int(row[0]), "total": int(row[1]), "prev": row[2], "next": row[3]}

    def session_status(self, session_id: str) -> str:
        """The latest review status of a session ('to_review' when nobody set one)."""
        with self.connect() as con:
            row = con.execute("""SELECT json_extract_string(payload, '$.status') FROM annotations
                                 WHERE session_id=? AND kind IN ('status', 'adjudication')
                                   AND json_extract_string(payload, '$.status') IS NOT NULL
                                 ORDER BY created_at DESC, id DESC LIMIT 1""", [session_id]).fetchone()
        return row[0] if row else "to_review"

    def annotation_frame(self, *, kinds: Sequence[str] | None = None, run_id: str | None = None,
                         session_id: str | None = None, reviewer: str | None = None,
                         limit: int | None = None) -> pd.DataFrame:
        """Annotations as a table (newest first), payload parsed later by the caller; for audit and κ."""
        with self.connect() as con:
            if kinds:
                con.register("_kinds", pd.DataFrame({"kind": list(kinds)}))
            df = con.execute(f"""
                SELECT a.id, a.created_at, a.reviewer, a.kind, a.session_id,
                       coalesce(a.run_id, s.run_id) AS run_id, a.target, a.payload
                FROM annotations a LEFT JOIN sessions s USING (session_id)
                WHERE ($run IS NULL OR coalesce(a.run_id, s.run_id) = $run)
                  AND ($sid IS NULL OR a.session_id = $sid) AND ($rev IS NULL OR a.reviewer = $rev)
                  {"AND a.kind IN (SELECT kind FROM _kinds)" if kinds else ""}
                ORDER BY a.created_at DESC, a.id DESC {"LIMIT $lim" if limit else ""}""",
                {"run": run_id, "sid": session_id, "rev": reviewer, **({"lim": int(limit)} if limit else {})}).df()
            if kinds:
                con.unregister("_kinds")
        return df
