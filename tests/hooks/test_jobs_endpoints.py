"""Every sync hook method against the emulator over real HTTP."""

from __future__ import annotations

import pytest

from airflow_provider_domino.api.errors import DominoBadRequestError, DominoConfigError, DominoNotFoundError
from airflow_provider_domino.api.status import JobStatus
from airflow_provider_domino.jobs.idempotency import key_in_title


def test_start_get_logs_and_details(hook, emulator, project_id):
    job = hook.start_job("python print_lines.py 3 0.01", "small", title="unit", idempotency_key="k-start-1")
    assert job.status is JobStatus.PENDING or job.status.is_active
    assert key_in_title(job.title) == "k-start-1"
    final = emulator.wait_for_status(job.id, ["Succeeded"], timeout=30)
    assert final["status"] == "Succeeded"
    details = hook.get_job(job.id)
    assert details.status is JobStatus.SUCCEEDED and details.is_finished and details.is_success
    assert details.project_id is None  # published job details do not name their project
    assert details.number and details.command == "python print_lines.py 3 0.01"
    assert details.output_commit_id and details.commit_id
    assert details.started_at and details.ended_at
    assert hook.get_job_logs(job.id).splitlines() == ["line 1 of 3", "line 2 of 3", "line 3 of 3"]


def test_flat_text_log_tail_uses_range_and_falls_back_to_slicing(flat_hook, flat_emulator):
    job = flat_hook.start_job("printf 'abc\\ndef\\n'", "small")
    flat_emulator.wait_for_status(job.id, ["Succeeded"], timeout=30)
    flat_emulator.clear_requests()
    assert flat_hook.get_job_log_tail(job.id, 4).data == b"def\n"
    assert flat_hook.get_job_log_tail(job.id, 8).data == b""  # 416: nothing new yet
    flat_emulator.set_faults({"ignore_range": True, "rules": []})
    try:
        chunk = flat_hook.get_job_log_tail(job.id, 4)
    finally:
        flat_emulator.clear_faults()
    assert (chunk.data, chunk.start, chunk.end) == (b"def\n", 4, 8)
    statuses = [e["status"] for e in flat_emulator.requests_log() if e["endpoint"] == "get_job_logs"]
    assert statuses == [206, 416, 200]


def test_flat_shapes_stay_readable(flat_hook, flat_emulator):
    """The simplified reference's flat responses: job, list, text log, tags, project."""
    job = flat_hook.start_job("python print_lines.py 3 0.01", "small", title="flat")
    flat_emulator.wait_for_status(job.id, ["Succeeded"], timeout=30)
    details = flat_hook.get_job(job.id)
    assert details.is_success and details.status is JobStatus.SUCCEEDED
    assert details.started_at and details.ended_at and details.output_commit_id
    assert job.id in {j.id for j in flat_hook.list_jobs(limit=100).jobs}
    lines: list[str] = []
    cursor = flat_hook.stream_log_lines(job.id, None, final=True, emit=lines.append)
    assert cursor.mode == "text" and [ln for ln in lines if ln.startswith("line ")] == [
        "line 1 of 3",
        "line 2 of 3",
        "line 3 of 3",
    ]
    again: list[str] = []
    flat_hook.stream_log_lines(job.id, cursor, final=True, emit=again.append)
    assert again == []
    assert flat_hook.add_tag(job.id, "flat-tag").name == "flat-tag"
    assert flat_hook.resolve_project("acme/churn").owner == "acme"


def test_list_jobs_pages_and_lazy_iterator(hook, project_id):
    started = {hook.start_job("true", "small", title=f"page {n}").id for n in range(5)}
    page = hook.list_jobs(limit=2)
    assert len(page.jobs) == 2 and page.total_count >= 5 and page.next_offset == 2
    seen: list[str] = []
    for job in hook.iter_jobs(page_size=2):
        seen.append(job.id)
    assert started <= set(seen)
    assert len(seen) == len(set(seen)) == page.total_count


def test_list_jobs_status_filter(hook, emulator):
    job = hook.start_job("exit 3", "small")
    emulator.wait_for_status(job.id, ["Failed"], timeout=30)
    completed = hook.list_jobs(status_filter="completed", limit=500)
    assert job.id in {j.id for j in completed.jobs}
    assert all(j.is_finished for j in completed.jobs)
    numbers = [j.number for j in completed.jobs]
    assert numbers == sorted(numbers, reverse=True)  # sortBy=number, ascending=false


def test_stop_job_stops_a_running_job(hook, emulator):
    job = hook.start_job("sleep 60", "small")
    emulator.wait_for_status(job.id, ["Running"], timeout=30)
    hook.stop_job(job.id)
    assert emulator.wait_for_status(job.id, ["Stopped"], timeout=15)["status"] == "Stopped"
    hook.stop_job(job.id)  # stopping again is harmless
    assert hook.get_job(job.id).status is JobStatus.STOPPED


