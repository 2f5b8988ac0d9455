"""``DominoStartJobOperator``: start a Domino job and wait for it, on a worker or deferred."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator

from airflow_provider_domino._compat import conf
from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.jobs.ownership import STATE_KEY
from airflow_provider_domino.links.domino import JOB_URL_XCOM_KEY, DominoJobLink
from airflow_provider_domino.operators._job_options import (
    JOB_OPTION_FIELDS,
    check_options_at_parse,
    check_tier_choice,
    options_at_run_time,
)
from airflow_provider_domino.operators._validation import (
    check_names,
    check_project_choice,
    is_templated,
    names_of,
    require_positive,
    require_text,
    require_text_unless_runtime,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_domino.api.job_spec import JobOptions
    from airflow_provider_domino.api.models import Job
    from airflow_provider_domino.hooks.domino import DominoHook
    from airflow_provider_domino.integrations.assets import SucceededJob
    from airflow_provider_domino.jobs.cost import PriceSheet
    from airflow_provider_domino.jobs.log_stream import LogFollower
    from airflow_provider_domino.jobs.ownership import TryIdentity
    from airflow_provider_domino.jobs.results import JobReport

#: What Airflow passes as ``next_method`` when it fails a deferred task itself (``BaseOperator`` constant).
TRIGGER_FAIL_REPR = "__fail__"

#: Extra seconds the task-level defer timeout allows past the trigger's own deadline, so the trigger
#: (which stops the job) always fires first.
DEFER_TIMEOUT_GRACE = 60.0

#: Log lines quoted in the message of a failed task (as many as a log follower keeps).
RECENT_LINES = 20
#: How far before a job's end its log is read for those lines when none were shown.
TAIL_WINDOW_NANOS = 120 * 1_000_000_000


class DominoStartJobOperator(BaseOperator):
    """Start a Domino job, then (by default) wait for it and stream its log into the task log.

    XCom ``job_id``, ``project_id`` and ``job_url`` are pushed right after the start, before waiting (a
    ``DominoJobSensor(job_id=start.output)`` reads ``project_id`` to watch in the job's project). The
    return value is the job id; XCom ``job`` holds the final job details (``status``, ``commitId``,
    ``outputCommitId``, ``startedAt``, ``endedAt``...; every key is listed on
    :meth:`~airflow_provider_domino.api.models.Job.to_dict`), so a downstream task can run on this job's
    output: ``commit_id="{{ ti.xcom_pull(task_ids='train', key='job')['outputCommitId'] }}"``.

    ``timeout`` (seconds from the job's submission) **stops the Domino job** when it has not ended in
    time, then fails the task; so does reaching the task's ``execution_timeout`` first. The sensor's
    ``timeout`` differs: ``DominoJobSensor(timeout=...)`` fails the sensor and leaves the job running (it
    did not start it).

    Which job a try owns is decided in one place, :mod:`airflow_provider_domino.jobs.ownership`: a retry
    after a crash reattaches to the previous try's job while it still runs; a retry after the job
    failed or was stopped, and any try after a user clear, start a new job (see the README's table).
    ``on_kill`` stops the job (within a short budget); in deferrable mode the trigger does so when a user
    marks the task failed/success or clears it, while a triggerer restart leaves the job running.
    Errors no retry can fix (connection config, credentials, unknown job or project, rejected input)
    fail the task at once with ``AirflowFailException``.

    Tags and goal links are added after the start; if that fails, a warning is logged and the run goes
    on: the job id is never lost over a cosmetic step.

    :param command: the command Domino runs (templated; may be an upstream task's output).
    :param hardware_tier: the hardware tier's name or id (templated); resolved among the project's tiers.
    :param hardware_tier_id: the older spelling: a tier id (a name still resolves, with a
        ``DeprecationWarning`` recommending ``hardware_tier``); give one of the two (templated).
    :param project_id: Domino project id (templated). Alternatively ``project``.
    :param project: ``owner/name`` of the project, resolved through the API (templated).
    :param is_direct_hardware_tier_id: ``hardware_tier_id`` is an ID, never a name.
    :param environment_id: compute environment id (templated).
    :param commit_id: run on this commit, e.g. an upstream job's ``outputCommitId`` (templated; may be
        an upstream task's output).
    :param title: job title (templated); defaults to the DAG, task and run, so the job leads back here.
    :param tags: tag names added to the job after it starts (templated); one string is one tag.
    :param goal_ids: goal ids linked to the job after it starts (templated); one string is one goal.
    :param wait_for_completion: wait for the job to end; ``False`` starts it and returns.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param trigger_queue: the triggerer queue for the wait (Airflow 3.2+ with
        ``[triggerer] queues_enabled``; otherwise ignored with one warning). The task's own ``queue``
        (its executor queue) is unchanged.
    :param poll_interval: the longest wait between status checks, in seconds. Checks start 2 s apart and
        slow down to this as the job runs, so short jobs finish quickly and long ones cost few requests.
    :param timeout: seconds the job may take, from its submission, before it is stopped and the task
        fails (a sensor's ``timeout`` leaves the job running instead).
    :param fetch_logs: stream the job log into the task log while waiting.
    :param domino_conn_id: the Airflow connection to Domino (templated).
    :param compute_cluster: a Spark, Ray, Dask or MPI cluster for the job: a dict of the spec's
        ``ComputeClusterConfigV1`` keys; its tier fields take a name or id (templated).
    :param main_repo_git_ref: ``{"refType": "head"|"branches"|"tags"|"commitId", "value": ...}``: the git
        branch, tag or commit of a git-based project to run (templated).
    :param environment_revision: ``"ActiveRevision"``, ``"LatestRevision"`` or ``"SomeRevision(<id>)"``
        (templated).
    :param external_volume_mount_ids: external volumes to mount (templated).
    :param net_app_volume_ids: NetApp volumes to mount (templated).
    :param capacity_type: capacity type within the tier, e.g. ``"spot"`` (templated).
    :param snapshot_datasets_on_completion: snapshot the mounted datasets when the job ends (templated).
    :param snapshot_net_app_volumes_on_completion: snapshot the NetApp volumes when the job ends
        (templated). See ``docs/job-options.md`` for every option and its checks.
    :param reuse_succeeded_job: opt-in, off by default: when an earlier try of this task instance (even
        before a clear) left a job that succeeded, use it instead of running the work again.

    When the job ends, XCom ``domino_stats`` holds its ``dominoStats`` and ``domino_cost`` an estimate of
    its cost (``docs/cost.md``); the task log shows both, and why the job waits while it is queued.

    With ``do_xcom_push=False`` no XCom other than ``job_url`` (read by the job link) is pushed; a sensor
    downstream then needs ``project_id`` or ``project`` to share its project's status polling.
    """

    template_fields: Sequence[str] = (
        "command",
        "hardware_tier",
        "hardware_tier_id",
        *JOB_OPTION_FIELDS,
        "project_id",
        "project",
        "environment_id",
        "commit_id",
        "title",
        "tags",
        "goal_ids",
        "domino_conn_id",
    )
    template_fields_renderers = {"command": "bash"}
    operator_extra_links = (DominoJobLink(),)
    ui_color = "#e8f0fe"
    #: The ``task_state_store`` key holding the job this task instance owns.
    external_id_key = STATE_KEY

    def __init__(
        self,
        *,
        command: Any,
        hardware_tier_id: str | None = None,
        project_id: str | None = None,
        project: str | None = None,
        is_direct_hardware_tier_id: bool = False,
        environment_id: str | None = None,
        commit_id: Any = None,
        title: str | None = None,
        tags: Any = (),
        goal_ids: Any = (),
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        timeout: float | None = None,
        fetch_logs: bool = True,
        domino_conn_id: str = "domino_default",
        reuse_succeeded_job: bool = False,
        trigger_queue: str | None = None,
        hardware_tier: str | None = None,
        compute_cluster: Any = None,
        main_repo_git_ref: Any = None,
        environment_revision: str | None = None,
        external_volume_mount_ids: Any = None,
        net_app_volume_ids: Any = None,
        capacity_type: str | None = None,
        snapshot_datasets_on_completion: Any = None,
        snapshot_net_app_volumes_on_completion: Any = None,
        **kwargs: Any,
    ) -> None:
        from airflow_provider_domino.triggers.placement import check_trigger_queue

        super().__init__(**kwargs)
        require_text_unless_runtime("command", command)
        check_tier_choice(hardware_tier, hardware_tier_id)
        options = check_options_at_parse(
            {
                "compute_cluster": compute_cluster,
                "main_repo_git_ref": main_repo_git_ref,
                "environment_revision": environment_revision,
                "external_volume_mount_ids": external_volume_mount_ids,
                "net_app_volume_ids": net_app_volume_ids,
                "capacity_type": capacity_type,
                "snapshot_datasets_on_completion": snapshot_datasets_on_completion,
                "snapshot_net_app_volumes_on_completion": snapshot_net_app_volumes_on_completion,
            }
        )
        require_positive("poll_interval", poll_interval)
        require_positive("timeout", timeout, optional=True)
        check_project_choice(project_id, project)
        self.command = command
        self.hardware_tier_id = hardware_tier_id
        self.hardware_tier = hardware_tier
        self.compute_cluster = options["compute_cluster"]
        self.main_repo_git_ref = options["main_repo_git_ref"]
        self.environment_revision = options["environment_revision"]
        self.external_volume_mount_ids = options["external_volume_mount_ids"]
        self.net_app_volume_ids = options["net_app_volume_ids"]
        self.capacity_type = options["capacity_type"]
        self.snapshot_datasets_on_completion = options["snapshot_datasets_on_completion"]
        self.snapshot_net_app_volumes_on_completion = options["snapshot_net_app_volumes_on_completion"]
        #: Why the job waits, as last shown, and the job's results at the end (made on first use).
        self._job_report: JobReport | None = None
        #: The job's tiers and prices, carried over a deferral (``docs/cost.md``).
        self._price_sheet: PriceSheet | None = None
        self.project_id = project_id
        self.project = project
        self.is_direct_hardware_tier_id = is_direct_hardware_tier_id
        self.environment_id = environment_id
        self.commit_id = commit_id
        self.title = title
        self.tags = check_names("tags", tags)
        self.goal_ids = check_names("goal_ids", goal_ids)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.fetch_logs = fetch_logs
        self.domino_conn_id = domino_conn_id
        self.reuse_succeeded_job = reuse_succeeded_job
        self.trigger_queue = check_trigger_queue(type(self).__name__, trigger_queue)
        self.job_id: str | None = None
        #: The project the job runs in: published job details do not name it, so it is kept from the
        #: claim and passed on (stop, tags, trigger, link, XCom ``job``).
        self.job_project_id: str | None = None
        #: How much of the job log was shown, and its last lines (for the failure message).
        self._log_follower: LogFollower | None = None
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

    def _job_project_id(self) -> str | None:
        """The project of the job: the one it was claimed in, else the one this task names."""
        if self.job_project_id is None:
            from airflow_provider_domino.api.errors import DominoError

            try:
                self.job_project_id = self._resolved_project_id()
            except (DominoError, ValueError) as err:
                self.log.warning("Could not tell the project of Domino job %s: %s", self.job_id, err)
        return self.job_project_id

    def _default_title(self, context: Context) -> str:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        suffix = f" [{map_index}]" if map_index is not None and map_index >= 0 else ""
        return f"Airflow {ti.dag_id}.{ti.task_id}{suffix} run {ti.run_id}"

    def _publish(self, context: Context, job_id: str) -> None:
        """XCom ``job_id``, ``project_id`` and ``job_url`` as soon as the job is known, before waiting.

        ``project_id`` lets a ``DominoJobSensor(job_id=start.output)`` downstream learn the project (the
        published job details do not name it) and share its project's status polling.
        """
        self.job_id = job_id
        self._push(context, "job_id", job_id)
        self._push(context, "project_id", self.job_project_id)
        context["ti"].xcom_push(key=JOB_URL_XCOM_KEY, value=self.hook.job_url(job_id, self.job_project_id))

    def _deadline(self, job: Job, context: Context) -> float | None:
        from airflow_provider_domino.api.models import epoch_seconds

        """Epoch seconds by which the job must end: ``timeout`` from its submission, ``execution_timeout``."""
        candidates: list[float] = []
        if self.timeout is not None:
            begun = epoch_seconds(job.submitted_at) or epoch_seconds(job.started_at) or time.time()
            candidates.append(begun + float(self.timeout))
        if self.execution_timeout is not None:
            start = getattr(context.get("ti"), "start_date", None)
            started = start.timestamp() if isinstance(start, datetime) else time.time()
            candidates.append(started + self.execution_timeout.total_seconds())
        return min(candidates) if candidates else None

    # --- which job is this try's ---------------------------------------------------------------

    def _identity(self, context: Context) -> TryIdentity:
        from airflow_provider_domino.jobs.ownership import TryIdentity

        return TryIdentity.of(context["ti"], self.retries)

    def _claim(self, context: Context) -> Job:
        """This try's job: the previous try's when the rules say so (see ``ownership``), else a new one."""
        from airflow_provider_domino.jobs.ownership import Action, claim, record_job_id, stored_job_id

        self.job_project_id = self._resolved_project_id()
        verdict = claim(
            self._identity(context),
            self.hook,
            stored_job_id=stored_job_id(context),
            project_id=self.job_project_id,
            reuse_succeeded=self.reuse_succeeded_job,
        )
        self.log.info("%s", verdict.reason[:1].upper() + verdict.reason[1:])
        if verdict.action is Action.REATTACH and verdict.job is not None:
            job = verdict.job
            self._publish(context, job.id)
        else:
            job = self._start(context)
        record_job_id(context, job.id)
        return job

    def _start(self, context: Context) -> Job:
        """Start a new job carrying this try's idempotency key (so only this try can ever adopt it)."""
        job = self.hook.start_job(
            self.command,
            self.hardware_tier_id,
            self.job_project_id,
            hardware_tier=self.hardware_tier,
            options=self._rendered_options(),
            is_direct_hardware_tier_id=self.is_direct_hardware_tier_id,
            environment_id=self.environment_id,
            commit_id=self.commit_id,
            title=self.title or self._default_title(context),
            idempotency_key=self._identity(context).key(),
        )
        self._publish(context, job.id)
        url = self.hook.job_url(job.id, self.job_project_id)
        self.log.info("Started Domino job %s (%s): %s", job.id, job.raw_status, url)
        self._decorate(job.id)
        return job

    def _decorate(self, job_id: str) -> None:
        """Add tags and goal links; a failure here is logged, never fatal (the job is already running)."""
        from airflow_provider_domino.api.errors import DominoError

        for tag in self.tags:
            try:
                self.hook.add_tag(job_id, tag, self.job_project_id)
            except DominoError as err:
                self.log.warning("Could not tag Domino job %s with %r: %s", job_id, tag, err)
        for goal_id in self.goal_ids:
            try:
                self.hook.link_goal(job_id, goal_id)
            except DominoError as err:
                self.log.warning("Could not link goal %r to Domino job %s: %s", goal_id, job_id, err)

    # --- job options and results --------------------------------------------------------------

    def _rendered_options(self) -> JobOptions | None:
        """The ``NewJobV1`` options as rendered, checked (``DominoConfigError`` names a bad one)."""
        return options_at_run_time({name: getattr(self, name) for name in JOB_OPTION_FIELDS})

    def _report(self, context: Context) -> JobReport:
        """Why the job waits, and its results at the end (a ``jobs.results.JobReport``)."""
        if self._job_report is None:
            from airflow_provider_domino.jobs.results import JobReport

            self._job_report = JobReport(self.log, lambda key, value: self._push(context, key, value))
        return self._job_report

    def _job_price_sheet(self, job_id: str) -> PriceSheet | None:
        """The job's tiers and prices: carried over a deferral, kept by the hook from the start, or (a job
        this try did not start) read once from the project's tier list. ``None`` when unknown."""
        from airflow_provider_domino.api.errors import DominoError

        if self._price_sheet is not None:
            return self._price_sheet
        try:
            return self.hook.price_sheet(
                job_id,
                self._job_project_id(),
                hardware_tier=self.hardware_tier or self.hardware_tier_id,
                compute_cluster=self.compute_cluster if isinstance(self.compute_cluster, dict) else None,
            )
        except DominoError as err:
            self.log.warning("Could not read the hardware tier prices for Domino job %s: %s", job_id, err)
            return None

    def _report_results(self, context: Context, job: Job) -> None:
        """The results summary and the cost line in the task log; XCom ``domino_stats`` and ``domino_cost``.

        A price that cannot be read makes the cost "unknown"; it never fails the task.
        """
        self._report(context).finish(job, self._job_price_sheet(job.id))

    # --- execute -----------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        with fail_fast():
            self._check_rendered()
            job = self._claim(context)
            if not self.wait_for_completion:
                return job.id
            if self.deferrable:
                return self._wait_deferred(job, context)
            return self._watch_on_worker(job, context)

    def _check_rendered(self) -> None:
        """Check the values Jinja or an upstream task supplied; the parse-time checks skipped them."""
        require_text("command", self.command)
        check_tier_choice(self.hardware_tier, self.hardware_tier_id)
        self._rendered_options()  # every option is checked before anything is started
        require_text("domino_conn_id", self.domino_conn_id)
        self.tags = names_of("tags", self.tags)
        self.goal_ids = names_of("goal_ids", self.goal_ids)
        if self.commit_id is not None and not isinstance(self.commit_id, str):
            raise DominoConfigError(f"Parameter 'commit_id' must be a string, got {self.commit_id!r}")

    def _watch_on_worker(self, job: Job, context: Context) -> str:
        """Poll on the worker until the job ends (sync mode); every decision is ``watch_step``'s."""
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.jobs.watching import Outcome, watch_step

        deadline = self._deadline(job, context)
        watch_started = time.time()
        current: Job | None = job
        error: Exception | None = None
        while True:
            self._report(context).show_wait_reason(current)
            if current is not None:
                self._follow_log(current)
            step = watch_step(
                job=current,
                error=error,
                now=time.time(),
                deadline=deadline,
                watch_started_at=watch_started,
                poll_interval=self.poll_interval,
                jitter=random.random(),
            )
            if isinstance(step, Outcome):
                return self._conclude(
                    context, job.id, step.kind, step.message, retryable=step.retryable, job=step.job
                )
            if step.warning:
                self.log.warning("Domino job %s: %s", job.id, step.warning)
            time.sleep(step.delay)
            try:
                current, error = self.hook.get_job(job.id), None
            except DominoError as err:
                current, error = None, err

    def _conclude(
        self,
        context: Context,
        job_id: str,
        kind: str,
        message: str,
        *,
        retryable: bool,
        job: Job | None = None,
    ) -> str:
        """Turn how the watch ended (worker loop or trigger event) into the task's outcome.

        :param job: the job as the watch last saw it, if it is current; fetched otherwise.
        """
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.jobs.watching import FAILED, SUCCESS, TIMEOUT

        if kind == SUCCESS:
            return self._succeed(context, job or self.hook.get_job(job_id))
        if kind == FAILED:
            self._finish(context, job or self.hook.get_job(job_id))
        if kind == TIMEOUT:
            self._stop_at_deadline(job_id)
        if not retryable:
            from airflow_provider_domino._compat import AirflowFailException

            raise AirflowFailException(message)
        raise DominoError(message)

    def _stop_at_deadline(self, job_id: str) -> NoReturn:
        """The one place a job is stopped for passing its deadline (the operator's ``timeout`` or the
        task's ``execution_timeout``), on the worker or after the trigger reported it; then fail.

        The trigger only reports the deadline: a sensor's trigger must leave the job running, and one
        place to stop keeps one message and one way to handle a stop that fails.
        """
        from airflow_provider_domino.api.errors import DominoError, DominoJobTimeoutError

        message = f"Domino job {job_id} did not finish before its deadline"
        try:
            self.hook.stop_job(job_id, self._job_project_id())
        except DominoError as err:
            self.log.error("Domino job %s passed its deadline; stopping it failed: %s", job_id, err)
            message += f"; stopping it failed: {err}"
        else:
            self.log.warning("Domino job %s passed its deadline and was stopped", job_id)
            message += "; it was stopped"
        raise DominoJobTimeoutError(job_id, "Stopped", message, self._log_tail(job_id))

    def _succeed(self, context: Context, job: Job) -> str:
        """Record the final job details (XCom ``job``) and return the job id (XCom ``return_value``)."""
        self._final_job = job
        self._push(context, "job", self._job_summary(job))
        self._report_results(context, job)
        self._announce_success(context, job)
        return job.id

    def _job_summary(self, job: Job) -> dict[str, Any]:
        """XCom ``job``: the job's details, with the project it runs in (published jobs omit it)."""
        return job.to_dict(project_id=self.job_project_id)

    def _push(self, context: Context, key: str, value: Any) -> None:
        """An XCom of this task, unless the DAG author turned them off with ``do_xcom_push=False``."""
        if self.do_xcom_push:
            context["ti"].xcom_push(key=key, value=value)

    def _announce_success(self, context: Context, job: Job) -> None:
        """Name the job and its output commit in the outlets' asset events.

        Called from :meth:`_succeed`, which every success path goes through: the worker's watch, the
        trigger's event, and a claimed job that had already finished (a reattach or
        ``reuse_succeeded_job``). OpenLineage reads the same details afterwards
        (:meth:`get_openlineage_facets_on_complete`).
        """
        if not self.outlets:
            return
        from airflow_provider_domino.integrations.assets import annotate_outlet_events

        annotate_outlet_events(context, self.outlets, self._succeeded_job(job), self.log)

    def _succeeded_job(self, job: Job) -> SucceededJob:
        """What asset events and OpenLineage learn about the job; built once, on first use.

        The project is the one this task ran the job in (published job details do not name it). Built
        lazily because the job link costs a project lookup, which a task with neither outlets nor
        OpenLineage does not need.
        """
        from airflow_provider_domino.integrations.assets import SucceededJob

        known = getattr(self, "_succeeded_details", None)
        if known is None or known.job_id != job.id:
            project_id = self._job_project_id()
            known = SucceededJob.of(job, project_id=project_id, job_url=self.hook.job_url(job.id, project_id))
            self._succeeded_details = known
        return known

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Called by OpenLineage (when installed): the Domino job as this task's run."""
        from airflow_provider_domino.integrations.openlineage import operator_lineage

        job = self._final_job
        return operator_lineage(self._succeeded_job(job) if job is not None else None)

    def _follower(self, job_id: str) -> LogFollower:
        """How much of this job's log was shown (one per job; made on first use)."""
        follower = self._log_follower
        if follower is None or follower.job_id != job_id:
            from airflow_provider_domino.jobs.log_stream import LogFollower

            def emit(line: str) -> None:
                self.log.info("[%s] %s", job_id, line)

            follower = self._log_follower = LogFollower(job_id, emit, log=self.log, recent_lines=RECENT_LINES)
        return follower

    def _follow_log(self, job: Job) -> None:
        """New log lines into the task log (see :mod:`~airflow_provider_domino.jobs.log_stream`)."""
        if self.fetch_logs:
            self._follower(job.id).follow(self.hook.stream_log, job)

    def _finish(self, context: Context, job: Job) -> None:
        """Raise with the log tail unless the job succeeded."""
        from airflow_provider_domino.api.errors import DominoJobFailedError

        if not job.is_success:
            self._push(context, "job", self._job_summary(job))
            self._report_results(context, job)
            raise DominoJobFailedError(
                job.id,
                job.status_text,
                f"Domino job {job.id} ended {job.status_text}",
                self._log_tail(job.id, job),
            )

    def _log_tail(self, job_id: str, job: Job | None = None, lines: int = RECENT_LINES) -> str:
        """The last log lines for a failure message: those shown, else a read of the log's end only."""
        from airflow_provider_domino.api.errors import DominoError
        from airflow_provider_domino.jobs.log_cursor import timestamp_nanos
        from airflow_provider_domino.jobs.log_lines import last_lines

        shown = self._log_follower.recent if self._log_follower is not None else ()
        if shown:
            return last_lines("\n".join(shown), lines)
        ended = timestamp_nanos(job.ended_at) if job is not None and job.ended_at else None
        since = ended - TAIL_WINDOW_NANOS if ended else None
        try:
            return last_lines(self.hook.recent_log_lines(job_id, lines, since_nano=since), lines)
        except DominoError:
            return ""

    # --- deferrable path -------------------------------------------------------------------------

    def _wait_deferred(self, job: Job, context: Context) -> Any:
        if not job.is_finished:
            job = self.hook.get_job(job.id)
        if job.is_finished:
            self.log.info("Domino job %s already ended (%s): not deferring", job.id, job.status_text)
            self._follow_log(job)
            self._finish(context, job)
            return self._succeed(context, job)
        self._defer(job, context)

    def _defer(self, job: Job, context: Context) -> None:
        from airflow_provider_domino.api.models import epoch_seconds
        from airflow_provider_domino.triggers.domino import DominoJobTrigger, task_key_of

        deadline = self._deadline(job, context)
        timeout = (
            None if deadline is None else timedelta(seconds=deadline - time.time() + DEFER_TIMEOUT_GRACE)
        )
        self.log.info("Deferring while Domino job %s runs (%s)", job.id, job.raw_status)
        from airflow_provider_domino._compat import trigger_on_kill_supported

        if not trigger_on_kill_supported():
            self.log.info(
                "This Airflow (before 3.3) does not tell a trigger that its task was killed: marking this "
                "task failed or success, or clearing it while it is deferred, leaves Domino job %s running",
                job.id,
            )
        cursor = self._log_follower.cursor.to_json() if self._log_follower is not None else None
        if self.fetch_logs:
            DominoJobTrigger.record_log_cursor(context, cursor)
        from airflow_provider_domino.triggers.placement import route_trigger

        route_trigger(self, self.trigger_queue)
        self.defer(
            trigger=DominoJobTrigger(
                job_id=job.id,
                domino_conn_id=self.domino_conn_id,
                poll_interval=self.poll_interval,
                deadline=deadline,
                log_cursor=cursor,
                fetch_logs=self.fetch_logs,
                project_id=self.job_project_id or job.project_id,
                watch_started_at=epoch_seconds(job.submitted_at) or time.time(),
                task_key=task_key_of(context),
            ),
            method_name="execute_complete",
            kwargs=self._price_sheet_kwargs(job.id),
            timeout=timeout,
        )

    def _price_sheet_kwargs(self, job_id: str) -> dict[str, Any] | None:
        """``next_kwargs`` carrying the price sheet the start read, so the resumed step reads no tier list."""
        sheet = self.hook.known_price_sheet(job_id)
        return {"domino_price_sheet": sheet.to_json()} if sheet is not None else None

    def execute_complete(
        self,
        context: Context,
        event: dict[str, Any] | None = None,
        domino_price_sheet: dict[str, Any] | None = None,
    ) -> str:
        """Resume after the trigger fired: validate its event and turn it into the task's outcome.

        :param domino_price_sheet: the job's tiers and prices as the start read them (``next_kwargs``).
        """
        from airflow_provider_domino.jobs.cost import PriceSheet

        self._price_sheet = PriceSheet.from_json(domino_price_sheet)
        from airflow_provider_domino.jobs.log_cursor import LogCursor
        from airflow_provider_domino.triggers.domino import validate_event

        with fail_fast():
            payload = validate_event(event, expected_job_id=self.job_id or None)
            job_id = payload["job_id"]
            self.job_id = job_id
            self.job_project_id = payload.get("project_id") or self.job_project_id
            follower = self._follower(job_id)
            follower.cursor = LogCursor.from_json(payload.get("log_cursor"))
            follower.recent.extend(str(line) for line in payload.get("log_tail") or ())
            return self._conclude(
                context,
                job_id,
                payload["status"],
                payload["message"],
                retryable=payload.get("retryable", True) is not False,
            )

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Stop the job when Airflow fails the deferral itself (trigger timed out or crashed), then fail.

        A resumed try remembers nothing: which job it owns is :func:`~airflow_provider_domino.jobs.
        ownership.owned_job_id`'s answer, searched in the project this task resolves.
        """
        if next_method == TRIGGER_FAIL_REPR:
            from airflow_provider_domino.jobs.ownership import owned_job_id

            project_id = self._job_project_id()
            job_id = owned_job_id(context, self._identity(context), self.hook, project_id=project_id)
            if job_id:
                self.job_id = job_id
                self.log.warning("The deferral of Domino job %s failed; stopping the job", job_id)
                self.on_kill()
        return super().resume_execution(next_method, next_kwargs, context)

    def on_kill(self) -> None:
        """The task was killed: stop the Domino job it owns, within a short, bounded time."""
        if not self.job_id:
            return
        stop_within_budget(self.domino_conn_id, self.job_id, self.job_project_id, self.log)


def stop_within_budget(conn_id: str, job_id: str, project_id: str | None, log: Any) -> None:
    """Stop ``job_id`` with ``ON_KILL_RETRY_POLICY``, giving up after ``ON_KILL_BUDGET`` seconds.

    Runs in a daemon thread so a Domino that does not answer cannot hold the killed task past its grace
    period; the thread dies with the process.
    """
    import threading

    from airflow_provider_domino.api.errors import DominoError
    from airflow_provider_domino.hooks.domino import DominoHook
    from airflow_provider_domino.hooks.retry import ON_KILL_BUDGET, ON_KILL_RETRY_POLICY

    hook = DominoHook(conn_id, retry_policy=ON_KILL_RETRY_POLICY, caller="DominoStartJobOperator.on_kill")
    result: dict[str, Any] = {}

    def stop() -> None:
        try:
            hook.stop_job(job_id, project_id)
            result["stopped"] = True
        except DominoError as err:
            result["error"] = err

    thread = threading.Thread(target=stop, name=f"stop-domino-job-{job_id}", daemon=True)
    thread.start()
    thread.join(ON_KILL_BUDGET)
    if result.get("stopped"):
        log.info("Stopped Domino job %s because the task was killed", job_id)
    elif "error" in result:
        log.error("Could not stop Domino job %s: %s", job_id, result["error"])
    else:
        log.error("Could not stop Domino job %s: no answer within %.0f s", job_id, ON_KILL_BUDGET)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Errors no retry can fix (config, auth, 404, bad input) fail the task without using its retries."""
    from airflow_provider_domino.api.errors import DominoError
    from airflow_provider_domino.jobs.watching import retry_cannot_fix

    try:
        yield
    except DominoError as err:
        if not retry_cannot_fix(err):
            raise
        from airflow_provider_domino._compat import AirflowFailException

        raise AirflowFailException(str(err)) from err
