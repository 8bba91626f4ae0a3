"""XSS and SQL-injection payloads in notes, names and filters are inert.

The payload database (see conftest) carries payloads in the dialogue, the reference note, the
scribe's note, the case's specialty and chief complaint, the suite name and the run label.
Checked: everything is stored and returned verbatim; every filter and reference built from a
payload is a bound value (no SQL error, no extra rows, no damage); reports and app pages render
the text escaped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evalkit.review import queue as review
from evalkit.compare.runs import compare_runs
from evalkit.compare.report import to_markdown
from evalkit.compare.gate import run_gate
from evalkit.compare.gate_report import to_junit
from evalkit.compare.gate_report import to_markdown as gate_markdown
from evalkit.review.queue import QueueFilter
from evalkit.run.runner import run_suite
from evalkit.run.suite import FlagRule, Suite

from .conftest import LABEL, PAYLOADS, PW, SPECIALTY, SQLI, XSS

EVALKIT = Path(sys.executable).with_name("evalkit")
#: text the terminal (rich) would read as console markup, and choke on, if printed unescaped
RICH = ["prod[/]", "[bold]x[/bold] [/] [link=javascript:alert(1)]y[/link]"]
#: raw markup that must never reach a page or report unescaped
DANGEROUS = re.compile(r"<\s*/?\s*(script|img|svg|iframe|div)\b|\]\(\s*javascript:", re.I)
SQL_ERRORS = ("Parser Error", "Catalog Error", "Binder Error", "duckdb", "syntax error", "Traceback")


def _intact(sec) -> None:
    s = sec["store"]
    assert len(s.list_users()) == 5
    assert len(s.run_sessions(sec["run_id"])) == 2
    s.annotations()  # the table still exists


def test_payloads_are_stored_and_returned_verbatim(sec):
    s, sid, user = sec["store"], sec["payload_session"], sec["clinician"]
    c = s.get_consultation("sec-payload")
    said = " ".join(t.text for t in c.turns)
    written = " ".join(x.text for _, x in c.reference_note.sentences())
    assert all(p in said and p in written for p in PAYLOADS)
    assert c.case.specialty == SPECIALTY and c.case.chief_complaint == XSS[1]

    d = s.session_detail(sid)
    note = [x.text for _, x in d["output"].note.sentences()]
    assert all(f"Reports {p} pain." in note for p in PAYLOADS)
    claims = [f.text for f in d["findings"] if f.kind == "claim"]
    assert all(any(p in c for c in claims) for p in XSS)  # claims are verbatim pieces of the sentences
    assert all(any(c in n for n in note) for c in claims)

    runs = s.list_runs()
    assert list(runs.label) == [LABEL] and list(runs.suite_name) == ["sec<script>"]
    assert s.resolve_run(LABEL) == sec["run_id"]

    for p in PAYLOADS:
        review.comment(s, user, sid, p)
        review.add_omission(s, user, sid, f"omitted {p}", category="other")
    got = [a.payload for a in s.annotations(session_id=sid)]
    assert [g["text"] for g in got if "text" in g and not g["text"].startswith("omitted")] == PAYLOADS
    assert sum(1 for g in got if str(g.get("text", "")).startswith("omitted")) == len(PAYLOADS)
    audit = review.audit_log(s, sec["engineer"], session_id=sid)
    assert set(PAYLOADS) <= {str(x) for x in audit.to_dict("records")[0].values()} or len(audit) >= 2 * len(PAYLOADS)
    _intact(sec)


@pytest.mark.parametrize("field", ["run_id", "scribe", "specialty", "flag_rule", "assigned_to"])
def test_queue_filters_are_bound_values(sec, field):
    s, user = sec["store"], sec["clinician"]
    everything = review.review_queue(s, user).counts["total"]
    assert everything == 2
    for p in PAYLOADS + [SPECIALTY[:-3]]:
        page = review.review_queue(s, user, QueueFilter(**{field: p}))
        assert page.counts["total"] == 0, (field, p)
        assert review.neighbours(s, user, sec["payload_session"], QueueFilter(**{field: p}))["position"] is None
    if field == "specialty":  # the exact payload string matches exactly its one case
        page = review.review_queue(s, user, QueueFilter(specialty=SPECIALTY))
        assert page.rows["session_id"].tolist() == [sec["payload_session"]]
    _intact(sec)


def test_store_lookups_with_payloads_raise_clean_errors_or_find_nothing(sec):
    s = sec["store"]
    for p in PAYLOADS:
        with pytest.raises(KeyError):
            s.resolve_run(p)
        with pytest.raises(KeyError):
            s.session_detail(p)
        assert s.annotations(session_id=p) == [] and s.annotations(reviewer=p) == []
        assert s.get_user(p) is None
        assert s.metric_breakdown(p, "specialty").empty
        assert s.paired_metric(p, p, p).empty
        assert s.list_assignments(session_id=p, reviewer=p).empty
        with pytest.raises(ValueError):
            s.metric_breakdown("wer", p)
        with pytest.raises(ValueError):
            s.finding_breakdown([p])
        assert sec["auth"].login(p, PW) is None and sec["auth"].user_for_token(p) is None
    _intact(sec)


def test_cli_refs_and_labels_with_payloads_fail_cleanly(sec):
    db = str(sec["db"])
    env = {**os.environ, "COLUMNS": "200"}
    for p in SQLI[:4] + XSS[:2] + RICH:
        res = subprocess.run([str(EVALKIT), "compare", p, LABEL, "--db", db], capture_output=True, text=True,
                             timeout=300, env=env)
        assert res.returncode == 2, (p, res.returncode, res.stderr)
        errors = [ln for ln in res.stderr.splitlines() if ln.strip()]
        assert len(errors) == 1 and errors[0].startswith("error:"), res.stderr
        assert not any(e in res.stderr + res.stdout for e in SQL_ERRORS), res.stderr
    res = subprocess.run([str(EVALKIT), "baseline", "set", LABEL, "--label", RICH[0], "--db", db],
                         capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert f"baseline {RICH[0]} → run" in res.stdout  # shown literally, not read as console markup
    assert sec["store"].resolve_run(RICH[0]) == sec["run_id"]
    res = subprocess.run([str(EVALKIT), "runs", "--db", db, "--json"], capture_output=True, text=True, timeout=300,
                         env=env)
    assert res.returncode == 0 and LABEL in res.stdout.encode().decode("unicode_escape") or LABEL in res.stdout
    _intact(sec)


# ---------------------------------------------------------------------------- rendering


def _second_run(sec) -> str:
    """A baseline run over the same cases, labelled with a payload, so compare and gate have two sides."""
    suite = Suite(name="base", dataset="unit", scribes=["reference"], metrics=["adherence", "hallucination"],
                  flag_rules=[FlagRule(name="x", metric="adherence", op="<", value=2)])
    (rid,) = run_suite(suite, sec["store"], label="base<img src=x onerror=alert(1)>|x", progress=False)
    return rid


def _outside_code(md: str) -> str:
    """Markdown with its `code spans` removed (text inside a code span is shown literally)."""
    return re.sub(r"(`+)(?:(?!\1).)*?\1", "", md)


def _rendered_is_inert(md: str) -> None:
    """Rendered by a real Markdown renderer (raw HTML allowed): only the tags evalkit writes itself,
    links only to the review app, and every table row has as many cells as its header."""
    from .test_report_escaping import _render

    cells = _render(md)
    ours = {"table", "thead", "tbody", "tr", "th", "td", "p", "code", "strong", "h2", "h3", "h4", "details",
            "summary", "a"}
    assert {t for t, _ in cells.tags} <= ours, {t for t, _ in cells.tags} - ours
    hrefs = [a.get("href", "") for t, a in cells.tags if t == "a"]
    assert all(h.startswith("http://localhost:8501/?session=") for h in hrefs), hrefs
    assert not any(k.startswith("on") for _, a in cells.tags for k in a)
    assert not DANGEROUS.search(_outside_code(md)), DANGEROUS.search(_outside_code(md))
    for line in md.split("\n\n"):  # each table on its own: header width == every row's width
        sub = _render(line).rows
        assert len({len(r) for r in sub}) <= 1, sub


def test_compare_markdown_escapes_names(sec):
    base = _second_run(sec)
    res = compare_runs(sec["store"], "base<img src=x onerror=alert(1)>|x", LABEL, n_resamples=200)
    md = to_markdown(res)
    _rendered_is_inert(md)
    assert "`" + LABEL + "`" in md  # the label is shown, literally, in a code span
    assert "cardiology' OR '1'='1 &lt;b&gt;x&lt;/b&gt;" in md  # the specialty breakdown row, escaped
    assert base


#: check names a gate file could carry: markup, table breakers, code-span breakers, control characters
CHECK_NAMES = [p.replace("\n", " ") for p in XSS[:3] + SQLI[:2]] + [
    "wer | injected | cells", "`code` and `` more", "esc \x1b[31m red \x00 nul", "[bold]rich[/] [/]"]


def test_gate_reports_escape_check_names(sec, tmp_path):
    base = _second_run(sec)
    gate = tmp_path / "gate.yaml"
    import yaml

    gate.write_text(yaml.safe_dump({"checks": [{"name": n, "check": "adherence >= 0"} for n in CHECK_NAMES]}))
    report = run_gate(sec["store"], sec["run_id"], gate, baseline=base)
    root = ET.fromstring(to_junit(report))  # well-formed XML whatever the names hold
    from evalkit.security.escape import xml_text

    assert [tc.get("name") for tc in root.iter("testcase")] == [xml_text(n) for n in CHECK_NAMES]
    md = gate_markdown(report)
    _rendered_is_inert(md)
    from .test_report_escaping import _render

    names = [r[1] for r in _render(md).rows[1:len(CHECK_NAMES) + 1]]
    assert [n.strip() for n in names] == [xml_text(n).strip() for n in CHECK_NAMES]  # shown as typed

    import io

    from rich.console import Console

    from evalkit.compare.gate_report import print_gate

    buf = io.StringIO()
    print_gate(report, Console(file=buf, width=300, color_system=None))  # no MarkupError from "[/]"
    assert "[bold]rich[/] [/]" in buf.getvalue()


def _app(sec, monkeypatch, user: str, session: str | None = None):
    from ..app.apptest_util import open_app

    monkeypatch.setenv("EVALKIT_DB", str(sec["db"]))
    return open_app(user, password=PW, session=session)


def _rendered_html(at) -> list[str]:
    """Text the app sends to the browser as markdown/HTML (where markup would be live)."""
    out = []
    for el in list(at.markdown) + list(at.caption) + list(at.get("html")) + list(at.title) + list(at.subheader):
        v = getattr(el, "value", None) or getattr(getattr(el, "proto", None), "body", None)
        if isinstance(v, str):
            out.append(v)
    return out


#: the payloads in the exact form that would be live markup if a page passed them through
RAW = [p for p in XSS if p.startswith(("<", "\""))]


@pytest.mark.slow
def test_app_pages_render_payloads_escaped(sec, monkeypatch):
    s, user = sec["store"], sec["clinician"]
    review.comment(s, user, sec["payload_session"], XSS[0])
    at = _app(sec, monkeypatch, "dr.ada", session=sec["payload_session"])
    assert not at.exception
    html = _rendered_html(at)
    live = [(p, h[:200]) for h in html for p in RAW if p in h]
    assert not live, live[:3]
    joined = "\n".join(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined or "\\<img" in joined  # shown, as text
    queue = _app(sec, monkeypatch, "dr.ada")
    assert not queue.exception
    live = [(p, h[:200]) for h in _rendered_html(queue) for p in RAW if p in h]
    assert not live, live[:3]
