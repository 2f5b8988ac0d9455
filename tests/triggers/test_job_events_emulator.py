"""``DominoJobEventTrigger`` against the emulator: real HTTP, a real job list that lags behind."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.triggers.domino import DominoJobEventTrigger


def test_a_job_tagged_in_domino_fires_once_with_its_output_commit(domino_conn, emulator, project_id):
    """Two jobs started in Domino (not by Airflow), one tagged: exactly one event, naming that job."""
    tag = f"release-{secrets.token_hex(4)}"
    hook = DominoHook(domino_conn)
    trigger = DominoJobEventTrigger(
        project="acme/churn", domino_conn_id=domino_conn, tag=tag, poll_interval=1
    )
    emulator.set_list_lag(1.5)  # a just-started job shows in the list only after a while
    try:

        async def scenario() -> tuple[list[dict], str, str]:
            emulator.clear_requests()
            events = trigger.run()
            first = asyncio.ensure_future(anext(events))
            # The baseline round (the project's history, which must not fire) is done once the list
            # was read: only then do the jobs of this test start.
            while not any(entry["endpoint"] == "list_jobs" for entry in emulator.requests_log()):
                await asyncio.sleep(0.05)
            tagged = await asyncio.to_thread(
                hook.start_job, "python print_lines.py 3 0.2", "small", project_id
            )
            await asyncio.to_thread(hook.add_tag, tagged.id, tag, project_id)
            untagged = await asyncio.to_thread(
                hook.start_job, "python print_lines.py 2 0.2", "small", project_id
            )
            fired = [(await asyncio.wait_for(first, 60)).payload]
            # Both jobs have ended now; a few more rounds must not fire again (nor for the untagged job).
            await asyncio.to_thread(emulator.wait_for_status, untagged.id, {"Succeeded"}, 30)
            rounds_before = sum(1 for e in emulator.requests_log() if e["endpoint"] == "list_jobs")
            more = asyncio.ensure_future(anext(events))
            while sum(1 for e in emulator.requests_log() if e["endpoint"] == "list_jobs") < rounds_before + 3:
                await asyncio.sleep(0.05)
            if more.done():
                fired.append(more.result().payload)
            more.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await more
            await events.aclose()  # type: ignore[attr-defined]
            return fired, tagged.id, untagged.id

        fired, tagged_id, untagged_id = asyncio.run(scenario())
    finally:
        emulator.reset_settings()
    assert [event["job_id"] for event in fired] == [tagged_id], (
        f"expected only {tagged_id} ({untagged_id} untagged)"
    )
    (event,) = fired
    job = emulator.get_job(tagged_id)
    assert event["status"] == "Succeeded" and event["tags"] == [tag]
    assert event["output_commit_id"] == job["outputCommitId"] and event["output_commit_id"]
    assert event["job_number"] == job["number"] and event["project_id"] == project_id
    assert event["job_url"].endswith(f"/jobs/acme/churn/{tagged_id}")
