"""``DominoJobSensor``: wait for an existing Domino job to end (poke, reschedule or deferrable)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_domino._compat import conf
from airflow_provider_domino.links.domino import JOB_URL_XCOM_KEY, DominoJobLink
from airflow_provider_domino.operators._validation import (
    require_positive,
    require_text,
    require_text_unless_runtime,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_domino.api.models import Job
    from airflow_provider_domino.hooks.domino import DominoHook

#: ``task_state_store`` key of the log cursor, so a rescheduled sensor does not show lines again. The value
#: names the job it belongs to (``{"job_id", "cursor"}``): a sensor whose ``job_id`` renders to another job
#: (a cleared upstream started a new one) starts that job's log from the beginning.
LOG_CURSOR_STATE_KEY = "domino_log_cursor"


class DominoJobSensor(BaseSensorOperator):
    """Wait until a Domino job reaches a terminal status.

    Succeeded: the sensor succeeds and returns the job details (XCom ``return_value``). Failed, Stopped
    or Error: the sensor fails (or is skipped with ``soft_fail=True``). The sensor never stops the job it
    watches: it did not start it.

    :param job_id: the Domino job to watch (templated; may be an upstream task's output, e.g.
        ``DominoJobSensor(job_id=start.output)`` after a ``DominoStartJobOperator`` that does not wait).
    :param project_id: the job's project (templated, optional). Published job details do not name their
        project; with it, the "Domino Job" link opens the job's page (``/jobs/{owner}/{project}/{id}``).
    :param domino_conn_id: the Airflow connection to Domino (templated).
    :param fetch_logs: stream the job log into the task log while waiting.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("job_id", "project_id", "domino_conn_id")
    operator_extra_links = (DominoJobLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        job_id: Any,
        project_id: str | None = None,
        domino_conn_id: str = "domino_default",
        fetch_logs: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        require_text_unless_runtime("job_id", job_id)
        require_positive("poke_interval", self.poke_interval)
        self.job_id = job_id
        self.project_id = project_id
        self.domino_conn_id = domino_conn_id
        self.fetch_logs = fetch_logs
        self.deferrable = deferrable

    @property
    def hook(self) -> DominoHook:
        if getattr(self, "_hook", None) is None:
            from airflow_provider_domino.hooks.domino import DominoHook

            self._hook = DominoHook(self.domino_conn_id, caller=type(self).__name__)
        return self._hook

    def execute(self, context: Context) -> Any:
        from airflow_provider_domino.operators.domino import fail_fast

        with fail_fast():
            require_text("job_id", self.job_id)
            require_text("domino_conn_id", self.domino_conn_id)
            context["ti"].xcom_push(
                key=JOB_URL_XCOM_KEY, value=self.hook.job_url(self.job_id, self.project_id)
            )
            if not self.deferrable:
                return super().execute(context)
            return self._defer_unless_ended(context)

    def _defer_unless_ended(self, context: Context) -> Any:
        job = self.hook.get_job(self.job_id)
        if job.is_finished:
            if self.fetch_logs:
                self._stream_logs(context, final=True)
            return self._outcome(job)
        from airflow_provider_domino.triggers.domino import DominoJobTrigger, task_key_of

        deadline = time.time() + float(self.timeout) if self.timeout else None
        cursor = self._stored_cursor(context)
        if self.fetch_logs:
            DominoJobTrigger.record_log_cursor(context, cursor)
        self.defer(
            trigger=DominoJobTrigger(
                job_id=self.job_id,
                domino_conn_id=self.domino_conn_id,
                poll_interval=float(self.poke_interval),
                deadline=deadline,
                fetch_logs=self.fetch_logs,
                log_cursor=cursor,
                project_id=self.project_id or job.project_id,
                stop_on_timeout=False,
                task_key=task_key_of(context),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60) if self.timeout else None,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One status check, judged by the shared watch step (Airflow's sensor loop owns the timeout)."""
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.jobs.watching import Outcome, watch_step

        job: Job | None = None
        error: DominoError | None = None
        try:
            job = self.hook.get_job(self.job_id)
        except DominoError as err:
            error = err
        if job is not None and self.fetch_logs:
            self._stream_logs(context, final=job.is_finished)
        now = time.time()
        step = watch_step(
            job=job, error=error, now=now, deadline=None, watch_started_at=now, poll_interval=1.0
        )
        if isinstance(step, Outcome):
            if step.job is None:
                self._fail(step.message, retryable=step.retryable)
            return PokeReturnValue(is_done=True, xcom_value=self._outcome(step.job))
        if step.warning:
            self.log.warning("Domino job %s: %s", self.job_id, step.warning)
        elif job is not None:
            self.log.info("Domino job %s is %s", self.job_id, job.status_text)
        return False

    def _stored_cursor(self, context: Context) -> dict[str, Any] | None:
        """The log cursor a previous poke left in ``task_state_store`` for *this* job (``None``: none)."""
        store = context.get("task_state_store")
        stored = store.get(LOG_CURSOR_STATE_KEY) if store is not None else None
        if isinstance(stored, dict) and stored.get("job_id") == self.job_id:
            cursor = stored.get("cursor")
            return cursor if isinstance(cursor, dict) else None
        return None

    def _stream_logs(self, context: Context, *, final: bool) -> None:
        """New log lines since the last poke; the cursor lives in ``task_state_store`` across reschedules."""
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.jobs.log_cursor import LogCursor, LogPoll

        def emit(line: str) -> None:
            self.log.info("[%s] %s", self.job_id, line)

        start = LogCursor.from_json(self._stored_cursor(context) or getattr(self, "_log_cursor", None))
        poll = LogPoll(self.job_id, start, final=final)
        try:
            self.hook.stream_log(poll, emit)
        except DominoError as err:
            self.log.warning("Could not fetch the log of Domino job %s: %s", self.job_id, err)
        self._log_cursor = poll.cursor  # kept in memory too, for a run without task_state_store
        store = context.get("task_state_store")
        if store is not None and poll.cursor != start:
            store.set(LOG_CURSOR_STATE_KEY, {"job_id": self.job_id, "cursor": poll.cursor.to_json()})

    def _outcome(self, job: Job) -> dict[str, Any]:
        """The job details on success; a failing (or, with soft_fail, skipping) exception otherwise."""
        if job.is_success:
            summary = job.to_dict()
            summary["projectId"] = summary.get("projectId") or self.project_id
            return summary
        from airflow_provider_domino._compat import AirflowFailException, AirflowSkipException

        message = f"Domino job {job.id} ended {job.status_text}"
        if self.soft_fail:
            raise AirflowSkipException(message)
        raise AirflowFailException(message)

    def _fail(self, message: str, *, retryable: bool) -> NoReturn:
        """Domino answered in a way no later check changes (or the watch timed out)."""
        from airflow_provider_domino._compat import AirflowFailException, AirflowSkipException
        from airflow_provider_domino.api.errors import DominoError

        if self.soft_fail:
            raise AirflowSkipException(message)
        if not retryable:
            raise AirflowFailException(message)
        raise DominoError(message)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired."""
        from airflow_provider_domino._compat import AirflowFailException, AirflowSkipException
        from airflow_provider_domino.triggers.domino import validate_event

        payload = validate_event(event, expected_job_id=self.job_id)
        if payload["status"] in ("success", "failed"):
            return self._outcome(self.hook.get_job(self.job_id))
        if payload["status"] == "timeout":
            if self.soft_fail:
                raise AirflowSkipException(payload["message"])
            raise AirflowFailException(payload["message"])
        self._fail(payload["message"], retryable=payload.get("retryable", True) is not False)
