"""Unit tier for the trigger's loop around ``watch_step``: a fake hook, no HTTP, milliseconds each."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from airflow_provider_domino.api import errors
from airflow_provider_domino.api.models import Job
from airflow_provider_domino.triggers.domino import DominoJobTrigger

pytestmark = pytest.mark.timeout(10)  # each test takes milliseconds; a hang fails fast


class FakeAsyncHook:
    """Answers status checks from a script, one entry per status check; the log can fail every time.

    A status check is one ``aget_job`` (per-job path) or one round of the project's status watcher
    (coalesced path: a lone watched job is read on its own route, as listing would cost more; were it
    listed, ``alist_jobs`` and then ``aget_job`` for a job missing from the list answer the same entry).
    """

    def __init__(self, statuses: list[Any], log_error: Exception | None = None) -> None:
        self.statuses = list(statuses)
        self.log_error = log_error
        self.log_calls = 0
        #: The job's status at each log read.
        self.read_at: list[str] = []
        self.list_calls = 0
        self.stops: list[str] = []
        self.closed = False
        self._current: Any = None
        self._listed = False

    def _advance(self) -> Any:
        self._current = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return self._current

    @staticmethod
    def _job(job_id: str, status: str) -> Job:
        return Job.from_api({"id": job_id, "status": status})

    async def aget_job(self, job_id: str) -> Job:
        answer = self._current if self._listed else self._advance()
        self._listed = False
        if isinstance(answer, Exception):
            raise answer
        return self._job(job_id, answer)

    async def alist_jobs(self, project_id: str, *, status_filter: str | None = None, **page: Any) -> Any:
        from airflow_provider_domino.api.models import JobPage
        from airflow_provider_domino.api.status import JobStatus

        assert (project_id, status_filter) == ("p1", "active")
        self.list_calls += 1
        answer = self._advance()
        self._listed = True
        if isinstance(answer, Exception):
            raise answer
        jobs = () if JobStatus.parse(answer).is_terminal else (self._job("job-1", answer),)
        return JobPage(jobs=jobs, offset=0, limit=500, total_count=len(jobs))

    async def astream_log(self, poll: Any, emit: Any) -> Any:
        """One line per poll; the cursor moves one byte (a text log) per line."""
        from dataclasses import replace

        self.log_calls += 1
        self.read_at.append(self._current)
        if self.log_error is not None:
            raise self.log_error
        emit(f"poll {self.log_calls}")
        poll.cursor = replace(poll.cursor, mode="text", byte_offset=poll.cursor.byte_offset + 1)
        return poll.cursor

    async def astop_job(self, job_id: str, project_id: str | None = None) -> None:
        self.stops.append(job_id)

    async def aclose(self) -> None:
        self.closed = True


#: The two ways a trigger learns its job's status: its own route, or the project's status watcher.
PATHS = ["per-job", "coalesced"]


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    from airflow_provider_domino.jobs import status_watcher

    monkeypatch.setattr(status_watcher, "MIN_ROUND_GAP", 0.001, raising=False)  # quick rounds
    return str(request.param)


def run_trigger(hook: FakeAsyncHook, path: str = "per-job", **kwargs: Any) -> dict[str, Any]:
    if path == "coalesced":
        kwargs.setdefault("project_id", "p1")
    trigger = DominoJobTrigger("job-1", poll_interval=0.001, **kwargs)
    hooks_made = []

    def make_hook() -> FakeAsyncHook:  # the trigger makes one; the project's watcher makes its own
        hooks_made.append(hook)
        return hook

    trigger._hook = make_hook  # type: ignore[method-assign]

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    event = asyncio.run(first_event())
    # The path under test was the one taken: only the coalesced path starts a watcher (a second hook).
    assert len(hooks_made) == (2 if path == "coalesced" else 1)
    return event


def forbidden(path: str = "/api/jobs/beta/jobs/job-1/logs") -> errors.DominoAuthError:
    return errors.DominoAuthError("GET", path, 403, "forbidden")


@pytest.mark.parametrize("log_error", [forbidden(), errors.DominoNotFoundError("GET", "/logs", 404, "gone")])
def test_a_log_endpoint_error_never_fails_a_job_that_succeeded(log_error, path):
    hook = FakeAsyncHook(["Running", "Running", "Succeeded"], log_error=log_error)
    event = run_trigger(hook, path)
    assert (event["status"], event["job_status"]) == ("success", "Succeeded")
    assert hook.read_at[-1] == "Succeeded" and hook.closed  # the final read was tried too
    if path == "per-job":  # one read per status check: not at the first (spread) one, then each
        assert hook.read_at == ["Running", "Succeeded"]


def test_the_log_is_not_read_while_the_job_waits_to_start(path):
    hook = FakeAsyncHook(["Queued", "Queued", "Pending", "Running", "Succeeded"])
    event = run_trigger(hook, path)
    assert event["status"] == "success"
    assert "Running" in hook.read_at and hook.read_at[-1] == "Succeeded"
    assert not {"Queued", "Pending"} & set(hook.read_at)  # nothing to read before the job starts
    assert event["log_tail"] == [f"poll {n}" for n in range(1, hook.log_calls + 1)]


def test_transient_status_errors_are_survived(path):
    unavailable = errors.DominoServerError("GET", "/api/jobs/beta/jobs/job-1", 503, "busy")
    event = run_trigger(FakeAsyncHook([unavailable, "Running", unavailable, "Failed"]), path)
    assert (event["status"], event["job_status"]) == ("failed", "Failed")


def test_an_error_no_retry_can_fix_ends_with_a_non_retryable_event(path):
    event = run_trigger(FakeAsyncHook([forbidden("/api/jobs/beta/jobs/job-1")]), path)
    assert event["status"] == "error" and event["retryable"] is False and "HTTP 403" in event["message"]


def test_the_deadline_ends_the_watch_with_a_timeout_and_stops_nothing(path):
    """Stopping at the deadline is the operator's, on resume; a sensor's job keeps running."""
    hook = FakeAsyncHook(["Running"])
    event = run_trigger(hook, path, deadline=0.0)
    assert event["status"] == "timeout" and "deadline" in event["message"]
    assert hook.stops == []


def test_on_kill_gives_up_within_its_budget(monkeypatch):
    """A Domino that never answers cannot hold the triggerer's on_kill past its budget."""
    from airflow_provider_domino.hooks import retry
    from airflow_provider_domino.hooks.domino import DominoHook

    async def hangs(self: Any, job_id: str, project_id: str | None = None) -> None:
        await asyncio.sleep(3600)

    monkeypatch.setattr(DominoHook, "astop_job", hangs)
    monkeypatch.setattr(retry, "ON_KILL_BUDGET", 0.05)
    trigger = DominoJobTrigger("job-1", project_id="p1")
    began = time.monotonic()
    asyncio.run(trigger.on_kill())  # returns (logged), does not hang or raise
    assert time.monotonic() - began < 0.5  # the 0.05 s budget, with room for a slow machine


