"""The store's schema: every table's DDL, the schema version, and the migrations from older versions."""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEMA_VERSION", "init_schema"]

SCHEMA_VERSION = 4

#: login attempts (issue 18): what login throttling counts, and the audit trail of logins
_LOGIN_ATTEMPTS = """CREATE TABLE IF NOT EXISTS login_attempts (
    attempted_at TIMESTAMPTZ, user_key VARCHAR, name VARCHAR, client VARCHAR, device VARCHAR, outcome VARCHAR)"""
#: what orders a flagged session within its severity in the review queue, written with the session (issue 18)
_SESSION_SEVERITY = """CREATE TABLE IF NOT EXISTS session_severity (
    run_id VARCHAR, session_id VARCHAR, major_hallucinations DOUBLE, major_omissions DOUBLE,
    hallucination_rate DOUBLE, confidence DOUBLE, created_at TIMESTAMPTZ)"""
#: provider batch jobs (issue 20): what was submitted, so a stopped process picks a batch up again
_LLM_BATCHES = """CREATE TABLE IF NOT EXISTS llm_batches (
    submission VARCHAR PRIMARY KEY, batch_id VARCHAR, model VARCHAR, api_base VARCHAR, input_file_id VARCHAR,
    output_file_id VARCHAR, error_file_id VARCHAR, state VARCHAR, requests VARCHAR, n_requests INTEGER,
    completed INTEGER, failed INTEGER, failed_keys VARCHAR, run_id VARCHAR, created_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ, collected_at TIMESTAMPTZ)"""

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
    _LLM_BATCHES,
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
    # 4: provider batch jobs (issue 20)
    4: [_LLM_BATCHES],
}



def init_schema(con: Any) -> None:
    """Create what is missing and migrate an older database to :data:`SCHEMA_VERSION` (on ``con``, a DuckDB connection)."""
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
