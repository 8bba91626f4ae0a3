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
import os
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

SCHEMA_VERSION = 3

#: login attempts (issue 18): what login throttling counts, and the audit trail of logins
_LOGIN_ATTEMPTS = """CREATE TABLE IF NOT EXISTS login_attempts (
    attempted_at TIMESTAMPTZ, user_key VARCHAR, name VARCHAR, client VARCHAR, device VARCHAR, outcome VARCHAR)"""
#: what orders a flagged session within its severity in the review queue, written with the session (issue 18)
_SESSION_SEVERITY = """CREATE TABLE IF NOT EXISTS session_severity (
    run_id VARCHAR, session_id VARCHAR, major_hallucinations DOUBLE, major_omissions DOUBLE,
    hallucination_rate DOUBLE, confidence DOUBLE, created_at TIMESTAMPTZ)"""

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
        prompt_hash VARCHAR, created_at TIMESTAMPTZ, confidence DOUBLE, rule VARCHAR, sources VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS flags (
        run_id VARCHAR, session_id VARCHAR, rule VARCHAR, reason VARCHAR, created_at TIMESTAMPTZ,
        severity VARCHAR)""",
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
    _LOGIN_ATTEMPTS,
    _SESSION_SEVERITY,
    "CREATE INDEX IF NOT EXISTS scores_run ON scores(run_id)",
    "CREATE INDEX IF NOT EXISTS findings_session ON findings(session_id)",
    "CREATE INDEX IF NOT EXISTS sessions_run ON sessions(run_id)",
    "CREATE INDEX IF NOT EXISTS annotations_session ON annotations(session_id)",
]

#: migrations: version → list of statements taking the schema from version-1 to version (a new
#: database gets the latest schema from _DDL and runs none)
_MIGRATIONS: dict[int, list[str]] = {
    2: ["ALTER TABLE findings ADD COLUMN IF NOT EXISTS confidence DOUBLE",  # the judge's confidence in a flag
        "ALTER TABLE findings ADD COLUMN IF NOT EXISTS rule VARCHAR",  # and the rule that raised it
        "ALTER TABLE findings ADD COLUMN IF NOT EXISTS sources VARCHAR"],  # transcript / context support
    # 3: login attempts and the queue's ordering (issue 18):
    # login_attempts and session_severity (_DDL creates them); a severity on each flag, from its rule —
    # flags written before get their default rule's; session_severity filled for sessions flagged before
    3: [
        _LOGIN_ATTEMPTS,
        "ALTER TABLE flags ADD COLUMN IF NOT EXISTS severity VARCHAR",
        """UPDATE flags SET severity = CASE WHEN rule = 'major_hallucination' THEN 'high'
               WHEN rule IN ('major_omission', 'numeric_error') THEN 'medium' ELSE 'low' END
           WHERE severity IS NULL""",
        _SESSION_SEVERITY,
        """INSERT INTO session_severity
           SELECT f.run_id, f.session_id, max(sc.value) FILTER (WHERE sc.metric = 'major_hallucinations'),
                  max(sc.value) FILTER (WHERE sc.metric = 'major_omissions'),
                  max(sc.value) FILTER (WHERE sc.metric = 'hallucination_rate'), NULL, now()
           FROM (SELECT DISTINCT run_id, session_id FROM flags) f
           LEFT JOIN scores sc ON sc.session_id = f.session_id
                AND sc.metric IN ('major_hallucinations', 'major_omissions', 'hallucination_rate')
           WHERE NOT EXISTS (SELECT 1 FROM session_severity x WHERE x.session_id = f.session_id)
           GROUP BY f.run_id, f.session_id""",
    ],
}


class StoreBusy(RuntimeError):
    """Another process held the database for longer than the busy timeout."""


def _is_lock_error(e: Exception) -> bool:
    msg = str(e).lower()
    return "lock" in msg and ("could not set" in msg or "conflicting" in msg or "being used" in msg)


class _KeepOpen:
    """Keeps one DuckDB connection per database file open between Store calls in this process.

    Opening a DuckDB file costs ~25-30 ms of CPU (more under load); while any connection to the
    file is open, ``duckdb.connect`` on it reuses the open database and costs ~0.03 ms. The held
    connection also holds DuckDB's file lock, so another process (a CLI run) cannot write while
    it is held: it is closed after ``idle_s`` without a call, and after at most ``max_s`` it is
    closed and not re-opened for ``gap_s`` (a writer's retry loop gets in then). Only for
    processes that do not fork while holding a file (the app); a forked child drops the parent's.
    """

    _lock = threading.Lock()
    _held: dict[str, list] = {}  # path -> [connection, opened_at, last_used, idle_s, max_s, gap_s]
    _gap_until: dict[str, float] = {}
    _reaper: threading.Thread | None = None

    @classmethod
    def touch(cls, path: str, idle_s: float, max_s: float, gap_s: float) -> None:
        with cls._lock:
            now = time.monotonic()
            held = cls._held.get(path)
            if held is None:
                if now < cls._gap_until.get(path, 0.0):
                    return
                held = cls._held[path] = [duckdb.connect(path), now, now, idle_s, max_s, gap_s]
                if cls._reaper is None or not cls._reaper.is_alive():
                    cls._reaper = threading.Thread(target=cls._reap, name="evalkit-store-keepopen", daemon=True)
                    cls._reaper.start()
            held[2] = now

    @classmethod
    def release(cls, path: str | None = None) -> None:
        """Close the held connection(s) now (all files when ``path`` is None)."""
        with cls._lock:
            for p in [path] if path else list(cls._held):
                held = cls._held.pop(p, None)
                if held:
                    held[0].close()

    @classmethod
    def _after_fork_in_child(cls) -> None:
        # a forked child must not use (or close: closing checkpoints) the parent's open files
        cls._orphans = list(cls._held.values())
        cls._held, cls._gap_until, cls._reaper, cls._lock = {}, {}, None, threading.Lock()

    @classmethod
    def _reap(cls) -> None:
        while True:
            time.sleep(0.1)
            with cls._lock:
                now = time.monotonic()
                for p, (con, opened, used, idle_s, max_s, gap_s) in list(cls._held.items()):
                    if now - used > idle_s or now - opened > max_s:
                        con.close()
                        del cls._held[p]
                        if now - opened > max_s:
                            cls._gap_until[p] = now + gap_s
                if not cls._held:
                    cls._reaper = None
                    return


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_KeepOpen._after_fork_in_child)


try:  # 5-10x faster than json for the per-score/per-finding details a run writes
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    _orjson = None


class RawJSON(str):
    """Text that is already JSON (a model's ``model_dump_json()``): stored as it is, not encoded again."""


def _j(v: Any) -> str:
    if type(v) is RawJSON:
        return str(v)
    if _orjson is not None:
        try:
            return _orjson.dumps(v, default=str, option=_orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # e.g. integers beyond 64 bits: json handles them
            pass
    return json.dumps(v, ensure_ascii=False, default=str)


class Store:
    """A DuckDB file. Cheap to construct; opens the file only inside each call.

    Args:
        path: the database file (created with its schema on first use).
        busy_timeout: seconds to keep retrying while another process holds the file.
        on_busy: called with a one-line message each time the store waits for the lock.
        keep_open: seconds to keep the file open in this process after a call (0 = close after
            each call). Saves the ~30 ms open of every call in a busy reader (the review app); the
            file stays locked against other processes meanwhile, for at most 10 s at a stretch.
    """

    def __init__(self, path: str | Path = "evalkit.duckdb", busy_timeout: float = 60.0,
                 on_busy: Callable[[str], None] | None = None, keep_open: float = 0.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.on_busy = on_busy
        self.keep_open = float(keep_open)
        self._lock = threading.RLock()
        self._initialised = False
        self._held: duckdb.DuckDBPyConnection | None = None  # see holding()

    # ------------------------------------------------------------------ plumbing

    @property
    def root(self) -> Path:
        """Folder next to the database where audio and artefacts live."""
        return self.path.resolve().parent

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting (with backoff) while another process holds it."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                if self.keep_open > 0:
                    _KeepOpen.touch(str(self.path), self.keep_open, max(10.0, self.keep_open), 2.0)
                return duckdb.connect(str(self.path))
            except (duckdb.IOException, duckdb.ConnectionException) as e:  # type: ignore[attr-defined]
                if not _is_lock_error(e) or time.monotonic() > deadline:
                    if _is_lock_error(e):
                        raise StoreBusy(f"{self.path}: database busy for {self.busy_timeout:.0f}s "
                                        "(another evalkit process is writing) — fix: wait for it to "
                                        "finish or set EVALKIT_BUSY_TIMEOUT=<seconds>") from None
                    raise
                msg = f"{self.path.name}: database busy, retrying in {delay:.2f}s"
                log.info(msg)
                if self.on_busy:
                    self.on_busy(msg)
                time.sleep(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 1.0)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep one connection open across the Store calls made inside (each still its own transaction).

        Saves the ~30 ms open (and the checkpoint on close) of every call in a burst of calls, such
        as the start of a run; other processes wait for the file meanwhile, so keep it short.
        """
        with self._lock:
            if self._held is not None:  # already holding: nested use is a no-op
                yield
                return
            self._held = self._open()
            try:
                yield
            finally:
                con, self._held = self._held, None
                con.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file, yield a connection inside a transaction, commit and close."""
        with self._lock:
            con = self._held
            own = con is None
            if own:
                con = self._open()
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
                if own:
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

    def data_version(self) -> tuple:
        """A cheap token that changes whenever the file's data may have changed (any process's commit).

        Built from the size and modification time of the database file and its write-ahead log,
        without opening the database: a cache key for read results (the app's dashboards).
        """
        out: list = []
        for f in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = f.stat()
                out += [st.st_size, st.st_mtime_ns]
            except FileNotFoundError:
                out += [None, None]
        return tuple(out)

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
        and consultations of its dataset now — what :mod:`evalkit.completeness` needs."""
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

    # ------------------------------------------------------------------ sessions and results

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

    def cache_get_many(self, keys: Sequence[str], raw: bool = False) -> dict[str, Any]:
        """Cached values by key (missing keys are left out); ``raw``: their JSON text, not parsed."""
        if not keys:
            return {}
        with self.connect() as con:
            con.register("_k", pd.DataFrame({"key": list(keys)}))
            rows = con.execute("SELECT c.key, c.value FROM cache c JOIN _k USING (key)").fetchall()
        if raw:
            return dict(rows)
        return {k: json.loads(v) for k, v in rows}

    def cache_put_many(self, kind: str, items: dict[str, Any]) -> None:
        if not items:
            return
        with self.connect() as con:
            self._cache_insert(con, kind, items, utcnow())

    @staticmethod
    def _cache_insert(con: Any, kind: str, items: dict[str, Any], now: Any) -> None:
        df = pd.DataFrame([{"key": k, "kind": kind, "value": _j(v), "created_at": now} for k, v in items.items()])
        con.register("_c", df)
        con.execute("INSERT INTO cache SELECT key, kind, value, created_at FROM _c ON CONFLICT DO NOTHING")
        con.unregister("_c")

    def cache_put(self, kind: str, key: str, value: Any) -> None:
        self.cache_put_many(kind, {key: value})

    # ------------------------------------------------------------------ compare / gate / baselines (issue 7)

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


    # ------------------------------------------------------------------ review app (issue 6):
    # users, login sessions, assignments, review queue, audit, dashboards, run pairs

    def count_users(self) -> int:
        with self.connect() as con:
            return int(con.execute("SELECT count(*) FROM users").fetchone()[0])

    def add_user(self, name: str, role: str, password_hash: str) -> bool:
        """Insert a user; False when the name is taken."""
        with self.connect() as con:
            if con.execute("SELECT 1 FROM users WHERE name=?", [name]).fetchone():
                return False
            con.execute("INSERT INTO users VALUES (?,?,?,FALSE,?)", [name, role, password_hash, utcnow()])
        return True

    def add_first_user(self, name: str, role: str, password_hash: str) -> bool:
        """Insert a user only while the table is empty (first-run bootstrap); False otherwise."""
        with self.connect() as con:
            if con.execute("SELECT count(*) FROM users").fetchone()[0]:
                return False
            con.execute("INSERT INTO users VALUES (?,?,?,FALSE,?)", [name, role, password_hash, utcnow()])
        return True

    def get_user(self, name: str) -> dict | None:
        with self.connect() as con:
            row = con.execute("SELECT name, role, password_hash, disabled, created_at FROM users WHERE name=?",
                              [name]).fetchone()
        if not row:
            return None
        return dict(zip(("name", "role", "password_hash", "disabled", "created_at"), row))

    def list_users(self) -> pd.DataFrame:
        """Users without their password hashes."""
        with self.connect() as con:
            return con.execute("SELECT name, role, disabled, created_at FROM users ORDER BY name").df()

    def update_user(self, name: str, *, role: str | None = None, password_hash: str | None = None,
                    disabled: bool | None = None) -> None:
        sets, args = [], []
        for col, val in (("role", role), ("password_hash", password_hash), ("disabled", disabled)):
            if val is not None:
                sets.append(f"{col}=?")
                args.append(val)
        if not sets:
            return
        with self.connect() as con:
            con.execute(f"UPDATE users SET {', '.join(sets)} WHERE name=?", args + [name])

    def add_auth_session(self, token_hash: str, name: str, expires_at: Any) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM auth_sessions WHERE expires_at < ?", [utcnow()])
            con.execute("INSERT INTO auth_sessions VALUES (?,?,?,?)", [token_hash, name, utcnow(), expires_at])

    def get_auth_session(self, token_hash: str) -> dict | None:
        """The login session with its user's current role and disabled flag."""
        with self.connect() as con:
            row = con.execute("""SELECT a.name, a.expires_at, u.role, coalesce(u.disabled, TRUE)
                                 FROM auth_sessions a LEFT JOIN users u ON u.name = a.name
                                 WHERE a.token_hash=?""", [token_hash]).fetchone()
        return dict(zip(("name", "expires_at", "role", "disabled"), row)) if row else None

    def delete_auth_sessions(self, *, token_hash: str | None = None, name: str | None = None) -> None:
        with self.connect() as con:
            if token_hash:
                con.execute("DELETE FROM auth_sessions WHERE token_hash=?", [token_hash])
            if name:
                con.execute("DELETE FROM auth_sessions WHERE name=?", [name])

    # login attempts (issue 18): what login throttling counts, and the audit trail of failed logins.
    # Never a password: an account name only when it is a real account, the client's address, a hash
    # of the browser's device id, and the outcome.
    _FAILED = "outcome IN ('wrong_password', 'unknown_user', 'disabled')"

    def add_login_attempt(self, at: Any, user_key: str, name: str | None, client: str, device: str | None,
                          outcome: str) -> None:
        with self.connect() as con:
            con.execute("INSERT INTO login_attempts VALUES (?,?,?,?,?,?)", [at, user_key, name, client, device, outcome])

    def login_attempt_stats(self, user_key: str, client: str, device: str | None, since: Any,
                            trusted_since: Any) -> dict:
        """Failed logins since ``since``: from the client (``n_c``), on the account (``n_u``), from the
        client on the account (``n_cu``), from the device on the account (``n_d``), each with the time
        of the last (``last_*``); ``trusted``: the device logged in to the account since ``trusted_since``."""
        with self.connect() as con:
            row = con.execute(f"""
                WITH f AS (SELECT * FROM login_attempts WHERE attempted_at >= $since AND {self._FAILED})
                SELECT count(*) FILTER (WHERE client = $c), max(attempted_at) FILTER (WHERE client = $c),
                       count(*) FILTER (WHERE user_key = $u),
                       count(*) FILTER (WHERE user_key = $u AND client = $c),
                       max(attempted_at) FILTER (WHERE user_key = $u AND client = $c),
                       count(*) FILTER (WHERE user_key = $u AND device = $d),
                       max(attempted_at) FILTER (WHERE user_key = $u AND device = $d),
                       (SELECT count(*) FROM login_attempts WHERE user_key = $u AND device = $d
                          AND outcome = 'ok' AND attempted_at >= $trusted)
                FROM f""", {"since": since, "c": client, "u": user_key, "d": device, "trusted": trusted_since}
                              ).fetchone()
        keys = ("n_c", "last_c", "n_u", "n_cu", "last_cu", "n_d", "last_d", "trusted")
        out = dict(zip(keys, row))
        out["trusted"] = bool(out["trusted"]) and device is not None
        return out

    def login_attempts(self, *, failed_only: bool = False, limit: int = 500) -> pd.DataFrame:
        """The login audit trail, newest first: attempted_at, name (real accounts only), client, outcome."""
        with self.connect() as con:
            df = con.execute(f"""SELECT attempted_at, name, client, outcome FROM login_attempts
                                 {"WHERE " + self._FAILED if failed_only else ""}
                                 ORDER BY attempted_at DESC, rowid DESC LIMIT ?""", [int(limit)]).df()
        df["name"] = df["name"].astype(object).where(df["name"].notna(), None)
        return df

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


    # ------------------------------------------------------------------ LLM calls and calibrations (issue 5)

    _LLM_CALL_COLS = ("run_id", "model", "purpose", "prompt_tokens", "completion_tokens", "cost_usd",
                      "latency_s", "cached", "error", "created_at")

    def llm_flush(self, cache_items: dict[str, Any], calls: Sequence[dict], kind: str = "llm") -> None:
        """Write LLM reply cache entries and call records in one transaction.

        Args:
            cache_items: cache key → JSON-able reply (existing keys are kept).
            calls: rows for ``llm_calls`` (keys: the table's columns; ``created_at`` optional).
            kind: the cache ``kind`` column.
        """
        if not cache_items and not calls:
            return
        now = utcnow()
        cdf = pd.DataFrame([{"key": k, "kind": kind, "value": _j(v), "created_at": now}
                            for k, v in cache_items.items()])
        ldf = pd.DataFrame([{c: r.get(c, now if c == "created_at" else None) for c in self._LLM_CALL_COLS}
                            for r in calls], columns=list(self._LLM_CALL_COLS))
        if not ldf.empty:
            for c in ("prompt_tokens", "completion_tokens"):
                ldf[c] = ldf[c].astype("Int64")
            for c in ("cost_usd", "latency_s"):
                ldf[c] = ldf[c].astype("float64")
            ldf["cached"] = ldf["cached"].astype("boolean")
            ldf["created_at"] = pd.to_datetime(ldf["created_at"], utc=True)
        with self.connect() as con:
            if not cdf.empty:
                con.register("_c", cdf)
                con.execute("INSERT INTO cache SELECT key, kind, value, created_at FROM _c ON CONFLICT DO NOTHING")
                con.unregister("_c")
            self._insert_df(con, "llm_calls", ldf)

    def cache_keys(self, prefix: str, max_values: int = 20_000) -> tuple[set[str], dict[str, str]]:
        """Cache keys starting with ``prefix``, and their values (JSON text) when there are at most
        ``max_values`` of them: a client then knows its misses and hits without asking again."""
        with self.connect() as con:
            n = con.execute("SELECT count(*) FROM cache WHERE starts_with(key, ?)", [prefix]).fetchone()[0]
            if n <= max_values:
                rows = con.execute("SELECT key, value FROM cache WHERE starts_with(key, ?)", [prefix]).fetchall()
                return {r[0] for r in rows}, {r[0]: r[1] for r in rows}
            rows = con.execute("SELECT key FROM cache WHERE starts_with(key, ?)", [prefix]).fetchall()
        return {r[0] for r in rows}, {}

    def llm_call_summary(self, run_id: str | None = None) -> dict[str, Any]:
        """Totals over ``llm_calls``: model calls made, cache hits, errors, tokens and cost."""
        where, args = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        with self.connect() as con:
            row = con.execute(f"""
                SELECT count(*) FILTER (WHERE NOT cached) AS calls,
                       count(*) FILTER (WHERE cached) AS cached,
                       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
                       coalesce(sum(prompt_tokens) FILTER (WHERE NOT cached), 0) AS prompt_tokens,
                       coalesce(sum(completion_tokens) FILTER (WHERE NOT cached), 0) AS completion_tokens,
                       sum(cost_usd) FILTER (WHERE NOT cached) AS cost_usd
                FROM llm_calls {where}""", args).fetchone()
        keys = ("calls", "cached", "errors", "prompt_tokens", "completion_tokens", "cost_usd")
        return dict(zip(keys, row))

    def put_calibration(self, judge: str, judge_version: str, dataset: str, result: dict) -> str:
        """Store one calibration result (appended); returns its id."""
        cid = uuid.uuid4().hex[:12]
        with self.connect() as con:
            con.execute("INSERT INTO calibrations VALUES (?,?,?,?,?,?)",
                        [cid, judge, judge_version, dataset, _j(result), utcnow()])
        return cid

    def calibrations(self, judge: str | None = None) -> pd.DataFrame:
        """Stored calibrations, newest first (``result`` parsed back to a dict)."""
        where, args = ("WHERE judge = ?", [judge]) if judge else ("", [])
        with self.connect() as con:
            df = con.execute(f"SELECT id, judge, judge_version, dataset, result, created_at FROM calibrations "
                             f"{where} ORDER BY created_at DESC", args).df()
        df["result"] = [json.loads(r) if r else {} for r in df["result"]]
        return df


    # ------------------------------------------------------------------ export (issue 8: backends, data, scale)

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

    # ------------------------------------------------------------------ robustness sweeps (issue 9)

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

    # ------------------------------------------------------------------ runs in bounded memory (issue 10)

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


SESSION_COLS = ("session_id", "run_id", "consultation_id", "scribe", "backend_version", "status", "error", "output",
                "input_hash", "latency_s", "cost_usd")
SCORE_COLS = ("run_id", "session_id", "metric", "value", "detail")
FINDING_COLS = ("run_id", "session_id", "finding_id", "kind", "section", "sentence_id", "text", "verdict", "type",
                "severity", "category", "evidence", "rationale", "judge", "judge_version", "prompt_hash", "confidence",
                "rule", "sources")
FLAG_COLS = ("run_id", "session_id", "rule", "reason", "severity")
SEVERITY_COLS = ("run_id", "session_id", "major_hallucinations", "major_omissions", "hallucination_rate", "confidence")


def _confidence(f: Finding) -> float | None:
    """The judge's confidence in a finding when it gives one (a number in 0-1), else None."""
    c = getattr(f, "confidence", None)
    try:
        c = float(c) if c is not None else None
    except (TypeError, ValueError):
        return None
    return c if c is not None and 0.0 <= c <= 1.0 else None


class SessionRows:
    """One session as the rows :meth:`Store.write_results` inserts (``created_at`` is added then).

    Built with :meth:`of` where the case ran, so the writing process only inserts: with the Ray
    executor that is a worker, and the driver — the one writer — does no per-field work. Plain
    tuples and strings: pickled as they are between processes. ``output_json`` is the scribe
    output's JSON (also what the scribe cache stores).
    """

    __slots__ = ("session_id", "consultation_id", "error", "input_hash", "output_json", "session", "scores",
                 "findings", "flags", "severity", "from_cache")
    pack_as_is = True  # evalkit.executors.ray_executor.pack: plain data, no pydantic models inside

    @classmethod
    def of(cls, run_id: str, r: "SessionResult") -> "SessionRows":
        out = r.output
        sid = r.session_id
        rows = cls.__new__(cls)
        rows.session_id, rows.consultation_id, rows.error, rows.input_hash = sid, r.consultation_id, r.error, r.input_hash
        rows.from_cache = False  # the runner sets it when the scribe output came from the cache
        rows.output_json = out.model_dump_json() if out is not None else None
        rows.session = (sid, run_id, r.consultation_id, r.scribe, out.backend_version if out else None,
                        "failed" if r.error else "ok", r.error, rows.output_json, r.input_hash,
                        out.latency_s if out else None, out.cost_usd if out else None)
        rows.scores = [(run_id, sid, s.metric, float(s.value) if s.value is not None else None, _j(s.detail))
                       for s in r.scores]
        rows.findings = [(run_id, sid, f.id, f.kind, f.section, f.sentence_id, f.text, f.verdict, f.type, f.severity,
                          f.category, _j(f.evidence), f.rationale, r.judge, r.judge_version, r.prompt_hash,
                          f.confidence, f.rule, _j(f.sources) if f.sources else None)
                         for f in r.findings]
        rows.flags = [(run_id, sid, fl.rule, fl.reason, getattr(fl, "severity", None)) for fl in r.flags]
        rows.severity = []
        if r.flags:  # what orders a flagged session within its severity in the review queue
            by = {x.metric: x.value for x in r.scores}
            errors = [c for f in r.findings if (f.kind == "omission" or f.verdict in ("unsupported", "contradicted"))
                      and (c := _confidence(f)) is not None]
            rows.severity = [(run_id, sid, by.get("major_hallucinations"), by.get("major_omissions"),
                              by.get("hallucination_rate"), max(errors) if errors else None)]
        return rows


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
