"""The ambiguous start: Domino processed it, the answer was lost. Exactly one job must exist."""

from __future__ import annotations

from airflow_provider_domino.jobs.idempotency import key_in_title


def _jobs_with_key(emulator, key):
    return [job for job in emulator.jobs() if key_in_title(job.get("title")) == key]


def test_dropped_start_creates_exactly_one_job(hook, emulator):
    emulator.set_faults({"rules": [{"endpoint": "start_job", "fault": "drop", "times": 1}]})
    emulator.clear_requests()
    job = hook.start_job("true", "small", title="ambiguous", idempotency_key="drop-once-1")
    (only,) = _jobs_with_key(emulator, "drop-once-1")
    assert job.id == only["id"]
    starts = [entry for entry in emulator.requests_log() if entry["endpoint"] == "start_job"]
    assert [entry["status"] for entry in starts] == ["dropped"]


def test_repeated_drops_still_make_one_job(hook, emulator):
    """Two lost answers in a row: still one job, found by its key."""
    emulator.set_faults({"rules": [{"endpoint": "start_job", "fault": "drop", "times": 2}]})
    job = hook.start_job("true", "small", idempotency_key="drop-twice-1")
    assert [j["id"] for j in _jobs_with_key(emulator, "drop-twice-1")] == [job.id]


def test_start_lost_before_processing_is_sent_again(hook, emulator):
    emulator.set_faults({"rules": [{"endpoint": "start_job", "fault": "drop_before", "times": 1}]})
    emulator.clear_requests()
    job = hook.start_job("true", "small", idempotency_key="lost-before-1")
    assert [j["id"] for j in _jobs_with_key(emulator, "lost-before-1")] == [job.id]
    starts = [entry["status"] for entry in emulator.requests_log() if entry["endpoint"] == "start_job"]
    assert starts == ["dropped", 200]


def test_start_429_is_retried_without_lookup(hook, emulator):
    emulator.set_faults(
        {
            "rules": [
                {
                    "endpoint": "start_job",
                    "sequence": [{"fault": "status", "status": 429, "retry_after": "0"}],
                }
            ]
        }
    )
    emulator.clear_requests()
    job = hook.start_job("true", "small", idempotency_key="rate-limited-1")
    assert [j["id"] for j in _jobs_with_key(emulator, "rate-limited-1")] == [job.id]
    endpoints = [e["endpoint"] for e in emulator.requests_log() if e["endpoint"] != "list_hardware_tiers"]
    assert endpoints == ["start_job", "start_job"]


def test_502_on_start_is_treated_as_ambiguous(hook, emulator):
    """A gateway 502 may follow a processed start; the hook looks before it resends."""
    emulator.set_faults(
        {"rules": [{"endpoint": "start_job", "sequence": [{"fault": "status", "status": 502}]}]}
    )
    emulator.clear_requests()
    job = hook.start_job("true", "small", idempotency_key="gateway-502-1")
    assert [j["id"] for j in _jobs_with_key(emulator, "gateway-502-1")] == [job.id]
    endpoints = [e["endpoint"] for e in emulator.requests_log() if e["endpoint"] != "list_hardware_tiers"]
    assert endpoints[0] == "start_job" and endpoints[1] == "list_jobs" and endpoints[-1] == "start_job"


def test_ambiguous_start_finds_its_job_in_a_lagging_list(hook, emulator):
    """The list lags behind a fresh job: the hook keeps looking instead of starting a duplicate."""
    emulator.set_faults({"rules": [{"endpoint": "start_job", "fault": "drop", "times": 1}]})
    emulator.set_list_lag(1.0)
    try:
        job = hook.start_job("true", "small", idempotency_key="lagging-list-1")
    finally:
        emulator.set_list_lag(0)
    assert [j["id"] for j in _jobs_with_key(emulator, "lagging-list-1")] == [job.id]
