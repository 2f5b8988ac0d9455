"""``DominoJobSensor``: wait for an existing Domino job to end (poke, reschedule or deferrable)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_domino._compat import conf
from airflow_provider_domino.links.domino import JOB_URL_XCOM_KEY, DominoJobLink
from airflow_provider_domino.operators._validation import require_positive, require_text

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_domino.api.models import Job
    from airflow_provider_domino.hooks.domino import DominoHook

LOG_OFFSET_STATE_KEY = "domino_log_offset"


class DominoJobSensor(BaseSensorOperator):
    """Wait until a Domino job reaches a terminal status.

    Succeeded: the sensor succeeds and returns the job details (XCom ``return_value``). Failed, Stopped
    or Error: the sensor fails (or is skipped with ``soft_fail=True``). The sensor never stops the job it
    watches: it did not start it.

    :param job_id: the Domino job to watch (templated).
    :param domino_conn_id: the Airflow connection to Domino.
    :param fetch_logs: stream the job log into the task log while waiting.
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("job_id",)
    operator_extra_links = (DominoJobLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        job_id: str,
        domino_conn_id: str = "domino_default",
        fetch_logs: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        require_text("job_id", job_id)
        require_positive("poke_interval", self.poke_interval)
        self.job_id = job_id
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
        context["ti"].xcom_push(key=JOB_URL_XCOM_KEY, value=self.hook.job_url(self.job_id))
        if not self.deferrable:
            return super().execute(context)
        job = self.hook.get_job(self.job_id)
        if job.status.is_terminal:
            if self.fetch_logs:
                self._stream_logs(context, final=True)
            return self._outcome(job)
        from airflow_provider_domino.triggers.domino import DominoJobTrigger, task_key_of

        deadline = time.time() + float(self.timeout) if self.timeout else None
        if self.fetch_logs:
            DominoJobTrigger.record_log_offset(context, 0)
        self.defer(
            trigger=DominoJobTrigger(
                job_id=self.job_id,
                domino_conn_id=self.domino_conn_id,
                poll_interval=float(self.poke_interval),
                deadline=deadline,
                fetch_logs=self.fetch_logs,
                project_id=job.project_id,
                stop_on_timeout=False,
                task_key=task_key_of(context),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout) + 60) if self.timeout else None,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        job = self.hook.get_job(self.job_id)
        if self.fetch_logs:
            self._stream_logs(context, final=job.status.is_terminal)
        if not job.status.is_terminal:
            self.log.info("Domino job %s is %s", self.job_id, job.raw_status)
            return False
        return PokeReturnValue(is_done=True, xcom_value=self._outcome(job))

    def _stream_logs(self, context: Context, *, final: bool) -> None:
        """New log lines since the last poke; the offset lives in ``task_state_store`` across reschedules."""
        from airflow_provider_domino.api.errors import DominoError

        def emit(line: str) -> None:
            self.log.info("[%s] %s", self.job_id, line)

        store = context.get("task_state_store")
        stored = store.get(LOG_OFFSET_STATE_KEY) if store is not None else None
        offset = stored if isinstance(stored, int) else 0
        try:
            new_offset = self.hook.stream_log_lines(self.job_id, offset, final=final, emit=emit)
        except DominoError as err:
            self.log.warning("Could not fetch the log of Domino job %s: %s", self.job_id, err)
            return
        if store is not None and new_offset != offset:
            store.set(LOG_OFFSET_STATE_KEY, new_offset)

    def _outcome(self, job: Job) -> dict[str, Any]:
        """The job details on success; a failing (or, with soft_fail, skipping) exception otherwise."""
        if job.status.is_success:
            return job.to_dict()
        from airflow_provider_domino._compat import AirflowFailException, AirflowSkipException

        message = f"Domino job {job.id} ended {job.raw_status}"
        if self.soft_fail:
            raise AirflowSkipException(message)
        raise AirflowFailException(message)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired."""
        from airflow_provider_domino._compat import AirflowFailException, AirflowSkipException
        from airflow_provider_domino.triggers.domino import validate_event

        payload = validate_event(event, expected_job_id=self.job_id)
        if payload["status"] in ("success", "failed"):
            return self._outcome(self.hook.get_job(self.job_id))
        if self.soft_fail:
            raise AirflowSkipException(payload["message"])
        raise AirflowFailException(payload["message"])
