"""Response parsers read the published Public API shapes AND the simplified reference's flat form."""

from __future__ import annotations

import json

import pytest

from airflow_provider_domino.api import endpoints
from airflow_provider_domino.api.errors import DominoUnexpectedResponseError, message_from_error_body
from airflow_provider_domino.api.models import LogChunk, LogPage
from airflow_provider_domino.api.status import JobStatus
from tests.api.fakes import json_response, text_response

JOB_ID = "6231327c7a0af0281c01a69b"


def published_job(status: str = "Succeeded", completed: bool = True, **extra) -> dict:
    job = {
        "id": JOB_ID,
        "number": 42,
        "runCommand": "python train.py",
        "title": "nightly [airflow-key:af-1]",
        "status": {
            "executionStatus": status,
            "isCompleted": completed,
            "isArchived": False,
            "isScheduled": False,
        },
        "stageTimes": {
            "submissionTime": "2026-11-26T10:00:00.000Z",
            "startTime": "2026-11-26T10:00:05.000Z",
            "completedTime": "2026-11-26T10:01:00.000Z",
        },
        "commitDetails": {"inputCommitId": "in-commit", "outputCommitId": "out-commit"},
        "tags": [{"id": "t1", "name": "nightly", "creatorId": "u", "createdAt": "2026-11-26T10:00:00Z"}],
        "goalIds": ["g1"],
        "commentsCount": 0,
    }
    job.update(extra)
    return job


FLAT_JOB = {
    "id": JOB_ID,
    "projectId": "p1",
    "status": "Succeeded",
    "command": "python train.py",
    "title": "nightly [airflow-key:af-1]",
    "commitId": "in-commit",
    "outputCommitId": "out-commit",
    "submittedAt": "2026-11-26T10:00:00Z",
    "startedAt": "2026-11-26T10:00:05Z",
    "endedAt": "2026-11-26T10:01:00Z",
    "tags": [{"id": "t1", "name": "nightly"}],
}


@pytest.mark.parametrize(
    "payload",
    [{"job": published_job(), "metadata": {"requestId": "r", "notices": []}}, FLAT_JOB],
    ids=["published", "flat"],
)
def test_job_details_read_in_both_forms(payload):
    job = endpoints.get_job(JOB_ID).read(json_response(payload))
    assert (job.id, job.status, job.is_finished, job.is_success) == (JOB_ID, JobStatus.SUCCEEDED, True, True)
    assert job.command == "python train.py"
    assert (job.commit_id, job.output_commit_id) == ("in-commit", "out-commit")
    assert (job.started_at or "").startswith("2026-11-26T10:00:05")
    assert (job.ended_at or "").startswith("2026-11-26T10:01:00")
    assert [tag.name for tag in job.tags] == ["nightly"]
    summary = job.to_dict()
    # One flat shape, whichever form the server answered in.
    assert summary["status"] == "Succeeded"
    assert summary["commitId"] == "in-commit"
    assert summary["outputCommitId"] == "out-commit"
    assert summary["startedAt"].startswith("2026-11-26T10:00:05")
    assert summary["endedAt"].startswith("2026-11-26T10:01:00")
    assert summary["command"] == "python train.py"


XCOM_JOB_KEYS = {
    "id",
    "projectId",
    "number",
    "title",
    "command",
    "status",
    "isCompleted",
    "hardwareTierId",
    "environmentId",
    "commitId",
    "outputCommitId",
    "submittedAt",
    "startedAt",
    "endedAt",
    "tags",
    "goalIds",
    "usage",
    "dominoStats",
    "gitRepos",
}


@pytest.mark.parametrize(
    "payload",
    [{"job": published_job(), "metadata": {}}, FLAT_JOB],
    ids=["published", "flat"],
)
def test_xcom_job_has_one_shape_with_no_key_twice(payload):
    """Domino's nested objects are read into flat keys, never copied next to them."""
    summary = endpoints.get_job(JOB_ID).read(json_response(payload)).to_dict(project_id="p9")
    assert set(summary) == XCOM_JOB_KEYS
    assert summary["projectId"] == "p9" or payload is FLAT_JOB
    assert json.loads(json.dumps(summary)) == summary


