"""Sessions, scores, findings and flags: a run's results written whole, and read back for comparison, dashboards and export."""

from __future__ import annotations

import json
from typing import Any, Sequence

import pandas as pd

from ..schema import Audio, Consultation, Finding, ScribeOutput, utcnow
from .connection import StoreBase
from .rows import FINDING_COLS, FLAG_COLS, SCORE_COLS, SESSION_COLS, SEVERITY_COLS, SessionResult, SessionRows

__all__ = ["ResultsMixin"]


class ResultsMixin(StoreBase):
    """Sessions, scores, findings and flags: a run's results written whole, and read back for comparison, dashboards and export."""

    def done_sessions(self, run_id: str) -> set[str]:
        """Consultation ids already written (ok or failed) for a run: what a resume skips."""
        with self.connect() as con:
            rows = con.execute("SELECT consultation_id FROM sessions WHERE run_id=?", [run_id]).fetchall()
        return {r[0] for r in rows}

    def write_results(self, run_id: str, results: Sequence["SessionResult"],
                      cache: tuple[str, dict[str, Any]] | None = None) -> None:
        """Write a batch of sessions with their scores, findings and flags in one transaction.

        A session is either stored whole or not at all, so a killed run resumes cleanly.
        Sessions already stored for the run are skipped (no duplicates). ``results`` are
        :class:`SessionResult` objects or the :class:`SessionRows` built from them where the cases
        ran (a Ray worker), which this process then only inserts. ``cache`` =
        ``(kind, {key: value})`` is written to the cache in the same transaction (a
        :class:`RawJSON` value is stored as it is).
        """
        if not results:
            return
        rows = [r if type(r) is SessionRows else SessionRows.of(run_id, r) for r in results]
        now = utcnow()
        with self.connect() as con:
            if cache and cache[1]:
                self._cache_insert(con, cache[0], cache[1], now)
            ids = [r.session_id for r in rows]  # only this batch's ids: a flush costs the same late in a 1M-session run
            existing = {r[0] for r in con.execute(
                f"SELECT session_id FROM sessions WHERE session_id IN ({','.join('?' * len(ids))})", ids).fetchall()}
            rows = [r for r in rows if r.session_id not in existing]
            if not rows:
                return
            for table, cols, data in (
                    ("sessions", SESSION_COLS, [r.session for r in rows]),
                    ("scores", SCORE_COLS, [x for r in rows for x in r.scores]),
                    ("findings", FINDING_COLS, [x for r in rows for x in r.findings]),
                    ("flags", FLAG_COLS, [x for r in rows for x in r.flags]),
                    ("session_severity", SEVERITY_COLS, [x for r in rows for x in r.severity])):
                if not data:
                    continue
                df = pd.DataFrame(data, columns=cols)
                if table == "scores":
                    df["value"] = df["value"].astype("float64")
                elif table == "findings":
                    df["confidence"] = df["confidence"].astype("float64")
                df["created_at"] = now
                self._insert_df(con, table, df)

    def run_sessions(self, run_ref: str) -> pd.DataFrame:
        """One row per session of a run: ids, status, error, specialty, flag count."""
        run_id = self.resolve_run(run_ref)
        with self.connect() as con:
            return con.execute("""
                SELECT s.session_id, s.consultation_id, s.scribe, s.status, s.error, s.latency_s,
                       s.cost_usd, c.specialty, c.template,
                       (SELECT count(*) FROM flags f WHERE f.session_id = s.session_id) AS flags
                FROM sessions s LEFT JOIN consultations c ON c.id = s.consultation_id
                WHERE s.run_id = ? ORDER BY s.consultation_id""", [run_id]).df()

    def scores_frame(self, run_refs: Sequence[str]) -> pd.DataFrame:
        """Long table of scores (run_id, session_id, consultation_id, specialty, metric, value)."""
        ids = [self.resolve_run(r) for r in run_refs]
        with self.connect() as con:
            return con.execute(f"""
                SELECT sc.run_id, sc.session_id, s.consultation_id, c.specialty, s.scribe,
                       sc.metric, sc.value
                FROM scores sc JOIN sessions s USING (session_id)
                LEFT JOIN consultations c ON c.id = s.consultation_id
                WHERE sc.run_id IN ({','.join('?' * len(ids))})""", ids).df()

    def session_output(self, session_id: str) -> ScribeOutput | None:
        with self.connect() as con:
            row = con.execute("SELECT output FROM sessions WHERE session_id=?", [session_id]).fetchone()
        return ScribeOutput.model_validate_json(row[0]) if row and row[0] else None

    def session_detail(self, session_id: str) -> dict:
        """Everything the session view needs, as plain python objects."""
        with self.connect() as con:
            srow = con.execute("SELECT * FROM sessions WHERE session_id=?", [session_id]).df()
            if srow.empty:
                raise KeyError(session_id)
            s = srow.iloc[0].to_dict()
            crow = con.execute("SELECT data, audio FROM consultations WHERE id=?", [s["consultation_id"]]).fetchone()
            scores = con.execute("SELECT metric, value, detail FROM scores WHERE session_id=? ORDER BY metric",
                                 [session_id]).df()
            finds = con.execute("SELECT * FROM findings WHERE session_id=? ORDER BY kind, finding_id",
                                [session_id]).df()
            flags = con.execute("SELECT rule, reason FROM flags WHERE session_id=?", [session_id]).df()
        finds = finds.astype(object).where(finds.notna(), None)  # SQL NULL → None, not NaN
        return {
            "session": s,
            "consultation": Consultation.model_validate_json(crow[0]) if crow else None,
            "audio": Audio.model_validate_json(crow[1]) if crow and crow[1] else None,
            "output": ScribeOutput.model_validate_json(s["output"]) if s.get("output") else None,
            "scores": {r.metric: {"value": r.value, "detail": json.loads(r.detail or "{}")}
                       for r in scores.itertuples()},
            "findings": [Finding(kind=r.kind, id=r.finding_id, text=r.text, section=r.section,
                                 sentence_id=r.sentence_id, verdict=r.verdict, type=r.type,
                                 severity=r.severity, category=r.category,
                                 evidence=json.loads(r.evidence or "[]"), rationale=r.rationale or "",
                                 confidence=r.confidence, rule=r.rule, sources=json.loads(r.sources or "[]"))
                         for r in finds.itertuples()],
            "flags": flags.to_dict("records"),
        }

    def compare_frames(self, run_ids: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """What comparison and gates need about some runs, read in one connection.

        Returns:
            ``(sessions, scores, sections)``: one row per session (run_id, session_id,
            consultation_id, scribe, status, latency_s, cost_usd, specialty, template — the suite's
            template, else the consultation's —, flagged); the long score table (session_id,
            metric, value); judge claims per session and note section (session_id, section,
            claims, unsupported — unsupported or contradicted). No patient text.
        """
        runs = pd.DataFrame({"run_id": pd.Series(list(run_ids), dtype="object")})
        with self.connect() as con:
            con.register("_runs", runs)
            sessions = con.execute("""
                SELECT s.run_id, s.session_id, s.consultation_id, s.scribe, s.status, s.latency_s,
                       s.cost_usd, c.specialty,
                       coalesce(json_extract_string(r.suite, '$.template'), c.template) AS template,
                       s.session_id IN (SELECT session_id FROM flags f JOIN _runs USING (run_id)) AS flagged
                FROM sessions s JOIN _runs USING (run_id)
                LEFT JOIN runs r ON r.run_id = s.run_id
                LEFT JOIN consultations c ON c.id = s.consultation_id
                ORDER BY s.run_id, s.consultation_id""").df()
            scores = con.execute(
                "SELECT sc.session_id, sc.metric, sc.value FROM scores sc JOIN _runs USING (run_id)").df()
            sections = con.execute("""
                SELECT f.session_id, coalesce(f.section, '(none)') AS section, count(*) AS claims,
                       count(*) FILTER (WHERE f.verdict IN ('unsupported', 'contradicted')) AS unsupported
                FROM findings f JOIN _runs USING (run_id)
                WHERE f.kind = 'claim' GROUP BY ALL""").df()
            con.unregister("_runs")
        return sessions, scores, sections

    def claim_findings(self, session_ids: Sequence[str]) -> pd.DataFrame:
        """The judge's claims (id, verdict, type, severity, section) for some sessions."""
        if not session_ids:
            return pd.DataFrame(columns=["session_id", "finding_id", "section", "verdict", "type", "severity"])
        with self.connect() as con:
            con.register("_sids", pd.DataFrame({"session_id": list(session_ids)}))
            df = con.execute("""SELECT session_id, finding_id, section, verdict, type, severity FROM findings
                                WHERE kind = 'claim' AND session_id IN (SELECT session_id FROM _sids)""").df()
            con.unregister("_sids")
        return df

    _BREAKDOWN_COLS = {"specialty": "c.specialty", "scribe": "s.scribe", "template": "c.template",
                       "run": "sc.run_id"}

    def metric_summary(self, run_ids: Sequence[str] | None = None, metrics: Sequence[str] | None = None,
                       quantiles: bool = True) -> pd.DataFrame:
        """Per run and metric: n, mean, min, q1, median, q3, max (with the run's label and date).

        ``quantiles=False`` leaves q1/median/q3 empty (much cheaper: trends need means only).
        """
        qs = ("quantile_cont(sc.value, 0.25) AS q1, median(sc.value) AS median, quantile_cont(sc.value, 0.75) AS q3"
              if quantiles else "NULL::DOUBLE AS q1, NULL::DOUBLE AS median, NULL::DOUBLE AS q3")
        with self.connect() as con:
            con.register("_r", pd.DataFrame({"run_id": list(run_ids or [])}, dtype="object"))
            con.register("_m", pd.DataFrame({"metric": list(metrics or [])}, dtype="object"))
            df = con.execute(f"""
                SELECT sc.run_id, any_value(r.label) AS label, any_value(r.scribe) AS scribe,
                       any_value(r.created_at) AS created_at, sc.metric, count(sc.value) AS n,
                       avg(sc.value) AS mean, min(sc.value) AS min, {qs}, max(sc.value) AS max
                FROM scores sc LEFT JOIN runs r USING (run_id)
                WHERE ($all_runs OR sc.run_id IN (SELECT run_id FROM _r))
                  AND ($all_metrics OR sc.metric IN (SELECT metric FROM _m))
                GROUP BY sc.run_id, sc.metric ORDER BY created_at, sc.run_id, sc.metric""",
                {"all_runs": not run_ids, "all_metrics": not metrics}).df()
            con.unregister("_r")
            con.unregister("_m")
        return df

    def metric_values(self, run_ids: Sequence[str], metric: str, limit: int = 200_000) -> pd.DataFrame:
        """Raw values of one metric for some runs (run_id, session_id, value), for histograms."""
        with self.connect() as con:
            con.register("_r", pd.DataFrame({"run_id": list(run_ids)}, dtype="object"))
            df = con.execute("""SELECT run_id, session_id, value FROM scores
                                WHERE metric = $m AND run_id IN (SELECT run_id FROM _r) AND value IS NOT NULL
                                LIMIT $lim""", {"m": metric, "lim": int(limit)}).df()
            con.unregister("_r")
        return df

    def metric_breakdown(self, metric: str, by: str, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean and count of one metric per run and per ``by`` (specialty, scribe, template or run)."""
        col = self._BREAKDOWN_COLS.get(by)
        if col is None:
            raise ValueError(f"cannot break down by {by!r}; use one of {sorted(self._BREAKDOWN_COLS)}")
        with self.connect() as con:
            con.register("_r", pd.DataFrame({"run_id": list(run_ids or [])}, dtype="object"))
            df = con.execute(f"""
                SELECT sc.run_id, {col} AS "group", count(sc.value) AS n, avg(sc.value) AS mean
                FROM scores sc JOIN sessions s USING (session_id)
                LEFT JOIN consultations c ON c.id = s.consultation_id
                WHERE sc.metric = $m AND ($all_runs OR sc.run_id IN (SELECT run_id FROM _r))
                GROUP BY ALL ORDER BY 1, 2""", {"m": metric, "all_runs": not run_ids}).df()
            con.unregister("_r")
        return df

    _FINDING_COLS = {"type": "f.type", "severity": "f.severity", "section": "f.section",
                     "category": "f.category", "specialty": "c.specialty", "scribe": "s.scribe",
                     "verdict": "f.verdict"}

    def finding_breakdown(self, by: Sequence[str], run_ids: Sequence[str] | None = None,
                          kind: str = "claim") -> pd.DataFrame:
        """Counts of judge findings per run and per ``by`` columns, with the run's claim total.

        For ``kind='claim'`` only unsupported or contradicted claims are counted; ``claims`` is
        the run's number of claims, so count/claims is a rate.
        """
        cols = [self._FINDING_COLS.get(b) for b in by]
        if None in cols:
            raise ValueError(f"cannot break down findings by {by!r}; use {sorted(self._FINDING_COLS)}")
        sel = ", ".join(f'{c} AS "{b}"' for c, b in zip(cols, by))
        with self.connect() as con:
            con.register("_r", pd.DataFrame({"run_id": list(run_ids or [])}, dtype="object"))
            df = con.execute(f"""
                WITH tot AS (SELECT run_id, count(*) AS claims FROM findings WHERE kind = 'claim'
                             GROUP BY run_id)
                SELECT f.run_id, {sel}, count(*) AS count, any_value(tot.claims) AS claims
                FROM findings f LEFT JOIN sessions s USING (session_id)
                LEFT JOIN consultations c ON c.id = s.consultation_id LEFT JOIN tot ON tot.run_id = f.run_id
                WHERE f.kind = $kind AND ($kind <> 'claim' OR f.verdict <> 'supported')
                  AND ($all_runs OR f.run_id IN (SELECT run_id FROM _r))
                GROUP BY ALL ORDER BY ALL""", {"kind": kind, "all_runs": not run_ids}).df()
            con.unregister("_r")
        return df

    def paired_metric(self, run_a: str, run_b: str, metric: str) -> pd.DataFrame:
        """One metric for the consultations two runs share: value_a, value_b, delta (b - a)."""
        with self.connect() as con:
            return con.execute("""
                WITH a AS (SELECT s.consultation_id, s.session_id, sc.value FROM scores sc
                           JOIN sessions s USING (session_id) WHERE sc.run_id = $a AND sc.metric = $m),
                     b AS (SELECT s.consultation_id, s.session_id, sc.value FROM scores sc
                           JOIN sessions s USING (session_id) WHERE sc.run_id = $b AND sc.metric = $m)
                SELECT a.consultation_id, c.specialty, a.session_id AS session_a, b.session_id AS session_b,
                       a.value AS value_a, b.value AS value_b, b.value - a.value AS delta
                FROM a JOIN b USING (consultation_id) LEFT JOIN consultations c ON c.id = a.consultation_id
                ORDER BY delta DESC NULLS LAST, a.consultation_id""", {"a": run_a, "b": run_b, "m": metric}).df()

    def export_tables(self, run_ref: str, include_output: bool = True) -> dict[str, pd.DataFrame]:
        """A run's results as flat tables: ``run``, ``sessions``, ``scores``, ``findings``, ``flags``.

        Args:
            run_ref: run id, label, baseline label or ``latest``.
            include_output: keep each session's ScribeOutput JSON (transcript and note) in ``sessions``,
                and the judge's claim text and rationale (note sentences) in ``findings``.
        """
        run_id = self.resolve_run(run_ref)
        out_col = "s.output" if include_output else "NULL::VARCHAR AS output"
        text_cols = "text, verdict" if include_output else "NULL::VARCHAR AS text, verdict"
        why_col = "rationale" if include_output else "NULL::VARCHAR AS rationale"
        with self.connect() as con:
            run = con.execute("""
                SELECT run_id, label, suite_name, dataset, scribe, judge, status, evalkit_version,
                       created_at, finished_at, suite, summary FROM runs WHERE run_id = ?""", [run_id]).df()
            sessions = con.execute(f"""
                SELECT s.session_id, s.run_id, s.consultation_id, c.dataset, c.specialty, c.template, s.scribe,
                       s.backend_version, s.status, s.error, s.latency_s, s.cost_usd, s.input_hash, s.created_at,
                       {out_col}
                FROM sessions s LEFT JOIN consultations c ON c.id = s.consultation_id
                WHERE s.run_id = ? ORDER BY s.consultation_id""", [run_id]).df()
            scores = con.execute("""
                SELECT sc.run_id, sc.session_id, s.consultation_id, sc.metric, sc.value, sc.detail
                FROM scores sc JOIN sessions s USING (session_id)
                WHERE sc.run_id = ? ORDER BY s.consultation_id, sc.metric""", [run_id]).df()
            findings = con.execute(f"""
                SELECT run_id, session_id, finding_id, kind, section, sentence_id, {text_cols}, type, severity,
                       category, evidence, {why_col}, judge, judge_version, prompt_hash
                FROM findings WHERE run_id = ? ORDER BY session_id, kind, finding_id""", [run_id]).df()
            flags = con.execute("SELECT run_id, session_id, rule, reason FROM flags WHERE run_id = ? "
                                "ORDER BY session_id, rule", [run_id]).df()
        return {"run": run, "sessions": sessions, "scores": scores, "findings": findings, "flags": flags}
