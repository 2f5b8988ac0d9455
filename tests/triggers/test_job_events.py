"""Unit tier for ``DominoJobEventTrigger``: a fake Domino behind a fake hook, no HTTP, no real sleeps.

Each scenario is a list of rounds. Between two rounds (where the trigger would sleep) the next step
changes the fake Domino: a job ends, a job is listed late, the list fails. A triggerer restart is a new
trigger built from the same kwargs, with the same asset state store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from airflow_provider_domino.api import errors
from airflow_provider_domino.api.models import Job, JobPage, Project
from airflow_provider_domino.triggers import job_events
from airflow_provider_domino.triggers.domino import DominoJobEventTrigger

PROJECT_ID = "p-churn"
UI = "https://domino.example.com"


def job(number: int, status: str = "Running", *, tags: tuple[str, ...] = (), title: str = "train") -> dict:
    done = status in ("Succeeded", "Failed", "Stopped", "Error")
    return {
        "id": f"job-{number}",
        "number": number,
        "title": title,
        "status": {"executionStatus": status, "isCompleted": done},
        "tags": [{"id": f"t-{name}", "name": name} for name in tags],
    }


class FakeDomino:
    """A project's jobs, as the list and the job details show them, and failures to inject."""

    def __init__(self, *jobs: dict) -> None:
        self.jobs = {j["id"]: j for j in jobs}
        #: Jobs the list leaves out (it lags behind), though their details exist.
        self.unlisted: set[str] = set()
        #: Jobs the list still shows with this status (it lags behind the details).
        self.listed_status: dict[str, str] = {}
        self.list_errors: list[Exception] = []
        self.project_error: Exception | None = None
        self.list_calls: list[int] = []
        self.details_errors: list[Exception] = []
        self.details_calls: list[str] = []

    def set(self, number: int, status: str, **kwargs: Any) -> None:
        previous = self.jobs.get(f"job-{number}", {})
        tags = kwargs.pop("tags", tuple(t["name"] for t in previous.get("tags", ())))
        title = kwargs.pop("title", previous.get("title", "train"))
        self.jobs[f"job-{number}"] = job(number, status, tags=tags, title=title) | kwargs

    def listed(self) -> list[dict]:
        """The list's items: like the published ``JobV1``, without tags (only job details have them)."""
        out = []
        for item in sorted(self.jobs.values(), key=lambda j: -j["number"]):
            if item["id"] in self.unlisted:
                continue
            if item["id"] in self.listed_status:
                status = self.listed_status[item["id"]]
                item = job(
                    item["number"], status, tags=tuple(t["name"] for t in item["tags"]), title=item["title"]
                )
            out.append(item)
        return out


class FakeHook:
    def __init__(self, domino: FakeDomino) -> None:
        self.domino = domino

    async def aresolve_settings(self) -> Any:
        return type("Settings", (), {"ui_url": UI + "/"})()

    async def aresolve_project(self, project: str) -> Project:
        if self.domino.project_error is not None:
            raise self.domino.project_error
        owner, name = project.split("/")
        return Project(PROJECT_ID, name, owner)

    async def aget_project(self, project_id: str) -> Project:
        if self.domino.project_error is not None:
            raise self.domino.project_error
        return Project(project_id, "churn", "acme")

    async def alist_jobs(
        self, project_id: str, *, status_filter: str | None = None, offset: int = 0, limit: int = 50
    ) -> JobPage:
        assert project_id == PROJECT_ID and status_filter == "all"
        if self.domino.list_errors:
            raise self.domino.list_errors.pop(0)
        self.domino.list_calls.append(offset)
        listed = self.domino.listed()
        return JobPage(
            tuple(Job.from_api(j) for j in listed[offset : offset + limit]), offset, limit, len(listed)
        )

    async def aget_job(self, job_id: str) -> Job:
        if self.domino.details_errors:
            raise self.domino.details_errors.pop(0)
        self.domino.details_calls.append(job_id)
        return Job.from_api(self.domino.jobs[job_id])

    async def aclose(self) -> None:
        pass


