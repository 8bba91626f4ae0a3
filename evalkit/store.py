"""The DuckDB store: the only module in evalkit that speaks SQL.

One file holds everything: consultations, runs, sessions (one scribe output each), scores,
judge findings, flags, annotations, users, caches and baselines.

Concurrency: DuckDB lets one process at a time open a file for writing. evalkit therefore
never holds a connection open between operations: every call opens the file, does one short
transaction and closes it. When another process holds the file (a CLI run while clinicians
annotate), the call waits and retries with backoff, printing a "database busy, retrying"
message, and raises :class:`StoreBusy` only after ``busy_timeout`` seconds.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import duckdb
import pandas as pd

from .schema import Annotation, Audio, Consultation, Finding, Flag, Score, ScribeOutput, utcnow

log = logging.getLogger("evalkit.store")

SCHEMA_VERSION = 1

_DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS consultations (
        id VARCHAR PRIMARY KEY, dataset VARCHAR, specialty VARCHAR, template VARCHAR,
        region VARCHAR, seed INTEGER, data VARCHAR, audio VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY, label VARCHAR, suite_name VARCHAR, suite VARCHAR,
        suite_hash VARCHAR, dataset VARCHAR, scribe VARCHAR, judge VARCHAR, status VARCHAR,
        evalkit_version VARCHAR, created_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, summary VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        session_id VARCHAR PRIMARY KEY, run_id VARCHAR, consultation_id VARCHAR, scribe VARCHAR,
        backend_version VARCHAR, status VARCHAR, error VARCHAR, output VARCHAR, input_hash VARCHAR,
        latency_s DOUBLE, cost_usd DOUBLE, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS scores (
        run_id VARCHAR, session_id VARCHAR, metric VARCHAR, value DOUBLE, detail VARCHAR,
        created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS findings (
        run_id VARCHAR, session_id VARCHAR, finding_id VARCHAR, kind VARCHAR, section VARCHAR,
        sentence_id VARCHAR, text VARCHAR, verdict VARCHAR, type VARCHAR, severity VARCHAR,
        category VARCHAR, evidence VARCHAR, rationale VARCHAR, judge VARCHAR, judge_version VARCHAR,
        prompt_hash VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS flags (
        run_id VARCHAR, session_id VARCHAR, rule VARCHAR, reason VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS annotations (
        id VARCHAR PRIMARY KEY, session_id VARCHAR, run_id VARCHAR, reviewer VARCHAR, kind VARCHAR,
        target VARCHAR, payload VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS assignments (
        session_id VARCHAR, reviewer VARCHAR, assigned_by VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS users (
        name VARCHAR PRIMARY KEY, role VARCHAR, password_hash VARCHAR, disabled BOOLEAN,
        created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS auth_sessions (
        token_hash VARCHAR PRIMARY KEY, name VARCHAR, created_at TIMESTAMPTZ, expires_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS cache (
        key VARCHAR PRIMARY KEY, kind VARCHAR, value VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS llm_calls (
        run_id VARCHAR, model VARCHAR, purpose VARCHAR, prompt_tokens INTEGER,
        completion_tokens INTEGER, cost_usd DOUBLE, latency_s DOUBLE, cached BOOLEAN,
        error VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS baselines (label VARCHAR PRIMARY KEY, run_id VARCHAR, created_at TIMESTAMPTZ)""",
    """CREATE TABLE IF NOT EXISTS calibrations (
        id VARCHAR PRIMARY KEY, judge VARCHAR, judge_version VARCHAR, dataset VARCHAR, result VARCHAR,
        created_at TIMESTAMPTZ)""",
    "CREATE INDEX IF NOT EXISTS scores_run ON scores(run_id)",
    "CREATE INDEX IF NOT EXISTS findings_session ON findings(session_id)",
    "CREATE INDEX IF NOT EXISTS sessions_run ON sessions(run_id)",
    "CREATE INDEX IF NOT EXISTS annotations_session ON annotations(session_id)",
]

#: migrations: version → list of statements taking the schema from version-1 to version
_MIGRATIONS: dict[int, list[str]] = {}


class StoreBusy(RuntimeError):
    """Another process held the database for longer than the busy timeout."""


