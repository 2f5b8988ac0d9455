"""Which Domino job belongs to this try of a task: the one place that decides.

The operator (sync and deferrable), the "do not start twice" recovery after an ambiguous start, and the
retry logic all ask this module; none of them decides on its own. It does no HTTP: the lookups it needs
are handed in (:class:`JobLookup`, callables), so every rule is unit-tested with fakes.

The rules (the README shows them as a table):

==========================================================  ==============================================
situation                                                   what happens
==========================================================  ==============================================
a retry after a crash of the worker or triggerer (not a     reattach to the previous try's job
user action), previous job still running
a retry after that job ended Failed, Stopped or Error       a new job
a user clear (or mark failed/success) of a running try      that try's job is stopped by ``on_kill``; the
                                                            next try is the first of a new "epoch" and
                                                            starts a new job; no try ever reattaches to a
                                                            job that is StopRequested, Stopping or Stopped
a clear of a succeeded task                                 a new job (unless ``reuse_succeeded_job``)
an ambiguous start (the POST may or may not have been       only a job carrying *this try's* key may be
processed)                                                  adopted
a stored job id that answers 404                            no previous job
==========================================================  ==============================================

**Telling a user clear from a crash retry (the Airflow signal).** Airflow keeps ``max_tries`` on the
task instance. It starts at ``task.retries``; a crash or failure retry leaves it unchanged; a clear
raises it to ``try_number + task.retries`` so the cleared run has its full retries again
(``clear_task_instances`` in ``airflow/models/taskinstance.py`` for a task that is not running; for a
running task, cleared to ``RESTARTING``, the scheduler does the same once the old process is gone:
``airflow/jobs/scheduler_job_runner.py``, "Adjust max_tries to allow retry beyond normal limits (like
clearing does)"). So the first try since the instance was created or last cleared is
``max_tries - task.retries + 1``: Airflow's own Task SDK uses exactly that formula
(``RuntimeTaskInstance.get_first_reschedule_date`` in ``airflow/sdk/execution_time/task_runner.py``),
and the worker receives ``max_tries`` from the API server with every try (``TIRunContext``). A try whose
number equals that value never reattaches: it does not race the old try's ``on_kill`` (issue 10, item 2),
and a clear of a succeeded task starts afresh. Caveats: when ``retries`` of the task changed between the
clear and this try, the computed first try moves too (a try may then start a new job where it could
have reattached; it never adopts a job of an earlier epoch, because the job's key names its try). When
``max_tries`` is unknown (not provided by the runtime), every try after the first counts as a retry, and
only the job-status rules protect a clear.

**Where the previous try's job id comes from.** ``task_state_store`` (Airflow 3.3+) when the context has
one: it survives retries and clears. Otherwise (or when the stored job is not the latest try's) the
idempotency keys: every try puts its own key in the job title (:func:`try_key`), so the project's jobs
are searched for the keys of the earlier tries of this epoch: all of its active jobs (a running job is
never missed, however busy the project) and its newest jobs of any status (a job that ended: reused when
it succeeded, replaced when it failed). The search uses the project the task resolved, also when it was
given as ``project="owner/name"``. XCom cannot serve: Airflow deletes a task's XComs when a new try
starts. A try resumed after its deferral failed asks :func:`owned_job_id`, which reads the same
sources in the order that suits it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_domino.api.status import JobStatus
from airflow_provider_domino.jobs.idempotency import derive_key, key_in_title

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job

log = logging.getLogger(__name__)

#: The ``task_state_store`` key holding the id of the job this task instance last started or adopted.
STATE_KEY = "domino_job_id"

#: Statuses that mean "someone asked this job to stop": never reattached, whatever the try.
STOPPING_OR_STOPPED = frozenset(
    {JobStatus.STOP_REQUESTED, JobStatus.STOP_AND_DISCARD_REQUESTED, JobStatus.STOPPING, JobStatus.STOPPED}
)


@dataclass(frozen=True)
class TryIdentity:
    """One try of one task instance, with what Airflow says about its clear epoch.

    :param max_tries: the task instance's ``max_tries`` as the runtime reports it; ``None`` if unknown.
    :param retries: the task's ``retries``.
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int
    max_tries: int | None
    retries: int

    @classmethod
    def of(cls, ti: Any, retries: int | None) -> TryIdentity:
        """From a (runtime) task instance; missing attributes fall back to a plain first try."""
        max_tries = getattr(ti, "max_tries", None)
        map_index = getattr(ti, "map_index", -1)
        return cls(
            dag_id=str(ti.dag_id),
            task_id=str(ti.task_id),
            run_id=str(ti.run_id),
            map_index=-1 if map_index is None else int(map_index),
            try_number=max(1, int(getattr(ti, "try_number", 1) or 1)),
            max_tries=max_tries if isinstance(max_tries, int) and max_tries >= 0 else None,
            retries=int(retries or 0),
        )

    @property
    def epoch_first_try(self) -> int:
        """The first try since the task instance was created or last cleared (see the module docstring)."""
        if self.max_tries is None:
            return 1
        return min(max(self.max_tries - self.retries + 1, 1), self.try_number)

    @property
    def starts_epoch(self) -> bool:
        """True for a first try, and for the first try after a user clear."""
        return self.try_number == self.epoch_first_try

    def key(self, try_number: int | None = None) -> str:
        """The idempotency key of one try (this one by default): it travels in the job title."""
        return try_key(self.dag_id, self.task_id, self.run_id, self.map_index, try_number or self.try_number)

    def earlier_tries(self, *, all_epochs: bool = False) -> range:
        """Tries whose job this try may take over: the earlier ones of this epoch (or of every epoch)."""
        return range(1 if all_epochs else self.epoch_first_try, self.try_number)

    def try_of(self, job: Job, tries: range) -> int | None:
        """Which of ``tries`` started ``job``, read from the key in its title; ``None`` if none did."""
        return self.keys_of(tries).get(key_in_title(job.title) or "")

    def keys_of(self, tries: range) -> dict[str, int]:
        return {self.key(number): number for number in tries}


