"""The JSON log cursor: every entry shown exactly once, whatever the server's paging does."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from airflow_provider_domino.jobs.log_cursor import (
    LOG_STREAMS,
    TEXT,
    LogCursor,
    LogPoll,
    astream_log,
    entry_lines,
    stream_log,
    timestamp_nanos,
)
from tests.api.fakes import json_response, text_response

if TYPE_CHECKING:
    from airflow_provider_domino.api.endpoints import ApiCall, RawResponse

BASE = 1_764_151_200_000_000_000  # 2025-11-26T10:00:00Z in ns


def iso(nanos: int) -> str:
    seconds, frac = divmod(nanos, 1_000_000_000)
    from datetime import datetime, timezone

    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


class FakeLog:
    """A paged JSON log: entries per stream, a per-call cap, an inclusive (or exclusive) time cursor."""

    def __init__(
        self,
        *,
        cap: int = 1000,
        inclusive: bool = True,
        report_limit: bool = True,
        shuffle_ties: bool = False,
        complete_flag: bool = False,
    ) -> None:
        self.entries: dict[str, list[tuple[int, str]]] = {name: [] for name in LOG_STREAMS}
        self.cap = cap
        self.inclusive = inclusive
        self.report_limit = report_limit
        #: ``logType=complete``: interleave streams sharing a timestamp differently on every call.
        self.shuffle_ties = shuffle_ties
        #: Send ``isComplete: true`` on the page that reaches the end.
        self.complete_flag = complete_flag
        self.calls: list[dict[str, str]] = []

    def write(self, stream: str, nanos: int, text: str) -> None:
        self.entries[stream].append((nanos, text))

    def answer(self, call: ApiCall) -> RawResponse:
        params = dict(call.params or {})
        self.calls.append(params)
        since = int(params["latestTimeNano"]) if "latestTimeNano" in params else None
        limit = min(int(params["limit"]), self.cap)
        log_type = params["logType"]
        if log_type == "complete":
            order = list(LOG_STREAMS)
            if self.shuffle_ties and len(self.calls) % 2:
                order.reverse()
            every = [
                (ns, order.index(name), i, name, text)
                for name in LOG_STREAMS
                for i, (ns, text) in enumerate(self.entries[name])
            ]
            typed = [(ns, name, text) for ns, _, _, name, text in sorted(every)]
        else:
            typed = [(ns, log_type, text) for ns, text in self.entries[log_type]]
        matching = [
            row for row in typed if since is None or (row[0] >= since if self.inclusive else row[0] > since)
        ]
        rows = matching[:limit]
        pagination: dict[str, object] = {
            "latestTimeNano": str(rows[-1][0]) if rows else params.get("latestTimeNano")
        }
        pagination["limit"] = limit if self.report_limit else int(params["limit"])
        content = [
            {"log": text + "\n", "logType": name, "size": len(text), "timestamp": iso(ns)}
            for ns, name, text in rows
        ]
        complete = self.complete_flag and len(rows) == len(matching)
        return json_response(
            {"logs": {"logContent": content, "isComplete": complete}, "metadata": {"pagination": pagination}}
        )

    def send(self, call: ApiCall):
        return call.read(self.answer(call))


def read_all(
    fake: FakeLog, cursor: LogCursor | None = None, *, final: bool = False
) -> tuple[list[str], LogCursor]:
    lines: list[str] = []
    cursor = stream_log(LogPoll("job-1", cursor, final=final), fake.send, lines.append)
    return lines, cursor


def test_many_entries_sharing_timestamps_across_pages_are_shown_once():
    fake = FakeLog(cap=7)
    for i in range(100):
        fake.write("stdOut", BASE + (i // 5), f"line {i}")  # five entries per timestamp, pages of 7
    lines, cursor = read_all(fake)
    assert lines == [f"line {i}" for i in range(100)]
    assert cursor.positions["stdOut"] == (BASE + 19, 5)


def test_incremental_polls_never_repeat_or_skip_with_inclusive_cursor():
    fake = FakeLog(cap=4)
    shown: list[str] = []
    cursor = LogCursor()
    number = 0
    for _poll in range(6):
        for _ in range(5):  # new entries land at the cursor's timestamp and after it
            fake.write("stdOut", BASE + number // 3, f"line {number}")
            number += 1
        lines, cursor = read_all(fake, cursor)
        shown += lines
        cursor = LogCursor.from_json(json.loads(json.dumps(cursor.to_json())))  # as a trigger carries it
    assert shown == [f"line {i}" for i in range(number)]


def test_exclusive_cursor_is_read_the_same():
    fake = FakeLog(cap=3, inclusive=False)
    for i in range(20):
        fake.write("stdOut", BASE + i, f"line {i}")
    assert read_all(fake)[0] == [f"line {i}" for i in range(20)]


def test_server_returning_fewer_than_asked_and_claiming_the_asked_limit_is_paged_to_the_end():
    fake = FakeLog(cap=5, report_limit=False)
    for i in range(23):
        fake.write("stdErr", BASE + i, f"err {i}")
    lines, _ = read_all(fake)
    assert lines == [f"err {i}" for i in range(23)]
    assert all(call["limit"] == "10000" for call in fake.calls)


def test_every_request_names_its_log_type_and_prepare_output_is_labelled():
    fake = FakeLog()
    fake.write("prepareOutput", BASE, "Pulling image")
    fake.write("stdOut", BASE + 1, "out")
    fake.write("stdErr", BASE + 2, "err")
    lines, _ = read_all(fake)
    assert lines == ["[prepareOutput] Pulling image", "out", "err"]
    assert [call["logType"] for call in fake.calls] == ["complete"]  # one request reads all three
    fake.calls.clear()
    narrowed: list[str] = []
    stream_log(LogPoll("job-1", streams=("stdOut", "stdErr")), fake.send, narrowed.append)
    assert narrowed == ["out", "err"]
    assert {call["logType"] for call in fake.calls} == {"stdOut", "stdErr"}


def test_resume_from_a_serialized_cursor_mid_timestamp():
    fake = FakeLog(cap=1000)
    for i in range(6):
        fake.write("stdOut", BASE, f"same-time {i}")
    cursor = LogCursor("json", {"stdOut": (BASE, 4)})
    restored = LogCursor.from_json(json.loads(json.dumps(cursor.to_json())))
    assert restored == cursor
    assert read_all(fake, restored)[0] == ["same-time 4", "same-time 5"]


def test_memory_is_one_page_at_a_time():
    fake = FakeLog(cap=50)
    for i in range(500):
        fake.write("stdOut", BASE + i, f"line {i}")
    poll = LogPoll("job-1")
    biggest = 0
    while (call := poll.next_call()) is not None:
        biggest = max(biggest, len(poll.take(fake.send(call))))
    assert biggest == 50


def test_cursor_survives_a_failed_page():
    fake = FakeLog(cap=10)
    for i in range(30):
        fake.write("stdOut", BASE + i, f"line {i}")
    sent = 0

    def flaky(call):
        nonlocal sent
        sent += 1
        if sent == 3:  # prepareOutput, stdOut page 1, then a failure
            raise RuntimeError("connection lost")
        return fake.send(call)

    shown: list[str] = []
    poll = LogPoll("job-1")
    with pytest.raises(RuntimeError):
        stream_log(poll, flaky, shown.append)
    more, _ = read_all(fake, poll.cursor)
    assert shown + more == [f"line {i}" for i in range(30)]


def test_a_full_page_stuck_at_one_timestamp_is_reported(caplog):
    caplog.set_level(logging.WARNING)
    fake = FakeLog(cap=5)
    for i in range(8):
        fake.write("stdOut", BASE, f"same {i}")
    lines, _ = read_all(fake)
    assert lines == [f"same {i}" for i in range(5)]
    assert "share one timestamp" in caplog.text


def test_text_plain_server_keeps_the_byte_offset_path():
    log_text = "one\ntwo\nthr"

    def send(call: ApiCall):
        headers = {key.lower(): value for key, value in call.headers.items()}
        if "range" in headers:
            start = int(headers["range"].split("=")[1].split("-")[0])
            body = log_text[start:]
            return call.read(
                text_response(
                    body, 206, {"content-range": f"bytes {start}-{len(log_text) - 1}/{len(log_text)}"}
                )
            )
        return call.read(text_response(log_text))

    shown: list[str] = []
    cursor = stream_log(LogPoll("job-1"), send, shown.append)
    assert (shown, cursor.mode, cursor.byte_offset) == (["one", "two"], TEXT, 8)
    log_text += "ee\nfour"
    cursor = stream_log(LogPoll("job-1", cursor, final=True), send, shown.append)
    assert shown == ["one", "two", "three", "four"]
    assert cursor.byte_offset == len(log_text)


def test_a_text_cursor_survives_its_json_form_and_garbage_is_a_fresh_cursor():
    text = LogCursor(TEXT, {}, 120)
    assert LogCursor.from_json(text.to_json()) == text
    assert LogCursor.from_json(120) == LogCursor()  # a bare number is not a cursor
    assert LogCursor.from_json(None) == LogCursor()
    assert LogCursor.from_json({"mode": "json", "streams": {"stdOut": ["x", 1]}}).positions == {}


def test_is_behind_compares_per_stream():
    old = LogCursor("json", {"stdOut": (BASE, 2)})
    new = LogCursor("json", {"stdOut": (BASE, 3), "stdErr": (BASE, 1)})
    assert old.is_behind(new) and not new.is_behind(old) and not new.is_behind(new)
    assert LogCursor().is_behind(new)


def test_timestamps_keep_nanoseconds():
    assert timestamp_nanos("2025-11-26T10:00:00.000000007Z") == BASE + 7
    assert timestamp_nanos("2025-11-26T10:00:00.5Z") == BASE + 500_000_000
    assert timestamp_nanos("2025-11-26T11:00:00+01:00") == BASE
    assert timestamp_nanos(str(BASE)) == BASE
    assert timestamp_nanos("yesterday") is None


def test_entry_lines_split_and_label():
    assert entry_lines("stdOut", "a\nb\n") == ["a", "b"]
    assert entry_lines("prepareOutput", "pull\r\n") == ["[prepareOutput] pull"]


class PacedEmit:
    """An ``emit`` that costs ``per_line`` seconds of a fake clock and notes in which turn of the event
    loop each line was shown (a task beside it counts the turns)."""

    def __init__(self, per_line: float) -> None:
        self.now = 0.0
        self.per_line = per_line
        self.turn = 0
        self.shown: list[str] = []
        self.turns: list[int] = []

    def clock(self) -> float:
        return self.now

    def __call__(self, line: str) -> None:
        self.now += self.per_line
        self.shown.append(line)
        self.turns.append(self.turn)

    async def count_turns(self) -> None:
        while True:
            await asyncio.sleep(0)
            self.turn += 1


def ten_thousand_entries() -> tuple[FakeLog, list[str]]:
    """One full page: 10,000 entries, ten per timestamp, one of them three lines long."""
    fake = FakeLog(cap=10_000)
    expected: list[str] = []
    for i in range(10_000):
        text = f"line {i}" if i != 5000 else "a\nb\nc"
        fake.write("stdOut", BASE + i // 10, text)
        expected.extend(text.split("\n"))
    return fake, expected


def test_async_stream_shows_a_full_page_over_many_loop_turns_within_its_time_budget():
    """Lines costing 0.1 ms each and a 5 ms budget: at most 50 lines per turn of the loop (one more for
    rounding), so a 10,000-entry page is shown over 200 turns or more, every line once, in order."""
    fake, expected = ten_thousand_entries()
    emit = PacedEmit(per_line=0.0001)

    async def main() -> None:
        async def send(call):
            return fake.send(call)

        counter = asyncio.ensure_future(emit.count_turns())
        await astream_log(LogPoll("job-1"), send, emit, yield_every=0.005, clock=emit.clock)
        counter.cancel()

    asyncio.run(main())
    assert emit.shown == expected
    per_turn = Counter(emit.turns)
    assert max(per_turn.values()) <= 51
    assert len(per_turn) >= len(expected) // 51


def test_async_stream_cancelled_mid_page_loses_and_repeats_no_line():
    """A trigger cancelled while paused inside a slice of entries: the cursor it leaves covers exactly
    the lines shown, so a watch resumed from it shows the rest, nothing twice."""
    fake, expected = ten_thousand_entries()
    emit = PacedEmit(per_line=0.0001)
    poll = LogPoll("job-1")

    async def main() -> None:
        async def send(call):
            return fake.send(call)

        task = asyncio.ensure_future(astream_log(poll, send, emit, yield_every=0.005, clock=emit.clock))
        while len(emit.shown) < 1234:  # stop it part-way through a slice of 32 entries
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert 1234 <= len(emit.shown) < len(expected)
    rest, _ = read_all(fake, poll.cursor)
    assert emit.shown + rest == expected


def test_combined_read_is_exact_when_streams_share_timestamps_across_pages():
    # All three streams write at the same timestamps; pages cut inside a timestamp, and the server
    # interleaves the streams of one timestamp differently on every call.
    fake = FakeLog(cap=7, shuffle_ties=True)
    expected: dict[str, list[str]] = {name: [] for name in LOG_STREAMS}
    for i in range(60):
        for name in LOG_STREAMS:
            fake.write(name, BASE + i // 2, f"{name} {i}")  # 6 entries per timestamp, pages of 7
            expected[name].append(("[prepareOutput] " if name == "prepareOutput" else "") + f"{name} {i}")
    shown: list[str] = []
    cursor = LogCursor()
    for _poll in range(3):  # later polls find nothing new and must not repeat anything
        poll = LogPoll("job-1", cursor)
        cursor = stream_log(poll, fake.send, shown.append)
        cursor = LogCursor.from_json(json.loads(json.dumps(cursor.to_json())))
    for name in LOG_STREAMS:
        assert [line for line in shown if name in line] == expected[name]
    assert len(shown) == 180
    assert {call["logType"] for call in fake.calls} == {"complete"}


def test_incremental_combined_polls_never_repeat_or_skip():
    fake = FakeLog(cap=5, shuffle_ties=True)
    shown: list[str] = []
    cursor = LogCursor()
    written: list[str] = []
    number = 0
    for _poll in range(8):
        for _ in range(4):  # new entries at the cursor's timestamp and after it, on two streams
            name = "stdOut" if number % 3 else "stdErr"
            fake.write(name, BASE + number // 3, f"line {number}")
            written.append(f"line {number}")
            number += 1
        lines, cursor = read_all(fake, cursor)
        shown += lines
    assert sorted(shown) == sorted(written) and len(shown) == len(written)


def test_a_page_shorter_than_the_servers_cap_needs_no_caught_up_read():
    fake = FakeLog(cap=1000)  # reports its cap (1,000) as the page limit
    for i in range(30):
        fake.write("stdOut", BASE + i, f"line {i}")
    lines, cursor = read_all(fake)
    assert len(lines) == 30 and len(fake.calls) == 1
    fake.calls.clear()
    assert read_all(fake, cursor)[0] == [] and len(fake.calls) == 1  # nothing new: one request


def test_a_full_page_is_followed_by_another_read():
    fake = FakeLog(cap=10)
    for i in range(25):
        fake.write("stdOut", BASE + i, f"line {i}")
    lines, _ = read_all(fake)
    assert lines == [f"line {i}" for i in range(25)]
    assert len(fake.calls) == 3  # 10, 10, then 5 (short: caught up)


def test_server_echoing_the_asked_limit_learns_its_page_size_across_polls():
    fake = FakeLog(cap=5, report_limit=False)  # says 10,000, serves 5
    for i in range(12):
        fake.write("stdOut", BASE + i, f"line {i}")
    poll = LogPoll("job-1")
    shown: list[str] = []
    stream_log(poll, fake.send, shown.append)
    assert shown == [f"line {i}" for i in range(12)] and poll.full_page == 5
    for i in range(12, 15):
        fake.write("stdOut", BASE + i, f"line {i}")
    fake.calls.clear()
    again = LogPoll("job-1", poll.cursor, full_page=poll.full_page)
    stream_log(again, fake.send, shown.append)
    assert shown[-3:] == ["line 12", "line 13", "line 14"] and len(fake.calls) == 1


def test_final_poll_reads_until_the_server_says_complete():
    fake = FakeLog(cap=1000, complete_flag=True)
    for i in range(40):
        fake.write("stdErr", BASE + i, f"err {i}")
    lines, _ = read_all(fake, final=True)
    assert len(lines) == 40 and len(fake.calls) == 1
    fake = FakeLog(cap=1000)  # never says complete: read until a page brings nothing new
    for i in range(40):
        fake.write("stdErr", BASE + i, f"err {i}")
    lines, _ = read_all(fake, final=True)
    assert len(lines) == 40 and len(fake.calls) == 2


def test_a_per_stream_cursor_carries_on_in_a_combined_read():
    fake = FakeLog(cap=1000)
    for i in range(10):
        fake.write("stdOut", BASE + i, f"out {i}")
        fake.write("stdErr", BASE + i, f"err {i}")
    cursor = LogCursor("json", {"stdOut": (BASE + 5, 1), "stdErr": (BASE + 2, 1)})
    lines, after = read_all(fake, cursor)
    assert sorted(lines) == sorted([f"out {i}" for i in range(6, 10)] + [f"err {i}" for i in range(3, 10)])
    assert after.positions["stdOut"] == after.positions["stdErr"] == (BASE + 9, 1)
    assert after.positions["prepareOutput"] == (BASE + 9, 0)


def test_take_iter_cursor_covers_each_slice_handed_out():
    fake = FakeLog(cap=1000)
    for i in range(10):
        fake.write("stdOut", BASE + i, f"line {i}")
    poll = LogPoll("job-1")
    slices = poll.take_iter(fake.send(poll.next_call()), 4)
    assert next(slices) == ["line 0", "line 1", "line 2", "line 3"]
    stopped_at = poll.cursor  # the consumer stops here
    assert stopped_at.positions["stdOut"] == (BASE + 3, 1)
    assert read_all(fake, stopped_at)[0] == [f"line {i}" for i in range(4, 10)]


def test_a_poll_that_brings_nothing_new_keeps_its_cursor_object():
    """Most polls of most jobs bring no new line: their cursor is the very object they started from (no
    fresh copy per trigger and poll), and it still moves on once a new line comes."""
    fake = FakeLog(cap=1000)
    for i in range(3):
        fake.write("stdOut", BASE + i, f"line {i}")
    _, cursor = read_all(fake)
    lines, again = read_all(fake, cursor)
    assert (lines, again) == ([], cursor)
    assert again is cursor
    fake.write("stdErr", BASE + 3, "late")
    lines, moved = read_all(fake, again)
    assert lines == ["late"]
    assert moved.is_behind(moved) is False and cursor.is_behind(moved)


def test_a_cursor_that_outlives_many_polls_leaves_the_collector_its_positions_untracked():
    """A trigger holds its cursor for as long as the job runs: its positions are plain tuples of ints,
    which the garbage collector stops tracking, so they never add to a full collection's work."""
    import gc

    cursor = LogCursor.from_json(
        {"mode": "json", "streams": {"stdOut": [str(BASE), 2], "stdErr": [str(BASE), 1]}}
    )
    gc.collect()
    assert cursor.positions and not any(gc.is_tracked(position) for position in cursor.positions.values())
