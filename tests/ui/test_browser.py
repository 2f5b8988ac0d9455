"""The Airflow UI with the Domino provider, in Debian's chromium: connection form, Test button, task page.

The steps follow one user: create ``domino`` connections through the form (the README's way), test
them from the connection list, then open a finished Domino task and its log. Each step leaves a
screenshot in ``docs/screenshots/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from stack_harness import free_port

if TYPE_CHECKING:
    from stack_harness import Stack

    from tests.ui.conftest import Browser

pytestmark = pytest.mark.ui

#: The form's labels: standard fields (relabelled), then the extras under "Extra Fields".
STANDARD_LABELS = ("Domino URL", "API key or access token", "Port")
EXTRA_LABELS = (
    "Auth type",
    "Token file",
    "Domino API proxy",
    "Verify TLS",
    "Request timeout (s)",
    "Domino UI URL",
    "Default project id",
)


def _create_connection(
    browser: Browser, conn_id: str, host: str, key: str, port: int, shot: str = ""
) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.open("/connections")
    browser.find("//button[normalize-space()='Add Connection']").click()
    browser.find("//input[@name='connection_id']").send_keys(conn_id)
    conn_type = browser.find("//*[@role='dialog']//input[@role='combobox']")
    conn_type.send_keys("Domino")
    browser.find("//*[@role='option' and normalize-space()='Domino']")
    conn_type.send_keys(Keys.ENTER)
    browser.find("//input[@name='host']").send_keys(host)
    browser.find("//input[@name='password']").send_keys(key)
    browser.find("//input[@name='port']").send_keys(str(port))
    if shot:  # the form's two sections open one at a time: check and photograph each
        for label in STANDARD_LABELS:
            browser.find(f"//*[@role='dialog']//label[normalize-space()='{label}']")
        browser.screenshot(f"{shot}-standard-fields.png")
        browser.find(
            "//button[contains(normalize-space(), 'Extra Fields') and not(contains(., 'JSON'))]"
        ).click()
        for label in EXTRA_LABELS:
            browser.find(f"//*[@role='dialog']//label[normalize-space()='{label}']")
        browser.screenshot(f"{shot}-extra-fields.png")
    browser.find("//button[normalize-space()='Save']").click()
    browser.find(f"//td//*[normalize-space()='{conn_id}'] | //td[normalize-space()='{conn_id}']")


def _press_test(browser: Browser, conn_id: str) -> tuple[str, str]:
    """Press the row's Test button; returns the toast's text and the button icon's colour."""
    browser.open("/connections")
    row = f"//tr[.//*[normalize-space()='{conn_id}'] or ./td[normalize-space()='{conn_id}']]"
    browser.close_toasts()
    browser.find(f"{row}//button[@aria-label='Test Connection']").click()
    text = browser.text_of_toast()
    colour = browser.find(f"{row}//button[@aria-label='Test Connection']//*[name()='svg']").get_attribute(
        "color"
    )
    return text, colour


def test_connection_form_shows_the_domino_fields_with_labels(ui_stack: Stack, browser: Browser) -> None:
    port = ui_stack.emulator.port
    _create_connection(
        browser,
        "domino_ui_good",
        ui_stack.emulator.url,
        ui_stack.emulator.api_key,
        port,
        "01-connection-form",
    )


def test_test_button_is_green_for_a_good_key(ui_stack: Stack, browser: Browser) -> None:
    text, colour = _press_test(browser, "domino_ui_good")
    browser.screenshot("02-test-good-key.png")
    assert text.startswith("Test Connection Successful"), text
    assert f"Connected to Domino at {ui_stack.emulator.url}" in text, text
    assert colour == "green", colour


def test_test_button_is_red_with_a_clear_message_for_a_bad_key(ui_stack: Stack, browser: Browser) -> None:
    _create_connection(
        browser, "domino_ui_bad_key", ui_stack.emulator.url, "not-the-key", ui_stack.emulator.port
    )
    text, colour = _press_test(browser, "domino_ui_bad_key")
    browser.screenshot("03-test-bad-key.png")
    assert text.startswith("Test Connection Failed"), text
    assert "HTTP 401" in text and "check the API key" in text, text
    assert "not-the-key" not in text
    assert colour == "red", colour


def test_test_button_is_red_with_a_clear_message_for_no_server(browser: Browser) -> None:
    port = free_port()  # nothing listens there
    _create_connection(browser, "domino_ui_no_server", f"http://127.0.0.1:{port}", "some-key", port)
    text, colour = _press_test(browser, "domino_ui_no_server")
    browser.screenshot("04-test-no-server.png")
    assert text.startswith("Test Connection Failed"), text
    assert f"127.0.0.1:{port}" in text or "could not" in text, text
    assert "Traceback" not in text
    assert colour == "red", colour


@pytest.fixture(scope="module")
def finished_run(ui_stack: Stack) -> str:
    dag_id = "domino_retraining_pipeline"
    ui_stack.api.wait_for_dag(dag_id)
    run_id = ui_stack.api.trigger(dag_id)
    ui_stack.api.unpause(dag_id)
    run = ui_stack.api.wait_for_run(dag_id, run_id, timeout=600)
    assert run["state"] == "success", run
    return run_id


def test_finished_domino_task_has_the_domino_job_link(
    ui_stack: Stack, browser: Browser, finished_run: str
) -> None:
    jobs = ui_stack.domino_jobs("domino_retraining_pipeline", finished_run)
    (job,) = [j for j in jobs if j["title"].startswith("Airflow domino_retraining_pipeline.train ")]
    browser.open(f"/dags/domino_retraining_pipeline/runs/{quote(finished_run, safe='')}/tasks/train/details")
    link = browser.find("//a[normalize-space()='Domino Job']")
    href = link.get_attribute("href")
    # A browser shows a link's address only on hover; write it beside the link for the screenshot.
    browser.driver.execute_script(
        "const note = document.createElement('code'); note.textContent = ' ' + arguments[0].href;"
        "arguments[0].after(note);",
        link,
    )
    browser.screenshot("05-task-domino-job-link.png")
    assert href == f"{ui_stack.emulator.url}/jobs/demo/churn/{job['id']}"


def test_task_log_shows_the_domino_lines(ui_stack: Stack, browser: Browser, finished_run: str) -> None:
    jobs = ui_stack.domino_jobs("domino_retraining_pipeline", finished_run)
    (job,) = [j for j in jobs if j["title"].startswith("Airflow domino_retraining_pipeline.train ")]
    browser.open(f"/dags/domino_retraining_pipeline/runs/{quote(finished_run, safe='')}/tasks/train")
    browser.find("//*[contains(text(), 'FINAL_ACCURACY=')]", timeout=60)
    browser.screenshot("06-task-log-domino-lines.png")
    page = browser.driver.find_element("tag name", "body").text
    assert "epoch 1/20" in page
    # Each Domino line is logged under its job's id.
    assert f"[{job['id']}] FINAL_ACCURACY=" in page
