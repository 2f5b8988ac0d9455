"""Pure logic: job statuses and turning log tails into whole lines."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_domino.api.models import LogChunk
from airflow_provider_domino.api.status import JobStatus
from airflow_provider_domino.jobs.log_lines import last_lines, split_lines

# The scenario's sizes, as the README promises them (not read from the module under test):
#: a line is held back for its newline up to 1 MiB, and a text log is read in windows of that size;
MIB = 1024 * 1024
#: a line longer than 16 KiB is shortened in the task log, with a note saying how much was cut.
LOGGED_CHARS = 16 * 1024


@pytest.mark.parametrize(
    ("text", "terminal", "success"),
    [
        ("Succeeded", True, True),
        ("succeeded", True, True),
        ("FAILED", True, False),
        ("Stopped", True, False),
        ("Error", True, False),
        ("Pending", False, False),
        ("Running", False, False),
        ("Queued", False, False),
    ],
)
def test_status_sets_are_case_insensitive(text, terminal, success):
    status = JobStatus.parse(text)
    assert (status.is_terminal, status.is_success) == (terminal, success)


def test_unknown_status_is_running_with_one_warning(caplog):
    caplog.set_level(logging.WARNING)
    assert JobStatus.parse("Hibernating-XYZ") is JobStatus.UNKNOWN
    assert JobStatus.parse("Hibernating-XYZ").is_active
    assert sum("Hibernating-XYZ" in r.getMessage() for r in caplog.records) == 1


def test_split_lines_keeps_partial_line_for_later():
    first = split_lines(LogChunk(b"one\ntwo\nthr", 100), final=False)
    assert (first.lines, first.next_offset) == (["one", "two"], 108)
    second = split_lines(LogChunk(b"three\n", first.next_offset), final=False)
    assert (second.lines, second.next_offset) == (["three"], 114)


def test_split_lines_flushes_tail_when_final_and_handles_crlf_and_bad_utf8():
    result = split_lines(LogChunk(b"a\r\n\xff\xfeb\nlast", 0), final=True)
    assert result.lines == ["a", "\ufffd\ufffdb", "last"]
    assert result.next_offset == 11


def test_split_lines_utf8_split_across_chunks_is_not_mangled():
    data = "é\n".encode()
    first = split_lines(LogChunk(data[:1], 0), final=False)
    assert first.lines == [] and first.next_offset == 0
    assert split_lines(LogChunk(data, 0), final=False).lines == ["é"]


def test_runaway_line_is_emitted_in_pieces_and_shortened():
    chunk = LogChunk(b"x" * MIB, 0)  # a whole window and still no newline
    result = split_lines(chunk, final=False)
    assert result.next_offset == MIB
    (line,) = result.lines
    assert line == "x" * LOGGED_CHARS + f" … [{MIB - LOGGED_CHARS} more characters cut]"


def test_a_line_of_exactly_the_logged_length_is_not_cut():
    chunk = LogChunk(b"y" * LOGGED_CHARS + b"\n" + b"z" * (LOGGED_CHARS + 1) + b"\n", 0)
    assert split_lines(chunk, final=False).lines == [
        "y" * LOGGED_CHARS,
        "z" * LOGGED_CHARS + " … [1 more characters cut]",
    ]


def test_last_lines():
    assert last_lines("a\n\nb\nc\n", 2) == "b\nc"


def test_full_window_asks_for_more_and_keeps_its_partial_line_even_when_final():
    window = b"a\n" * (MIB // 2 - 1) + b"ab"  # exactly one window, ending mid-line
    result = split_lines(LogChunk(window, 10), final=True)
    assert result.more and result.next_offset == 10 + MIB - 2
    assert result.lines == ["a"] * (MIB // 2 - 1)


def test_whole_log_from_a_server_ignoring_range_is_read_once():
    everything = b"a\n" * MIB + b"tail"
    result = split_lines(LogChunk(everything, 0), final=True)
    assert not result.more and result.lines[-1] == "tail" and result.next_offset == len(everything)


def test_poll_delay_starts_short_and_doubles_up_to_poll_interval(monkeypatch):
    from airflow_provider_domino.jobs import polling
    from airflow_provider_domino.jobs.polling import next_poll_delay

    monkeypatch.setattr(polling.random, "random", lambda: 0.0)  # the schedule without its jitter
    watched, checks = 0.0, []
    while watched < 120:
        delay = next_poll_delay(30, watched)
        checks.append(delay)
        watched += delay
    assert checks[:6] == [2, 2, 4, 8, 16, 30]
    assert set(checks[5:]) == {30}
    assert next_poll_delay(0.5, 100) == 0.5  # an interval under 2 s is used as is


def test_poll_delay_jitter_only_ever_shortens_by_up_to_ten_percent():
    from airflow_provider_domino.jobs.polling import next_poll_delay

    delays = [next_poll_delay(30, 1000) for _ in range(500)]
    assert all(27.0 <= delay <= 30.0 for delay in delays)
    assert max(delays) - min(delays) > 1.0  # really jittered
