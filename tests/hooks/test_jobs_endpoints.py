"""Every sync hook method against the emulator over real HTTP."""

from __future__ import annotations

import pytest

from airflow_provider_domino.api.errors import DominoBadRequestError, DominoConfigError, DominoNotFoundError
from airflow_provider_domino.api.idempotency import key_in_title
from airflow_provider_domino.api.status import JobStatus


def test_start_get_logs_and_details(hook, emulator, project_id):
    job = hook.start_job("python print_lines.py 3 0.01", "small", title="unit", idempotency_key="k-start-1")
    assert job.status is JobStatus.PENDING or job.status.is_active
    assert key_in_title(job.title) == "k-start-1"
    final = emulator.wait_for_status(job.id, ["Succeeded"], timeout=30)
    assert final["status"] == "Succeeded"
    details = hook.get_job(job.id)
    assert details.status is JobStatus.SUCCEEDED
    assert details.project_id == project_id
    assert details.output_commit_id and details.commit_id
    assert details.started_at and details.ended_at
    assert hook.get_job_logs(job.id).splitlines() == ["line 1 of 3", "line 2 of 3", "line 3 of 3"]


def test_log_tail_uses_range_and_falls_back_to_slicing(hook, emulator):
    job = hook.start_job("printf 'abc\\ndef\\n'", "small")
    emulator.wait_for_status(job.id, ["Succeeded"], timeout=30)
    emulator.clear_requests()
    assert hook.get_job_log_tail(job.id, 4).data == b"def\n"
    assert hook.get_job_log_tail(job.id, 8).data == b""  # 416: nothing new yet
    emulator.set_faults({"ignore_range": True, "rules": []})
    chunk = hook.get_job_log_tail(job.id, 4)
    assert (chunk.data, chunk.start, chunk.end) == (b"def\n", 4, 8)
    statuses = [entry["status"] for entry in emulator.requests_log() if entry["endpoint"] == "get_job_logs"]
    assert statuses == [206, 416, 200]


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
    failed = hook.list_jobs(status="Failed", limit=500)
    assert job.id in {j.id for j in failed.jobs}
    assert all(j.status is JobStatus.FAILED for j in failed.jobs)


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
    link = hook.link_goal(job.id, "goal-7")
    assert (link.job_id, link.goal_id) == (job.id, "goal-7")
    assert [(g.job_id, g.goal_id) for g in hook.list_goals(job.id)] == [(job.id, "goal-7")]
    hook.unlink_goal("goal-7", job.id)
    assert hook.list_goals(job.id) == []
    with pytest.raises(DominoNotFoundError):
        hook.remove_tag(job.id, "tag-does-not-exist")


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
        hook.start_job("true", "no-such-tier")
    assert info.value.status == 400
    assert "no-such-tier" in str(info.value) and "POST /api/jobs/v1/jobs" in str(info.value)


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


def test_stream_log_lines_reads_big_logs_in_bounded_windows(hook, emulator):
    from airflow_provider_domino.api.log_lines import TAIL_CHUNK_BYTES

    script = "import sys\\nfor i in range(30000): print(f'row {i:07d} ' + 'x' * 100)"
    job = hook.start_job(f'python -c "$(printf "{script}")"', "small")
    emulator.wait_for_status(job.id, ["Succeeded"], timeout=60)
    emulator.clear_requests()
    lines: list[str] = []
    offset = hook.stream_log_lines(job.id, 0, final=True, emit=lines.append)
    assert (
        len(lines) == 30000 and lines[0].startswith("row 0000000 ") and lines[-1].startswith("row 0029999 ")
    )
    assert offset == 30000 * len("row 0000000 " + "x" * 100 + "\n")
    reads = [e for e in emulator.requests_log() if e["endpoint"] == "get_job_logs"]
    assert len(reads) == offset // TAIL_CHUNK_BYTES + 1  # one bounded window per MiB, then the short tail
    assert {e["status"] for e in reads} == {206}