def test_every_xcom_job_key_is_documented_on_to_dict():
    """The table in ``Job.to_dict``'s docstring is the shape's documentation: it lists every key."""
    import re

    from airflow_provider_domino.api.models import Job

    documented = set(re.findall(r"^\s*``(\w+)``\s{2,}", Job.to_dict.__doc__ or "", re.MULTILINE))
    job = Job.from_api({"id": "j", "status": "Running"})
    assert documented == set(job.to_dict()) == XCOM_JOB_KEYS


def test_published_job_carries_number_goals_and_no_project():
    job = endpoints.get_job(JOB_ID).read(json_response({"job": published_job(), "metadata": {}}))
    assert job.number == 42
    assert job.goal_ids == ("g1",)
    assert job.project_id is None
    assert job.to_dict()["number"] == 42


@pytest.mark.parametrize(
    "status",
    [
        "Queued",
        "Scheduled",
        "Pending",
        "Preparing",
        "Building",
        "Pulling",
        "Running",
        "Serving",
        "StopRequested",
        "StopAndDiscardRequested",
        "Stopping",
        "Finishing",
        "Stopped",
        "Succeeded",
        "Failed",
        "Error",
    ],
)
def test_every_spec_status_is_known(status):
    assert JobStatus.parse(status) is not JobStatus.UNKNOWN
    assert JobStatus.parse(status).value == status


def test_is_completed_is_authoritative_over_the_status():
    running_but_done = endpoints.get_job(JOB_ID).read(
        json_response({"job": published_job("Running", completed=True)})
    )
    assert running_but_done.is_finished and not running_but_done.is_success
    assert running_but_done.status_text == "Running"
    succeeded_not_done = endpoints.get_job(JOB_ID).read(
        json_response({"job": published_job("Succeeded", completed=False)})
    )
    assert not succeeded_not_done.is_finished and succeeded_not_done.is_active


def test_job_without_id_is_a_clear_error():
    with pytest.raises(DominoUnexpectedResponseError, match="no 'id'"):
        endpoints.get_job(JOB_ID).read(json_response({"job": {"number": 1}, "metadata": {}}))


@pytest.mark.parametrize(
    "payload",
    [
        {"jobs": [published_job()], "metadata": {"offset": 0, "limit": 1, "totalCount": 3, "requestId": "r"}},
        {"jobs": [published_job()], "metadata": {"pagination": {"offset": 0, "limit": 1, "totalCount": 3}}},
        {"data": [FLAT_JOB], "offset": 0, "limit": 1, "totalCount": 3},
    ],
    ids=["published-flat-metadata", "published-pagination", "flat"],
)
def test_job_list_reads_every_pagination_form(payload):
    page = endpoints.list_jobs("p1").read(json_response(payload))
    assert [job.id for job in page.jobs] == [JOB_ID]
    assert (page.offset, page.limit, page.total_count, page.next_offset) == (0, 1, 3, 1)


def test_job_list_request_uses_spec_parameters():
    call = endpoints.list_jobs("p1", status_filter="active", offset=100, limit=50)
    assert dict(call.params or {}) == {
        "projectId": "p1",
        "offset": "100",
        "limit": "50",
        "sortBy": "number",
        "ascending": "false",
        "statusFilter": "active",
    }
    with pytest.raises(ValueError, match="not one of"):
        endpoints.list_jobs("p1", status_filter="Running")


def test_start_body_has_only_new_job_v1_fields():
    call = endpoints.start_job(project_id="p1", command="python x.py", hardware_tier="tier-id-1", title="t")
    assert call.json_body == {
        "projectId": "p1",
        "runCommand": "python x.py",
        "hardwareTier": "tier-id-1",
        "title": "t",
    }
    full = endpoints.start_job(
        project_id="p1",
        command="c",
        hardware_tier="h",
        environment_id="e",
        commit_id="c1",
        title="t",
    )
    assert set(full.json_body or {}) == {
        "projectId",
        "runCommand",
        "hardwareTier",
        "environmentId",
        "commitId",
        "title",
    }


