"""Unit tier for ``ownership``: one test per row of the README's table, with fakes only (no HTTP)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoAmbiguousRequestError, DominoNotFoundError
from airflow_provider_domino.api.models import Job
from airflow_provider_domino.jobs.idempotency import title_with_key
from airflow_provider_domino.jobs.ownership import (
    STATE_KEY,
    Action,
    TryIdentity,
    claim,
    decide,
    owned_job_id,
    record_job_id,
    stored_job_id,
    submit_exactly_once,
)

RETRIES = 2


def identity(try_number: int, max_tries: int | None = RETRIES, retries: int = RETRIES) -> TryIdentity:
    return TryIdentity("dag", "task", "run", -1, try_number, max_tries, retries)


def cleared_at(try_number: int) -> int:
    """``max_tries`` after a user clears the task at ``try_number`` (what Airflow's clear sets)."""
    return try_number + RETRIES


def job(job_id: str, status: str, started_by: int | None, *, key: str | None = None) -> Job:
    marker = key or (identity(started_by).key() if started_by else None)
    title = title_with_key("Airflow dag.task run", marker) if marker else "made by hand"
    return Job.from_api({"id": job_id, "status": status, "title": title, "projectId": "p1"})


class FakeDomino:
    """Jobs by id, newest first in listings; counts what ownership asked."""

    def __init__(self, *jobs: Job) -> None:
        self.jobs = list(jobs)
        self.gets: list[str] = []
        self.searches: list[list[str]] = []

    def get_job(self, job_id: str) -> Job:
        self.gets.append(job_id)
        for found in self.jobs:
            if found.id == job_id:
                return found
        raise DominoNotFoundError("GET", f"/api/jobs/beta/jobs/{job_id}", 404, "not found")

    def find_job_by_keys(self, keys: Collection[str], project_id: str | None = None) -> Job | None:
        from airflow_provider_domino.jobs.idempotency import key_in_title

        self.searches.append(list(keys))
        self.searched_in = project_id
        for found in reversed(self.jobs):  # newest first, like the list endpoint
            if key_in_title(found.title) in set(keys):
                return found
        return None


def claim_for(who: TryIdentity, domino: FakeDomino, stored: str | None = None, **kwargs: Any) -> Any:
    return claim(who, domino, stored_job_id=stored, project_id="p1", **kwargs)


# --- the epoch signal -------------------------------------------------------------------------------


def test_first_try_of_an_epoch_follows_airflows_max_tries():
    assert identity(1).starts_epoch  # a new task instance: max_tries == retries
    assert not identity(2).starts_epoch and not identity(3).starts_epoch  # retries leave max_tries alone
    assert identity(4, max_tries=cleared_at(3)).starts_epoch  # cleared after try 3
    assert not identity(5, max_tries=cleared_at(3)).starts_epoch
    assert identity(5, max_tries=cleared_at(3)).epoch_first_try == 4


def test_unknown_max_tries_counts_every_later_try_as_a_retry():
    who = TryIdentity.of(type("TI", (), {"dag_id": "d", "task_id": "t", "run_id": "r", "try_number": 3})(), 1)
    assert who.max_tries is None and who.epoch_first_try == 1 and not who.starts_epoch


def test_keys_are_per_try():
    assert len({identity(n).key() for n in range(1, 6)}) == 5
    assert identity(3).key(2) == identity(2).key()


# --- the table, row by row ----------------------------------------------------------------------------


def test_crash_retry_with_the_previous_job_running_reattaches():
    running = job("j1", "Running", started_by=1)
    verdict = claim_for(identity(2), FakeDomino(running), stored="j1")
    assert (verdict.action, verdict.job) == (Action.REATTACH, running)


def test_crash_retry_finds_a_job_the_previous_try_never_recorded():
    """The worker died between the start and the task_state_store write: the key finds the job."""
    recorded = job("j1", "Failed", started_by=1)
    unrecorded = job("j2", "Running", started_by=2)
    domino = FakeDomino(recorded, unrecorded)
    verdict = claim_for(identity(3), domino, stored="j1")
    assert (verdict.action, verdict.job) == (Action.REATTACH, unrecorded)


def test_crash_retry_without_a_state_store_uses_the_keys():
    running = job("j1", "Queued", started_by=1)
    verdict = claim_for(identity(2), FakeDomino(running), stored=None)
    assert verdict.action is Action.REATTACH and verdict.job == running


@pytest.mark.parametrize("status", ["Failed", "Stopped", "Error"])
def test_retry_after_the_job_ended_badly_starts_a_new_job(status):
    verdict = claim_for(identity(2), FakeDomino(job("j1", status, started_by=1)), stored="j1")
    assert verdict.action is Action.START and verdict.job is None


@pytest.mark.parametrize("status", ["StopRequested", "Stopping", "Stopped"])
def test_never_reattach_to_a_job_being_stopped(status):
    """A user cleared a running try: its job is being stopped; even a retry-looking try starts anew."""
    verdict = claim_for(identity(2), FakeDomino(job("j1", status, started_by=1)), stored="j1")
    assert verdict.action is Action.START


def test_user_clear_of_a_running_try_starts_a_new_job_without_asking_domino():
    """Issue 10 item 2: try 2 must not reattach to try 1's job, which try 1's on_kill is stopping."""
    domino = FakeDomino(job("j1", "Running", started_by=1))
    verdict = claim_for(identity(2, max_tries=cleared_at(1)), domino, stored="j1")
    assert verdict.action is Action.START
    assert domino.gets == [] and domino.searches == []  # no race with the old trigger's on_kill


def test_clear_of_a_succeeded_task_starts_a_new_job():
    domino = FakeDomino(job("j1", "Succeeded", started_by=1))
    assert claim_for(identity(2, max_tries=cleared_at(1)), domino, stored="j1").action is Action.START


def test_reuse_succeeded_job_is_an_opt_in():
    done = job("j1", "Succeeded", started_by=1)
    verdict = claim_for(
        identity(2, max_tries=cleared_at(1)), FakeDomino(done), stored="j1", reuse_succeeded=True
    )
    assert (verdict.action, verdict.job) == (Action.REATTACH, done)


def test_crash_retry_after_the_job_succeeded_uses_it():
    """Same epoch: the work is done; running it again would duplicate it."""
    done = job("j1", "Succeeded", started_by=1)
    assert claim_for(identity(2), FakeDomino(done), stored="j1").job == done


def test_a_job_of_an_earlier_epoch_is_never_adopted():
    """Cleared at try 2 (so try 3 began a new epoch); try 4 is a retry but try 2's job is not its."""
    old = job("j2", "Running", started_by=2)
    verdict = claim_for(identity(4, max_tries=cleared_at(2)), FakeDomino(old), stored="j2")
    assert verdict.action is Action.START


def test_a_stored_id_that_answers_404_means_no_previous_job():
    domino = FakeDomino()
    verdict = claim_for(identity(2), domino, stored="purged")
    assert verdict.action is Action.START and domino.gets == ["purged"]


def test_a_job_without_this_tasks_key_is_not_adopted():
    stranger = job("j9", "Running", started_by=None)
    assert claim_for(identity(2), FakeDomino(stranger), stored="j9").action is Action.START


def test_decide_is_pure_and_explains_itself():
    verdict = decide(identity(2), job("j1", "Running", started_by=1))
    assert verdict.action is Action.REATTACH and "j1" in verdict.reason
    assert decide(identity(2), None).action is Action.START


# --- the ambiguous start --------------------------------------------------------------------------------


def ambiguous() -> DominoAmbiguousRequestError:
    return DominoAmbiguousRequestError("POST", "/api/jobs/v1/jobs", "no answer within 30 s")


def test_ambiguous_start_adopts_only_this_trys_job():
    """Try 2's start is lost; try 1's Failed job carries a different key, so it is never adopted."""
    who = identity(2)
    domino = FakeDomino(job("j1", "Failed", started_by=1))
    sent: list[int] = []

    def submit() -> Job:
        sent.append(1)
        if len(sent) == 1:
            raise ambiguous()
        return job("j2", "Queued", started_by=2)

    started = submit_exactly_once(
        submit, lambda: domino.find_job_by_keys([who.key()]), lookup_window=0.0, sleep=lambda s: None
    )
    assert started.id == "j2" and len(sent) == 2


def test_ambiguous_start_that_was_processed_is_adopted_not_resent():
    who = identity(1)
    processed = job("j1", "Queued", started_by=1)
    domino = FakeDomino()

    def submit() -> Job:
        domino.jobs.append(processed)  # Domino processed it; the answer was lost
        raise ambiguous()

    started = submit_exactly_once(
        submit, lambda: domino.find_job_by_keys([who.key()]), lookup_window=0.0, sleep=lambda s: None
    )
    assert started is processed and len(domino.jobs) == 1


def test_ambiguous_start_looks_for_its_window_then_resends_once():
    """A lagging list: look the key up with backoff for the whole window after each failure, one resend."""
    clock = [0.0]
    waits: list[float] = []
    sent: list[int] = []
    looked: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    def submit() -> Job:
        sent.append(1)
        raise ambiguous()

    def find_own() -> Job | None:
        looked.append(clock[0])
        return None

    with pytest.raises(DominoAmbiguousRequestError):
        submit_exactly_once(submit, find_own, lookup_window=10.0, sleep=sleep, clock=lambda: clock[0])
    assert len(sent) == 2
    assert waits[:4] == [0.5, 1.0, 2.0, 4.0] and sum(waits) == pytest.approx(20.0)
    assert looked[0] == 0.0 and max(looked) == pytest.approx(20.0)


def test_ambiguous_start_finds_its_job_once_the_list_catches_up():
    who = identity(1)
    processed = job("j1", "Queued", started_by=1)
    domino = FakeDomino()
    lookups: list[int] = []

    def submit() -> Job:
        raise ambiguous()

    def find_own() -> Job | None:
        lookups.append(1)
        if len(lookups) == 3:  # the list shows the job on the third look
            domino.jobs.append(processed)
        return domino.find_job_by_keys([who.key()])

    started = submit_exactly_once(submit, find_own, lookup_window=10.0, sleep=lambda s: None)
    assert started is processed and len(lookups) == 3


# --- the state store -------------------------------------------------------------------------------------


class Store(dict):
    def set(self, key: str, value: Any) -> None:
        self[key] = value


def test_state_store_round_trip_and_absence():
    store = Store()
    record_job_id({"task_state_store": store}, "j1")
    assert stored_job_id({"task_state_store": store}) == "j1" and store == {STATE_KEY: "j1"}
    assert stored_job_id({}) is None
    record_job_id({}, "j1")  # Airflow without task_state_store: nothing to do, no error


# --- a resumed try (its deferral failed): which job it owns ---------------------------------------


class ResumedTi:
    """A resumed task instance: its XComs are those its earlier part pushed."""

    task_id, map_index = "task", -1

    def __init__(self, xcoms: dict[str, Any] | None = None) -> None:
        self.xcoms = xcoms or {}

    def xcom_pull(self, task_ids: str, key: str, map_indexes: int) -> Any:
        assert (task_ids, map_indexes) == ("task", -1)  # its own XCom, never another task's
        return self.xcoms.get(key)


def test_a_resumed_try_owns_the_job_in_its_state_store_first():
    domino = FakeDomino(job("j-key", "Running", 2))
    context = {"task_state_store": Store({STATE_KEY: "j-store"}), "ti": ResumedTi({"job_id": "j-xcom"})}
    assert owned_job_id(context, identity(2), domino, project_id="p1") == "j-store"
    assert domino.searches == []


def test_a_resumed_try_without_a_state_store_reads_its_job_id_xcom():
    domino = FakeDomino(job("j-key", "Running", 2))
    context = {"ti": ResumedTi({"job_id": "j-xcom"})}
    assert owned_job_id(context, identity(2), domino, project_id="p1") == "j-xcom"
    assert domino.searches == []


def test_a_resumed_try_with_nothing_recorded_finds_its_own_key_in_the_resolved_project():
    """The project the task resolved (e.g. from ``project="owner/name"``), not the raw parameter."""
    domino = FakeDomino(job("j-try-1", "Running", 1), job("j-try-2", "Running", 2))
    context = {"ti": ResumedTi()}
    assert owned_job_id(context, identity(2), domino, project_id="resolved-id") == "j-try-2"
    assert domino.searches == [[identity(2).key()]] and domino.searched_in == "resolved-id"


def test_a_resumed_try_never_claims_an_earlier_trys_job():
    domino = FakeDomino(job("j-try-1", "Running", 1))
    assert owned_job_id({"ti": ResumedTi()}, identity(2), domino, project_id="p1") is None


def test_a_failing_search_means_no_job_found():
    class Unreachable(FakeDomino):
        def find_job_by_keys(self, keys: Collection[str], project_id: str | None = None) -> Job | None:
            from airflow_provider_domino.api.errors import DominoServerError

            raise DominoServerError("GET", "/api/jobs/beta/jobs", 503, "busy")

    assert owned_job_id({"ti": ResumedTi()}, identity(2), Unreachable(), project_id="p1") is None
