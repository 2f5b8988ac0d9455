"""A real browser (Debian's chromium, headless, through chromium-driver and Selenium) on the stack.

Runs only under ``make ui-test`` (``DOMINO_UI_TESTS=1``): the target installs chromium, chromium-driver
and Selenium first. Screenshots go to ``docs/screenshots/`` (``DOMINO_UI_SCREENSHOTS`` overrides),
named after the step they show.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from stack_harness import Stack, StackError, require_postgres, stack_in_temp_dir  # noqa: E402

SCREENSHOTS = Path(os.environ.get("DOMINO_UI_SCREENSHOTS", REPO / "docs" / "screenshots"))
RUN_UI = os.environ.get("DOMINO_UI_TESTS") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The browser tests run only under ``make ui-test``."""
    if RUN_UI:
        return
    kept = [item for item in items if not item.get_closest_marker("ui")]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("ui")])
        items[:] = kept


@pytest.fixture(scope="session")
def ui_stack() -> Iterator[Stack]:
    try:
        require_postgres()
    except StackError as exc:
        pytest.skip(str(exc))
    dag_files = [REPO / "example_dags" / "domino_retraining_pipeline.py"]
    log = lambda message: print(message, file=sys.stderr)  # noqa: E731
    with stack_in_temp_dir("domino-ui-tests-", dag_files, log=log) as running:
        yield running


class Browser:
    """A logged-in headless chromium with the waits the Airflow UI (React) needs."""

    def __init__(self, driver: Any, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, xpath: str, timeout: float = 20) -> Any:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(
            expected_conditions.visibility_of_element_located((By.XPATH, xpath))
        )

    def text_of_toast(self, timeout: float = 90) -> str:
        """The text of the newest toast, once it has its full text (toasts animate in)."""
        from selenium.webdriver.common.by import By

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            toasts = self.driver.find_elements(By.CSS_SELECTOR, "[data-scope=toast][data-part=root]")
            texts = [toast.text.strip() for toast in toasts if toast.text.strip()]
            if texts and "\n" in texts[-1]:
                return texts[-1]
            time.sleep(0.2)
        raise AssertionError("no toast appeared")

    def close_toasts(self) -> None:
        self.driver.execute_script(
            "document.querySelectorAll('[data-scope=toast][data-part=root]').forEach(t => t.remove())"
        )

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.driver.save_screenshot(str(path))
        return path


@pytest.fixture(scope="session")
def browser(ui_stack: Stack) -> Iterator[Browser]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium and chromium-driver are not installed (make ui-test installs them with apt)")
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        page = Browser(driver, ui_stack.ui_url)
        page.open("/")
        page.find("//input[@name='username']").send_keys(ui_stack.username)
        page.find("//input[@name='password']").send_keys(ui_stack.password)
        page.find("//button[@type='submit']").click()
        page.find("//a[normalize-space()='Dags']")
        yield page
    finally:
        driver.quit()