def try_key(dag_id: str, task_id: str, run_id: str, map_index: int, try_number: int) -> str:
    """A key unique to one try of one task instance (try numbers grow across clears in Airflow 3)."""
    return derive_key(dag_id, task_id, run_id, map_index, f"try-{try_number}")


class Action(str, Enum):
    """What the try does with Domino."""

    REATTACH = "reattach"  #: watch an existing job (running, or succeeded) instead of starting one
    START = "start"  #: start a new job


@dataclass(frozen=True)
class Claim:
    """The decision: an action, the job it concerns (for ``REATTACH``) and a one-line reason to log."""

    action: Action
    job: Job | None
    reason: str


def decide(identity: TryIdentity, previous: Job | None, *, reuse_succeeded: bool = False) -> Claim:
    """The pure rule table: given the latest job of an earlier try (or ``None``), reattach or start.

    :param previous: the newest job an earlier try of this task instance started (already fetched).
    :param reuse_succeeded: opt-in: a job that already succeeded is used again, even after a clear.
    """
    succeeded_earlier = (
        previous is not None
        and previous.is_success
        and identity.try_of(previous, identity.earlier_tries(all_epochs=True)) is not None
    )
    if reuse_succeeded and succeeded_earlier and previous is not None:
        why = f"Domino job {previous.id} already succeeded; reusing it (reuse_succeeded_job=True)"
        return Claim(Action.REATTACH, previous, why)
    if identity.starts_epoch:
        if identity.try_number == 1:
            return Claim(Action.START, None, "first try of this task instance; starting a Domino job")
        return Claim(
            Action.START,
            None,
            f"try {identity.try_number} is the first since the task was cleared; starting a new Domino job",
        )
    if previous is None:
        return Claim(Action.START, None, "no earlier try since the last clear left a Domino job")
    status = previous.status
    described = f"Domino job {previous.id} ({previous.status_text})"
    if identity.try_of(previous, identity.earlier_tries()) is None:
        why = f"{described} was not started by an earlier try since the last clear"
        return Claim(Action.START, None, why)
    if status in STOPPING_OR_STOPPED:
        return Claim(Action.START, None, f"{described} was stopped; starting a new one")
    if previous.is_finished and not previous.is_success:
        return Claim(Action.START, None, f"{described} of a previous try ended; starting a new one")
    return Claim(Action.REATTACH, previous, f"{described} was started by a previous try; reattaching")


class JobLookup(Protocol):
    """What ownership needs to read from Domino (the hook provides it)."""

    def get_job(self, job_id: str) -> Job:
        """The job; raises ``DominoNotFoundError`` when Domino answers 404."""

    def find_job_by_keys(self, keys: Collection[str], project_id: str | None = None) -> Job | None:
        """The newest job of the project whose title carries one of ``keys``: among its recent jobs of any
        status and all of its active jobs (``DominoHook.find_job_by_keys``)."""


def find_previous_job(
    identity: TryIdentity,
    lookup: JobLookup,
    *,
    stored_job_id: str | None,
    project_id: str | None,
    reuse_succeeded: bool = False,
) -> Job | None:
    """The newest job an earlier try started, or ``None``; asks Domino only when a rule could use it.

    A first try of an epoch looks nothing up (unless ``reuse_succeeded``). The stored id is tried first;
    404 means "no previous job". When it is not the immediately previous try's, the keys of the earlier
    tries are searched too (the previous try may have died between starting a job and storing its id).
    """
    from airflow_provider_domino.api.errors import DominoNotFoundError

    tries = identity.earlier_tries(all_epochs=reuse_succeeded)
    if not tries:
        return None
    stored: Job | None = None
    if stored_job_id:
        try:
            stored = lookup.get_job(str(stored_job_id))
        except DominoNotFoundError:
            log.info("Domino job %s recorded by an earlier try no longer exists (404)", stored_job_id)
    stored_try = identity.try_of(stored, tries) if stored is not None else None
    if stored_try is not None and stored_try == identity.try_number - 1:
        return stored
    found = lookup.find_job_by_keys(list(identity.keys_of(tries)), project_id)
    found_try = identity.try_of(found, tries) if found is not None else None
    if found_try is None:
        return stored if stored_try is not None else None
    if stored_try is not None and stored_try > found_try:
        return stored
    return found


