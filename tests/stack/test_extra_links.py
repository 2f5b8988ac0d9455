"""The "Domino Job" extra link, as the UI gets it: through the REST API's extra-links endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.stack.support import TASK_ID, assert_run_succeeded, start_run_and_wait_deferred

if TYPE_CHECKING:
    from stack_harness import Stack

pytestmark = pytest.mark.stack

DAG_ID = "stack_extra_link"


def test_extra_link_is_the_jobs_domino_ui_page(one_triggerer: Stack) -> None:
    stack = one_triggerer
    run_id, job = start_run_and_wait_deferred(stack, DAG_ID, min_lines=1)
    assert_run_succeeded(stack, DAG_ID, run_id)

    links = stack.api.extra_links(DAG_ID, run_id, TASK_ID)
    # The connection's ui_url (compose: the emulator's published address) + Domino's job page path.
    ui_url = stack.emulator.url
    assert links.get("Domino Job") == f"{ui_url}/jobs/acme/churn/{job['id']}", links
