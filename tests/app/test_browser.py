"""The review app in a real browser: Debian's Chromium driven by Playwright, app on 127.0.0.1.

A clinician logs in, opens the first flagged session from the queue, plays the audio from a
transcript turn, labels the fabricated sentence as a major fabrication, and the label is read
back from DuckDB. Then the other pages are visited by an engineer and an admin. Screenshots of
every page go to $EVALKIT_TEST_ARTIFACTS/app/ (CI: test-artifacts/app/ beside the clone), else to
the system temp folder: a test writes nothing into the working tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from evalkit.review import queue as review
from evalkit.review.auth import Auth, User

from .browser_util import CHROMIUM, browser, login, outside, pick, record_requests, running_app, settle
from .demo_db import FABRICATION, TWO_CLAIMS, build_demo_db

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ART = Path(os.environ.get("EVALKIT_TEST_ARTIFACTS") or Path(tempfile.gettempdir()) / "evalkit-test-artifacts") / "app"
PW = "correct-horse-9"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium not installed (apt-get install -y chromium)")
    pytest.importorskip("playwright")
    d = tmp_path_factory.mktemp("browser")
    info = build_demo_db(d / "review.duckdb")
    auth = Auth(info["store"], hasher=PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    for name, role in (("dr.ada", "clinician"), ("dr.bob", "clinician"), ("eng", "engineer"), ("root", "admin")):
        auth.add_user(name, role, PW)
    ART.mkdir(parents=True, exist_ok=True)
    with running_app(d / "review.duckdb", d / "app.log") as base:
        yield base, info
    shutil.copy(d / "app.log", ART / "app.log")


def shot(page, name: str) -> None:
    page.screenshot(path=str(ART / f"{name}.png"))


def queue_csv(page) -> str:
    """The queue table's own CSV download (its toolbar button), as the browser saves it."""
    page.locator("[data-testid='stDataFrame']").first.hover()
    with page.expect_download(timeout=30_000) as dl:
        page.get_by_role("button", name="Download as CSV").click()
    return Path(dl.value.path()).read_text(encoding="utf-8-sig")


def open_sentence(page, text: str) -> None:
    page.get_by_role("button", name=text).click()
    settle(page)


