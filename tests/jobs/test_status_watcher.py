"""Coalesced status polling, round by round: which way each round reads, what it costs, and that no
transition is ever missed. (The round loop and its supervision: ``test_status_watcher_supervision``.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoAuthError, DominoConnectionError, DominoNotFoundError
from airflow_provider_domino.api.models import Job
from airflow_provider_domino.jobs.status_watcher import JobWatch, ProjectStatusWatcher, watch_job
from tests.jobs.fake_project import PROJECT_ID, FakeProject, job, next_update

Rounds = Callable[[], Coroutine[Any, Any, dict[str, Job | None]]]


def run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(main())


def watching(fake: FakeProject, job_ids: list[str]) -> tuple[ProjectStatusWatcher, Rounds]:
    """A watcher with ``job_ids`` registered and no round task: the test runs each round itself."""
    watcher = ProjectStatusWatcher("conn", PROJECT_ID, lambda: fake)
    watches = {job_id: JobWatch(job_id, lambda: 60.0) for job_id in job_ids}
    for job_id, watch in watches.items():
        watcher._watches[job_id] = [watch]

    async def one_round() -> dict[str, Job | None]:
        await watcher.run_round(fake)
        return {job_id: watch.latest for job_id, watch in watches.items()}

    return watcher, one_round


def test_a_lone_job_in_a_busy_project_costs_one_request_per_round():
    # 2,500 active jobs: five list pages of 500. Per-job polling of the one watched job: 1 request.
    async def main() -> list[list[str]]:
        fake = FakeProject(page_size=500)
        fake.add("mine")
        fake.add_many(2_499)
        _, one_round = watching(fake, ["mine"])
        per_round = []
        for _ in range(4):
            seen = await one_round()
            assert seen["mine"] is not None and seen["mine"].raw_status == "Running"
            per_round.append(fake.take_calls())
        return per_round

    assert run(main) == [["get mine"]] * 4


def test_two_jobs_in_a_busy_project_cost_one_probe_page_once_then_their_own_routes():
    async def main() -> list[list[str]]:
        fake = FakeProject(page_size=500)
        fake.add("a")
        fake.add("b")
        fake.add_many(1_998)  # 2,000 active: four pages; a and b are the oldest, on the last page
        _, one_round = watching(fake, ["a", "b"])
        per_round = []
        for _ in range(3):
            await one_round()
            per_round.append(sorted(fake.take_calls()))
        return per_round

    first, *later = run(main)
    assert first == ["get a", "get b", "list 0"]  # the first page says the list is 4 pages long
    assert later == [["get a", "get b"]] * 2


def test_five_jobs_in_a_four_page_project_are_listed_for_fewer_requests_than_their_own_routes():
    async def main() -> list[list[str]]:
        fake = FakeProject(page_size=500)
        watched = fake.add_many(5, prefix="mine")
        fake.add_many(1_995)  # 2,000 active: four pages; the watched jobs are on the last
        _, one_round = watching(fake, watched)
        per_round = []
        for _ in range(3):
            seen = await one_round()
            assert all(job is not None for job in seen.values())
            per_round.append(fake.take_calls())
        return per_round

    assert run(main) == [["list 0", "list 500", "list 1000", "list 1500"]] * 3


@pytest.mark.parametrize(("watched", "pages"), [(500, 1), (1_000, 2)])
def test_many_watched_jobs_cost_one_request_per_list_page_and_none_on_their_own_routes(watched, pages):
    async def main() -> list[list[str]]:
        fake = FakeProject(page_size=500)
        job_ids = fake.add_many(watched, prefix="mine")
        _, one_round = watching(fake, job_ids)
        per_round = []
        for _ in range(3):
            seen = await one_round()
            assert all(job is not None and job.raw_status == "Running" for job in seen.values())
            per_round.append(fake.take_calls())
        return per_round

    assert run(main) == [[f"list {500 * page}" for page in range(pages)]] * 3


def test_paging_stops_when_the_pages_left_outnumber_the_jobs_still_unseen():
    async def main() -> list[str]:
        fake = FakeProject(page_size=2)
        fake.add("old0")
        fake.add("old1")  # on the last of five pages
        fake.add_many(6)
        fake.add("new0")
        fake.add("new1")  # on the first page
        _, one_round = watching(fake, ["new0", "new1", "old0", "old1"])
        seen = await one_round()
        assert all(job is not None for job in seen.values())
        return sorted(fake.take_calls())

    # After page one, four pages are left and two watched jobs unseen: those two are read on their routes.
    assert run(main) == ["get old0", "get old1", "list 0"]


def test_a_job_that_ends_between_two_list_pages_is_seen_ending_with_its_output_commit():
    async def main() -> None:
        fake = FakeProject(page_size=2)
        for i in range(4):
            fake.add(f"j{i}")  # list order: j3 j2 | j1 j0
        # After page one is served, j3 (on page one) ends: j1 slides onto page one's range and the
        # second page ("offset 2") starts at j0. Neither page shows j1 ... and j3 was listed running.
        fake.after_page = lambda offset: fake.finish("j3", "out-j3") if offset == 0 else None
        _, one_round = watching(fake, ["j0", "j1", "j2", "j3"])
        seen = await one_round()
        assert fake.take_calls() == ["list 0", "list 2", "get j1"]  # j1 missing from both: on its own
        assert seen["j1"] is not None and seen["j1"].raw_status == "Running"
        assert seen["j3"] is not None and seen["j3"].raw_status == "Running"  # as page one said
        fake.after_page = None
        # The next round no longer lists j3: it is read on its route and seen ending, with its commit.
        seen = await one_round()
        assert fake.take_calls() == ["list 0", "list 2", "get j3"]
        assert seen["j3"] is not None and seen["j3"].is_finished
        assert seen["j3"].output_commit_id == "out-j3"

    run(main)


def test_a_job_seen_ended_stays_ended_when_a_lagging_list_still_shows_it_running():
    async def main() -> None:
        fake = FakeProject()
        for job_id in ("j0", "j1", "j2"):
            fake.add(job_id)
        _, one_round = watching(fake, ["j0", "j1", "j2"])
        await one_round()
        running_j0 = fake.jobs["j0"]
        fake.finish("j0", "out-j0")
        seen = await one_round()
        assert seen["j0"] is not None and seen["j0"].output_commit_id == "out-j0"
        fake.ghosts.append(running_j0)  # the list lags: it shows j0 as it was
        fake.take_calls()
        seen = await one_round()
        assert seen["j0"] is not None and seen["j0"].is_finished and seen["j0"].output_commit_id == "out-j0"
        assert fake.take_calls() == ["list 0"]

    run(main)


def test_a_listed_job_that_reports_itself_finished_is_read_on_its_route_for_its_terminal_details():
    async def main() -> None:
        fake = FakeProject()
        for job_id in ("j0", "j1", "j2"):
            fake.add(job_id)
        _, one_round = watching(fake, ["j0", "j1", "j2"])
        await one_round()
        fake.take_calls()
        fake.unlisted.add("j0")  # the list shows j0 ... as finished, without its commits
        fake.finish("j0", "out-j0")
        real_list = fake.alist_jobs

        async def list_with_finished_j0(*args: Any, **kwargs: Any) -> Any:
            page = await real_list(*args, **kwargs)
            stale = Job.from_api(
                {"id": "j0", "status": {"executionStatus": "Succeeded", "isCompleted": True}}
            )
            return type(page)((stale, *page.jobs), page.offset, page.limit, page.total_count + 1)

        fake.alist_jobs = list_with_finished_j0  # type: ignore[method-assign]
        seen = await one_round()
        assert fake.take_calls() == ["list 0", "get j0"]
        assert seen["j0"] is not None and seen["j0"].output_commit_id == "out-j0"

    run(main)


def test_jobs_missing_from_a_lagging_list_are_read_on_their_routes_until_the_list_shows_them():
    async def main() -> list[list[str]]:
        fake = FakeProject()
        job_ids = fake.add_many(4, prefix="new")
        fake.unlisted.update(job_ids)  # just started: the list does not show them yet
        _, one_round = watching(fake, job_ids)
        per_round = []
        seen = await one_round()
        assert all(job is not None and job.raw_status == "Running" for job in seen.values())
        per_round.append(sorted(fake.take_calls()))
        fake.unlisted.clear()  # the list catches up
        for _ in range(3):
            await one_round()
            per_round.append(sorted(fake.take_calls()))
        return per_round

    gets = [f"get new{i}" for i in range(4)]
    # Round 1 learns they are missing; round 2 expects them missing (per-job costs no more); round 3
    # lists again, and the list now shows all four.
    assert run(main) == [[*gets, "list 0"], gets, ["list 0"], ["list 0"]]


def test_jobs_the_list_never_shows_are_expected_missing_for_twice_as_many_rounds_each_time():
    async def main() -> list[list[str]]:
        fake = FakeProject(page_size=2)
        fake.add("c")
        fake.add("d")
        fake.unlisted.update({"c", "d"})  # never listed (say, jobs of another project)
        fake.add("a")
        fake.add_many(2)  # the list: two others | a
        _, one_round = watching(fake, ["a", "c", "d"])
        per_round = []
        for _ in range(16):
            await one_round()
            per_round.append(fake.take_calls())
        return per_round

    per_round = run(main)
    list_rounds = [n for n, calls in enumerate(per_round, 1) if any(c.startswith("list") for c in calls)]
    # A list round costs 2 pages + c + d = 4, per-job 3. After each list round that missed them, c and
    # d are expected missing for 1, then 2, then 4 rounds, read on their routes meanwhile.
    assert list_rounds == [1, 3, 6, 11]
    assert all(len(calls) == (4 if n in list_rounds else 3) for n, calls in enumerate(per_round, 1))


def test_a_job_missing_from_the_list_is_seen_ending_with_its_output_commit():
    async def main() -> None:
        fake = FakeProject()
        for job_id in ("old", "new", "x"):
            fake.add(job_id)
        fake.unlisted.add("new")
        _, one_round = watching(fake, ["old", "new", "x"])
        seen = await one_round()
        assert seen["new"] is not None and seen["new"].raw_status == "Running"
        fake.finish("new", "out-new")
        seen = await one_round()
        assert seen["new"] is not None and seen["new"].is_finished
        assert seen["new"].output_commit_id == "out-new"

    run(main)


def test_a_failing_list_falls_back_to_each_jobs_own_route():
    async def main() -> list[str]:
        fake = FakeProject()
        fake.add("j0")
        fake.add("j1")
        fake.add("j2")
        fake.list_errors.append(DominoConnectionError("GET", "/api/jobs/beta/jobs", "connection refused"))
        _, one_round = watching(fake, ["j0", "j1", "j2"])
        seen = await one_round()
        assert all(job is not None for job in seen.values())
        return sorted(fake.take_calls())

    assert run(main) == ["get j0", "get j1", "get j2", "list 0"]


def test_a_list_that_keeps_failing_rests_for_twice_as_many_rounds_each_time():
    async def main() -> list[list[str]]:
        fake = FakeProject()
        for job_id in ("j0", "j1", "j2"):
            fake.add(job_id)
        forbidden = DominoAuthError("GET", "/api/jobs/beta/jobs", 403, "not allowed to list this project")
        fake.list_errors.extend([forbidden] * 3)
        _, one_round = watching(fake, ["j0", "j1", "j2"])
        per_round = []
        for _ in range(12):
            seen = await one_round()
            assert all(job is not None for job in seen.values())
            per_round.append(fake.take_calls())
        return per_round

    per_round = run(main)
    list_rounds = [n for n, calls in enumerate(per_round, 1) if "list 0" in calls]
    # Failing in rounds 1, 3 and 6, the list rests 1, 2, then 4 rounds; it answers from round 11 on.
    assert list_rounds == [1, 3, 6, 11, 12]
    assert per_round[10] == ["list 0"] and per_round[11] == ["list 0"]
    assert all(len(calls) == 4 for calls in per_round[:10] if "list 0" in calls)
    assert all(len(calls) == 3 for calls in per_round[:10] if "list 0" not in calls)


def test_an_ended_job_is_read_on_its_route_once_however_many_rounds_its_trigger_takes_to_leave():
    async def main() -> list[str]:
        fake = FakeProject()
        fake.add("j0")
        fake.add("j1")
        fake.add("j2")
        _, one_round = watching(fake, ["j0", "j1", "j2"])
        await one_round()
        fake.take_calls()
        fake.finish("j0", "out")
        for _ in range(3):  # the trigger is busy with its last log read and has not unregistered
            seen = await one_round()
            assert seen["j0"] is not None and seen["j0"].output_commit_id == "out"
        return fake.take_calls()

    assert run(main) == ["list 0", "get j0", "list 0", "list 0"]


def test_an_ended_job_wakes_its_trigger_at_once_and_errors_reach_only_their_job():
    async def main() -> None:
        fake = FakeProject()
        fake.add("j0")
        watcher = ProjectStatusWatcher("conn", PROJECT_ID, lambda: fake)
        watch0, watch_gone = JobWatch("j0", lambda: 60.0), JobWatch("gone", lambda: 60.0)
        watcher._watches.update({"j0": [watch0], "gone": [watch_gone]})
        await watcher.run_round(fake)
        assert (await asyncio.wait_for(next_update(watch0, timeout=60), 1)) is not None
        fake.finish("j0", "out")
        await watcher.run_round(fake)
        ended = await asyncio.wait_for(next_update(watch0, timeout=60), 1)  # woken, no 60-s wait
        assert ended is not None and ended.is_finished
        with pytest.raises(DominoNotFoundError):
            await asyncio.wait_for(next_update(watch_gone, timeout=60), 1)

    run(main)


def test_watchers_are_per_connection_and_project():
    async def main() -> None:
        fake = FakeProject()
        fake.add("j0")
        watcher_a, watch_a = watch_job("conn-a", PROJECT_ID, "j0", lambda: 60.0, lambda: fake)
        watcher_b, watch_b = watch_job("conn-b", PROJECT_ID, "j0", lambda: 60.0, lambda: fake)
        watcher_a2, watch_a2 = watch_job("conn-a", PROJECT_ID, "j0", lambda: 60.0, lambda: fake)
        assert watcher_a is watcher_a2 and watcher_a is not watcher_b  # credentials never mixed
        for watcher, watch in ((watcher_a, watch_a), (watcher_a2, watch_a2), (watcher_b, watch_b)):
            watcher.unregister(watch)

    run(main)


def test_an_unchanged_status_keeps_the_job_object_its_trigger_already_holds():
    # A running job read again as it was: the trigger keeps what it has (nothing new lives on per
    # round); a changed status is delivered as the new job.
    async def main() -> None:
        fake = FakeProject()
        fake.add("j0")
        _, one_round = watching(fake, ["j0"])
        first = (await one_round())["j0"]
        fake.jobs["j0"] = job("j0", "Running")  # an equal job, read afresh
        assert (await one_round())["j0"] is first
        fake.jobs["j0"] = job("j0", "Queued")
        changed = (await one_round())["j0"]
        assert changed is not first and changed is not None and changed.raw_status == "Queued"

    run(main)


def test_each_wait_ends_at_its_own_time_while_longer_waits_go_on():
    # The watcher's one timer ends each trigger's wait when its time is up, not sooner and not at the
    # next round (every trigger here wants a round a minute).
    async def main() -> None:
        fake = FakeProject()
        for job_id in ("a", "b", "c"):
            fake.add(job_id)
        watcher = ProjectStatusWatcher("conn", PROJECT_ID, lambda: fake)
        watches = {job_id: watcher.register(job_id, lambda: 60.0) for job_id in ("a", "b", "c")}
        for watch in watches.values():  # the first round's status wakes each at once
            assert (await asyncio.wait_for(next_update(watch, timeout=60), 1)) is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        waits = {
            job_id: asyncio.ensure_future(watches[job_id].wait(t))
            for job_id, t in (("a", 0.2), ("b", 0.1), ("c", 60.0))
        }
        await asyncio.wait_for(waits["b"], 1)
        b_ended = loop.time() - started
        await asyncio.wait_for(waits["a"], 1)
        a_ended = loop.time() - started
        assert 0.095 <= b_ended < 0.2 and 0.195 <= a_ended < 0.35
        assert not waits["c"].done()
        for watch in watches.values():
            watcher.unregister(watch)
        waits["c"].cancel()

    run(main)


def test_a_running_job_is_held_without_its_whole_object_and_an_ended_one_whole():
    async def main() -> None:
        fake = FakeProject()
        fake.add("j0")
        _, one_round = watching(fake, ["j0"])
        running = (await one_round())["j0"]
        assert running is not None and running.raw_status == "Running" and not running.raw
        fake.finish("j0", "out")
        ended = (await one_round())["j0"]
        assert ended is not None and ended.raw["commitDetails"]["outputCommitId"] == "out"

    run(main)
