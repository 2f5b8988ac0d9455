"""The hook against a fake transport: tiers by name, the lagging list, projects, links, errors."""

from __future__ import annotations

import pytest

from airflow_provider_domino.api.errors import (
    DominoAmbiguousRequestError,
    DominoAuthError,
    DominoConfigError,
    DominoNotFoundError,
)
from airflow_provider_domino.jobs.idempotency import key_in_title
from tests.api.fakes import fake_hook, json_response

JOB_ID = "6231327c7a0af0281c01a69b"
TIERS = [
    {"hardwareTier": {"id": "hwt-small-01", "name": "Small"}, "capacity": {}},
    {"hardwareTier": {"id": "hwt-gpu-02", "name": "GPU large"}, "capacity": {}},
]


def job_envelope(
    title: str = "t", status: str = "Queued", completed: bool = False, job_id: str = JOB_ID
) -> dict:
    return {
        "job": {
            "id": job_id,
            "number": 1,
            "title": title,
            "runCommand": "true",
            "status": {
                "executionStatus": status,
                "isCompleted": completed,
                "isArchived": False,
                "isScheduled": False,
            },
            "stageTimes": {"submissionTime": "2026-11-26T10:00:00Z"},
            "commitDetails": {"inputCommitId": "c"},
            "tags": [],
        },
        "metadata": {"requestId": "r", "notices": []},
    }


def starting_hook(**extra):
    handlers = {
        "list_hardware_tiers": lambda call: json_response(TIERS),
        "start_job": lambda call: json_response(job_envelope(call.json_body["title"])),
        **extra,
    }
    return fake_hook(handlers)


@pytest.mark.parametrize(
    ("given", "sent"),
    [("Small", "hwt-small-01"), ("gpu LARGE", "hwt-gpu-02"), ("hwt-gpu-02", "hwt-gpu-02")],
    ids=["exact-name", "case-insensitive-name", "already-an-id"],
)
def test_tier_by_name_starts_on_its_id(given, sent):
    hook, transport = starting_hook()
    hook.start_job("true", given, "p1")
    assert transport.endpoints() == ["list_hardware_tiers", "start_job"]
    assert transport.calls[0].path == "/v4/projects/p1/hardwareTiers"
    assert transport.calls[1].json_body["hardwareTier"] == sent


def test_exact_name_wins_over_case_insensitive_match():
    tiers = [
        {"hardwareTier": {"id": "id-lower", "name": "small"}},
        {"hardwareTier": {"id": "id-upper", "name": "Small"}},
    ]
    hook, transport = starting_hook(list_hardware_tiers=lambda call: json_response(tiers))
    hook.start_job("true", "Small", "p1")
    assert transport.calls[-1].json_body["hardwareTier"] == "id-upper"


def test_unknown_tier_lists_the_names_and_starts_nothing():
    hook, transport = starting_hook()
    with pytest.raises(DominoConfigError) as raised:
        hook.start_job("true", "medium", "p1")
    assert "'medium'" in str(raised.value)
    assert "'GPU large', 'Small'" in str(raised.value)
    assert "start_job" not in transport.endpoints()


def test_direct_tier_id_is_sent_as_is():
    hook, transport = starting_hook()
    hook.start_job("true", "whatever-id", "p1", is_direct_hardware_tier_id=True)
    assert transport.endpoints() == ["start_job"]
    assert transport.calls[0].json_body["hardwareTier"] == "whatever-id"


def test_server_without_tier_route_gets_the_value_as_given():
    missing = DominoNotFoundError("GET", "/v4/projects/p1/hardwareTiers", 404, "no such route")
    hook, transport = starting_hook(list_hardware_tiers=lambda call: missing)
    hook.start_job("true", "small", "p1")
    assert transport.calls[-1].json_body["hardwareTier"] == "small"


def test_ambiguous_start_waits_for_a_lagging_list_before_resending(monkeypatch):
    monkeypatch.setattr("airflow_provider_domino.hooks.domino.time.sleep", lambda seconds: None)
    started: list[str] = []
    list_calls = 0

    def start(call):
        started.append(call.json_body["title"])
        return DominoAmbiguousRequestError("POST", "/api/jobs/v1/jobs", "read timeout")

    def list_jobs(call):
        nonlocal list_calls
        list_calls += 1
        jobs = [job_envelope(started[0])["job"]] if list_calls >= 3 else []  # listed on the third look
        return json_response({"jobs": jobs, "metadata": {"offset": 0, "limit": 100, "totalCount": len(jobs)}})

    hook, transport = starting_hook(start_job=start, list_jobs=list_jobs)
    job = hook.start_job("true", "Small", "p1", idempotency_key="lag-1")
    assert job.id == JOB_ID
    assert len(started) == 1  # found without resending
    assert list_calls == 3
    params = dict(transport.calls[-1].params or {})
    assert (params["sortBy"], params["ascending"]) == ("number", "false")


