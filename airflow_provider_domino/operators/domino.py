"""``DominoStartJobOperator``: start a Domino job and wait for it, on a worker or deferred."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_domino._compat import ResumableJobMixin, conf
from airflow_provider_domino.links.domino import JOB_URL_XCOM_KEY, DominoJobLink
from airflow_provider_domino.operators._validation import (
    check_project_choice,
    is_templated,
    require_positive,
    require_text,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_domino.api.models import Job
    from airflow_provider_domino.hooks.domino import DominoHook

#: What Airflow passes as ``next_method`` when it fails a deferred task itself (``BaseOperator`` constant).
TRIGGER_FAIL_REPR = "__fail__"

#: Extra seconds the task-level defer timeout allows past the trigger's own deadline, so the trigger
#: (which stops the job) always fires first.
DEFER_TIMEOUT_GRACE = 60.0


class DominoStartJobOperator(ResumableJobMixin, BaseOperator):
    """Start a Domino job, then (by default) wait for it and stream its log into the task log.

    XCom ``job_id`` and ``job_url`` are pushed right after the start, before waiting. The return value
    is the job id; XCom ``job`` holds the final job details (``status``, ``commitId``,
    ``outputCommitId``, ``startedAt``, ``endedAt``...), so a downstream task can run on this job's
    output: ``commit_id="{{ ti.xcom_pull(task_ids='train', key='job')['outputCommitId'] }}"``.

    A task retry reattaches to the job the previous try started while that job is still running
    (Airflow's ``task_state_store``, with the job's idempotency key as the fallback) instead of starting
    a duplicate; a retry after the job failed starts a new one. ``on_kill`` stops the job; in deferrable
    mode the trigger does so when a user marks the task failed/success or clears it, while a triggerer
    restart leaves the job running.

    Tags and goal links are added after the start; if that fails, a warning is logged and the run goes
    on: the job id is never lost over a cosmetic step.

    :param command: the command Domino runs (templated).
    :param hardware_tier_id: hardware tier ID, or its name unless ``is_direct_hardware_tier_id`` (templated).
    :param project_id: Domino project id (templated). Alternatively ``project``.
    :param project: ``owner/name`` of the project, resolved through the API (templated).
    :param is_direct_hardware_tier_id: ``hardware_tier_id`` is an ID, never a name.
    :param environment_id: compute environment id (templated).
    :param commit_id: run on this commit, e.g. an upstream job's ``outputCommitId`` (templated).
    :param title: job title (templated); defaults to the DAG, task and run, so the job leads back here.
    :param tags: tag names added to the job after it starts (templated).
    :param goal_ids: goal ids linked to the job after it starts.
    :param wait_for_completion: wait for the job to end; ``False`` starts it and returns.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param poll_interval: the longest wait between status checks, in seconds. Checks start 2 s apart and
        slow down to this as the job runs, so short jobs finish quickly and long ones cost few requests.
    :param timeout: seconds the job may take before it is stopped and the task fails.
    :param fetch_logs: stream the job log into the task log while waiting.
    :param domino_conn_id: the Airflow connection to Domino.
    """

    template_fields: Sequence[str] = (
        "command",
        "hardware_tier_id",
        "project_id",
        "project",
        "environment_id",
        "commit_id",
        "title",
        "tags",
    )
    template_fields_renderers = {"command": "bash"}
    operator_extra_links = (DominoJobLink(),)
    ui_color = "#e8f0fe"
    external_id_key = "domino_job_id"

    def __init__(
        self,
        *,
        command: str,
        hardware_tier_id: str,
        project_id: str | None = None,
        project: str | None = None,
        is_direct_hardware_tier_id: bool = False,
        environment_id: str | None = None,
        commit_id: str | None = None,
        title: str | None = None,
        tags: Sequence[str] = (),
        goal_ids: Sequence[str] = (),
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        timeout: float | None = None,
        fetch_logs: bool = True,
        domino_conn_id: str = "domino_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        require_text("command", command)
        require_text("hardware_tier_id", hardware_tier_id)
        require_positive("poll_interval", poll_interval)
        require_positive("timeout", timeout, optional=True)
        check_project_choice(project_id, project)
        self.command = command
        self.hardware_tier_id = hardware_tier_id
        self.project_id = project_id
        self.project = project
        self.is_direct_hardware_tier_id = is_direct_hardware_tier_id
        self.environment_id = environment_id
        self.commit_id = commit_id
        self.title = title
        self.tags = list(tags)
        self.goal_ids = list(goal_ids)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.fetch_logs = fetch_logs
        self.domino_conn_id = domino_conn_id
        self.job_id: str | None = None
        self._log_offset = 0
        self._final_job: Job | None = None

    # --- helpers -----------------------------------------------------------------------------

    @property
    def hook(self) -> DominoHook:
        """The hook, created once per task instance (imported lazily: DAG parsing stays cheap)."""
        if getattr(self, "_hook", None) is None:
            from airflow_provider_domino.hooks.domino import DominoHook

            self._hook = DominoHook(self.domino_conn_id, caller=type(self).__name__)
        return self._hook

    def _resolved_project_id(self) -> str:
        if self.project:
            if is_templated(self.project):  # not rendered: a misuse outside a task run
                raise ValueError(f"Parameter 'project' was not rendered: {self.project!r}")
            check_project_choice(self.project_id, self.project)
            return self.hook.resolve_project(self.project).id
        return self.hook.project_id_or_default(self.project_id)

    def _idempotency_key(self, context: Context) -> str:
        from airflow_provider_domino.api.idempotency import derive_key

        ti = context["ti"]
        return derive_key(ti.dag_id, ti.task_id, ti.run_id, getattr(ti, "map_index", -1))

    def _default_title(self, context: Context) -> str:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        suffix = f" [{map_index}]" if map_index is not None and map_index >= 0 else ""
        return f"Airflow {ti.dag_id}.{ti.task_id}{suffix} run {ti.run_id}"

    def _publish(self, context: Context, job_id: str) -> None:
        self.job_id = job_id
        ti = context["ti"]
        ti.xcom_push(key="job_id", value=job_id)
        ti.xcom_push(key=JOB_URL_XCOM_KEY, value=self.hook.job_url(job_id))

    def _deadline(self, job: Job, context: Context) -> float | None:
        """Epoch seconds by which the job must end: ``timeout`` from its submission, ``execution_timeout``."""
        candidates: list[float] = []
        if self.timeout is not None:
            begun = _epoch(job.submitted_at) or _epoch(job.started_at) or time.time()
            candidates.append(begun + float(self.timeout))
        if self.execution_timeout is not None:
            start = getattr(context.get("ti"), "start_date", None)
            started = start.timestamp() if isinstance(start, datetime) else time.time()
            candidates.append(started + self.execution_timeout.total_seconds())
        return min(candidates) if candidates else None

    # --- start -------------------------------------------------------------------------------

    def _start(self, context: Context) -> Job:
        """Start the job (or adopt the one a previous try of this task left running)."""
        key = self._idempotency_key(context)
        project_id = self._resolved_project_id()
        ti = context["ti"]
        if getattr(ti, "try_number", 1) > 1:
            # A previous try may have started a job without recording it (the worker died in between).
            existing = self.hook.find_job_by_idempotency_key(key, project_id)
            if existing is not None and (existing.status.is_active or existing.status.is_success):
                self.log.info(
                    "Reattaching to Domino job %s (%s) started by a previous try",
                    existing.id,
                    existing.raw_status,
                )
                self._publish(context, existing.id)
                return existing
        job = self.hook.start_job(
            self.command,
            self.hardware_tier_id,
            project_id,
            is_direct_hardware_tier_id=self.is_direct_hardware_tier_id,
            environment_id=self.environment_id,
            commit_id=self.commit_id,
            title=self.title or self._default_title(context),
            idempotency_key=key,
        )
        self._publish(context, job.id)
        self.log.info("Started Domino job %s (%s): %s", job.id, job.raw_status, self.hook.job_url(job.id))
        self._decorate(job.id)
        return job

    def _decorate(self, job_id: str) -> None:
        """Add tags and goal links; a failure here is logged, never fatal (the job is already running)."""
        from airflow_provider_domino.api.errors import DominoError

        for tag in self.tags:
            try:
                self.hook.add_tag(job_id, tag)
            except DominoError as err:
                self.log.warning("Could not tag Domino job %s with %r: %s", job_id, tag, err)
        for goal_id in self.goal_ids:
            try:
                self.hook.link_goal(job_id, goal_id)
            except DominoError as err:
                self.log.warning("Could not link goal %r to Domino job %s: %s", goal_id, job_id, err)

    # --- execute -----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.wait_for_completion:
            return self._start(context).id
        if self.deferrable:
            return self._execute_deferrable(context)
        return self.execute_resumable(context)

    # ResumableJobMixin: the sync path, with reattach on retry through task_state_store.

    def submit_job(self, context: Context) -> str:
        return self._start(context).id

    def get_job_status(self, external_id: Any, context: Context) -> str:
        return self.hook.get_job(str(external_id)).raw_status

    def is_job_active(self, status: str) -> bool:
        from airflow_provider_domino.api.status import JobStatus

        return JobStatus.parse(status).is_active

    def is_job_succeeded(self, status: str) -> bool:
        from airflow_provider_domino.api.status import JobStatus

        return JobStatus.parse(status).is_success

    def poll_until_complete(self, external_id: Any, context: Context) -> str:  # type: ignore[override]
        job_id = str(external_id)
        if self.job_id != job_id:
            self._publish(context, job_id)
        from airflow_provider_domino.api.polling import next_poll_delay

        job = self.hook.get_job(job_id)
        deadline = self._deadline(job, context)
        watch_started = time.time()
        while not job.status.is_terminal:
            self._stream_logs(job_id, final=False)
            now = time.time()
            if deadline is not None and now >= deadline:
                self._stop_for_timeout(job_id)
            delay = next_poll_delay(self.poll_interval, now - watch_started)
            time.sleep(max(0.0, min(delay, float("inf") if deadline is None else deadline - now)))
            job = self.hook.get_job(job_id)
        self._stream_logs(job_id, final=True)
        self._finish(context, job)
        # Airflow's mixin returns this value directly when it reconnects on a retry.
        return self._succeed(context, job)

    def get_job_result(self, external_id: Any, context: Context) -> str:
        if self._final_job is not None and self._final_job.id == str(external_id):
            return self._final_job.id
        job = self.hook.get_job(str(external_id))
        if self.job_id != job.id:
            self._publish(context, job.id)
        return self._succeed(context, job)

    def _succeed(self, context: Context, job: Job) -> str:
        """Record the final job details (XCom ``job``) and return the job id (XCom ``return_value``)."""
        self._final_job = job
        context["ti"].xcom_push(key="job", value=job.to_dict())
        self._announce_success(context, job)
        return job.id

    def _announce_success(self, context: Context, job: Job) -> None:
        """Name the job and its output commit in the outlets' asset events (and to OpenLineage)."""
        from airflow_provider_domino.assets import SucceededJob, annotate_outlet_events

        self._succeeded_job = SucceededJob.of(
            job, project_id=job.project_id or self.project_id, job_url=self.hook.job_url(job.id)
        )
        annotate_outlet_events(context, self.outlets, self._succeeded_job, self.log)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Called by OpenLineage (when installed): the Domino job as this task's run."""
        from airflow_provider_domino.openlineage import operator_lineage

        return operator_lineage(getattr(self, "_succeeded_job", None))

    def _stream_logs(self, job_id: str, *, final: bool) -> None:
        if not self.fetch_logs:
            return
        from airflow_provider_domino.api.errors import DominoError

        def emit(line: str) -> None:
            self.log.info("[%s] %s", job_id, line)

        try:
            self._log_offset = self.hook.stream_log_lines(job_id, self._log_offset, final=final, emit=emit)
        except DominoError as err:  # logs are a convenience: never fail the task over them
            self.log.warning("Could not fetch the log of Domino job %s: %s", job_id, err)

    def _stop_for_timeout(self, job_id: str) -> None:
        from airflow_provider_domino.api.errors import DominoJobTimeoutError

        self.hook.stop_job(job_id)
        raise DominoJobTimeoutError(
            job_id,
            "Stopped",
            f"Domino job {job_id} did not finish within its timeout; it was stopped",
            self._log_tail(job_id),
        )

    def _finish(self, context: Context, job: Job) -> None:
        """Raise with the log tail unless the job succeeded."""
        from airflow_provider_domino.api.errors import DominoJobFailedError

        if not job.status.is_success:
            context["ti"].xcom_push(key="job", value=job.to_dict())
            raise DominoJobFailedError(
                job.id,
                job.raw_status,
                f"Domino job {job.id} ended {job.raw_status}",
                self._log_tail(job.id),
            )

    def _log_tail(self, job_id: str, lines: int = 20) -> str:
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.api.log_lines import last_lines

        try:
            chunk = self.hook.get_job_log_tail(job_id, max(0, self._log_offset - 16 * 1024))
        except DominoError:
            return ""
        return last_lines(chunk.data.decode("utf-8", "replace"), lines)

    # --- deferrable path -------------------------------------------------------------------------

    def _execute_deferrable(self, context: Context) -> Any:
        job = self._reattach_or_start(context)
        if not job.status.is_terminal:
            job = self.hook.get_job(job.id)
        if job.status.is_terminal:
            self._stream_logs(job.id, final=True)
            self._finish(context, job)
            return self._succeed(context, job)
        self._defer(job, context)

    def _reattach_or_start(self, context: Context) -> Job:
        store = context.get("task_state_store")
        previous = store.get(self.external_id_key) if store is not None else None
        if previous:
            job = self.hook.get_job(str(previous))
            if not job.status.is_terminal or job.status.is_success:
                self.log.info(
                    "Reattaching to Domino job %s (%s) started by a previous try", job.id, job.raw_status
                )
                self._publish(context, job.id)
                return job
            self.log.info(
                "Domino job %s of a previous try ended %s; starting a new one", job.id, job.raw_status
            )
        job = self._start(context)
        if store is not None:
            store.set(self.external_id_key, job.id)
        return job

    def _defer(self, job: Job, context: Context) -> None:
        from airflow_provider_domino.triggers.domino import DominoJobTrigger, task_key_of

        deadline = self._deadline(job, context)
        timeout = (
            None if deadline is None else timedelta(seconds=deadline - time.time() + DEFER_TIMEOUT_GRACE)
        )
        self.log.info("Deferring while Domino job %s runs (%s)", job.id, job.raw_status)
        if self.fetch_logs:
            DominoJobTrigger.record_log_offset(context, self._log_offset)
        self.defer(
            trigger=DominoJobTrigger(
                job_id=job.id,
                domino_conn_id=self.domino_conn_id,
                poll_interval=self.poll_interval,
                deadline=deadline,
                log_offset=self._log_offset,
                fetch_logs=self.fetch_logs,
                project_id=job.project_id,
                watch_started_at=_epoch(job.submitted_at) or time.time(),
                task_key=task_key_of(context),
            ),
            method_name="execute_complete",
            timeout=timeout,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired: validate its event and turn it into the task's outcome."""
        from airflow_provider_domino.triggers.domino import validate_event

        payload = validate_event(event, expected_job_id=self.job_id or None)
        job_id = payload["job_id"]
        self.job_id = job_id
        self._log_offset = int(payload.get("log_offset") or 0)
        if payload["status"] == "success":
            return self._succeed(context, self.hook.get_job(job_id))
        if payload["status"] == "failed":
            self._finish(context, self.hook.get_job(job_id))
        if payload["status"] == "timeout":
            if not payload.get("job_stopped"):
                self.hook.stop_job(job_id)
            from airflow_provider_domino.api.errors import DominoJobTimeoutError

            raise DominoJobTimeoutError(job_id, "Stopped", payload["message"], self._log_tail(job_id))
        from airflow_provider_domino.api.errors import DominoError

        raise DominoError(payload["message"])

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Stop the job when Airflow fails the deferral itself (trigger timed out or crashed), then fail."""
        if next_method == TRIGGER_FAIL_REPR:
            job_id = self._recorded_job_id(context)
            if job_id:
                self.job_id = job_id
                self.log.warning("The deferral of Domino job %s failed; stopping the job", job_id)
                self.on_kill()
        return super().resume_execution(next_method, next_kwargs, context)

    def _recorded_job_id(self, context: Context) -> str | None:
        """The job this try started, as recorded before deferring (a resumed task has no memory of it)."""
        store = context.get("task_state_store")
        recorded = store.get(self.external_id_key) if store is not None else None
        if not recorded:
            ti = context["ti"]
            recorded = ti.xcom_pull(task_ids=ti.task_id, key="job_id", map_indexes=ti.map_index)
        return str(recorded) if recorded else None

    def on_kill(self) -> None:
        """The task was killed on the worker (sync mode): stop the Domino job it started."""
        if not self.job_id:
            return
        from airflow_provider_domino.api.errors import DominoError

        try:
            self.hook.stop_job(self.job_id)
            self.log.info("Stopped Domino job %s because the task was killed", self.job_id)
        except DominoError as err:
            self.log.error("Could not stop Domino job %s: %s", self.job_id, err)


def _epoch(timestamp: str | None) -> float | None:
    if not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