def test_clinician_reviews_flagged_session(served):
    base, info = served
    store = info["store"]
    with browser() as ctx:
        requests = record_requests(ctx)
        # no File System Access API: the table's CSV download falls back to a plain download we can read
        ctx.add_init_script("window.showSaveFilePicker = undefined;")
        page = ctx.new_page()
        page.goto(base + "/")
        page.get_by_role("button", name="Log in").wait_for(timeout=60_000)
        shot(page, "01-login")
        login(page, base, "dr.ada", PW)
        page.get_by_role("heading", name="Review queue").wait_for(timeout=60_000)
        settle(page)
        shot(page, "02-queue")
        icon = page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map(l => l.href)")
        assert icon and all(h.startswith((base + "/", "data:image/svg+xml")) for h in icon)  # apps/static/favicon.svg
        csv = queue_csv(page).splitlines()
        assert csv[0].split(",") == list(review.QUEUE_COLUMNS) and len(csv) == 9  # the headers seen on screen
        assert csv[1].split(",")[1:5] == [info["fabricated"].split(":")[1], "cardiology", "whisper+rules", "High"]

        page.get_by_role("button", name="Start reviewing: next open session").click()
        page.get_by_role("heading", name="Scribe note").wait_for(timeout=60_000)
        settle(page)
        assert "session=" + info["fabricated"].replace(":", "%3A") in page.url or info["fabricated"] in page.url
        assert page.get_by_text("1 major hallucination").first.is_visible()
        shot(page, "03-session")

        # play the audio from a transcript turn (client-side seek, no rerun)
        turn = page.locator(".ek-transcript [data-ek-t]").nth(6)
        start = float(turn.get_attribute("data-ek-t"))
        turn.click()
        page.wait_for_function(
            "(t) => { const a = document.querySelector('audio'); return a && !a.paused && a.currentTime > t; }",
            arg=start, timeout=20_000)
        state = page.evaluate("() => { const a = document.querySelector('audio');"
                              " return {t: a.currentTime, paused: a.paused, d: a.duration}; }")
        assert state["t"] >= start and not state["paused"] and state["d"] > 10

        # label the fabricated sentence as a major fabrication
        page.get_by_role("button", name=FABRICATION).click()
        settle(page)
        page.get_by_text("fabrication · major").first.wait_for(timeout=30_000)
        shot(page, "04-sentence-selected")
        form = page.locator("[data-testid='stForm']").filter(has_text="Your verdict").first
        pick(page, "Your verdict", "unsupported", form)
        pick(page, "Error type (CREOLA)", "fabrication", form)
        pick(page, "Severity", "major", form)
        form.get_by_role("textbox", name="Corrected text (optional)").fill("Delete: metformin was never discussed.")
        form.get_by_role("button", name="Save label").click()
        settle(page)
        page.get_by_text("Delete: metformin was never discussed").first.wait_for(timeout=30_000)
        assert page.get_by_text("✓ Saved").count() == 1  # the form shows the label is saved
        shot(page, "05-labelled")

        labels = [a for a in store.annotations(session_id=info["fabricated"]) if a.kind == "claim_label"]
        assert len(labels) == 1
        lab = labels[0]
        assert lab.reviewer == "dr.ada" and lab.target.startswith("assessment_and_plan.")
        assert lab.payload["type"] == "fabrication" and lab.payload["severity"] == "major"
        assert lab.payload["verdict"] == "unsupported" and lab.payload["agree"] is True
        assert store.session_status(info["fabricated"]) == "in_review"

        for tab, name in (("ASR diff (WER)", "06-diff"), ("Template checklist", "07-checklist"),
                          ("Review & status", "08-review")):
            page.get_by_role("tab", name=tab).click()
            settle(page)
            page.locator("[data-testid='stTabs']").first.screenshot(path=str(ART / f"{name}.png"))

        # a reload keeps the login (cookie); then untrusted note text renders inert
        page.reload()
        page.get_by_role("heading", name="Scribe note").wait_for(timeout=60_000)
        page.get_by_role("button", name="Log out").wait_for(timeout=30_000)  # the sidebar may paint after the page
        assert page.get_by_role("button", name="Log out").count() == 1
        login(page, base, "dr.ada", PW, "/?session=" + info["xss"])  # no form: the cookie logs in
        page.get_by_role("heading", name="Scribe note").wait_for(timeout=60_000)
        settle(page)
        assert page.evaluate("() => window.__xss") is None
        assert page.get_by_text("<script>window.__xss = 1</script>", exact=False).count() >= 1
        assert page.locator("a[href*='example.invalid']").count() == 0
        shot(page, "09-untrusted-text")

        # a sentence with two claims: a block per claim with its text, and one honest evidence line
        page.goto(base + "/?session=" + info["two_claims"])
        page.get_by_role("heading", name="Scribe note").wait_for(timeout=60_000)
        settle(page)
        open_sentence(page, TWO_CLAIMS[0])
        inspector = page.locator(".st-key-inspector")
        for n, text in enumerate(TWO_CLAIMS[1], 1):
            assert inspector.get_by_text(f"Claim {n} of 2: “{text}”").count() == 1
        assert inspector.get_by_role("button", name="Save label").count() == 2
        assert inspector.get_by_text("and the scribe linked none").count() == 1
        assert inspector.get_by_text("No transcript turn supports this sentence").count() == 0
        assert inspector.get_by_text("the turns below are the ones the scribe linked").count() == 0
        inspector.scroll_into_view_if_needed()
        shot(page, "09b-two-claims")
    # the whole visit asked nothing of any other host (the tab icon once came from fonts.gstatic.com)
    assert len(requests) > 50 and outside(requests) == []