def test_ambiguous_start_resends_once_after_the_window(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(
        "airflow_provider_domino.hooks.domino.time.sleep", lambda s: clock.__setitem__(0, clock[0] + s)
    )
    monkeypatch.setattr("airflow_provider_domino.hooks.domino.time.monotonic", lambda: clock[0])
    attempts: list[str] = []

    def start(call):
        attempts.append(call.json_body["title"])
        if len(attempts) == 1:
            return DominoAmbiguousRequestError("POST", "/api/jobs/v1/jobs", "read timeout")
        return json_response(job_envelope(call.json_body["title"]))

    empty = json_response({"jobs": [], "metadata": {"offset": 0, "limit": 100, "totalCount": 0}})
    hook, transport = starting_hook(start_job=start, list_jobs=lambda call: empty)
    hook.start_job("true", "Small", "p1", idempotency_key="gone-1")
    assert len(attempts) == 2 and key_in_title(attempts[1]) == "gone-1"
    assert 10.0 <= clock[0] < 15.0  # looked for the whole window, with backoff, then resent once
    assert transport.endpoints().count("list_jobs") > 2


def test_twice_ambiguous_start_raises_after_one_resend(monkeypatch):
    monkeypatch.setattr("airflow_provider_domino.hooks.domino.time.sleep", lambda seconds: None)
    hook, transport = starting_hook(
        start_job=lambda call: DominoAmbiguousRequestError("POST", "/api/jobs/v1/jobs", "reset"),
        list_jobs=lambda call: json_response(
            {"jobs": [], "metadata": {"offset": 0, "limit": 100, "totalCount": 0}}
        ),
    )
    hook.start_lookup_window = 0.0
    with pytest.raises(DominoAmbiguousRequestError):
        hook.start_job("true", "Small", "p1")
    assert transport.endpoints().count("start_job") == 2


def test_job_link_names_owner_and_project_with_one_lookup():
    hook, transport = fake_hook(
        {
            "get_project": lambda call: json_response(
                {"id": "p1", "name": "churn model", "ownerUsername": "acme"}
            )
        }
    )
    assert hook.job_url(JOB_ID, "p1") == f"https://domino.example/jobs/acme/churn%20model/{JOB_ID}"
    assert hook.job_url("other", "p1").endswith("/jobs/acme/churn%20model/other")
    assert transport.endpoints() == ["get_project"]


def test_resolved_project_feeds_the_link_without_another_lookup():
    found = {"id": "p1", "name": "churn", "owner": {"id": "u1", "userName": "acme"}}
    hook, transport = fake_hook({"find_project": lambda call: json_response(found)})
    assert hook.resolve_project("acme/churn").id == "p1"
    assert hook.job_url(JOB_ID, "p1").endswith(f"/jobs/acme/churn/{JOB_ID}")
    assert transport.endpoints() == ["find_project"]


def test_tags_and_stop_carry_the_project():
    tag = {"tag": {"id": "t1", "name": "x", "creatorId": "u", "createdAt": "z"}, "metadata": {}}
    hook, transport = fake_hook(
        {
            "add_tag": lambda call: json_response(tag),
            "remove_tag": lambda call: json_response({"success": True, "metadata": {}}),
            "stop_job": lambda call: json_response({}),
        },
        project_id=None,
    )
    assert hook.add_tag(JOB_ID, "x", "p9").id == "t1"
    hook.remove_tag(JOB_ID, "t1", "p9")
    hook.stop_job(JOB_ID, "p9")
    hook.stop_job(JOB_ID)
    assert transport.calls[0].json_body == {"tagName": "x", "projectId": "p9"}
    assert dict(transport.calls[1].params or {}) == {"projectId": "p9"}
    assert transport.calls[2].json_body == {"jobId": JOB_ID, "commitResults": True, "projectId": "p9"}
    assert transport.calls[3].json_body == {"jobId": JOB_ID, "commitResults": True}


@pytest.mark.parametrize(
    ("status", "body", "error", "text"),
    [
        (404, {"error": "Job 123 not found"}, DominoNotFoundError, "Job 123 not found"),
        (
            401,
            {"errors": ["Invalid API key"], "requestId": "rq-7"},
            DominoAuthError,
            "Invalid API key (request id rq-7)",
        ),
    ],
)
def test_spec_error_messages_reach_the_user(status, body, error, text):
    hook, _ = fake_hook({"get_job": lambda call: json_response(body, status)})
    with pytest.raises(error) as raised:
        hook.get_job("123")
    assert text in str(raised.value) and f"HTTP {status}" in str(raised.value)
    assert "s3cret-key" not in str(raised.value)


def test_status_filter_is_checked_with_a_clear_message():
    hook, _ = fake_hook({})
    with pytest.raises(DominoConfigError, match="status_filter"):
        hook.list_jobs("p1", status_filter="sleeping")


def test_recent_log_lines_reads_stdout_then_stderr_from_a_time():
    pages = {
        "stdOut": [{"log": "out 1", "logType": "stdOut", "size": 5, "timestamp": "2026-11-26T10:00:01Z"}],
        "stdErr": [{"log": "boom", "logType": "stdErr", "size": 4, "timestamp": "2026-11-26T10:00:02Z"}],
    }

    def logs(call):
        params = dict(call.params or {})
        entries = pages.get(params["logType"], [])
        return json_response(
            {"logs": {"logContent": entries, "isComplete": True}, "metadata": {"pagination": {}}}
        )

    hook, transport = fake_hook({"get_job_logs": logs})
    assert hook.recent_log_lines(JOB_ID, 20, since_nano=5).splitlines() == ["out 1", "boom"]
    first_per_stream: dict[str, str] = {}
    for call in transport.calls:
        params = dict(call.params or {})
        first_per_stream.setdefault(params["logType"], params["latestTimeNano"])
    assert first_per_stream == {"stdOut": "5", "stdErr": "5"}
