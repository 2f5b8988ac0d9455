"""``DominoJobTrigger``: wait for a Domino job in the triggerer, streaming its log, holding no worker."""

from __future__ import annotations

import asyncio
import random
import time
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_domino.jobs.bounded import within
from airflow_provider_domino.jobs.polling import wake_slot

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job
    from airflow_provider_domino.jobs.log_cursor import LogCursor

TRIGGER_PATH = "airflow_provider_domino.triggers.domino.DominoJobTrigger"

#: XCom key under which the trigger checkpoints how much of the log it has streamed (a
#: :meth:`LogCursor.to_json <airflow_provider_domino.jobs.log_cursor.LogCursor.to_json>` value). A triggerer
#: rebuilds a trigger from the kwargs stored when the task deferred; the checkpoint tells it where it
#: really was.
LOG_CHECKPOINT_XCOM_KEY = "domino_log_cursor"
#: Log lines carried in the event, quoted by the operator when the job failed.
EVENT_LOG_TAIL_LINES = 20
#: Longest line carried in the event (the event is stored in the metadata database).
EVENT_LOG_TAIL_CHARS = 1000
#: Seconds between checkpoints while lines keep coming. Zero: after every poll that streamed lines, so a
#: triggerer crash shows at most one poll's lines twice. Lines are checkpointed only after they were
#: written, so none is ever lost.
LOG_CHECKPOINT_INTERVAL = 0.0
#: Longest wait for one checkpoint write; a slow write is abandoned (the next poll writes again).
LOG_CHECKPOINT_TIMEOUT = 5.0
#: Longest wait for the last checkpoint a stopping trigger sends (see :meth:`DominoJobTrigger.cleanup`).
LOG_CHECKPOINT_LAST_WAIT = 0.5
#: Longest wait for the checkpoint when a trigger starts (a triggerer taking over many triggers at once
#: answers slowly); without it the log starts from the offset in the trigger's kwargs.
LOG_CHECKPOINT_READ_TIMEOUT = 30.0

#: Event statuses (the watch step's outcome kinds); the operator and sensor map them to task outcomes.
#: An ``error`` event carries ``retryable``: false when no retry of the task can help.
SUCCESS, FAILED, TIMEOUT, ERROR = "success", "failed", "timeout", "error"
EVENT_STATUSES = frozenset({SUCCESS, FAILED, TIMEOUT, ERROR})


