"""Consultations, runs and baselines: what a run is, which runs a reference names, what a run reads."""

from __future__ import annotations

import json
import uuid
from typing import Any, Sequence

import pandas as pd

from ..schema import Audio, Consultation, utcnow
from .connection import StoreBase
from .rows import _j

__all__ = ["RunsMixin"]


class RunsMixin(StoreBase):
    """Consultations, runs and baselines: what a run is, which runs a reference names, what a run reads."""

    def put_consultations(self, items: Sequence[Consultation], audio: dict[str, Audio] | None = None) -> int:
        """Insert or replace consultations (and their audio records)."""
        audio = audio or {}
        now = utcnow()
        df = pd.DataFrame([{
            "id": c.id, "dataset": c.dataset, "specialty": c.case.specialty, "template": c.template,
            "region": c.case.region, "seed": c.seed, "data": c.model_dump_json(),
            "audio": audio[c.id].model_dump_json() if c.id in audio else None, "created_at": now,
        } for c in items])
        if df.empty:
            return 0
        with self.connect() as con:
            con.register("_ids", df[["id"]])
            con.execute("DELETE FROM consultations WHERE id IN (SELECT id FROM _ids)")
            con.unregister("_ids")
            self._insert_df(con, "consultations", df)
        return len(df)

    def set_audio(self, consultation_id: str, audio: Audio) -> None:
        with self.connect() as con:
            con.execute("UPDATE consultations SET audio=? WHERE id=?", [audio.model_dump_json(), consultation_id])

    def get_consultation(self, consultation_id: str) -> Consultation:
        with self.connect() as con:
            row = con.execute("SELECT data FROM consultations WHERE id=?", [consultation_id]).fetchone()
        if row is None:
            raise KeyError(consultation_id)
        return Consultation.model_validate_json(row[0])

    def get_audio(self, consultation_id: str) -> Audio | None:
        with self.connect() as con:
            row = con.execute("SELECT audio FROM consultations WHERE id=?", [consultation_id]).fetchone()
        return Audio.model_validate_json(row[0]) if row and row[0] else None

    def list_consultations(self, dataset: str | None = None) -> list[Consultation]:
        sql = "SELECT data FROM consultations"
        args: list[Any] = []
        if dataset:
            sql += " WHERE dataset = ?"
            args.append(dataset)
        with self.connect() as con:
            rows = con.execute(sql + " ORDER BY id", args).fetchall()
        return [Consultation.model_validate_json(r[0]) for r in rows]

    def datasets(self) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("SELECT dataset, count(*) AS n, count(audio) AS with_audio "
                               "FROM consultations GROUP BY dataset ORDER BY dataset").df()

    def consultation_ids(self, dataset: str | None = None) -> list[str]:
        """Consultation ids (of one dataset), in the order :meth:`list_consultations` returns them."""
        sql, args = "SELECT id FROM consultations", []
        if dataset:
            sql += " WHERE dataset = ?"
            args.append(dataset)
        with self.connect() as con:
            return [r[0] for r in con.execute(sql + " ORDER BY id", args).fetchall()]

    def get_consultations(self, ids: Sequence[str]) -> list[Consultation]:
        """Consultations by id, in the order of ``ids`` (unknown ids are left out)."""
        if not ids:
            return []
        with self.connect() as con:
            con.register("_cids", pd.DataFrame({"id": list(ids)}, dtype="object"))
            rows = con.execute("SELECT c.id, c.data FROM consultations c JOIN _cids USING (id)").fetchall()
            con.unregister("_cids")
        by_id = dict(rows)
        return [Consultation.model_validate_json(by_id[i]) for i in ids if i in by_id]

    def run_inputs(self, ids: Sequence[str], audio: bool = False) -> list[tuple[str, str, Audio | None]]:
        """``(id, consultation JSON, audio record or None)`` for each id, in order, in one query.

        The consultation stays JSON text: the runner parses it where the case runs (a Ray
        worker), not in the one process that writes the database.
        """
        if not ids:
            return []
        with self.connect() as con:
            con.register("_rids", pd.DataFrame({"id": list(ids)}, dtype="object"))
            rows = con.execute(f"SELECT c.id, c.data, {'c.audio' if audio else 'NULL'} FROM consultations c "
                               "JOIN _rids USING (id)").fetchall()
            con.unregister("_rids")
        by_id = {i: (d, a) for i, d, a in rows}
        return [(i, by_id[i][0], Audio.model_validate_json(by_id[i][1]) if by_id[i][1] else None)
                for i in ids if i in by_id]

    def create_run(self, *, run_id: str | None = None, label: str | None = None, suite_name: str = "",
                   suite: dict | None = None, suite_hash: str = "", dataset: str = "", scribe: str = "",
                   judge: str = "", evalkit_version: str = "", cases: int | None = None) -> str:
        """Create a run (status ``running``), or return the existing one with the same id unchanged (resume).

        Args:
            cases: how many cases the run is to hold (``summary.cases``; a gate counts what is missing).
        """
        run_id = run_id or uuid.uuid4().hex[:12]
        with self.connect() as con:
            if con.execute("SELECT 1 FROM runs WHERE run_id=?", [run_id]).fetchone():
                return run_id
            con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,'running',?,?,NULL,?)",
                        [run_id, label, suite_name, _j(suite or {}), suite_hash, dataset, scribe, judge,
                         evalkit_version, utcnow(), _j({"cases": cases}) if cases is not None else None])
        return run_id

    def mark_running(self, run_id: str, cases: int | None = None) -> None:
        """A run is being worked on (again): status ``running``, and how many cases it is to hold."""
        with self.connect() as con:
            if cases is None:
                con.execute("UPDATE runs SET status='running' WHERE run_id=?", [run_id])
            else:
                con.execute("UPDATE runs SET status='running', summary=? WHERE run_id=?",
                            [_j({"cases": cases}), run_id])

    def run_progress(self, run_ids: Sequence[str]) -> list[dict]:
        """Per run: run_id, label, status, summary (parsed), dataset, suite limit, sessions stored,
        and consultations of its dataset now — what :mod:`evalkit.compare.completeness` needs."""
        with self.connect() as con:
            con.register("_pr", pd.DataFrame({"run_id": pd.Series(list(run_ids), dtype="object")}))
            rows = con.execute("""
                SELECT r.run_id, r.label, r.status, r.summary, r.dataset,
                       TRY_CAST(json_extract_string(r.suite, '$.limit') AS BIGINT) AS suite_limit,
                       (SELECT count(*) FROM sessions s WHERE s.run_id = r.run_id) AS sessions,
                       (SELECT count(*) FROM consultations c WHERE c.dataset = r.dataset) AS dataset_cases
                FROM runs r JOIN _pr USING (run_id) ORDER BY r.created_at, r.run_id""").fetchall()
            con.unregister("_pr")
        keys = ("run_id", "label", "status", "summary", "dataset", "suite_limit", "sessions", "dataset_cases")
        out = []
        for row in rows:
            rec = dict(zip(keys, row))
            rec["summary"] = json.loads(rec["summary"]) if rec["summary"] else {}
            out.append(rec)
        return out

    def runs_with_label(self, label: str) -> list[dict]:
        """Every run carrying ``label``, newest first: run_id, scribe, suite_name, suite_hash, dataset, created_at."""
        with self.connect() as con:
            rows = con.execute("""SELECT run_id, scribe, suite_name, suite_hash, dataset, created_at FROM runs
                                  WHERE label = ? ORDER BY created_at DESC, run_id""", [label]).fetchall()
        keys = ("run_id", "scribe", "suite_name", "suite_hash", "dataset", "created_at")
        return [dict(zip(keys, r)) for r in rows]

    def finish_run(self, run_id: str, status: str = "finished", summary: dict | None = None) -> None:
        with self.connect() as con:
            con.execute("UPDATE runs SET status=?, finished_at=?, summary=? WHERE run_id=?",
                        [status, utcnow(), _j(summary or {}), run_id])

    def resolve_run(self, ref: str) -> str:
        """Run id from an id, a label, a baseline label, or 'latest'."""
        with self.connect() as con:
            if ref == "latest":
                row = con.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchone()
            else:
                row = (con.execute("SELECT run_id FROM runs WHERE run_id=?", [ref]).fetchone()
                       or con.execute("SELECT run_id FROM baselines WHERE label=?", [ref]).fetchone()
                       or con.execute("SELECT run_id FROM runs WHERE label=? ORDER BY created_at DESC LIMIT 1",
                                      [ref]).fetchone())
        if not row:
            raise KeyError(f"no run with id or label {ref!r}")
        return row[0]

    def get_run(self, ref: str) -> dict:
        run_id = self.resolve_run(ref)
        with self.connect() as con:
            df = con.execute("SELECT * FROM runs WHERE run_id=?", [run_id]).df()
        rec = df.iloc[0].to_dict()
        for k in ("suite", "summary"):
            rec[k] = json.loads(rec[k]) if isinstance(rec.get(k), str) and rec[k] else {}
        return rec

    def list_runs(self) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("""
                SELECT r.run_id, r.label, r.suite_name, r.dataset, r.scribe, r.judge, r.status,
                       r.created_at, r.finished_at,
                       coalesce(json_extract_string(r.suite, '$.normalizer'), 'evalkit') AS normalizer,
                       count(s.session_id) AS sessions,
                       count(s.session_id) FILTER (WHERE s.status='failed') AS failed
                FROM runs r LEFT JOIN sessions s USING (run_id)
                GROUP BY ALL ORDER BY r.created_at""").df()

    def run_means(self, run_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean of every metric per run (rows: run_id; columns: metrics) plus flagged counts."""
        where, args = "", []
        if run_ids:
            where = f"WHERE run_id IN ({','.join('?' * len(run_ids))})"
            args = list(run_ids)
        with self.connect() as con:
            means = con.execute(f"SELECT run_id, metric, avg(value) AS mean FROM scores {where} "
                                "GROUP BY run_id, metric", args).df()
            flagged = con.execute(f"SELECT run_id, count(DISTINCT session_id) AS flagged FROM flags {where} "
                                  "GROUP BY run_id", args).df()
        wide = means.pivot(index="run_id", columns="metric", values="mean") if not means.empty else pd.DataFrame()
        if not flagged.empty:
            wide = wide.join(flagged.set_index("run_id"), how="outer")
        return wide

    def runs_for_ref(self, ref: str) -> list[str]:
        """Run ids a reference names: a run id, ``latest``, a baseline label, or a run label.

        A run label shared by several runs (one per scribe, as ``run_suite`` writes them)
        gives the latest run of each scribe with that label. Raises KeyError when nothing matches.
        """
        with self.connect() as con:
            if ref == "latest":
                rows = con.execute("SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 1").fetchall()
            else:
                rows = (con.execute("SELECT run_id FROM runs WHERE run_id=?", [ref]).fetchall()
                        or con.execute("SELECT run_id FROM baselines WHERE label=?", [ref]).fetchall()
                        or con.execute("""
                            SELECT run_id FROM (
                                SELECT run_id, scribe, row_number() OVER (
                                    PARTITION BY scribe ORDER BY created_at DESC, run_id) AS k
                                FROM runs WHERE label=?) WHERE k = 1 ORDER BY scribe""", [ref]).fetchall())
        if not rows:
            raise KeyError(f"no run with id or label {ref!r}")
        return [r[0] for r in rows]

    def set_baseline(self, label: str, run_id: str) -> None:
        """Point baseline ``label`` at ``run_id`` (replacing what it pointed at)."""
        with self.connect() as con:
            con.execute("DELETE FROM baselines WHERE label=?", [label])
            con.execute("INSERT INTO baselines VALUES (?,?,?)", [label, run_id, utcnow()])

    def delete_baseline(self, label: str) -> bool:
        """Remove a baseline label; True when it existed."""
        with self.connect() as con:
            found = con.execute("SELECT 1 FROM baselines WHERE label=?", [label]).fetchone() is not None
            con.execute("DELETE FROM baselines WHERE label=?", [label])
        return found

    def list_baselines(self) -> pd.DataFrame:
        """Baselines with their run: label, run_id, set_at, run_label, scribe, dataset, sessions."""
        with self.connect() as con:
            return con.execute("""
                SELECT b.label, b.run_id, b.created_at AS set_at, r.label AS run_label, r.scribe, r.dataset,
                       (SELECT count(*) FROM sessions s WHERE s.run_id = b.run_id) AS sessions
                FROM baselines b LEFT JOIN runs r USING (run_id) ORDER BY b.label""").df()

    def sweep_runs(self) -> pd.DataFrame:
        """Runs written by ``evalkit sweep`` (label ``sweep:<condition>``): run_id, label, scribe,
        status, created_at, summary (JSON text), sweep (the sweep id), sessions, failed."""
        with self.connect() as con:
            return con.execute("""
                SELECT r.run_id, r.label, r.scribe, r.status, r.created_at, r.summary,
                       coalesce(json_extract_string(r.summary, '$.sweep'),
                                regexp_replace(r.suite_name, '^sweep-', '')) AS sweep,
                       count(s.session_id) AS sessions,
                       count(s.session_id) FILTER (WHERE s.status = 'failed') AS failed
                FROM runs r LEFT JOIN sessions s USING (run_id)
                WHERE r.label LIKE 'sweep:%'
                GROUP BY ALL ORDER BY r.created_at, r.run_id""").df()
