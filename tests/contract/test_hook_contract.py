"""Every request DominoHook sends is one Domino's published spec accepts.

The hook runs for real against the session emulator; the emulator's request log (method, raw
path, query, body: what went over the wire, whatever the client's internals) is then checked
operation by operation: path template, required and unlisted query parameters, and a body
carrying only fields the spec lists. The answers the hook received are checked too, as seen
by its sync transport.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.contract.openapi import check_request, check_response
from tests.waiting import job_when_finished

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

GOAL_ID = "62313cfd7a0af0281c01a6a6"
#: The operations the provider uses; each must be exercised below.
USED_OPERATIONS = {
    "startJob",
    "getJobDetails",
    "getJobs",
    "getJobLogs",
    "stopJob",
    "addJobTag",
    "removeJobTag",
    "getLinkedGoalsForJob",
    "linkJobToGoal",
    "unlinkJobFromGoal",
    "findProjectByOwnerAndName",
    "getProjectSummary",
    "listHardwareTiersForProject",
}


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, int, Any]]]:
    """(method, path, status, JSON) of every answer the hook's sync transport received."""
    seen: list[tuple[str, str, int, Any]] = []
    original = HTTPAdapter.send

    def recording_send(
        self: HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = original(self, request, **kwargs)
        if response.headers.get("content-type", "").startswith("application/json"):
            path = requests.utils.urlparse(request.url).path
            if not path.startswith("/_emulator"):
                seen.append((str(request.method), path, response.status_code, json.loads(response.content)))
        return response

    monkeypatch.setattr(HTTPAdapter, "send", recording_send)
    yield seen


def test_every_hook_request_follows_the_spec(
    emulator: EmulatorProcess, project_id: str, domino_conn: str, answers: list[tuple[str, str, int, Any]]
) -> None:
    from airflow_provider_domino.hooks.domino import DominoHook

    emulator.clear_requests()
    hook = DominoHook(domino_conn)
    job = hook.start_job("echo contract-out; echo contract-err >&2", "small", title="contract")
    assert emulator.get_job(job.id)["hardwareTierId"] == "small-k8s"  # the name was resolved to the id
    finished = job_when_finished(hook, job.id)
    assert finished.is_finished
    hook.list_jobs(project_id, status_filter="completed", limit=5)
    assert hook.find_job_by_idempotency_key("no-such-key", project_id) is None
    text = hook.get_job_logs(job.id)
    assert "contract-out" in text and "contract-err" in text

    tag = hook.add_tag(job.id, "contract", project_id)
    hook.remove_tag(job.id, tag.id, project_id)
    hook.link_goal(job.id, GOAL_ID)
    assert [goal.goal_id for goal in hook.list_goals(job.id)] == [GOAL_ID]
    hook.unlink_goal(GOAL_ID, job.id)

    project = hook.resolve_project("acme/churn")
    assert project.id == project_id
    fresh = DominoHook(domino_conn)  # resolve_project cached the project; a new hook looks it up by id
    assert fresh.job_url(job.id, project_id).endswith(f"/jobs/acme/churn/{job.id}")

    running = hook.start_job("sleep 30", "small-k8s", project_id, is_direct_hardware_tier_id=True)
    hook.stop_job(running.id, project_id, commit_results=False)
    hook.stop_job(running.id)  # a project-less stop is still a spec request

    async def async_calls() -> None:
        try:
            await hook.aget_job(job.id)
            await hook.astop_job(running.id, project_id)
        finally:
            await hook.aclose()

    asyncio.run(async_calls())

    recorded = [entry for entry in emulator.requests_log() if entry["endpoint"] is not None]
    used = set()
    for entry in recorded:
        operation = check_request(entry["method"], entry["path"], entry["query"], entry["body"])
        used.add(operation.name)
    assert used == USED_OPERATIONS
    assert {entry["status"] for entry in recorded} <= {200}, recorded

    assert answers, "the sync transport's answers were not observed"
    for method, path, status, payload in answers:
        check_response(method, path, status, payload)


def test_hook_requests_follow_the_spec_against_a_flat_server(
    flat_emulator: EmulatorProcess, flat_domino_conn: str
) -> None:
    """A server answering in the simplified reference's shapes changes what the hook reads, not what it sends."""
    from airflow_provider_domino.hooks.domino import DominoHook

    project_id = flat_emulator.project_id("acme", "churn")
    flat_emulator.clear_requests()
    hook = DominoHook(flat_domino_conn)
    job = hook.start_job("echo flat-out; echo flat-err >&2", "small", title="flat contract")
    assert flat_emulator.get_job(job.id)["hardwareTierId"] == "small-k8s"
    assert job_when_finished(hook, job.id).is_finished
    hook.list_jobs(project_id, status_filter="completed", limit=5)
    text = hook.get_job_logs(job.id)
    assert "flat-out" in text and "flat-err" in text
    tag = hook.add_tag(job.id, "flat", project_id)
    hook.remove_tag(job.id, tag.id, project_id)
    hook.link_goal(job.id, GOAL_ID)
    hook.list_goals(job.id)
    hook.unlink_goal(GOAL_ID, job.id)
    assert hook.resolve_project("acme/churn").id == project_id
    hook.stop_job(job.id, project_id)

    recorded = [entry for entry in flat_emulator.requests_log() if entry["endpoint"] is not None]
    assert recorded
    for entry in recorded:
        check_request(entry["method"], entry["path"], entry["query"], entry["body"])