def test_on_kill_uses_the_short_retry_policy(monkeypatch):
    from airflow_provider_domino.hooks.domino import DominoHook
    from airflow_provider_domino.hooks.retry import ON_KILL_RETRY_POLICY

    policies: list[Any] = []

    async def records(self: Any, job_id: str, project_id: str | None = None) -> None:
        policies.append(self.retry_policy)

    monkeypatch.setattr(DominoHook, "astop_job", records)
    asyncio.run(DominoJobTrigger("job-1", project_id="p1").on_kill())
    assert policies == [ON_KILL_RETRY_POLICY]
    assert ON_KILL_RETRY_POLICY.max_elapsed + ON_KILL_RETRY_POLICY.retry_after_cap < 30


@pytest.mark.parametrize("xcom_api", ["async XCom API", "older Task SDK without it"])
def test_in_the_triggerer_checkpoints_are_written_on_the_loop_not_in_a_thread(monkeypatch, xcom_api):
    """A write from a thread can outlive a cancelled loop and hold the triggerer's exit; on the loop it can't.

    ``XCom.aset`` / ``aget_one`` when the Task SDK has them; without them (Airflow 3.1) the provider sends
    the same messages over the supervisor channel's async side itself.
    """
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import GetXCom, SetXCom, XComResult
    from airflow.sdk.execution_time.xcom import XCom

    written: list[dict[str, Any]] = []

    class AsyncComms:
        """The triggerer's channel to its supervisor: only the async side may be used."""

        async def asend(self, msg: Any) -> Any:
            if isinstance(msg, SetXCom):
                written.append(msg.value)
                return None
            assert isinstance(msg, GetXCom)
            return XComResult(key=msg.key, value=None)

        def send(self, msg: Any) -> None:
            raise AssertionError("the sync channel was used")

    def in_a_thread(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the sync XCom API was used from a thread")

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", AsyncComms(), raising=False)
    if xcom_api != "async XCom API":
        monkeypatch.setattr(XCom, "aset", None, raising=False)
        monkeypatch.setattr(XCom, "aget_one", None, raising=False)
    monkeypatch.setattr(XCom, "set", in_a_thread)
    monkeypatch.setattr(XCom, "get_one", in_a_thread)
    task_key = {"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1}
    event = run_trigger(FakeAsyncHook(["Running", "Running", "Succeeded"]), task_key=task_key)
    assert event["status"] == "success"
    assert [cursor["byte_offset"] for cursor in written] == [1, 2]  # one per poll that streamed lines


class StoppedMidPollHook(FakeAsyncHook):
    """Streams one page of a poll, then waits for the next page until the trigger is stopped."""

    def __init__(self) -> None:
        super().__init__(["Running"])
        self.first_page_emitted = asyncio.Event()

    async def astream_log(self, poll: Any, emit: Any) -> Any:
        from dataclasses import replace

        emit("line 1")
        poll.cursor = replace(poll.cursor, mode="text", byte_offset=poll.cursor.byte_offset + 7)
        self.first_page_emitted.set()
        await asyncio.Event().wait()  # the next page never comes: the triggerer stops first


def test_a_trigger_stopped_between_pages_sends_its_last_checkpoint_in_cleanup(monkeypatch):
    """Lines already in the task log are checkpointed even when the stop came before the poll's end."""
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.xcom import XCom

    class AsyncComms:
        async def asend(self, msg: Any) -> None:
            raise AssertionError("XCom.aset is replaced in this test")

    written: list[dict[str, Any]] = []

    async def aset(cls: Any, key: str, value: Any, **target: Any) -> None:
        written.append(value)
        await asyncio.Event().wait()  # a stopping triggerer: the request is sent, no answer comes back

    async def aget_one(cls: Any, **target: Any) -> None:
        return None

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", AsyncComms(), raising=False)
    monkeypatch.setattr(XCom, "aset", classmethod(aset))
    monkeypatch.setattr(XCom, "aget_one", classmethod(aget_one))
    hook = StoppedMidPollHook()
    trigger = DominoJobTrigger(
        "job-1", task_key={"dag_id": "d", "task_id": "t", "run_id": "r", "map_index": -1}
    )
    trigger._hook = lambda: hook  # type: ignore[method-assign]

    async def stop_mid_poll() -> None:
        async def consume() -> None:
            async for _ in trigger.run():
                raise AssertionError("the job never ends in this test")

        running = asyncio.create_task(consume())
        await hook.first_page_emitted.wait()
        assert written == []  # the poll has not ended: no checkpoint yet
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        await trigger.cleanup()  # what the triggerer calls after cancelling the trigger

    asyncio.run(stop_mid_poll())
    assert [cursor["byte_offset"] for cursor in written] == [7]
    assert hook.closed


def test_only_the_first_wait_is_spread_over_the_whole_interval(monkeypatch):
    """Triggers a triggerer takes over together would otherwise poll in step for as long as they run."""
    import time

    from airflow_provider_domino.triggers import domino as trigger_module

    waits: list[float] = []

    async def no_sleep(delay: float, at_most: float | None = None) -> None:
        waits.append(delay)

    monkeypatch.setattr(trigger_module.random, "random", lambda: 0.5)
    monkeypatch.setattr(trigger_module, "sleep_on_grid", no_sleep)
    trigger = DominoJobTrigger("job-1", poll_interval=2.0, watch_started_at=time.time())
    hook = FakeAsyncHook(["Running", "Running", "Running", "Succeeded"])
    trigger._hook = lambda: hook  # type: ignore[method-assign]

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    assert asyncio.run(first_event())["status"] == "success"
    # A draw of 0.5: the first wait is spread over 10%..100% of 2 s, later ones lose up to 10% of it.
    assert waits[0] == pytest.approx(1.1)
    assert waits[1:] == [pytest.approx(1.9)] * 2


def test_what_a_trigger_asks_its_watcher_for_is_the_watch_steps_schedule(monkeypatch):
    """One schedule: the delay a coalesced trigger wants equals the worker loop's, deadline included."""
    from airflow_provider_domino.jobs.watching import watch_step
    from airflow_provider_domino.triggers import domino as trigger_module

    now = 1_000_000.0
    monkeypatch.setattr(trigger_module.random, "random", lambda: 0.5)
    monkeypatch.setattr(trigger_module.time, "time", lambda: now)
    running = Job.from_api({"id": "job-1", "status": "Running"})
    for started, deadline in [(now - 100, None), (now - 1, None), (now - 100, now + 0.25)]:
        trigger = DominoJobTrigger("job-1", poll_interval=30, watch_started_at=started, deadline=deadline)
        expected = watch_step(
            job=running,
            error=None,
            now=now,
            deadline=deadline,
            watch_started_at=started,
            poll_interval=30,
            jitter=0.5,
        )
        assert trigger._desired_delay() == pytest.approx(expected.delay)
    assert trigger._desired_delay() == pytest.approx(0.25)  # never past the deadline


def test_waits_of_one_slot_end_in_one_pass_of_the_loop_on_the_nearest_mark():
    """Per-job triggers keep their spread waits, but those ending near one slot mark wake together."""
    from airflow_provider_domino.triggers.domino import sleep_on_grid

    slot = 0.25  # a few sleepers, waits under half a second: quarter-second slots
    delays = [0.3, 0.31, 0.32, 0.33]

    async def sleepers() -> list[tuple[float, float]]:
        loop = asyncio.get_running_loop()

        async def one(delay: float) -> tuple[float, float]:
            started = loop.time()
            await sleep_on_grid(delay)
            return started, loop.time()

        return await asyncio.gather(*(one(delay) for delay in delays))

    woke = asyncio.run(sleepers())
    for delay, (started, ended) in zip(delays, woke, strict=True):
        assert abs(ended - started - delay) <= slot / 2 + 0.02  # the nearest mark: at most half a slot off
        assert (ended / slot) % 1 < 0.1  # woken just after a multiple of the slot
    # Four waits from one start, 0.03 s apart, end on at most two marks (one, unless a mark falls between).
    assert len({round(ended / slot) for _, ended in woke}) <= 2


def test_a_wait_on_the_grid_never_passes_the_deadline():
    """Rounding to a mark may lengthen a wait; never past the time left before the trigger's deadline."""
    from airflow_provider_domino.triggers.domino import sleep_on_grid

    async def slept() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await sleep_on_grid(1.9, at_most=0.2)
        return loop.time() - started

    assert 0.2 <= asyncio.run(slept()) < 0.2 + 0.05
