"""The app in a real browser: `solara run app.py` driven through Debian's headless Chromium.

The browser is Debian's ``chromium`` package (``.ci/run`` installs it when missing), driven by the
Python ``playwright`` package through ``executable_path``: the wheel carries its own driver, so
nothing is downloaded (``playwright install`` is never run), and its locators wait for a
condition with a timeout, so the test never sleeps on the wall clock. (Selenium would need
Debian's ``chromium-driver`` as well, in lockstep with ``chromium``.)

Without Chromium or Playwright the test is skipped, unless ``LLM_MARKET_E2E=require`` (set by
``.ci/run``), which turns the skip into a failure so CI cannot pass without running it.
Screenshots go to ``runs/app-e2e/`` (or ``$LLM_MARKET_SCREENSHOTS``).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mesa_versions import counter

ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("LLM_MARKET_SCREENSHOTS", ROOT / "runs" / "app-e2e"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0  # seconds; the first start imports Mesa, Solara and matplotlib
UI_TIMEOUT_MS = 30_000  # per condition the page must reach: generous for a loaded 2-core box


def _chromium() -> str | None:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    return found if found and Path(found).exists() else None


def _unavailable(reason: str):
    if os.environ.get("LLM_MARKET_E2E") == "require":
        pytest.fail(f"{reason} (LLM_MARKET_E2E=require)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`solara run app.py` on a free local port, offline and without telemetry."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = tmp_path_factory.mktemp("server") / "solara.log"
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    cmd = [sys.executable, "-m", "solara", "run", str(ROOT / "app.py")]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-open", "--production"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        # Poll for the condition (the page answers, or the server died), not for a fixed time.
        while not _responds(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"solara server did not come up:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """A page in headless Debian Chromium with a fresh profile directory."""
    chromium = _chromium()
    if chromium is None:
        _unavailable("Chromium not found (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),  # becomes --user-data-dir
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1440, "height": 1000},
        )
        context.set_default_timeout(UI_TIMEOUT_MS)
        page = context.pages[0] if context.pages else context.new_page()
        try:
            yield page
        finally:
            context.close()


def test_step_redraw_change_a_control_and_reset_in_a_browser(server, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))

    page.goto(server)
    expect(page.get_by_text(counter(0), exact=True)).to_be_visible()
    chart = page.locator("img.llm-chart")
    expect(chart).to_be_visible()
    first_src, first_pixels = chart.get_attribute("src"), chart.screenshot()
    page.screenshot(path=SHOTS / "01-start.png", full_page=True)

    step = page.get_by_role("button", name="Step", exact=True)
    for day in (1, 2, 3):
        step.click()
        expect(page.get_by_text(counter(day), exact=True)).to_be_visible()
    # The chart is a new image, with different pixels, once the third day is drawn.
    expect(chart).not_to_have_attribute("src", first_src)
    expect(page.get_by_text("reports traded today")).to_be_visible()
    assert chart.screenshot() != first_pixels
    page.screenshot(path=SHOTS / "02-after-3-steps.png", full_page=True)

    # A control, then Reset: the run restarts with it.
    page.locator(".v-select").filter(has_text="Social network of the teams").click()
    page.get_by_role("option", name="watts_strogatz").click()
    expect(page.get_by_text(counter(3), exact=True)).to_be_visible()  # nothing until Reset
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.get_by_text(counter(0), exact=True)).to_be_visible()
    expect(page.get_by_text("network watts_strogatz")).to_be_visible()
    step.click()
    expect(page.get_by_text(counter(1), exact=True)).to_be_visible()

    # Every view, as a teacher would click through them; each is identified by its caption.
    captions = {
        "Order book": "left in the book when the day closed",
        "Indices": "Segments are the open questions",
        "Forecasts": "mean squared error of a probability forecast",
        "Budgets": "moves funding toward its best teams",
        "Efficiency": "Surplus splits that value",
        "Stylized facts": "volatility clustering",
        "Social graph": "its ring is the principal that funds it",
    }
    for i, (tab, caption) in enumerate(captions.items(), start=3):
        page.get_by_role("tab", name=tab).click()
        expect(page.get_by_text(caption)).to_be_visible()
        view = page.locator(".v-window-item--active img.llm-chart").first
        expect(view).to_be_visible()
        # Vuetify slides the new tab in; the screenshot waits for the slide to end.
        expect(page.locator(".v-window__container--is-active")).to_have_count(0)
        page.screenshot(
            path=SHOTS / f"{i:02d}-{tab.split()[0].lower()}.png",
            full_page=True,
            animations="disabled",
        )

    # Offline means offline: nothing the page asked for failed to load.
    assert not failed, failed