def claim(
    identity: TryIdentity,
    lookup: JobLookup,
    *,
    stored_job_id: str | None,
    project_id: str | None,
    reuse_succeeded: bool = False,
) -> Claim:
    """Find the earlier try's job (if a rule needs it) and decide: reattach, or start a new job."""
    previous = find_previous_job(
        identity, lookup, stored_job_id=stored_job_id, project_id=project_id, reuse_succeeded=reuse_succeeded
    )
    return decide(identity, previous, reuse_succeeded=reuse_succeeded)


def owned_job_id(
    context: Mapping[str, Any], identity: TryIdentity, lookup: JobLookup, *, project_id: str | None
) -> str | None:
    """The job this try owns, for a try resumed after its deferral failed (it remembers nothing).

    Asked in this order, the first answer wins:

    1. ``task_state_store`` (Airflow 3.3+): the try recorded its job there before deferring;
    2. the task's ``job_id`` XCom: a resumed try keeps the XComs its earlier part pushed;
    3. the project's jobs carrying *this try's* key (its title): the job this try started. Searched in
       ``project_id``, the project the task resolved (``project="owner/name"`` included); without one,
       this step is skipped. A Domino error here means "not found": the caller is already failing.
    """
    from airflow_provider_domino.api.errors import DominoError

    recorded = stored_job_id(context)
    if not recorded:
        ti = context.get("ti")
        if ti is not None:
            recorded = ti.xcom_pull(task_ids=ti.task_id, key="job_id", map_indexes=ti.map_index)
    if not recorded and project_id:
        try:
            job = lookup.find_job_by_keys([identity.key()], project_id)
        except DominoError as err:
            log.warning("Could not search project %s for this try's Domino job: %s", project_id, err)
            job = None
        recorded = job.id if job is not None else None
    return str(recorded) if recorded else None


def stored_job_id(context: Mapping[str, Any]) -> str | None:
    """The job id this task instance recorded in ``task_state_store``, if the runtime has one."""
    store = context.get("task_state_store")
    if store is None:
        return None
    try:
        value = store.get(STATE_KEY)
    except Exception as err:  # the store is a convenience; the key lookup covers for it
        log.warning("Could not read task_state_store: %s", err)
        return None
    return str(value) if value else None


def record_job_id(context: Mapping[str, Any], job_id: str) -> None:
    """Record the job this try owns in ``task_state_store`` (when the runtime has one)."""
    store = context.get("task_state_store")
    if store is None:
        return
    try:
        store.set(STATE_KEY, job_id)
    except Exception as err:
        log.warning("Could not record Domino job %s in task_state_store: %s", job_id, err)


#: First and longest pause between two look-ups of a job whose start answer was lost.
LOOKUP_FIRST_DELAY = 0.5
LOOKUP_MAX_DELAY = 4.0


def submit_exactly_once(
    submit: Callable[[], Job],
    find_own: Callable[[], Job | None],
    *,
    lookup_window: float,
    resends: int = 1,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Job:
    """Send a start request; after an ambiguous failure adopt only this try's job, else send it again.

    Domino's job list may lag behind a job created a moment ago, so after an ambiguous failure the
    key is looked up for ``lookup_window`` seconds (pauses from ``LOOKUP_FIRST_DELAY`` doubling to
    ``LOOKUP_MAX_DELAY``) before the request is sent again.

    :param submit: sends the start once; raises ``DominoAmbiguousRequestError`` when Domino may or may
        not have processed it.
    :param find_own: the job carrying *this try's* key (never another try's), or ``None``.
    :param lookup_window: seconds to keep looking for the job after each ambiguous failure.
    :param resends: how many times the request is sent again when no job carries the key.
    """
    from airflow_provider_domino.api.errors import DominoAmbiguousRequestError

    for resend in range(resends + 1):
        try:
            return submit()
        except DominoAmbiguousRequestError as err:
            existing = _await_own(find_own, lookup_window, sleep, clock)
            if existing is not None:
                log.warning("%s; adopting job %s, which this start request created", err, existing.id)
                return existing
            if resend >= resends:
                raise
            log.warning(
                "%s; no job carries this start's key after %.0f s of looking, sending it again",
                err,
                lookup_window,
            )
    raise AssertionError("unreachable")  # pragma: no cover


def _await_own(
    find_own: Callable[[], Job | None],
    window: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Job | None:
    """``find_own()``, asked again with backoff until it answers a job or ``window`` seconds passed."""
    deadline = clock() + window
    delay = LOOKUP_FIRST_DELAY
    while True:
        existing = find_own()
        remaining = deadline - clock()
        if existing is not None or remaining <= 0:
            return existing
        sleep(min(delay, remaining))
        delay = min(delay * 2, LOOKUP_MAX_DELAY)
