"""Start the review app on 127.0.0.1 and drive it with Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--mute-audio"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(db: Path, log: Path, timeout: float = 90.0) -> Iterator[str]:
    """Serve apps/app.py for ``db`` (``evalkit app``'s command line); yields the base URL."""
    from evalkit.cli.app_cmd import streamlit_command

    port = free_port()
    env = {**os.environ, "EVALKIT_DB": str(db)}
    with open(log, "w") as out:
        proc = subprocess.Popen(streamlit_command(db, "127.0.0.1", port), env=env, stdout=out,
                                stderr=subprocess.STDOUT, cwd=str(REPO))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the app did not start (see {log})")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def browser(width: int = 1500, height: int = 1100):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS, headless=True,
                                                   viewport={"width": width, "height": height})
        try:
            yield ctx
        finally:
            ctx.close()


def record_requests(ctx) -> list[str]:
    """Every URL any page of the browser context asks for, from now on (favicons included)."""
    urls: list[str] = []
    ctx.on("request", lambda r: urls.append(r.url))
    return urls


def outside(urls: list[str]) -> list[str]:
    """The requests that leave 127.0.0.1 (data: and blob: URLs never leave the page)."""
    from urllib.parse import urlsplit

    return sorted({u for u in urls if urlsplit(u).scheme not in ("data", "blob", "about")
                   and urlsplit(u).hostname != "127.0.0.1"})


def settle(page, timeout: float = 60.0) -> None:
    """Wait until Streamlit has finished the current run and drawn everything."""
    time.sleep(0.4)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') && "
        "document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0", timeout=timeout * 1000)
    time.sleep(0.6)


def login(page, base: str, name: str, password: str, path: str = "/") -> None:
    """Open ``path`` and log in (unless the login cookie of this browser already did)."""
    page.goto(base + path)
    page.locator("input[aria-label='User name'], [data-testid='stSidebar'] button:has-text('Log out')") \
        .first.wait_for(timeout=60_000)
    if page.get_by_role("button", name="Log out").count():
        settle(page)
        return
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for(timeout=60_000)
    settle(page)


def pick(page, label: str, option: str, within=None) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label`` (optionally inside ``within``)."""
    box = (within or page).locator("[data-testid='stSelectbox']").filter(has_text=label).first
    inp = box.get_by_role("combobox")
    inp.scroll_into_view_if_needed()
    time.sleep(0.8)  # a popover opened while the page still scrolls closes at once
    inp.click()
    if not page.get_by_role("option", name=option, exact=True).is_visible():
        inp.press("ArrowDown")
    page.get_by_role("option", name=option, exact=True).click()
    page.wait_for_function("([l, v]) => [...document.querySelectorAll('input[role=combobox]')]"
                           ".some(e => e.getAttribute('aria-label') === l && e.value === v)", arg=[label, option])


__all__ = ["CHROMIUM", "FLAGS", "browser", "free_port", "login", "outside", "pick", "record_requests", "running_app",
           "settle", "sys"]
