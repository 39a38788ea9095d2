"""The Wan Video tab of a running host in headless Chromium: open the tab, import a small settings
file (the tiny model, 64x64, few frames), Generate, watch the tab's progress line and bar (and the
host's own progress, GET /sdapi/v1/progress, when the host serves its API), wait for the video
element, and keep screenshots.

    /work/main/.venv/bin/python tests/hosts/check_tab.py URL --name a1111 --out DIR
        [--gradio-login USER:PASS] [--api-auth USER:PASS] [--timeout 900]

Needs Debian's chromium and chromedriver and selenium (the project's .venv has it); the flags are
the browser test's (tests/test_ui_browser.py). Writes DIR/NAME-tab-*.png and DIR/NAME-tab.json;
exit status 0 when the video appeared.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tiny_job import TINY_JOB

SETTINGS = {**TINY_JOB, "seed": 13}


def host_progress(base: str, auth: str | None) -> dict | None:
    """The host's own progress (what its progress bar and API report), or None."""
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth else {}
    request = urllib.request.Request(base + "/sdapi/v1/progress?skip_current_image=true", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            data = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    state = data.get("state") or {}
    return {
        "progress": round(float(data.get("progress") or 0), 3),
        "job": state.get("job"),
        "job_no/count": f"{state.get('job_no')}/{state.get('job_count')}",
        "step": f"{state.get('sampling_step')}/{state.get('sampling_steps')}",
        "textinfo": data.get("textinfo"),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--name", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--gradio-login", help="USER:PASS for the WebUI's login page (--gradio-auth)")
    parser.add_argument("--api-auth", help="USER:PASS for /sdapi/v1/progress (--api-auth)")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    args.out.mkdir(parents=True, exist_ok=True)

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2000"):
        options.add_argument(argument)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    record: dict = {"url": base, "progress_lines": [], "progress_bar": [], "host_progress": [], "errors": []}
    shots = []

    def shot(label: str) -> None:
        path = args.out / f"{args.name}-tab-{label}.png"
        driver.save_screenshot(str(path))
        shots.append(str(path))
        print(f"screenshot {path}", flush=True)

    from selenium.common.exceptions import StaleElementReferenceException

    def text(element_id: str) -> str:
        for _ in range(5):  # gradio re-renders components while a job runs
            try:
                found = driver.find_elements(By.ID, element_id)
                return found[0].text if found else ""
            except StaleElementReferenceException:
                time.sleep(0.2)
        return ""

    def bar_state() -> str:
        for _ in range(5):
            try:
                bars = driver.find_elements(By.ID, "wan_progress_bar")
                if not bars:
                    return ""
                return f"{bars[0].get_attribute('data-state')} {bars[0].get_attribute('data-percent')}%"
            except StaleElementReferenceException:
                time.sleep(0.2)
        return ""

    try:
        wait = WebDriverWait(driver, 180)
        driver.get(base + "/")
        if args.gradio_login:
            user, password = args.gradio_login.split(":", 1)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[type=password]"))
            fields = driver.find_elements(By.CSS_SELECTOR, "input")
            fields[0].send_keys(user)
            driver.find_element(By.CSS_SELECTOR, "input[type=password]").send_keys(password)
            next(b for b in driver.find_elements(By.TAG_NAME, "button") if "login" in b.text.lower()).click()
        wait.until(
            lambda d: any(b.text.strip() == "Wan Video" for b in d.find_elements(By.CSS_SELECTOR, "button"))
        )
        next(
            b for b in driver.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "Wan Video"
        ).click()
        wait.until(
            lambda d: (
                d.find_elements(By.ID, "wan_generate")
                and d.find_element(By.ID, "wan_generate").is_displayed()
            )
        )
        time.sleep(1)
        shot("opened")
        unavailable = text("wan_unavailable")
        if unavailable:
            record["errors"].append(f"tab says: {unavailable}")
        settings = Path(tempfile.mkdtemp()) / "wan_tiny_settings.json"
        settings.write_text(json.dumps(SETTINGS))
        driver.find_element(By.CSS_SELECTOR, "#wan_settings_file input[type=file]").send_keys(str(settings))
        time.sleep(2)  # the upload finishes before the import reads it
        driver.find_element(By.ID, "wan_import").click()
        wait.until(lambda d: "Imported" in text("wan_message") or "rror" in text("wan_message"))
        record["import_message"] = text("wan_message")
        print("import:", record["import_message"], flush=True)
        driver.find_element(By.ID, "wan_generate").click()
        wait.until(
            lambda d: (
                "Queued job" in text("wan_message")
                or "rror" in text("wan_message")
                or "cannot" in text("wan_message")
            )
        )
        record["generate_message"] = text("wan_message")
        print("generate:", record["generate_message"], flush=True)
        deadline = time.time() + args.timeout
        mid_shot = False
        while time.time() < deadline and not driver.find_elements(By.CSS_SELECTOR, "#wan_video video"):
            line = text("wan_progress")
            if line and (not record["progress_lines"] or record["progress_lines"][-1] != line):
                record["progress_lines"].append(line)
                print(f"  {time.strftime('%H:%M:%S')} progress: {line!r}", flush=True)
            bar = bar_state()
            if bar and (not record["progress_bar"] or record["progress_bar"][-1] != bar):
                record["progress_bar"].append(bar)
            host = host_progress(base, args.api_auth)
            if host and (not record["host_progress"] or record["host_progress"][-1] != host):
                record["host_progress"].append(host)
                print(f"  {time.strftime('%H:%M:%S')} host progress: {host}", flush=True)
            if not mid_shot and "step" in line:
                shot("running")
                mid_shot = True
            if "failed" in line or "cancelled" in line:
                break
            time.sleep(0.5)
        record["video"] = bool(driver.find_elements(By.CSS_SELECTOR, "#wan_video video"))
        record["final_progress_line"] = text("wan_progress")
        record["final_message"] = text("wan_message")
        record["metrics"] = text("wan_metrics")[:500]
        time.sleep(1)
        shot("after")
    except Exception as exc:  # keep what we saw
        record["errors"].append(f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(Exception):
            shot("error")
    finally:
        record["screenshots"] = shots
        driver.quit()
    (args.out / f"{args.name}-tab.json").write_text(json.dumps(record, indent=1))
    print(json.dumps({k: record[k] for k in record if k != "host_progress"}, indent=1))
    return 0 if record.get("video") else 1


if __name__ == "__main__":
    sys.exit(main())