class DominoJobTrigger(BaseTrigger):
    """Poll one Domino job until it ends, then fire a single event.

    Serialized with primitives only (job id, connection id, poll interval, deadline, log cursor), so a
    triggerer restart or a move to another triggerer rebuilds it and it carries on where it was. The log
    cursor is also checkpointed (an XCom of the task, after every poll that streamed lines), so a
    rebuilt trigger does not show lines again; only after a triggerer crash can the lines of one poll be
    shown twice. Nothing is ever skipped. What each status check means (transient
    error, deadline, end) is decided by :func:`~airflow_provider_domino.jobs.watching.watch_step`, shared
    with the worker loop; the log is read by :class:`~airflow_provider_domino.jobs.log_stream.LogFollower`,
    shared with the operator and the sensor, and a log endpoint error never ends the watch. All triggers
    in one triggerer share one keep-alive HTTP client (without cookies).

    With ``project_id`` the job's status comes from the project's status watcher (one list request per
    project and round for every trigger of the triggerer,
    :mod:`~airflow_provider_domino.jobs.status_watcher`); without it, from the job's own route.

    At the deadline the trigger fires a ``timeout`` event and leaves the job alone: the operator stops it
    when it resumes (the one place that stops a job at its deadline); a sensor leaves it running.

    :param job_id: the Domino job to watch.
    :param domino_conn_id: Airflow connection id (never a secret).
    :param poll_interval: the longest wait between status checks, in seconds.
    :param deadline: epoch seconds after which a ``timeout`` event fires.
    :param log_cursor: how much of the job log was already streamed
        (:meth:`LogCursor.to_json <airflow_provider_domino.jobs.log_cursor.LogCursor.to_json>`).
    :param fetch_logs: stream new log lines into the task log while waiting.
    :param project_id: the job's project: its status watcher is joined, and a kill's stop names it
        (published job details do not name their project).
    :param task_key: ``dag_id``, ``task_id``, ``run_id``, ``map_index`` of the deferred task, where the
        log cursor is checkpointed (the triggerer also knows it; ``dag.test()`` does not).
    :param watch_started_at: epoch seconds when watching began; checks start 2 s apart and slow down
        to ``poll_interval`` as time passes (see :mod:`airflow_provider_domino.jobs.polling`).
    :param stop_on_kill: stop the job when a user marks the deferred task failed/success or clears it
        (the operator, whose try owns the job); a sensor watches a job it does not own and passes
        ``False``, so killing the sensor leaves the job running.
    """

    def __init__(
        self,
        job_id: str,
        domino_conn_id: str = "domino_default",
        poll_interval: float = 30.0,
        deadline: float | None = None,
        fetch_logs: bool = True,
        project_id: str | None = None,
        watch_started_at: float | None = None,
        task_key: dict[str, Any] | None = None,
        log_cursor: dict[str, Any] | None = None,
        stop_on_kill: bool = True,
    ) -> None:
        from airflow_provider_domino.jobs.log_cursor import LogCursor
        from airflow_provider_domino.jobs.log_stream import LogFollower

        super().__init__()
        self.job_id = job_id
        self.domino_conn_id = domino_conn_id
        self.poll_interval = float(poll_interval)
        self.deadline = deadline
        self.fetch_logs = fetch_logs
        self.project_id = project_id
        self.watch_started_at = watch_started_at
        self.task_key = task_key
        self.stop_on_kill = stop_on_kill
        self._log_follower = LogFollower(
            job_id,
            self._show_line,
            LogCursor.from_json(log_cursor),
            log=self.log,
            recent_lines=EVENT_LOG_TAIL_LINES,
        )
        self._checkpointed_cursor = self._log_follower.cursor
        self._checkpointed_at = 0.0
        #: Why the job waits, as last shown (``jobs.results.wait_reason_to_show``).
        self._last_wait_reason: str | None = None
        self._wait_reason_read_at: float | None = None

    @property
    def log_cursor(self) -> LogCursor:
        """How much of the job log has been shown."""
        return self._log_follower.cursor

    @log_cursor.setter
    def log_cursor(self, cursor: LogCursor) -> None:
        self._log_follower.cursor = cursor

    def _show_line(self, line: str) -> None:
        self.log.info("[%s] %s", self.job_id, line)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            TRIGGER_PATH,
            {
                "job_id": self.job_id,
                "domino_conn_id": self.domino_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "log_cursor": self.log_cursor.to_json(),
                "fetch_logs": self.fetch_logs,
                "project_id": self.project_id,
                "watch_started_at": self.watch_started_at,
                "task_key": self.task_key,
                "stop_on_kill": self.stop_on_kill,
            },
        )

    def _hook(self) -> Any:
        from airflow_provider_domino.hooks.domino import DominoHook

        return DominoHook(self.domino_conn_id, caller="DominoJobTrigger")

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.jobs.watching import TIMEOUT, Outcome, watch_step

        hook = self._hook()
        if self.watch_started_at is None:
            self.watch_started_at = time.time()
        if self.fetch_logs:
            await self._resume_from_checkpoint()
        watcher, watch = self._register_with_watcher()
        first_step = True
        try:
            while True:
                job: Job | None = None
                error: Exception | None = None
                if watch is not None:
                    # Coalesced: the status the project's watcher last saw (``None`` before its first
                    # round), or the error its round met; any exception the watcher delivers is judged
                    # by the watch step (transient unless no retry can fix it).
                    try:
                        job = watch.take()
                    except Exception as err:
                        error = err
                else:
                    try:
                        job = await hook.aget_job(self.job_id)
                    except DominoError as err:
                        error = err
                if job is not None:
                    self.project_id = self.project_id or job.project_id  # a flat job names it
                await self._show_wait_reason(hook, job, from_list=watch is not None)
                # The first read of a running job's log waits for the first (spread) wait: at the first
                # status the job has barely started, and reading then would cost every trigger one
                # extra request per job. An ended job's log is always finished at once.
                if self.fetch_logs and job is not None and (job.is_finished or not first_step):
                    await self._follow_log(hook, job)
                if job is None and error is None and watch is not None:  # no round has seen the job yet
                    if self.deadline is not None and time.time() >= self.deadline:
                        yield self._timeout()
                        return
                    await watch.wait(self._desired_delay())
                    continue
                step = watch_step(
                    job=job,
                    error=error,
                    now=time.time(),
                    deadline=self.deadline,
                    watch_started_at=self.watch_started_at,
                    poll_interval=self.poll_interval,
                    jitter=random.random(),
                    # Triggers a triggerer took over together would otherwise poll (and log) in step.
                    spread=first_step,
                )
                first_step = False
                if isinstance(step, Outcome):
                    if step.kind == TIMEOUT:
                        yield self._timeout()
                    elif step.job is not None:
                        ended = step.job
                        summary = ended.to_dict(project_id=self.project_id)
                        yield self._event(step.kind, step.message, job_status=ended.status_text, job=summary)
                    else:
                        yield self._event(step.kind, step.message, retryable=step.retryable)
                    return
                if step.warning:
                    self.log.warning("Domino job %s: %s", self.job_id, step.warning)
                elif job is not None:
                    self.log.debug("Domino job %s is %s", self.job_id, job.raw_status)
                if watch is not None:
                    delay = step.delay
                    del step  # nothing of this step outlives it: it would reach the oldest GC generation
                    await watch.wait(delay)  # woken early when a round sees the job end
                else:
                    left = None if self.deadline is None else self.deadline - time.time()
                    await sleep_on_grid(step.delay, at_most=left)
        finally:
            if watcher is not None and watch is not None:
                watcher.unregister(watch)
            await hook.aclose()

    async def _show_wait_reason(self, hook: Any, job: Job | None, *, from_list: bool) -> None:
        """Log why a queued job waits, once per change, as the operator does on a worker.

        :param from_list: ``job`` is a job list item (the coalesced watcher's), which carries no
            ``queuedJobStatusDetails``: while (and only while) the job is queued, its details are read
            too, at most once a minute (``WAIT_REASON_REFRESH_SECONDS``). A job read from its own route
            has them already.
        """
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.jobs.results import wait_reason_needs_details, wait_reason_to_show

        now = time.monotonic()
        if from_list and wait_reason_needs_details(job, self._wait_reason_read_at, now):
            self._wait_reason_read_at = now
            try:
                job = await hook.aget_job(self.job_id)
            except DominoError:
                return  # the next check tries again; the status itself was read already
        line, self._last_wait_reason = wait_reason_to_show(job, self._last_wait_reason)
        if line:
            self.log.info("%s", line)

    def _register_with_watcher(self) -> tuple[Any, Any]:
        """Share the project's status polling with every other trigger of this loop (one list request
        per project and round, see :mod:`~airflow_provider_domino.jobs.status_watcher`); without a project
        id the job is polled on its own."""
        if not self.project_id:
            return None, None
        from airflow_provider_domino.jobs.status_watcher import watch_job

        return watch_job(self.domino_conn_id, self.project_id, self.job_id, self._desired_delay, self._hook)

    def _desired_delay(self) -> float:
        """Seconds this trigger wants between status checks from now on (the watcher's rounds follow
        the most eager trigger): the watch's one schedule, never past the deadline."""
        from airflow_provider_domino.jobs.polling import check_delay

        now = time.time()
        return check_delay(
            poll_interval=self.poll_interval,
            now=now,
            watch_started_at=self.watch_started_at or now,
            deadline=self.deadline,
            draw=random.random(),
        )

    async def _follow_log(self, hook: Any, job: Job) -> None:
        """New log lines into the task log, then a checkpoint. Never raises: logs never decide the outcome."""
        await self._log_follower.afollow(hook.astream_log, job)
        if time.monotonic() - self._checkpointed_at >= LOG_CHECKPOINT_INTERVAL:
            await self._checkpoint()

    @staticmethod
    def record_log_cursor(context: Any, log_cursor: dict[str, Any] | None) -> None:
        """Write the first checkpoint before deferring, so a trigger always finds one to resume from."""
        context["ti"].xcom_push(key=LOG_CHECKPOINT_XCOM_KEY, value=log_cursor)

    def _xcom_target(self) -> dict[str, Any] | None:
        """Where the deferred task instance keeps its XComs; ``None`` when nobody said (a bare trigger)."""
        if self.task_instance is not None:
            return task_key_of({"ti": self.task_instance})
        return dict(self.task_key) if self.task_key else None

    async def _resume_from_checkpoint(self) -> None:
        """Skip the log lines a previous incarnation of this trigger already streamed."""
        target = self._xcom_target()
        if target is None:
            return
        try:
            from airflow.sdk.execution_time.xcom import XCom

            from airflow_provider_domino._compat import xcom_aget_one

            if _supervisor_speaks_async():
                read = xcom_aget_one(LOG_CHECKPOINT_XCOM_KEY, **target)
            else:  # dag.test()'s in-process supervisor has no async channel: the sync API in a thread
                read = asyncio.to_thread(XCom.get_one, key=LOG_CHECKPOINT_XCOM_KEY, **target)
            saved = await within(read, LOG_CHECKPOINT_READ_TIMEOUT)
        except Exception as err:  # a checkpoint is an optimisation: never fail the watch over it
            self.log.info("No log checkpoint for Domino job %s: %r", self.job_id, err)
            return
        from airflow_provider_domino.jobs.log_cursor import LogCursor

        checkpoint = LogCursor.from_json(saved)
        if self.log_cursor.is_behind(checkpoint):
            self.log.info("Domino job %s: resuming its log where a checkpoint says it was", self.job_id)
            self.log_cursor = self._checkpointed_cursor = checkpoint

    async def _checkpoint(self, timeout: float = LOG_CHECKPOINT_TIMEOUT, quiet: bool = False) -> None:
        """Record the log cursor (as an XCom of the task) if it moved since the last checkpoint.

        ``quiet``: no warning when the write gets no answer in time (a stopping triggerer's last one).
        """
        target = self._xcom_target()
        if target is None or self.log_cursor == self._checkpointed_cursor:
            return
        self._checkpointed_at = time.monotonic()
        try:
            from airflow.sdk.execution_time.xcom import XCom

            from airflow_provider_domino._compat import xcom_aset

            cursor = self.log_cursor
            value = cursor.to_json()
            if _supervisor_speaks_async():
                # On the loop: a write cut short by a shutdown is simply cancelled. A thread blocked on
                # the same write would hold the triggerer's exit (the loop waits for its threads).
                write = xcom_aset(LOG_CHECKPOINT_XCOM_KEY, value, **target)
            else:  # dag.test()'s in-process supervisor has no async channel
                write = asyncio.to_thread(XCom.set, LOG_CHECKPOINT_XCOM_KEY, value, **target)
            await within(write, timeout)
            self._checkpointed_cursor = cursor
        except Exception as err:
            if quiet and isinstance(err, asyncio.TimeoutError):
                return
            self.log.warning("Could not checkpoint the log cursor of Domino job %s: %r", self.job_id, err)

    def _timeout(self) -> TriggerEvent:
        """The deadline passed first. The job is left alone here: the operator stops it when it resumes
        (``DominoStartJobOperator._stop_at_deadline``); a sensor never stops the job it watches."""
        return self._event(TIMEOUT, f"Domino job {self.job_id} did not finish before its deadline")

    def _event(self, status: str, message: str, **extra: Any) -> TriggerEvent:
        payload = {
            "status": status,
            "job_id": self.job_id,
            "job_status": None,
            "message": message,
            "project_id": self.project_id,
            "log_cursor": self.log_cursor.to_json(),
            "log_tail": [line[:EVENT_LOG_TAIL_CHARS] for line in self._log_follower.recent],
        }
        payload.update(extra)
        return TriggerEvent(payload)

    async def on_kill(self) -> None:
        """The user marked the deferred task failed/success or cleared it: stop this trigger's job.

        Only ``self.job_id``, the job this try owns: a try that follows a clear always starts a job of
        its own (see ``ownership``), so this never stops a successor's job. Stopping uses a short retry
        policy and an overall budget that fit well inside the triggerer's ``on_kill_timeout``.
        """
        if not self.stop_on_kill:
            self.log.info("The task watching Domino job %s was killed; the job keeps running", self.job_id)
            return
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.hooks.domino import DominoHook
        from airflow_provider_domino.hooks.retry import ON_KILL_BUDGET, ON_KILL_RETRY_POLICY

        hook = DominoHook(
            self.domino_conn_id, retry_policy=ON_KILL_RETRY_POLICY, caller="DominoJobTrigger.on_kill"
        )
        try:
            await within(hook.astop_job(self.job_id, self.project_id), ON_KILL_BUDGET)
            self.log.info("Stopped Domino job %s because its task was killed", self.job_id)
        except DominoError as err:
            self.log.error("Could not stop Domino job %s: %s", self.job_id, err)
        except asyncio.TimeoutError:
            budget = ON_KILL_BUDGET
            self.log.error("Could not stop Domino job %s: no answer within %.0f s", self.job_id, budget)
        finally:
            await hook.aclose()

    async def cleanup(self) -> None:
        """Release local resources and send a last checkpoint; the Domino job keeps running.

        A triggerer restart or redistribution ends triggers this way too, so stopping the job here
        would kill healthy work. A trigger is usually checkpointed already (after every poll that
        streamed lines), but a stop can land between the pages of one poll: lines of the first page
        are in the task log and their checkpoint was never sent, so the restarted trigger would show
        them again. Then the checkpoint is sent here. In a stopping triggerer the request reaches the
        supervisor (which serves this process until it exits) but its answer may never come back (the
        reader has stopped), so the wait is short, and only on the event loop (a thread could hold the
        triggerer's exit).
        """
        if self.log_cursor != self._checkpointed_cursor and _supervisor_speaks_async():
            await self._checkpoint(timeout=LOG_CHECKPOINT_LAST_WAIT, quiet=True)
        await super().cleanup()