class FakeStore:
    """One watched asset's ``asset_state_store`` accessor."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.fail_writes = 0
        self.fail_reads = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        if self.fail_reads:
            self.fail_reads -= 1
            raise ConnectionError("api-server unreachable")
        return self.values.get(key, default)

    async def aset(self, key: str, value: Any) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise ConnectionError("api-server unreachable")
        self.values[key] = value


class _Stop(Exception):
    pass


def drive(
    monkeypatch: pytest.MonkeyPatch,
    domino: FakeDomino,
    steps: list[Callable[[], None] | None],
    *,
    store: FakeStore | None = None,
    sleeps: list[float] | None = None,
    **kwargs: Any,
) -> tuple[list[dict], list[float]]:
    """Run a trigger for ``len(steps) + 1`` rounds; ``steps[i]`` changes Domino after round ``i``."""
    sleeps = [] if sleeps is None else sleeps
    remaining = list(steps)

    async def fake_sleep(delay: float) -> None:
        sleeps.append(delay)
        if not remaining:
            raise _Stop
        step = remaining.pop(0)
        if step is not None:
            step()

    monkeypatch.setattr(job_events, "_sleep", fake_sleep)
    monkeypatch.setattr(job_events, "_make_hook", lambda conn_id: FakeHook(domino))
    kwargs.setdefault("project", "acme/churn")
    trigger = DominoJobEventTrigger(**kwargs)
    trigger.asset_state_store = store  # type: ignore[assignment]
    events: list[dict] = []

    async def collect() -> None:
        try:
            async for event in trigger.run():
                events.append(event.payload)
        except _Stop:
            pass

    asyncio.run(collect())
    return events, sleeps


def ids(events: list[dict]) -> list[str]:
    return [e["job_id"] for e in events]


def test_fires_once_per_job_that_ends_and_never_replays_history(monkeypatch):
    domino = FakeDomino(job(1, "Succeeded"), job(2, "Failed"), job(3))
    events, _ = drive(
        monkeypatch, domino, [lambda: domino.set(3, "Succeeded"), None, lambda: domino.set(4, "Succeeded")]
    )
    assert ids(events) == ["job-3", "job-4"]


def test_the_event_names_the_job_its_output_commit_stats_and_link(monkeypatch):
    domino = FakeDomino(job(1))

    def ends() -> None:
        domino.set(
            1,
            "Succeeded",
            commitDetails={"outputCommitId": "c0ffee"},
            dominoStats=[{"name": "auc", "value": "0.91"}],
        )

    events, _ = drive(monkeypatch, domino, [ends])
    assert events == [
        {
            "job_id": "job-1",
            "job_number": 1,
            "status": "Succeeded",
            "project_id": PROJECT_ID,
            "project": "acme/churn",
            "title": "train",
            "tags": [],
            "output_commit_id": "c0ffee",
            "ended_at": None,
            "domino_stats": {"auc": 0.91},  # a number, as in XCom domino_stats
            "job_url": f"{UI}/jobs/acme/churn/job-1",
        }
    ]


def test_tag_title_and_status_filters(monkeypatch):
    def scenario(**kwargs: Any) -> list[str]:
        domino = FakeDomino(job(1))

        def ends() -> None:
            domino.set(2, "Succeeded", tags=("release",), title="train churn")
            domino.set(3, "Succeeded", title="train churn")
            domino.set(4, "Failed", tags=("release",), title="train churn")
            domino.set(5, "Succeeded", tags=("release",), title="score churn")
            domino.set(6, "Succeeded", tags=("release-candidate",), title="train churn")

        return ids(drive(monkeypatch, domino, [ends], **kwargs)[0])

    assert scenario(tag="release", title_prefix="train") == ["job-2"]
    assert scenario(tag="release", title_prefix="train", statuses=["failed", "Succeeded"]) == [
        "job-2",
        "job-4",
    ]
    assert scenario() == ["job-2", "job-3", "job-5", "job-6"]


def test_a_failed_details_read_fires_nothing_that_round_and_the_job_next_round(monkeypatch):
    domino = FakeDomino(job(1), job(2))

    def ends() -> None:
        domino.set(1, "Succeeded", tags=("release",))
        domino.set(2, "Failed", tags=("release",))  # not a status this watcher fires for: no details read
        domino.details_errors.append(errors.DominoServerError("GET", "/api/jobs/beta/jobs/job-1", 503))

    events, _ = drive(monkeypatch, domino, [ends, None, None], tag="release")
    assert ids(events) == ["job-1"]
    assert domino.details_calls == ["job-1"]


def test_restart_with_stored_cursor_neither_repeats_nor_loses(monkeypatch):
    store = FakeStore()
    domino = FakeDomino(job(1, "Succeeded"), job(2), job(3))
    first, _ = drive(monkeypatch, domino, [lambda: domino.set(2, "Succeeded")], store=store)
    assert ids(first) == ["job-2"]
    # No triggerer runs while job 3 ends and job 4 starts and ends.
    domino.set(3, "Succeeded")
    domino.set(4, "Succeeded")
    second, _ = drive(monkeypatch, domino, [None], store=store)
    assert ids(second) == ["job-3", "job-4"]
    third, _ = drive(monkeypatch, domino, [None], store=store)
    assert third == []


def test_a_restart_that_cannot_read_its_cursor_waits_instead_of_starting_over(monkeypatch):
    store = FakeStore()
    domino = FakeDomino(job(1), job(2))
    drive(monkeypatch, domino, [None], store=store)
    domino.set(1, "Succeeded")  # ends while no triggerer runs
    store.fail_reads = 2
    events, sleeps = drive(monkeypatch, domino, [None, None, None], store=store, poll_interval=10)
    assert ids(events) == ["job-1"]
    assert sleeps[0] == pytest.approx(10, rel=0.11) and sleeps[1] == pytest.approx(20, rel=0.11)


def test_without_a_state_store_a_restart_starts_over_without_repeating(monkeypatch):
    """Airflow 3.1/3.2: jobs that ended while no triggerer ran are not fired; none fires twice."""
    domino = FakeDomino(job(1), job(2))
    first, _ = drive(monkeypatch, domino, [lambda: domino.set(1, "Succeeded")])
    assert ids(first) == ["job-1"]
    domino.set(2, "Succeeded")
    second, _ = drive(monkeypatch, domino, [lambda: domino.set(3, "Succeeded")])
    assert ids(second) == ["job-3"]


def test_a_failed_cursor_write_fires_nothing_until_a_write_succeeds(monkeypatch):
    store = FakeStore()
    domino = FakeDomino(job(1))

    def ends() -> None:
        domino.set(1, "Succeeded")
        store.fail_writes = 1

    events, _ = drive(monkeypatch, domino, [ends, None, None], store=store)
    assert ids(events) == ["job-1"]


def test_a_list_that_lags_behind_is_read_until_the_job_shows_ended(monkeypatch):
    domino = FakeDomino(job(10), job(11))

    def ends_but_listed_running() -> None:
        domino.set(10, "Succeeded")
        domino.listed_status["job-10"] = "Running"
        # Job 12 started and ended; the list shows 13 already but not 12 yet.
        domino.set(12, "Succeeded")
        domino.unlisted.add("job-12")
        domino.set(13, "Succeeded")
        domino.set(11, "Succeeded")

    def list_catches_up() -> None:
        domino.listed_status.clear()
        domino.unlisted.clear()

    events, _ = drive(monkeypatch, domino, [ends_but_listed_running, list_catches_up, None])
    assert sorted(ids(events)) == ["job-10", "job-11", "job-12", "job-13"]
    assert len(events) == 4


def test_pages_down_to_a_long_running_job(monkeypatch):
    monkeypatch.setattr(job_events, "LIST_PAGE_SIZE", 3)
    monkeypatch.setattr(job_events, "LAG_MARGIN", 2)
    domino = FakeDomino(job(1), *(job(n, "Succeeded") for n in range(2, 12)))
    events, _ = drive(monkeypatch, domino, [lambda: domino.set(1, "Succeeded"), None])
    assert ids(events) == ["job-1"]
    # While job 1 runs every round reads down to it; once it ended, a round reads one page.
    assert domino.list_calls == [0, 3, 6, 9] * 2 + [0]


def test_a_baseline_that_could_not_read_the_whole_list_replays_nothing_it_did_not_read(monkeypatch):
    monkeypatch.setattr(job_events, "LIST_PAGE_SIZE", 2)
    monkeypatch.setattr(job_events, "MAX_LIST_PAGES", 2)
    # Jobs 1-6 ended long ago; 7 runs. The baseline reads 7..4 only; the next rounds read deeper.
    domino = FakeDomino(*(job(n, "Succeeded") for n in range(1, 7)), job(7))
    events, _ = drive(monkeypatch, domino, [None, lambda: domino.set(7, "Succeeded"), None])
    assert ids(events) == ["job-7"]


def test_jobs_beyond_the_page_bound_are_given_up_so_rounds_stay_short(monkeypatch, capfd):
    monkeypatch.setattr(job_events, "LIST_PAGE_SIZE", 2)
    monkeypatch.setattr(job_events, "MAX_LIST_PAGES", 2)
    monkeypatch.setattr(job_events, "LAG_MARGIN", 1)
    domino = FakeDomino(job(1), job(2))

    def many_new_jobs() -> None:
        for n in range(3, 10):
            domino.set(n, "Succeeded")

    events, _ = drive(monkeypatch, domino, [many_new_jobs, None, lambda: domino.set(10, "Succeeded")])
    # Round 2 reads 9..6 (two pages) and gives up job 1's neighbourhood; 10 still fires later.
    assert ids(events) == ["job-6", "job-7", "job-8", "job-9", "job-10"]
    assert "no longer watched" in capfd.readouterr().out
    assert domino.list_calls[-1] == 0 and len(domino.list_calls) <= 2 + 2 + 2 + 2


@pytest.mark.parametrize(
    ("error", "where"),
    [
        (errors.DominoAuthError("GET", "/api/jobs/beta/jobs", 401, "bad key"), "list"),
        (errors.DominoAuthError("GET", "/api/jobs/beta/jobs", 403, "no access"), "list"),
        (
            errors.DominoNotFoundError("GET", "/v4/gateway/projects/findProjectByOwnerAndName", 404, "nope"),
            "project",
        ),
    ],
)
def test_refused_credentials_or_unknown_project_end_the_watcher_with_a_clear_log(
    monkeypatch, capfd, error, where
):
    domino = FakeDomino(job(1))
    if where == "list":
        domino.list_errors.append(error)
    else:
        domino.project_error = error
    sleeps: list[float] = []
    with pytest.raises(type(error)):
        drive(monkeypatch, domino, [None], sleeps=sleeps)
    assert f"Domino job event watcher for acme/churn stops: {error}" in capfd.readouterr().out
    # Airflow restarts a failed watcher at once: it holds first, so a wrong key is not a request a second.
    assert sleeps == [job_events.FAILED_WATCHER_HOLD]


def test_transient_errors_back_off_doubling_then_poll_again(monkeypatch):
    domino = FakeDomino(job(1))
    domino.list_errors = [
        errors.DominoConnectionError("GET", "/api/jobs/beta/jobs", "refused"),
        errors.DominoServerError("GET", "/api/jobs/beta/jobs", 503),
        errors.DominoUnexpectedResponseError("GET", "/api/jobs/beta/jobs", 200, "<html>"),
    ]
    events, sleeps = drive(
        monkeypatch, domino, [None, None, None, lambda: domino.set(1, "Succeeded")], poll_interval=10
    )
    assert ids(events) == ["job-1"]
    assert [round(s / 10, 1) for s in sleeps[:3]] == [
        pytest.approx(1, abs=0.11),
        pytest.approx(2, abs=0.21),
        pytest.approx(4, abs=0.41),
    ]
    assert sleeps[3:] == [10, 10]


def test_rate_limit_waits_at_least_retry_after_and_backoff_is_capped(monkeypatch):
    domino = FakeDomino(job(1))
    domino.list_errors = [errors.DominoRateLimitError("GET", "/api/jobs/beta/jobs", 429, retry_after=300.0)]
    _, sleeps = drive(monkeypatch, domino, [None], poll_interval=5)
    assert sleeps[0] >= 300
    assert job_events.backoff_delay(60, 30) <= job_events.MAX_BACKOFF * 1.1


def test_watchers_of_one_project_share_one_list_request_per_round(monkeypatch):
    """Airflow 3.3's own shared-stream manager runs one poll for two watchers with different filters."""
    shared_stream = pytest.importorskip("airflow.triggers.shared_stream")
    domino = FakeDomino(job(1), job(2))
    monkeypatch.setattr(job_events, "_make_hook", lambda conn_id: FakeHook(domino))
    tagged = DominoJobEventTrigger(project="acme/churn", tag="release", poll_interval=30)
    failed = DominoJobEventTrigger(project="acme/churn", statuses=["Failed"], poll_interval=30)
    assert tagged.shared_stream_key() == failed.shared_stream_key()
    assert DominoJobEventTrigger(project="acme/other").shared_stream_key() != tagged.shared_stream_key()
    rounds = 0

    async def fake_sleep(delay: float) -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 1:
            domino.set(1, "Succeeded", tags=("release",))
            domino.set(2, "Failed")
        await asyncio.sleep(0.01)

    monkeypatch.setattr(job_events, "_sleep", fake_sleep)

    async def scenario() -> dict[str, list[str]]:
        manager = shared_stream.SharedStreamManager()
        key = tagged.shared_stream_key()
        fired: dict[str, list[str]] = {"tagged": [], "failed": []}

        async def consume(trigger_id: int, name: str, trigger: DominoJobEventTrigger) -> None:
            stream = manager.subscribe(trigger_id=trigger_id, trigger=trigger, key=key)
            async for event in trigger.filter_shared_stream(stream):
                fired[name].append(event.payload["job_id"])

        tasks = [
            asyncio.create_task(consume(1, "tagged", tagged)),
            asyncio.create_task(consume(2, "failed", failed)),
        ]
        async with asyncio.timeout(10):
            while rounds < 5:
                await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await manager.unsubscribe(1, key)
        await manager.unsubscribe(2, key)
        # One list request per round for both watchers (a round is one page here).
        assert len(domino.list_calls) in (rounds, rounds + 1)
        return fired

    assert asyncio.run(scenario()) == {"tagged": ["job-1"], "failed": ["job-2"]}
    assert job_events._scan_floors == {}