def test_tags_and_goals(hook):
    job = hook.start_job("true", "small")
    tag = hook.add_tag(job.id, "production")
    assert tag.name == "production" and tag.id
    assert [t.name for t in hook.get_job(job.id).tags] == ["production"]
    hook.remove_tag(job.id, tag.id)
    assert hook.get_job(job.id).tags == ()
    goal = "62313cfd7a0af0281c01a6a6"
    link = hook.link_goal(job.id, goal)
    assert (link.job_id, link.goal_id) == (job.id, goal)
    assert [(g.job_id, g.goal_id) for g in hook.list_goals(job.id)] == [(job.id, goal)]
    hook.unlink_goal(goal, job.id)
    assert hook.list_goals(job.id) == []
    with pytest.raises(DominoNotFoundError):
        hook.remove_tag(job.id, "0" * 24)


def test_resolve_project(hook, project_id):
    project = hook.resolve_project("acme/churn")
    assert (project.id, project.owner, project.name) == (project_id, "acme", "churn")
    with pytest.raises(DominoNotFoundError, match="acme/nope"):
        hook.resolve_project("acme/nope")
    with pytest.raises(DominoConfigError, match="owner/name"):
        hook.resolve_project("just-a-name")


@pytest.mark.parametrize("job_id", ["../jobs?x=1#y", "a/b", "..", "50%", "with space", "é-ü-名"])
def test_job_ids_are_one_percent_encoded_segment(hook, emulator, job_id):
    emulator.clear_requests()
    with pytest.raises(DominoNotFoundError) as info:
        hook.get_job(job_id)
    assert info.value.status == 404
    assert job_id in info.value.server_message
    (entry,) = emulator.requests_log()
    assert entry["endpoint"] == "get_job"
    raw_segment = entry["path"].rsplit("/", 1)[1]
    assert "/" not in raw_segment.replace("%2F", "") and "?" not in entry["path"] and "#" not in entry["path"]


def test_server_validation_message_surfaces(hook):
    with pytest.raises(DominoBadRequestError) as info:
        hook.start_job("true", "no-such-tier", is_direct_hardware_tier_id=True)
    assert info.value.status == 400
    assert "no-such-tier" in str(info.value) and "POST /api/jobs/v1/jobs" in str(info.value)


def test_tier_by_name_starts_on_its_id_and_unknown_starts_nothing(hook, emulator):
    job = hook.start_job("true", "medium", title="tier by name")
    assert emulator.get_job(job.id)["hardwareTierId"] == "medium-k8s"
    before = len(emulator.jobs())
    with pytest.raises(DominoConfigError) as info:
        hook.start_job("true", "no-such-tier")
    assert "'Small'" in str(info.value) and "'Medium'" in str(info.value)
    assert len(emulator.jobs()) == before


def test_job_link_names_owner_and_project(hook, project_id):
    assert hook.job_url("6231327c7a0af0281c01a69b", project_id).endswith(
        "/jobs/acme/churn/6231327c7a0af0281c01a69b"
    )


def test_unknown_commit_is_rejected(hook):
    with pytest.raises(DominoBadRequestError, match="commitId"):
        hook.start_job("true", "small", commit_id="0" * 40)


def test_output_commit_feeds_the_next_job(hook, emulator):
    writer = hook.start_job("python write_output.py chained", "small")
    done = emulator.wait_for_status(writer.id, ["Succeeded"], timeout=30)
    reader = hook.start_job("python read_output.py", "small", commit_id=done["outputCommitId"])
    emulator.wait_for_status(reader.id, ["Succeeded"], timeout=30)
    assert "output.txt says: chained" in hook.get_job_logs(reader.id)


def test_empty_command_is_refused_before_any_request(hook, emulator):
    emulator.clear_requests()
    with pytest.raises(DominoConfigError, match="'command'"):
        hook.start_job("   ", "small")
    assert emulator.requests_log() == []


def test_stream_log_lines_reads_big_logs_in_bounded_pages(hook, emulator):
    script = "import sys\\nfor i in range(30000): print(f'row {i:07d} ' + 'x' * 100)"
    job = hook.start_job(f'python -c "$(printf "{script}")"', "small")
    emulator.wait_for_status(job.id, ["Succeeded"], timeout=60)
    emulator.clear_requests()
    lines: list[str] = []
    cursor = hook.stream_log_lines(job.id, None, final=True, emit=lines.append)
    rows = [line for line in lines if line.startswith("row ")]
    assert [int(row.split()[1]) for row in rows] == list(range(30000))  # each once, in order
    assert cursor.mode == "json"
    cap = emulator.settings()["logPageCap"]
    reads = [e for e in emulator.requests_log() if e["endpoint"] == "get_job_logs"]
    # Pages of at most ``cap`` entries, up to 100 of which (one timestamp's worth, the emulator's most)
    # repeat the previous page's end under the inclusive cursor; then one "caught up" read per stream.
    assert len(reads) <= -(-30000 // (cap - 100)) + 2 * 3 + 1
    assert {e["status"] for e in reads} == {200}
