"""DominoJobTrigger against the emulator: serialization, resume, kill versus cancel, events."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.jobs.log_cursor import LogCursor
from airflow_provider_domino.triggers.domino import TRIGGER_PATH, DominoJobTrigger, validate_event


def _start(domino_conn: str, command: str) -> str:
    return DominoHook(domino_conn).start_job(command, "small").id


def _streamed(capfd, job_id: str, *, setup: bool = False) -> list[str]:
    """Domino log lines the trigger wrote to its log (Airflow's structlog prints them to stdout).

    The labelled setup output (``[prepareOutput] ...``) is left out unless ``setup``.
    """
    out = capfd.readouterr().out
    lines = re.findall(rf"\[{re.escape(job_id)}\] (.*?)\s+\[airflow_provider_domino", out)
    return [line for line in lines if setup or not line.startswith("[prepareOutput] ")]


def _after_lines(trigger: DominoJobTrigger, count: int) -> asyncio.Event:
    """An event set once ``trigger`` has shown ``count`` lines of the job's output (setup output aside)."""
    reached = asyncio.Event()
    shown = 0
    emit = trigger._log_follower._emit

    def counting(line: str) -> None:
        nonlocal shown
        emit(line)
        if not line.startswith("[prepareOutput] "):
            shown += 1
            if shown >= count:
                reached.set()

    trigger._log_follower._emit = counting
    return reached


async def _first_event(trigger: DominoJobTrigger) -> dict:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("trigger ended without an event")


def test_serialize_round_trip_is_primitives_only():
    cursor = {"mode": "json", "streams": {"stdOut": ["1764151200000000007", 3]}, "byte_offset": 0}
    trigger = DominoJobTrigger(
        "job-1", "my_conn", poll_interval=5, deadline=123.5, log_cursor=cursor, project_id="p"
    )
    path, kwargs = trigger.serialize()
    assert path == TRIGGER_PATH
    assert json.loads(json.dumps(kwargs)) == kwargs
    rebuilt = DominoJobTrigger(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert kwargs["log_cursor"] == cursor and kwargs["deadline"] == 123.5 and kwargs["project_id"] == "p"


def test_success_event_with_log_lines_in_order(domino_conn, emulator, capfd):
    job_id = _start(domino_conn, "python print_lines.py 4 0.2")
    trigger = DominoJobTrigger(job_id, domino_conn, poll_interval=0.3)
    event = asyncio.run(_first_event(trigger))
    assert validate_event(event) is event
    assert (event["status"], event["job_id"], event["job_status"]) == ("success", job_id, "Succeeded")
    assert event["job"]["outputCommitId"]
    streamed = _streamed(capfd, job_id, setup=True)
    assert [line for line in streamed if not line.startswith("[prepareOutput] ")] == [
        f"line {n} of 4" for n in range(1, 5)
    ]
    assert any(line.startswith("[prepareOutput] ") for line in streamed)  # setup output, labelled
    assert event["log_cursor"]["mode"] == "json" and "stdOut" in event["log_cursor"]["streams"]
    assert event["log_tail"][-1] == "line 4 of 4"


def test_failed_job_event(domino_conn):
    job_id = _start(domino_conn, "echo nope; exit 2")
    event = asyncio.run(_first_event(DominoJobTrigger(job_id, domino_conn, poll_interval=0.2)))
    assert (event["status"], event["job_status"]) == ("failed", "Failed")


def test_resume_from_serialized_copy_mid_job(domino_conn, emulator, capfd):
    """A triggerer restart: the running trigger is cancelled, a copy is rebuilt from its kwargs."""
    job_id = _start(domino_conn, "python print_lines.py 8 0.25")
    first = DominoJobTrigger(job_id, domino_conn, poll_interval=0.2)

    async def scenario() -> dict:
        mid_job = _after_lines(first, 3)
        task = asyncio.create_task(_first_event(first))
        await asyncio.wait_for(mid_job.wait(), 60)  # 3 of the job's 8 lines shown: it is mid-way
        task.cancel()  # what a triggerer restart does; cleanup() runs, on_kill() does not
        with pytest.raises(asyncio.CancelledError):
            await task
        await first.cleanup()
        _, kwargs = first.serialize()
        assert "stdOut" in kwargs["log_cursor"]["streams"]
        assert emulator.get_job(job_id)["status"] == "Running"  # not stopped by the cancellation
        return await _first_event(DominoJobTrigger(**kwargs))

    event = asyncio.run(scenario())
    assert event["status"] == "success"
    assert _streamed(capfd, job_id) == [f"line {n} of 8" for n in range(1, 9)]


def test_on_kill_stops_the_job(domino_conn, emulator):
    job_id = _start(domino_conn, "sleep 60")
    emulator.wait_for_status(job_id, ["Running"], timeout=30)
    asyncio.run(DominoJobTrigger(job_id, domino_conn).on_kill())
    assert emulator.wait_for_status(job_id, ["Stopped"], timeout=15)["status"] == "Stopped"


def test_the_deadline_is_reported_and_the_job_left_to_the_task(domino_conn, emulator):
    """The trigger reports the deadline; stopping is the operator's (on resume), a sensor never stops."""
    import time

    job_id = _start(domino_conn, "sleep 30")
    trigger = DominoJobTrigger(job_id, domino_conn, poll_interval=0.2, deadline=time.time() + 1)
    event = asyncio.run(_first_event(trigger))
    assert event["status"] == "timeout" and "job_stopped" not in event
    assert emulator.get_job(job_id)["status"] in ("Pending", "Running")
    DominoHook(domino_conn).stop_job(job_id)


def test_unknown_job_is_an_error_event_not_a_crash(domino_conn):
    event = asyncio.run(_first_event(DominoJobTrigger("job-never-existed", domino_conn, poll_interval=0.2)))
    assert (
        event["status"] == "error" and "job-never-existed" in event["message"] and "404" in event["message"]
    )


def test_transient_errors_are_survived(domino_conn, emulator, capfd, monkeypatch):
    """Retries exhausted on a 503 burst: the trigger logs it and polls again instead of failing."""
    job_id = _start(domino_conn, "sleep 1")
    burst = [{"fault": "status", "status": 503}] * 8
    emulator.set_faults({"rules": [{"endpoint": "get_job", "sequence": burst}]})
    trigger = DominoJobTrigger(job_id, domino_conn, poll_interval=0.1, fetch_logs=False)

    from airflow_provider_domino.hooks.retry import RetryPolicy

    fast = RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02)
    monkeypatch.setattr(trigger, "_hook", lambda: DominoHook(domino_conn, retry_policy=fast))
    event = asyncio.run(_first_event(trigger))
    assert event["status"] == "success"
    assert "will check again" in capfd.readouterr().out


@pytest.mark.parametrize(
    "event",
    [
        None,
        "success",
        {"status": "weird", "job_id": "j"},
        {"status": "success"},
        {"status": "success", "job_id": ""},
    ],
)
def test_malformed_events_are_rejected(event):
    from airflow_provider_domino.api.errors import DominoError

    with pytest.raises(DominoError, match="event"):
        validate_event(event)


def test_event_for_another_job_is_rejected():
    from airflow_provider_domino.api.errors import DominoError

    with pytest.raises(DominoError, match="expected job-a"):
        validate_event({"status": "success", "job_id": "job-b"}, expected_job_id="job-a")


def test_rebuilt_from_defer_time_kwargs_resumes_at_the_checkpoint(domino_conn, emulator, capfd, monkeypatch):
    """What a real triggerer does after a restart: rebuild from the kwargs stored when the task deferred.

    Those kwargs still carry an empty log cursor; the checkpoint (an XCom of the task) says how far the
    previous incarnation got. Airflow's XCom store is replaced by a dict: outside a task there is no
    supervisor to talk to.
    """
    from airflow.sdk.execution_time.xcom import XCom

    store: dict[tuple, object] = {}
    monkeypatch.setattr(
        XCom, "set", classmethod(lambda cls, key, value, **t: store.__setitem__((key, *t.values()), value))
    )
    monkeypatch.setattr(XCom, "get_one", classmethod(lambda cls, key, **t: store.get((key, *t.values()))))

    job_id = _start(domino_conn, "python print_lines.py 8 0.25")
    task_key = {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1}
    defer_time_kwargs = DominoJobTrigger(
        job_id, domino_conn, poll_interval=0.2, task_key=task_key
    ).serialize()[1]
    first = DominoJobTrigger(**defer_time_kwargs)

    async def until_shutdown() -> None:
        mid_job = _after_lines(first, 3)
        task = asyncio.create_task(_first_event(first))
        await asyncio.wait_for(mid_job.wait(), 60)  # 3 of the job's 8 lines shown: it is mid-way
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        writes_before = dict(store)
        await first.cleanup()  # the triggerer calls this on shutdown: it must not block on a write
        assert store == writes_before
        # Checkpointed after every poll that streamed lines: at most the last poll's lines are missing.
        saved = LogCursor.from_json(store[("domino_log_cursor", "d", "t", "r", -1)])
        assert "stdOut" in saved.positions and not first.log_cursor.is_behind(saved)

    asyncio.run(until_shutdown())
    before = _streamed(capfd, job_id)
    event = asyncio.run(_first_event(DominoJobTrigger(**defer_time_kwargs)))
    after = _streamed(capfd, job_id)
    assert event["status"] == "success"
    every_line = [f"line {n} of 8" for n in range(1, 9)]
    assert before == every_line[: len(before)] and after == every_line[-len(after) :]
    shown_twice = len(before) + len(after) - len(every_line)
    assert 0 <= shown_twice <= 2, (before, after)  # never lost; at most one poll (0.2 s = 1-2 lines) again