def _is_lock_error(e: Exception) -> bool:
    msg = str(e).lower()
    return "lock" in msg and ("could not set" in msg or "conflicting" in msg or "being used" in msg)


def _j(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, default=str)


class Store:
    """A DuckDB file. Cheap to construct; opens the file only inside each call.

    Args:
        path: the database file (created with its schema on first use).
        busy_timeout: seconds to keep retrying while another process holds the file.
        on_busy: called with a one-line message each time the store waits for the lock.
    """

    def __init__(self, path: str | Path = "evalkit.duckdb", busy_timeout: float = 60.0,
                 on_busy: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.on_busy = on_busy
        self._lock = threading.RLock()
        self._initialised = False

    # ------------------------------------------------------------------ plumbing

    @property
    def root(self) -> Path:
        """Folder next to the database where audio and artefacts live."""
        return self.path.resolve().parent

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file, yield a connection inside a transaction, commit and close."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        with self._lock:
            while True:
                try:
                    con = duckdb.connect(str(self.path))
                    break
                except (duckdb.IOException, duckdb.ConnectionException) as e:  # type: ignore[attr-defined]
                    if not _is_lock_error(e) or time.monotonic() > deadline:
                        if _is_lock_error(e):
                            raise StoreBusy(f"{self.path}: database busy for {self.busy_timeout:.0f}s "
                                            "(another evalkit process is writing) — fix: wait for it to "
                                            "finish or raise --busy-timeout") from None
                        raise
                    msg = f"{self.path.name}: database busy, retrying in {delay:.2f}s"
                    log.info(msg)
                    if self.on_busy:
                        self.on_busy(msg)
                    time.sleep(delay + random.uniform(0, delay / 2))
                    delay = min(delay * 2, 1.0)
            try:
                if not self._initialised:
                    self._init(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                con.close()

    def _init(self, con: duckdb.DuckDBPyConnection) -> None:
        for stmt in _DDL:
            con.execute(stmt)
        row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version == 0:
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        else:
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for stmt in _MIGRATIONS.get(v, []):
                    con.execute(stmt)
                con.execute("UPDATE meta SET value=? WHERE key='schema_version'", [str(v)])
        self._initialised = True

    def schema_version(self) -> int:
        with self.connect() as con:
            return int(con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    @staticmethod
    def _insert_df(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
        if df.empty:
            return
        con.register("_ins", df)
        cols = ", ".join(df.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _ins")
        con.unregister("_ins")

    # ------------------------------------------------------------------ consultations

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

    # ------------------------------------------------------------------ runs

    def create_run(self, *, run_id: str | None = None, label: str | None = None, suite_name: str = "",
                   suite: dict | None = None, suite_hash: str = "", dataset: str = "", scribe: str = "",
                   judge: str = "", evalkit_version: str = "") -> str:
        """Create a run, or return the existing one with the same id (resume)."""
        run_id = run_id or uuid.uuid4().hex[:12]
        with self.connect() as con:
            if con.execute("SELECT 1 FROM runs WHERE run_id=?", [run_id]).fetchone():
                con.execute("UPDATE runs SET status='running' WHERE run_id=?", [run_id])
                return run_id
            con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,'running',?,?,NULL,NULL)",
                        [run_id, label, suite_name, _j(suite or {}), suite_hash, dataset, scribe, judge,
                         evalkit_version, utcnow()])
        return run_id

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

    # ------------------------------------------------------------------ sessions and results

    def done_sessions(self, run_id: str) -> set[str]:
        """Consultation ids already written (ok or failed) for a run: what a resume skips."""
        with self.connect() as con:
            rows = con.execute("SELECT consultation_id FROM sessions WHERE run_id=?", [run_id]).fetchall()
        return {r[0] for r in rows}

    def write_results(self, run_id: str, results: Sequence["SessionResult"]) -> None:
        """Write a batch of sessions with their scores, findings and flags in one transaction.

        A session is either stored whole or not at all, so a killed run resumes cleanly.
        Sessions already stored for the run are skipped (no duplicates).
        """
        if not results:
            return
        now = utcnow()
        with self.connect() as con:
            existing = {r[0] for r in con.execute(
                "SELECT session_id FROM sessions WHERE run_id=?", [run_id]).fetchall()}
            results = [r for r in results if r.session_id not in existing]
            if not results:
                return
            sess = pd.DataFrame([{
                "session_id": r.session_id, "run_id": run_id, "consultation_id": r.consultation_id,
                "scribe": r.scribe, "backend_version": r.output.backend_version if r.output else None,
                "status": "failed" if r.error else "ok", "error": r.error,
                "output": r.output.model_dump_json() if r.output else None, "input_hash": r.input_hash,
                "latency_s": r.output.latency_s if r.output else None,
                "cost_usd": r.output.cost_usd if r.output else None, "created_at": now,
            } for r in results])
            scores = pd.DataFrame([{
                "run_id": run_id, "session_id": r.session_id, "metric": s.metric,
                "value": (float(s.value) if s.value is not None else None), "detail": _j(s.detail),
                "created_at": now} for r in results for s in r.scores],
                columns=["run_id", "session_id", "metric", "value", "detail", "created_at"])
            finds = pd.DataFrame([{
                "run_id": run_id, "session_id": r.session_id, "finding_id": f.id, "kind": f.kind,
                "section": f.section, "sentence_id": f.sentence_id, "text": f.text, "verdict": f.verdict,
                "type": f.type, "severity": f.severity, "category": f.category, "evidence": _j(f.evidence),
                "rationale": f.rationale, "judge": r.judge, "judge_version": r.judge_version,
                "prompt_hash": r.prompt_hash, "created_at": now} for r in results for f in r.findings])
            flags = pd.DataFrame([{
                "run_id": run_id, "session_id": r.session_id, "rule": fl.rule, "reason": fl.reason,
                "created_at": now} for r in results for fl in r.flags])
            self._insert_df(con, "sessions", sess)
            if not scores.empty:
                scores["value"] = scores["value"].astype("float64")
            self._insert_df(con, "scores", scores)
            self._insert_df(con, "findings", finds)
            self._insert_df(con, "flags", flags)

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
                                 evidence=json.loads(r.evidence or "[]"), rationale=r.rationale or "")
                         for r in finds.itertuples()],
            "flags": flags.to_dict("records"),
        }

    # ------------------------------------------------------------------ annotations (append-only)

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

    # ------------------------------------------------------------------ cache

    def cache_get(self, key: str) -> Any | None:
        with self.connect() as con:
            row = con.execute("SELECT value FROM cache WHERE key=?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    def cache_get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        if not keys:
            return {}
        with self.connect() as con:
            con.register("_k", pd.DataFrame({"key": list(keys)}))
            rows = con.execute("SELECT c.key, c.value FROM cache c JOIN _k USING (key)").fetchall()
        return {k: json.loads(v) for k, v in rows}

    def cache_put_many(self, kind: str, items: dict[str, Any]) -> None:
        if not items:
            return
        now = utcnow()
        df = pd.DataFrame([{"key": k, "kind": kind, "value": _j(v), "created_at": now} for k, v in items.items()])
        with self.connect() as con:
            con.register("_c", df)
            con.execute("INSERT INTO cache SELECT key, kind, value, created_at FROM _c ON CONFLICT DO NOTHING")
            con.unregister("_c")

    def cache_put(self, kind: str, key: str, value: Any) -> None:
        self.cache_put_many(kind, {key: value})


class SessionResult:
    """What the runner hands the store for one consultation in one run."""

    __slots__ = ("session_id", "consultation_id", "scribe", "output", "scores", "findings", "flags",
                 "error", "input_hash", "judge", "judge_version", "prompt_hash")

    def __init__(self, session_id: str, consultation_id: str, scribe: str, output: ScribeOutput | None = None,
                 scores: Sequence[Score] = (), findings: Sequence[Finding] = (), flags: Sequence[Flag] = (),
                 error: str | None = None, input_hash: str = "", judge: str | None = None,
                 judge_version: str | None = None, prompt_hash: str | None = None):
        self.session_id = session_id
        self.consultation_id = consultation_id
        self.scribe = scribe
        self.output = output
        self.scores = list(scores)
        self.findings = list(findings)
        self.flags = list(flags)
        self.error = error
        self.input_hash = input_hash
        self.judge = judge
        self.judge_version = judge_version
        self.prompt_hash = prompt_hash