@pytest.mark.parametrize(
    "payload",
    [
        {"tag": {"id": "t9", "name": "x", "creatorId": "u", "createdAt": "z"}, "metadata": {}},
        {"id": "t9", "name": "x"},
    ],
    ids=["published", "flat"],
)
def test_tag_reads_both_forms(payload):
    call = endpoints.add_tag(JOB_ID, "x", "p1")
    assert call.json_body == {"tagName": "x", "projectId": "p1"}
    tag = call.read(json_response(payload))
    assert (tag.id, tag.name) == ("t9", "x")


def test_tag_removal_names_the_project():
    call = endpoints.remove_tag(JOB_ID, "t9", "p1")
    assert (call.method, call.path, dict(call.params or {})) == (
        "DELETE",
        f"/api/jobs/v1/jobs/{JOB_ID}/tags/t9",
        {"projectId": "p1"},
    )


LINKED = {"goalId": "g1", "jobId": JOB_ID, "projectId": "p1", "title": "Goal", "currentStage": "Ideation"}


@pytest.mark.parametrize(
    "payload",
    [{"goals": [LINKED], "metadata": {}}, [LINKED], {"data": [LINKED]}],
    ids=["published", "list", "data"],
)
def test_goal_list_reads_every_form(payload):
    call = endpoints.list_goals(JOB_ID)
    assert dict(call.params or {}) == {"jobId": JOB_ID}
    assert [(g.goal_id, g.job_id) for g in call.read(json_response(payload))] == [("g1", JOB_ID)]


@pytest.mark.parametrize("payload", [{"goal": LINKED, "metadata": {}}, LINKED], ids=["published", "flat"])
def test_goal_link_sends_job_in_query_and_reads_both_forms(payload):
    call = endpoints.link_goal(JOB_ID, "g1")
    assert (dict(call.params or {}), call.json_body) == ({"jobId": JOB_ID}, {"goalId": "g1"})
    assert call.read(json_response(payload)).goal_id == "g1"
    unlink = endpoints.unlink_goal("g1", JOB_ID)
    assert (unlink.method, unlink.path, dict(unlink.params or {})) == (
        "DELETE",
        "/api/jobs/v1/goals/g1",
        {"jobId": JOB_ID},
    )


def test_stop_sends_project_only_when_known():
    assert endpoints.stop_job(JOB_ID, "p1").json_body == {
        "jobId": JOB_ID,
        "commitResults": True,
        "projectId": "p1",
    }
    assert endpoints.stop_job(JOB_ID, None, commit_results=False).json_body == {
        "jobId": JOB_ID,
        "commitResults": False,
    }


@pytest.mark.parametrize(
    ("payload", "owner"),
    [
        ({"id": "p1", "name": "churn", "owner": {"id": "u1", "userName": "acme"}}, "acme"),
        ({"id": "p1", "name": "churn", "ownerUsername": "acme"}, "acme"),
        ({"id": "p1", "name": "churn", "ownerName": "acme"}, "acme"),
    ],
    ids=["find-owner-object", "v4-summary", "flat"],
)
def test_project_reads_every_owner_form(payload, owner):
    project = endpoints.get_project("p1").read(json_response(payload))
    assert (project.id, project.name, project.owner) == ("p1", "churn", owner)


@pytest.mark.parametrize(
    "payload",
    [
        [{"hardwareTier": {"id": "hwt-1", "name": "Small"}, "capacity": {}, "dataPlane": {}}],
        {"hardwareTiers": [{"id": "hwt-1", "name": "Small"}]},
    ],
    ids=["v4", "wrapped-flat"],
)
def test_hardware_tiers_read(payload):
    call = endpoints.list_hardware_tiers("p1")
    assert call.path == "/v4/projects/p1/hardwareTiers"
    assert [(t.id, t.name) for t in call.read(json_response(payload))] == [("hwt-1", "Small")]


