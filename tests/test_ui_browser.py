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
    file_input = "#wan_settings_file input[type=file]"  # drawn after the Generate button
    wait.until(
        lambda d: d.find_elements(By.ID, "wan_generate") and d.find_elements(By.CSS_SELECTOR, file_input)
    )
    # import a settings file
    browser.find_element(By.CSS_SELECTOR, file_input).send_keys(str(settings))
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


def _replace_text(element, text):
    """Type `text` into a box as a person would (gradio listens to input events)."""
    from selenium.webdriver.common.keys import Keys

    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(text)


def test_iterating_in_a_real_browser(browser, server, tmp_path):
    """The animator's loop: the camera curves follow a schedule as it is typed, the live preview
    changes while a clip denoises, the timeline shows the clips, a clip's prompt is edited, "Re-render
    changes" says what is reused before anything starts, and the re-render renders only the rest.
    The screenshots go to test-artifacts/ (docs/ keeps the README's copies)."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings = tmp_path / "settings.json"
    # latent previews come every 5 steps: 20 steps give the page's poll eight to catch, even when a
    # busy machine slows the browser more than the render (10 steps once left it one)
    settings.write_text(json.dumps(SETTINGS | {"steps": 20}))
    wait = WebDriverWait(browser, 90)

    def text(element_id):
        try:
            found = browser.find_elements(By.ID, element_id)
            return found[0].text if found else ""
        except StaleElementReferenceException:
            return ""

    def attribute(selector, name):
        """An attribute of the first element that matches (found afresh: gradio redraws them)."""
        try:
            found = browser.find_elements(By.CSS_SELECTOR, selector)
            return found[0].get_attribute(name) if found else None
        except StaleElementReferenceException:
            return None

    def src(selector):
        return attribute(selector, "src")

    def value(selector):
        return attribute(selector, "value")

    browser.get(server + "/")
    file_input = "#wan_settings_file input[type=file]"
    wait.until(
        lambda d: d.find_elements(By.ID, "wan_generate") and d.find_elements(By.CSS_SELECTOR, file_input)
    )
    browser.find_element(By.CSS_SELECTOR, file_input).send_keys(str(settings))
    time.sleep(1.5)
    browser.find_element(By.ID, "wan_import").click()
    wait.until(lambda d: "The form's plan: 2 clip(s)" in text("wan_timeline_message"))
    # the camera curves beside the schedules follow what is typed
    schedule = browser.find_element(By.CSS_SELECTOR, "#wan_translation_x textarea, #wan_translation_x input")
    _replace_text(schedule, "0:(3*sin(t/4))")
    wait.until(lambda d: src("#wan_camera_plot img"))
    first_plot = src("#wan_camera_plot img")
    _replace_text(schedule, "0:(-2)")
    wait.until(lambda d: src("#wan_camera_plot img") not in (None, first_plot))
    loaded = "const i = document.querySelector('#wan_camera_plot img'); return i && i.naturalWidth;"
    wait.until(lambda d: d.execute_script(loaded))
    time.sleep(0.5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    camera = browser.find_element(By.ID, "wan_camera_plot").find_element(By.XPATH, "../../..")
    browser.execute_script("arguments[0].scrollIntoView();", camera)
    camera.screenshot(str(ARTIFACTS / "ui-camera.png"))
    # generate: the live preview changes while the clips denoise, the timeline fills in
    browser.find_element(By.ID, "wan_generate").click()
    wait.until(lambda d: "Queued job" in text("wan_message"))
    previews = set()
    deadline = time.time() + 240
    while time.time() < deadline and not text("wan_progress").startswith("succeeded"):
        if text("wan_progress").startswith("running"):
            previews.add(src("#wan_preview img"))
        time.sleep(0.2)
    assert len(previews - {None}) >= 2, previews
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#wan_timeline button.thumbnail-item")) == 2)
    # pick clip 1 on the timeline, edit its prompt, see what a re-render does, start it
    browser.find_elements(By.CSS_SELECTOR, "#wan_timeline button.thumbnail-item")[1].click()
    wait.until(lambda d: value("#wan_clip_prompt textarea") == "a castle")
    assert value("#wan_clip input") == "1"
    _replace_text(browser.find_element(By.CSS_SELECTOR, "#wan_clip_prompt textarea"), "a ruined castle")
    browser.find_element(By.ID, "wan_edit").click()
    wait.until(lambda d: "a ruined castle" in (value("#wan_prompts textarea") or ""))
    browser.find_element(By.ID, "wan_compare").click()
    wait.until(lambda d: "Renders 1 clip(s) (1), reuses 1 (0)" in text("wan_timeline_message"))
    table = text("wan_timeline_table")
    assert "reuse (take 1)" in table and "render: prompt changed" in table
    browser.save_screenshot(str(ARTIFACTS / "ui-rerender-changes.png"))
    job_box = "#wan_job_id textarea, #wan_job_id input"
    first_id = value(job_box)
    browser.find_element(By.ID, "wan_rerender").click()
    wait.until(lambda d: "Re-render: queued job" in text("wan_message"))
    wait.until(lambda d: value(job_box) not in (None, first_id))
    deadline = time.time() + 240
    while time.time() < deadline and not text("wan_progress").startswith("succeeded"):
        time.sleep(0.3)

    def captions():
        try:
            return [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#wan_timeline .caption-label")]
        except StaleElementReferenceException:
            return []

    wait.until(lambda d: any("take 2" in c for c in captions()))
    assert (
        captions()[0].endswith("take 1") and captions()[1].startswith("clip 1") and "take 2" in captions()[1]
    )
    assert "Take 2 of" in text("wan_timeline_message") and "1 reused from earlier takes" in text(
        "wan_timeline_message"
    )
    browser.execute_script("window.scrollTo(0, 0);")
    browser.save_screenshot(str(ARTIFACTS / "ui-timeline.png"))
