"""``DominoJobSensor``: wait for an existing Domino job to end (poke, reschedule or deferrable)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_domino._compat import conf
from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.links.domino import JOB_URL_XCOM_KEY, DominoJobLink
from airflow_provider_domino.operators._validation import (
    check_project_choice,
    is_templated,
    require_positive,
    require_text,
    require_text_unless_runtime,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_domino.api.models import Job
    from airflow_provider_domino.hooks.domino import DominoHook
    from airflow_provider_domino.jobs.log_stream import LogFollower

#: ``task_state_store`` key of the log cursor, so a rescheduled sensor does not show lines again. The value
#: names the job it belongs to (``{"job_id", "cursor"}``): a sensor whose ``job_id`` renders to another job
#: (a cleared upstream started a new one) starts that job's log from the beginning.
LOG_CURSOR_STATE_KEY = "domino_log_cursor"


class DominoJobSensor(BaseSensorOperator):
    """Wait until a Domino job reaches a terminal status.

    Succeeded: the sensor succeeds and returns the job details (XCom ``return_value``, the shape of XCom
    ``job``, see :meth:`~airflow_provider_domino.api.models.Job.to_dict`). Failed, Stopped or Error: the
    sensor fails (or is skipped with ``soft_fail=True``). The sensor never stops the job it watches: it
    did not start it.

    ``timeout`` (``BaseSensorOperator``'s, seconds) fails the sensor when the job has not ended in time
    (skips it with ``soft_fail=True``) and **leaves the Domino job running**. The operator's ``timeout``
    differs: ``DominoStartJobOperator(timeout=...)`` stops the job it started, then fails.

    Knowing the job's project lets a deferred sensor share its project's status polling with every
    other Domino trigger in the triggerer (one list request per project and round) and makes the
    "Domino Job" link open the job's page. The project is ``project_id``, else ``project``
    (``owner/name``, resolved through the API), else, when ``job_id`` is a ``DominoStartJobOperator``'s
    output (``job_id=start.output``), the ``project_id`` XCom that task pushed when it started the job.
    Without any of them the sensor watches the job on its own route.

    :param job_id: the Domino job to watch (templated; may be an upstream task's output, e.g.
        ``DominoJobSensor(job_id=start.output)`` after a ``DominoStartJobOperator`` that does not wait).
    :param project_id: the job's project id (templated, optional). Alternatively ``project``.
    :param project: ``owner/name`` of the job's project, resolved through the API (templated, optional).
    :param domino_conn_id: the Airflow connection to Domino (templated).
    :param fetch_logs: stream the job log into the task log while waiting.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("job_id", "project_id", "project", "domino_conn_id")
    operator_extra_links = (DominoJobLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        job_id: Any,
        project_id: str | None = None,
        project: str | None = None,
        domino_conn_id: str = "domino_default",
        fetch_logs: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        require_text_unless_runtime("job_id", job_id)
        require_positive("poke_interval", self.poke_interval)
        check_project_choice(project_id, project)
        self.job_id = job_id
        self.project_id = project_id
        self.project = project
        self.domino_conn_id = domino_conn_id
        self.fetch_logs = fetch_logs
        self.deferrable = deferrable
        #: The task whose output ``job_id`` is (``job_id=start.output``): its ``project_id`` XCom names the
        #: project when the sensor is given none.
        self.job_id_source_task_id: str | None = _source_task_id(job_id)
        self._log_follower: LogFollower | None = None

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
            self.project_id = self._resolved_project_id(context)
            context["ti"].xcom_push(
                key=JOB_URL_XCOM_KEY, value=self.hook.job_url(self.job_id, self.project_id)
            )
            if not self.deferrable:
                return super().execute(context)
            return self._defer_unless_ended(context)

    def _resolved_project_id(self, context: Context) -> str | None:
        """The job's project: ``project_id``, ``project`` resolved, or the upstream start's XCom."""
        if self.project:
            if is_templated(self.project):  # not rendered: a misuse outside a task run
                raise DominoConfigError(f"Parameter 'project' was not rendered: {self.project!r}")
            check_project_choice(self.project_id, self.project)
            return self.hook.resolve_project(self.project).id
        if self.project_id:
            require_text("project_id", self.project_id)
            return self.project_id
        if self.job_id_source_task_id:
            pushed = context["ti"].xcom_pull(task_ids=self.job_id_source_task_id, key="project_id")
            if isinstance(pushed, str) and pushed:
                return pushed
        return None

    def _defer_unless_ended(self, context: Context) -> Any:
        job = self.hook.get_job(self.job_id)
        if job.is_finished:
            if self.fetch_logs:
                self._follow_log(context, job)
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
            self._follow_log(context, job)
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

    def _follow_log(self, context: Context, job: Job) -> None:
        """New log lines since the last poke (see :mod:`~airflow_provider_domino.jobs.log_stream`); the
        cursor lives in ``task_state_store`` across reschedules, and in memory between pokes."""
        from airflow_provider_domino.jobs.log_cursor import LogCursor
        from airflow_provider_domino.jobs.log_stream import LogFollower

        follower = self._log_follower
        if follower is None or follower.job_id != job.id:
            job_id = job.id

            def emit(line: str) -> None:
                self.log.info("[%s] %s", job_id, line)

            start = LogCursor.from_json(self._stored_cursor(context))
            follower = self._log_follower = LogFollower(job_id, emit, start, log=self.log)
        before = follower.cursor
        after = follower.follow(self.hook.stream_log, job)
        store = context.get("task_state_store")
        if store is not None and after != before:
            store.set(LOG_CURSOR_STATE_KEY, {"job_id": job.id, "cursor": after.to_json()})

    def _outcome(self, job: Job) -> dict[str, Any]:
        """The job details on success; a failing (or, with soft_fail, skipping) exception otherwise."""
        if job.is_success:
            return job.to_dict(project_id=self.project_id)
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
        self.project_id = payload.get("project_id") or self.project_id
        if payload["status"] in ("success", "failed"):
            return self._outcome(self.hook.get_job(self.job_id))
        if payload["status"] == "timeout":
            if self.soft_fail:
                raise AirflowSkipException(payload["message"])
            raise AirflowFailException(payload["message"])
        self._fail(payload["message"], retryable=payload.get("retryable", True) is not False)


def _source_task_id(job_id: Any) -> str | None:
    """The id of the task whose output ``job_id`` is (an ``XComArg`` such as ``start.output``), if any."""
    references = getattr(job_id, "iter_references", None)
    if not callable(references):
        return None
    for operator, _key in references():
        task_id = getattr(operator, "task_id", None)
        if isinstance(task_id, str):
            return task_id
    return None