def test_cursor_keys_differ_per_filter_so_watchers_of_one_asset_do_not_collide():
    a = DominoJobEventTrigger(project="acme/churn", tag="release")
    b = DominoJobEventTrigger(project="acme/churn", tag="nightly")
    assert a.state_key != b.state_key
    assert (
        a.state_key == DominoJobEventTrigger(project="acme/churn", tag="release", poll_interval=5).state_key
    )


def test_serialize_round_trip_is_primitives_only():
    trigger = DominoJobEventTrigger(
        project_id="p1", statuses=["failed", "Error"], tag="release", title_prefix="t"
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_domino.triggers.job_events.DominoJobEventTrigger"
    assert DominoJobEventTrigger(**kwargs).serialize() == (path, kwargs)
    assert kwargs["statuses"] == ["Error", "Failed"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one of 'project' or 'project_id'"),
        ({"project": "acme/churn", "project_id": "p1"}, "exactly one of 'project' or 'project_id'"),
        ({"project": "churn"}, "must look like 'owner/name'"),
        ({"project": "acme/churn", "statuses": ["Running"]}, "'Running' is not a terminal Domino job status"),
        ({"project": "acme/churn", "statuses": "Succeeded"}, "must be a list"),
        ({"project": "acme/churn", "statuses": []}, "is empty"),
        ({"project": "acme/churn", "poll_interval": 0}, "at least 1 seconds"),
    ],
)
def test_bad_parameters_are_one_clear_error(kwargs, message):
    with pytest.raises(errors.DominoConfigError, match=message):
        DominoJobEventTrigger(**kwargs)


def test_trigger_queue_is_ignored_with_one_warning(monkeypatch):
    monkeypatch.setattr(job_events, "_queue_warned", [])
    with pytest.warns(UserWarning, match="trigger_queue='domino'.* is ignored") as caught:
        DominoJobEventTrigger(project="acme/churn", trigger_queue="domino")
        DominoJobEventTrigger(project="acme/other", trigger_queue="domino")
    assert len(caught) == 1