async def sleep_on_grid(delay: float, *, at_most: float | None = None) -> None:
    """Sleep about ``delay`` seconds, ending on the nearest mark of the slot
    :func:`~airflow_provider_domino.jobs.polling.wake_slot` picks for this loop's per-job sleepers, and
    never longer than ``at_most`` seconds (the time left before a deadline).

    Every sleeper of one mark shares the same wake-up instant, exactly: the loop runs all timers due at
    one instant in one pass (``asyncio.sleep`` would offset each by the microseconds between its call
    and its clock read).
    """
    loop = asyncio.get_running_loop()
    sleepers = _SLEEPERS.get(loop, 0) + 1
    _SLEEPERS[loop] = sleepers
    try:
        slot = wake_slot(delay, sleepers)
        if not slot:
            await asyncio.sleep(delay)
            return
        woken = loop.create_future()
        now = loop.time()
        wake_at = round((now + delay) / slot) * slot
        if at_most is not None:
            wake_at = min(wake_at, now + max(at_most, 0.0))
        handle = loop.call_at(wake_at, _wake, woken)
        try:
            await woken
        finally:
            handle.cancel()
    finally:
        _SLEEPERS[loop] -= 1


#: Per-job triggers sleeping in each event loop (:func:`sleep_on_grid`).
_SLEEPERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, int] = weakref.WeakKeyDictionary()


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def _supervisor_speaks_async() -> bool:
    """Whether this process's supervisor channel has an async side (the triggerer's does)."""
    try:
        from airflow.sdk.execution_time import task_runner
    except ImportError:  # pragma: no cover
        return False
    return callable(getattr(getattr(task_runner, "SUPERVISOR_COMMS", None), "asend", None))


def task_key_of(context: Any) -> dict[str, Any]:
    """The identity of the running task instance, as primitives a trigger can carry."""
    ti = context["ti"]
    return {"dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id, "map_index": ti.map_index}


def validate_event(event: Any, *, expected_job_id: str | None = None) -> dict[str, Any]:
    """Check a trigger event before acting on it; a malformed one fails the task with a clear message."""
    from airflow_provider_domino.api.errors import DominoError

    if not isinstance(event, dict):
        raise DominoError(f"Domino trigger returned no usable event: {event!r}")
    if event.get("status") not in EVENT_STATUSES:
        raise DominoError(f"Domino trigger event has unknown status {event.get('status')!r}: {event!r}")
    job_id = event.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise DominoError(f"Domino trigger event names no job: {event!r}")
    if expected_job_id is not None and job_id != expected_job_id:
        raise DominoError(f"Domino trigger event is for job {job_id}, expected {expected_job_id}")
    return event


# The event trigger for AssetWatchers lives in its own module; re-exported for one import path.
from airflow_provider_domino.triggers.job_events import DominoJobEventTrigger as DominoJobEventTrigger  # noqa: E402
