"""``DominoHook.find_job_by_keys``: every active job of a busy project is searched, not the newest 500."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_domino.hooks import domino as hook_module
from airflow_provider_domino.jobs.idempotency import title_with_key
from tests.api.fakes import fake_hook, json_response


def _job(number: int, status: str, key: str | None = None) -> dict[str, Any]:
    title = title_with_key("work", key) if key else f"work {number}"
    return {
        "id": f"job-{number}",
        "number": number,
        "title": title,
        "status": {"executionStatus": status, "isCompleted": status in ("Succeeded", "Failed", "Stopped")},
    }


class BusyProject:
    """A project's jobs, newest (highest number) first, paged like the published list route."""

    def __init__(self, jobs: list[dict[str, Any]]) -> None:
        self.jobs = sorted(jobs, key=lambda job: -job["number"])
        self.pages: list[tuple[str, int]] = []

    def __call__(self, call: Any) -> Any:
        status_filter = call.params.get("statusFilter", "all")
        offset, limit = int(call.params["offset"]), int(call.params["limit"])
        self.pages.append((status_filter, offset))
        chosen = [job for job in self.jobs if status_filter == "all" or not job["status"]["isCompleted"]]
        page = chosen[offset : offset + limit]
        return json_response(
            {"jobs": page, "metadata": {"offset": offset, "limit": limit, "totalCount": len(chosen)}}
        )


def test_a_running_job_behind_thousands_of_newer_ones_is_found():
    """A retry in a busy project must find its running job, or it starts a duplicate."""
    mine = _job(1, "Running", key="my-try-1")
    others = [_job(number, "Running") for number in range(2, 2_002)]
    project = BusyProject([mine, *others])
    hook, _ = fake_hook({"list_jobs": project})
    assert hook.find_job_by_keys(["my-try-1"], "p1").id == "job-1"
    active_pages = [offset for status, offset in project.pages if status == "active"]
    assert active_pages == [0, 500, 1000, 1500, 2000]  # every page, in order, to the last one


def test_a_job_that_already_ended_is_found_among_the_newest():
    """A previous try's job that succeeded (reused) or failed (replaced) must be found too."""
    project = BusyProject([_job(1, "Running"), _job(2, "Succeeded", key="my-try-1"), _job(3, "Running")])
    hook, _ = fake_hook({"list_jobs": project})
    assert hook.find_job_by_keys(["my-try-1"], "p1").id == "job-2"
    assert hook.find_job_by_keys(["my-try-1"], "p1", active_only=True) is None


def test_the_newest_job_carrying_any_key_wins():
    project = BusyProject([_job(1, "Failed", key="try-1"), _job(2, "Running", key="try-2")])
    hook, _ = fake_hook({"list_jobs": project})
    assert hook.find_job_by_keys(["try-1", "try-2"], "p1").id == "job-2"


def test_the_active_search_stops_at_its_page_cap_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(hook_module, "IDEMPOTENCY_MAX_ACTIVE_PAGES", 2)
    project = BusyProject([_job(number, "Running") for number in range(1, 1_600)])
    hook, _ = fake_hook({"list_jobs": project})
    with caplog.at_level("WARNING"):
        assert hook.find_job_by_keys(["absent"], "p1") is None
    assert [offset for status, offset in project.pages if status == "active"] == [0, 500]
    assert "2 pages of active jobs" in caplog.text


@pytest.mark.parametrize("keys", [[], ()])
def test_no_keys_asks_nothing(keys):
    project = BusyProject([_job(1, "Running", key="k")])
    hook, _ = fake_hook({"list_jobs": project})
    assert hook.find_job_by_keys(keys, "p1") is None and project.pages == []
