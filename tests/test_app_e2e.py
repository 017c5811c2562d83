"""The app in a real browser: `solara run app.py` driven through Debian's headless Chromium.

The browser is Debian's ``chromium`` package (``.ci/run`` installs it when missing), driven by the
Python ``playwright`` package through ``executable_path``: the wheel carries its own driver, so
nothing is downloaded (``playwright install`` is never run), and its locators wait for a
condition with a timeout, so the test never sleeps on the wall clock. (Selenium would need
Debian's ``chromium-driver`` as well, in lockstep with ``chromium``.)

Without Chromium or Playwright the test is skipped, unless ``LLM_MARKET_E2E=require`` (set by
``.ci/run``), which turns the skip into a failure so CI cannot pass without running it.
Screenshots go to ``runs/app-e2e/`` (or ``$LLM_MARKET_SCREENSHOTS``). The test fails on any
traceback in the server's log: an error the page survives is still an error.
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
    """`solara run app.py` on a free local port, offline and without telemetry: (url, log)."""
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
        yield url, log_path
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


def _day(n: int, end: int = 252) -> str:
    return f"Day {n} of {end}"


def _select(page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def _server_errors(log_path: Path) -> list[str]:
    text = log_path.read_text(errors="replace")
    return [block[:2000] for block in text.split("Traceback (most recent call last)")[1:]]


def test_a_teacher_session_in_a_browser(server, browser_page):
    from playwright.sync_api import expect

    url, log_path = server
    page = browser_page
    SHOTS.mkdir(parents=True, exist_ok=True)
    failed = []
    page.on("requestfailed", lambda r: failed.append(r.url))

    page.goto(url)
    expect(page.get_by_text(_day(0), exact=True)).to_be_visible()
    chart = page.locator("img.llm-chart").first
    expect(chart).to_be_visible()
    first_src = chart.get_attribute("src")
    # Step, Play and Reset are at the top of the sidebar: visible without scrolling.
    for name in ("Step", "▶ Play", "Reset"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_in_viewport()
    page.screenshot(path=SHOTS / "01-start.png")

    step = page.get_by_role("button", name="Step", exact=True)
    for day in (1, 2, 3):
        step.click()
        expect(page.get_by_text(_day(day), exact=True)).to_be_visible()
    expect(chart).not_to_have_attribute("src", first_src)
    expect(page.get_by_text("reports traded today")).to_be_visible()

    # A slider: days per Step, moved with the keyboard to the next round value.
    # The first slider of the sidebar's run card is days per Step.
    page.locator(".v-navigation-drawer [role=slider]").first.focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_text("Days per Step: 2", exact=True)).to_be_visible()
    step.click()
    expect(page.get_by_text(_day(5), exact=True)).to_be_visible()

    # Play, then Pause: days go by on their own, then stop.
    page.get_by_role("button", name="▶ Play", exact=True).click()
    expect(
        page.get_by_text(_day(9), exact=True)
        .or_(page.get_by_text(_day(11), exact=True))
        .or_(page.get_by_text(_day(13), exact=True))
    ).to_be_visible()
    page.get_by_role("button", name="❚❚ Pause", exact=True).click()
    expect(page.get_by_role("button", name="▶ Play", exact=True)).to_be_visible()
    expect(step).to_be_enabled()
    page.screenshot(path=SHOTS / "02-played.png")

    # Another mechanism, then Reset: the first run becomes an earlier run.
    _select(page, "Market mechanism", "call")
    page.get_by_role("button", name="Reset", exact=True).click()
    expect(page.get_by_text("mechanism call")).to_be_visible()
    expect(page.get_by_text(_day(0), exact=True)).to_be_visible()
    step.click()
    expect(page.get_by_text(_day(2), exact=True)).to_be_visible()

    # The seed and a scenario change: the new scenario runs with the typed seed.
    seed = page.get_by_label("Seed (same seed, same run)")
    seed.fill("7")
    seed.press("Enter")
    expect(page.get_by_text("Settings changed: press Reset to run with them")).to_be_visible()
    _select(page, "Scenario", "classroom")
    expect(page.get_by_text("scenario classroom · seed 7", exact=False)).to_be_visible()
    expect(page.get_by_text(_day(0, 20), exact=True)).to_be_visible()
    expect(page.get_by_text("Settings changed")).to_have_count(0)
    for day in (2, 4):
        step.click()
        expect(page.get_by_text(_day(day, 20), exact=True)).to_be_visible()
    page.get_by_role("tab", name="Market day").click()
    expect(page.get_by_text("The classroom experiment (Gode and Sunder 1993)")).to_be_visible()
    expect(page.get_by_text("matched at random, no order book")).to_be_visible()
    expect(page.get_by_text("Every unit sold, to the highest-value buyers")).to_be_visible()
    page.screenshot(path=SHOTS / "03-classroom.png", animations="disabled")

    # The overlay of an earlier run on the Efficiency chart.
    page.get_by_role("tab", name="Efficiency").click()
    eff = page.locator(".v-window-item--active img.llm-chart").first
    expect(eff).to_be_visible()
    before = eff.get_attribute("src")
    _select(page, "Overlay an earlier run", "run 2: default, seed 42 · mechanism=call")
    expect(eff).not_to_have_attribute("src", before)
    page.screenshot(path=SHOTS / "04-overlay.png", animations="disabled")

    # The runs side by side, and a CSV download of the earlier run.
    page.get_by_role("tab", name="Runs").click()
    expect(page.get_by_text("Every run since the page opened")).to_be_visible()
    expect(page.locator("table.llm-table")).to_contain_text("mechanism=call")
    _select(page, "Download the data of", "run 2: default, seed 42 · mechanism=call")
    with page.expect_download() as info:
        page.get_by_role("button", name="Series (CSV)").click()
    csv = Path(info.value.path()).read_text()
    assert csv.startswith("day,") and len(csv.splitlines()) == 1 + 3  # days 0..2 of run 2

    # One day played as a team.
    page.get_by_role("tab", name="Play a team").click()
    page.get_by_role("button", name="Take over this team").click()
    submit = page.get_by_role("button", name="Submit and step one day")
    expect(submit).to_be_visible()
    submit.click()
    expect(page.get_by_text("You have played 1 day(s)", exact=False)).to_be_visible()
    expect(page.get_by_text(_day(5, 20), exact=True)).to_be_visible()
    expect(page.get_by_text("team 0 (you)", exact=False)).to_be_visible()
    page.screenshot(path=SHOTS / "05-play-a-team.png", animations="disabled")

    # Every other view, as a teacher would click through them; each identified by its caption.
    captions = {
        "Market": "Each good is a forecast report",
        "Order book": "left in the book when the day closed",
        "Indices": "Segments are the open questions",
        "Forecasts": "mean squared error of a probability forecast",
        "Budgets": "moves funding toward its best teams",
        "Stylized facts": "volatility clustering",
        "Social graph": "its ring is the principal that funds it",
    }
    for tab, text in captions.items():
        page.get_by_role("tab", name=tab, exact=True).click()
        expect(page.get_by_text(text).first).to_be_visible()

    # Offline means offline, and the server logged no error.
    assert not failed, failed
    assert not _server_errors(log_path), _server_errors(log_path)[0]
