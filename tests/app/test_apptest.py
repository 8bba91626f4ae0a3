"""Page logic through streamlit.testing.v1.AppTest: login, role refusal, queue, session, annotation, κ."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from evalkit.review import queue as review
from evalkit.review.auth import User

from .apptest_util import APP, PW, open_app
from .demo_db import RUN_B


@pytest.fixture
def app_for(demo, monkeypatch):
    monkeypatch.setenv("EVALKIT_DB", str(demo["db"]))

    def make(user: str | None = None, page: str | None = None, session: str | None = None,
             password: str = PW) -> AppTest:
        return open_app(user, password=password, session=session, page=page)

    return make


def titles(at) -> list[str]:
    return [t.value for t in at.title]


def qp(at, key: str = "session"):
    v = at.query_params.get(key)
    return v[0] if isinstance(v, list) else v


def test_login_is_required_and_wrong_passwords_fail(app_for):
    at = app_for()
    assert at.text_input(key="login_name") and not at.exception
    assert not [b for b in at.button if b.label == "Log out"]
    bad = app_for("dr.ada", password="nope-nope-nope")
    assert any("Wrong user name or password" in e.value for e in bad.error)
    assert "Review queue" not in titles(bad)
    ok = app_for("dr.ada")
    assert titles(ok) == ["Review queue"] and not ok.exception
    ok.button(key="logout").click().run()
    assert ok.text_input(key="login_name") and "Review queue" not in titles(ok)


def test_a_throttled_client_is_told_how_long_to_wait_and_failures_reach_the_audit_log(app_for, demo):
    bad = app_for("dr.ada", password="Winter2030!")  # a wrong password through the form
    assert any("Wrong user name or password" in e.value for e in bad.error)
    eng = app_for("eng", "audit")
    eng.tabs[1].toggle[0].set_value(True).run()  # Logins: failed only
    log = eng.tabs[1].dataframe[0].value
    assert list(log.columns) == ["When", "Account", "Client", "Outcome"]
    assert log[["Account", "Client", "Outcome"]].values.tolist()[0] == ["dr.ada", "local", "wrong_password"]
    assert "Winter2030!" not in log.to_csv()
    # a client with many recent failures (seeded, so no timing is involved) is asked to wait
    from evalkit.review.auth import token_hash
    from evalkit.schema import utcnow

    for _ in range(12):
        demo["store"].add_login_attempt(utcnow(), token_hash("user:dr.bob"), "dr.bob", "local", None,
                                        "wrong_password")
    held = app_for("dr.ada")
    assert any("Too many failed logins from here: try again in" in e.value for e in held.error)
    assert "Review queue" not in titles(held)


@pytest.mark.slow
def test_each_role_lands_on_its_home_page(app_for):
    assert titles(app_for("dr.ada")) == ["Review queue"]
    assert titles(app_for("eng")) == ["Dashboards"]
    assert titles(app_for("root")) == ["Users & assignments"]


@pytest.mark.parametrize("user,page,allowed", [
    ("dr.ada", "dashboards", False), ("dr.ada", "users", False), ("dr.ada", "audit", False),
    ("eng", "users", False), ("root", "users", True), ("eng", "compare", True), ("dr.ada", "agreement", True),
    ("eng", "sweep", True), ("dr.ada", "sweep", False), ("eng", "stream", True), ("dr.ada", "stream", False),
])
def test_role_refusal_on_the_server(app_for, user, page, allowed):
    at = app_for(user, page)
    refused = any("Not allowed" in e.value for e in at.error)
    assert refused is (not allowed) and not at.exception
    if not allowed:
        assert not at.dataframe and not at.get("plotly_chart")


def test_queue_filters_and_progress(app_for, demo):
    at = app_for("dr.ada")
    assert any("0 of 8 reviewed" in (p.value if isinstance(p.value, str) else "") for p in at.markdown) or \
        "0 of 8 reviewed" in str(at.get("progress")[0].proto)
    df = at.dataframe[0].value
    assert len(df) == 8 and df.iloc[0]["Case"] == demo["consultations"][0]
    # the table (and so its CSV download) has the headers shown on screen, not internal names
    assert list(df.columns) == list(review.QUEUE_COLUMNS)
    assert "major_hallucinations" not in df.columns and df.iloc[0]["Severity"] == "High"
    at.selectbox(key="qf_run").select(RUN_B).run()
    assert len(at.dataframe[0].value) == 4
    at.toggle(key="qf_flagged").set_value(True).run()
    assert not at.dataframe and any("No session matches" in i.value for i in at.info)
    at.selectbox(key="qf_run").select_index(0).run()  # "All"
    assert len(at.dataframe[0].value) == 3
    at.selectbox(key="qf_spec").select("orthopedics").run()
    assert at.dataframe[0].value["Case"].tolist() == [demo["consultations"][1]]


def test_open_next_session_and_label_a_claim(app_for, demo):
    at = app_for("dr.ada")
    at.button(key="q_next_open").click().run()
    assert titles(at) == [demo["consultations"][0]] and qp(at) == demo["fabricated"]
    # the worst sentence is selected first: the contradicted one; pick the fabrication instead
    fab_key = next(b.key for b in at.button if b.key and b.key.startswith("sentbtn-assessment_and_plan.15"))
    at.button(key=fab_key).click().run()
    agree = next(b for b in at.button if b.key and b.key.startswith("agree-assessment_and_plan_15"))
    assert "unsupported" in agree.label
    agree.click().run()
    assert not at.exception
    labels = [a for a in demo["store"].annotations(session_id=demo["fabricated"]) if a.kind == "claim_label"]
    assert len(labels) == 1 and labels[0].payload["type"] == "fabrication" and labels[0].reviewer == "dr.ada"
    assert labels[0].payload["severity"] == "major" and labels[0].payload["agree"] is True
    # a correction through the form
    at.selectbox(key="ls-assessment_and_plan_15_1").select("minor")
    at.text_input(key="lc-assessment_and_plan_15_1").input("Remove this line.")
    next(b for b in at.button if b.label == "Save label").click().run()
    labels = [a for a in demo["store"].annotations(session_id=demo["fabricated"]) if a.kind == "claim_label"]
    assert [a.payload["severity"] for a in labels] == ["major", "minor"]
    assert labels[1].payload["corrected_text"] == "Remove this line."
    assert demo["store"].session_status(demo["fabricated"]) == "in_review"


def test_session_by_url_omission_pdqi_status_and_next(app_for, demo):
    at = app_for("dr.ada", session=demo["xss"])
    assert titles(at) == [demo["consultations"][1]]
    at.text_input(key="om_text").input("Penicillin allergy")
    at.selectbox(key="om_cat").select("allergy")
    next(b for b in at.button if b.label == "Add omission").click().run()
    at.segmented_control(key="pdqi-accurate").set_value(2)
    at.segmented_control(key="pdqi-thorough").set_value(4)
    next(b for b in at.button if b.label == "Save ratings").click().run()
    at.button(key="s_done_next").click().run()
    kinds = {a.kind: a.payload for a in demo["store"].annotations(session_id=demo["xss"])}
    assert kinds["omission"]["category"] == "allergy" and kinds["pdqi"] == {"accurate": 2, "thorough": 4}
    assert demo["store"].session_status(demo["xss"]) == "done"
    assert qp(at) not in (None, demo["xss"]) and titles(at) != [demo["consultations"][1]]  # moved on


def test_engineer_reads_a_session_without_annotation_controls(app_for, demo):
    at = app_for("eng", session=demo["fabricated"])
    assert titles(at) == [demo["consultations"][0]]
    assert not [b for b in at.button if b.label in ("Save label", "Add omission", "Save ratings")]
    assert not [b for b in at.button if b.key == "s_done_next"]


def test_untrusted_text_is_escaped_before_html(app_for, demo):
    at = app_for("dr.ada", session=demo["xss"])
    html_bits = [m.value for m in at.markdown if "<" in m.value]
    assert not any("<script>" in h for h in html_bits)
    assert any("&lt;script&gt;window.__xss" in h for h in html_bits)
    sent = [b.label for b in at.button if "window" in (b.label or "")]
    assert sent and all("\\<script\\>" in s and "\\[link\\]" in s for s in sent)


def test_agreement_page_shows_kappa_and_adjudicates(app_for, demo):
    s, sid = demo["store"], demo["fabricated"]
    claim = "assessment_and_plan.15#1"
    for who, sev in (("dr.ada", "major"), ("dr.bob", "minor")):
        review.label_claim(s, User(who, "clinician"), sid, claim, agree=True, judge_verdict="unsupported",
                           type="fabrication", severity=sev)
    at = app_for("dr.cy", "agreement")
    assert titles(at) == ["Agreement"] and not at.exception
    summary = at.dataframe[0].value.set_index("Label")
    assert summary.loc["severity", "Disagreements"] == 1 and summary.loc["verdict", "Disagreements"] == 0
    at.selectbox(key="adj_s").select("major")
    at.selectbox(key="adj_t").select("fabrication")
    at.selectbox(key="adj_v").select("unsupported")
    next(b for b in at.button if b.label == "Save adjudication").click().run()
    adj = [a for a in s.annotations(session_id=sid) if a.kind == "adjudication"]
    assert adj and adj[0].reviewer == "dr.cy" and adj[0].payload["severity"] == "major"
    assert s.session_status(sid) == "done"
    own = app_for("dr.ada", "agreement")
    assert not [b for b in own.button if b.label == "Save adjudication"]


def test_admin_adds_a_user_and_assigns_sessions(app_for, demo):
    at = app_for("root")
    at.text_input(key="nu_name").input("dr.dee")
    at.selectbox(key="nu_role").select("clinician")
    at.text_input(key="nu_pw").input("long-enough-pw")
    next(b for b in at.button if b.label == "Add").click().run()
    assert demo["auth"].get("dr.dee").role == "clinician"
    at.multiselect(key="as_who").select("dr.dee").select("dr.bob")
    at.number_input(key="as_n").set_value(2)
    next(b for b in at.button if b.label == "Assign").click().run()
    asg = demo["store"].list_assignments()
    assert sorted(asg["reviewer"]) == ["dr.bob", "dr.bob", "dr.dee", "dr.dee"]
    # the two most urgent flagged sessions in queue order: the planted fabrication leads
    from evalkit.review.queue import QueueFilter, review_queue
    top = review_queue(demo["store"], demo["auth"].get("root"), QueueFilter(flagged_only=True), page_size=2)
    assert set(asg["session_id"]) == set(top.rows["session_id"]) and demo["fabricated"] in set(asg["session_id"])
    mine = app_for("dr.dee", password="long-enough-pw")
    mine.toggle(key="qf_mine").set_value(True).run()
    assert len(mine.dataframe[0].value) == 2


def test_first_run_creates_the_administrator(tmp_path, monkeypatch):
    from evalkit.store import Store

    Store(tmp_path / "empty.duckdb").schema_version()
    monkeypatch.setenv("EVALKIT_DB", str(tmp_path / "empty.duckdb"))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.text_input(key="boot_name").input("root")
    at.text_input(key="boot_pw").input("long-enough-pw")
    at.text_input(key="boot_pw2").input("long-enough-pw")
    next(b for b in at.button if b.label == "Create administrator").click().run()
    assert titles(at) == ["Users & assignments"]
    assert Store(tmp_path / "empty.duckdb").get_user("root")["role"] == "admin"


@pytest.mark.slow
def test_dashboards_compare_and_audit_pages_render(app_for):
    at = app_for("eng")
    assert len(at.get("plotly_chart")) >= 2 and not at.exception
    cmp_ = app_for("eng", "compare")
    assert titles(cmp_) == ["Compare runs"] and not cmp_.exception and cmp_.dataframe
    audit = app_for("eng", "audit")
    assert titles(audit) == ["Audit log"] and not audit.exception