def test_engineer_and_admin_pages(served):
    base, info = served
    with browser() as ctx:
        requests = record_requests(ctx)
        page = ctx.new_page()
        page.goto(base + "/")  # one failed login first: it must reach the audit log
        page.get_by_role("textbox", name="User name").fill("eng")
        page.get_by_role("textbox", name="Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Wrong user name or password").wait_for(timeout=60_000)
        login(page, base, "eng", PW)
        page.get_by_role("heading", name="Dashboards").wait_for(timeout=60_000)
        settle(page)
        assert page.locator(".js-plotly-plot").count() >= 1
        shot(page, "10-dashboards")
        for link, heading, name in (("Compare runs", "Compare runs", "11-compare"), ("Agreement", "Agreement",
                                                                                       "12-agreement"),
                                    ("Audit log", "Audit log", "13-audit")):
            page.get_by_role("link", name=link).click()
            page.get_by_role("heading", name=heading, exact=True).wait_for(timeout=60_000)
            settle(page)
            shot(page, name)
        page.get_by_role("tab", name="Logins").click()
        settle(page)
        logins = page.locator("[data-testid='stTabs']").first
        page.wait_for_function("() => [...document.querySelectorAll('[role=gridcell]')]"
                               ".some(c => c.textContent === 'wrong_password')", timeout=30_000)  # (canvas grid)
        logins.screenshot(path=str(ART / "13b-audit-logins.png"))
        # this browser now has a device cookie, and its login was recorded with the device's hash
        assert any(c["name"] == "evalkit_device" for c in ctx.cookies())
        # an engineer reads a session but gets no annotation controls
        login(page, base, "eng", PW, "/?session=" + info["fabricated"])
        page.get_by_role("heading", name="Scribe note").wait_for(timeout=60_000)
        settle(page)
        assert page.get_by_text("Read-only view").first.is_visible()
        assert page.get_by_role("button", name="Save label").count() == 0
        shot(page, "14-engineer-session")
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
        page.reload()  # logged out stays logged out: the cookie is cleared and its session ended
        page.get_by_role("textbox", name="User name").wait_for(timeout=60_000)
    with browser() as ctx:
        more = record_requests(ctx)
        page = ctx.new_page()
        login(page, base, "root", PW)
        page.get_by_role("heading", name="Users & assignments").wait_for(timeout=60_000)
        settle(page)
        shot(page, "15-users")
    assert len(requests) > 50 and outside(requests + more) == []  # dashboards (plotly), compare, audit, users too


def test_a_second_clinician_labels_blind(served):
    base, info = served
    sid = info["two_claims"]
    claim = next(c for c in info["store"].session_detail(sid)["findings"] if c.text == TWO_CLAIMS[1][0])
    review.label_claim(info["store"], User("dr.ada", "clinician"), sid, claim.id, agree=True,
                       judge_verdict="unsupported", type="fabrication", severity="minor")
    with browser() as ctx:
        requests = record_requests(ctx)
        page = ctx.new_page()
        login(page, base, "dr.bob", PW, "/?session=" + sid)
        page.get_by_role("heading", name="Scribe note").wait_for(timeout=60_000)
        settle(page)
        open_sentence(page, TWO_CLAIMS[0])
        inspector = page.locator(".st-key-inspector")
        assert inspector.get_by_text("1 other clinician's label is hidden until you label this claim").count() == 1
        assert inspector.get_by_text("dr.ada").count() == 0
        shot(page, "16-blind-before")
        k = claim.id.replace(".", "_").replace("#", "_")
        page.locator(f".st-key-claim-{k}").get_by_role("button", name="Agree with the judge").first.click()
        settle(page)
        page.get_by_text("✓ Saved").first.wait_for(timeout=30_000)
        assert inspector.get_by_text("dr.ada", exact=False).count() >= 1  # now he has labelled it too
        assert inspector.get_by_text("hidden until you label").count() == 0
        shot(page, "17-blind-after")
    labels = [a for a in info["store"].annotations(session_id=sid) if a.kind == "claim_label"]
    assert [(a.reviewer, a.payload["blind"]) for a in labels] == [("dr.ada", True), ("dr.bob", True)]
    assert outside(requests) == []