def test_log_page_reads_the_published_envelope():
    call = endpoints.get_job_log_page(JOB_ID, log_type="stdOut", latest_time_nano=5)
    assert dict(call.params or {}) == {"logType": "stdOut", "limit": "10000", "latestTimeNano": "5"}
    payload = {
        "logs": {
            "logContent": [
                {"log": "hello\n", "logType": "stdOut", "size": 6, "timestamp": "2026-11-26T10:00:00.5Z"}
            ],
            "isComplete": False,
        },
        "metadata": {"pagination": {"latestTimeNano": "1764151200500000000", "limit": 1000}},
    }
    page = call.read(json_response(payload))
    assert isinstance(page, LogPage)
    assert [entry.log for entry in page.entries] == ["hello\n"]
    assert (page.limit, page.latest_time_nano, page.is_complete) == (1000, 1764151200500000000, False)


def test_a_decoded_log_page_gives_the_garbage_collector_nothing_to_track_per_entry():
    """A 10,000-entry page is decoded into columns of strings: no dict, tuple or object per entry is
    left tracked by the collector, so reading a long log does not set off young collections (and, through
    them, the full ones that hold a triggerer's loop). One tracked object per entry would add 10,000."""
    import gc

    entries = [
        {"log": f"line {i}\n", "logType": "stdOut", "size": 7, "timestamp": "2026-11-26T10:00:00Z"}
        for i in range(10_000)
    ]
    entries.append({"logType": "stdErr", "timestamp": "2026-11-26T10:00:01Z"})  # no ``log``: still read
    payload = {"logs": {"logContent": entries, "isComplete": True}, "metadata": {"pagination": {}}}
    response = json_response(payload)
    call = endpoints.get_job_log_page(JOB_ID, log_type="complete")
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()  # no collection may reset the count while it is read
    try:
        before = gc.get_count()[0]
        page = call.read(response)
        tracked = gc.get_count()[0] - before
    finally:
        if was_enabled:
            gc.enable()
    assert isinstance(page, LogPage)
    assert tracked < 100
    assert len(page.entries) == 10_001
    assert [entry.log for entry in page.entries][:2] == ["line 0\n", "line 1\n"]
    assert (page.entries[-1].log, page.entries[-1].log_type) == ("", "stdErr")


def test_a_log_page_keeps_only_its_log_content_in_order():
    """Objects that look like entries outside ``logContent`` are not entries; other items are left out."""
    payload = {
        "logs": {
            "logContent": [
                {"log": "a\n", "logType": "stdOut", "timestamp": "1"},
                "not an entry",
                {"log": "b\n", "logType": "stdErr", "timestamp": "2"},
            ],
        },
        "metadata": {"pagination": {}, "note": {"log": "stray", "logType": "stdOut", "timestamp": "3"}},
    }
    page = endpoints.get_job_log_page(JOB_ID, log_type="complete").read(json_response(payload))
    assert isinstance(page, LogPage)
    assert [(e.log, e.log_type, e.timestamp) for e in page.entries] == [
        ("a\n", "stdOut", "1"),
        ("b\n", "stdErr", "2"),
    ]
    assert [e.log for e in page.entries[1:]] == ["b\n"]


def test_log_page_caps_the_limit_and_requires_a_log_type():
    assert (
        dict(endpoints.get_job_log_page(JOB_ID, log_type="stdErr", limit=50_000).params or {})["limit"]
        == "10000"
    )
    with pytest.raises(ValueError, match="log type"):
        endpoints.get_job_log_page(JOB_ID, log_type="stdout-typo")


def test_text_log_answer_becomes_a_chunk():
    answer = endpoints.get_job_log_page(JOB_ID, log_type="stdOut").read(text_response("a\nb\n"))
    assert answer == LogChunk(b"a\nb\n", 0)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": "Job not found"}', "Job not found"),
        (
            b'{"errors": ["Unauthorized", "token expired"], "requestId": "req-1"}',
            "Unauthorized; token expired (request id req-1)",
        ),
        (b'{"message": "bad tier"}', "bad tier"),
        (b"<html>Gateway</html>", "<html>Gateway</html>"),
    ],
    ids=["spec-error", "spec-errors", "flat-message", "html"],
)
def test_error_bodies_reach_the_user(body, expected):
    assert message_from_error_body(body) == expected
