"""A real browser against `python -m wan serve`: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) loads the page, imports a settings file, sees the per-clip
movement table, runs a tiny-model generation, sees progress move and the video appear. The
screenshot is kept in test-artifacts/. CI (.ci/run) installs the browser and sets
WAN_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping."""

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from api_server import free_port, start_serve, stop_serve

ROOT = Path(__file__).parent.parent
ARTIFACTS = Path(os.environ.get("WAN_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SETTINGS = {
    "prompts": {"0": "a misty forest", "9": "a castle"},
    "max_frames": 17,
    "fps": 16,
    "W": 64,
    "H": 64,
    "steps": 2,
    "clip_frames": 17,
    "model": "tiny",
    "animation_mode": "3D",
    "translation_x": "0:(3)",
    "seed": 3,
}


def _browser_or_skip():
    missing = [name for name, found in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not found]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    if missing:
        if os.environ.get("WAN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"the browser test needs {', '.join(missing)}")
        pytest.skip(f"no {', '.join(missing)} (apt install chromium chromium-driver; pip install selenium)")


@pytest.fixture
def browser():
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1700"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("gradio")
    pytest.importorskip("diffusers")
    port = free_port()
    process = start_serve(tmp_path / "out", port, tmp_path / "server.log", cwd=ROOT)
    yield f"http://127.0.0.1:{port}"
    stop_serve(process)


def test_the_tab_in_a_real_browser(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings = tmp_path / "deforum_settings.txt"
    settings.write_text(json.dumps(SETTINGS))
    wait = WebDriverWait(browser, 60)

    def text(element_id):
        found = browser.find_elements(By.ID, element_id)
        return found[0].text if found else ""

    browser.get(server + "/")
    wait.until(lambda d: d.find_elements(By.ID, "wan_generate"))
    # import a settings file
    browser.find_element(By.CSS_SELECTOR, "#wan_settings_file input[type=file]").send_keys(str(settings))
    time.sleep(1.5)  # the upload finishes before the import reads it
    browser.find_element(By.ID, "wan_import").click()
    wait.until(lambda d: "Imported deforum_settings.txt" in text("wan_message"))
    prompts = browser.find_element(By.CSS_SELECTOR, "#wan_prompts textarea").get_attribute("value")
    assert json.loads(prompts) == SETTINGS["prompts"]
    # the per-clip movement table
    next(
        tab for tab in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if "Movement" in tab.text
    ).click()
    wait.until(lambda d: d.find_element(By.ID, "wan_analyse").is_displayed())
    browser.find_element(By.ID, "wan_analyse").click()
    wait.until(lambda d: "2 clip(s)" in text("wan_analyse_message"))
    table = text("wan_movement_table")
    assert "panning right" in table and "a castle" in table
    # generate with the tiny model: progress moves, then the video element appears
    browser.find_element(By.ID, "wan_generate").click()
    wait.until(lambda d: "Queued job" in text("wan_message"))
    seen = set()
    deadline = time.time() + 180
    while time.time() < deadline and not browser.find_elements(By.CSS_SELECTOR, "#wan_video video"):
        seen.add(text("wan_progress"))
        time.sleep(0.3)
    assert browser.find_elements(By.CSS_SELECTOR, "#wan_video video"), seen
    assert any("step" in line for line in seen), seen
    assert any(line.startswith("succeeded") for line in seen | {text("wan_progress")})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "ui-generate.png"))
