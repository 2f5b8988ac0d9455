"""``JobLog`` on its own (no server): ingestion, timestamp groups, the inclusive page, persistence."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import TYPE_CHECKING

from domino_emulator import joblogs
from domino_emulator.joblogs import PREPARE_OUTPUT, STDERR, STDOUT, STREAMS, JobLog

if TYPE_CHECKING:
    import pytest


def _write(directory: Path, stream: str, text: str) -> None:
    with open(directory / joblogs.STREAM_FILES[stream], "a", encoding="utf-8") as handle:
        handle.write(text)


def _texts(log: JobLog, *streams: str, since: int = 0, limit: int = 10_000) -> list[str]:
    return [entry.text for entry in log.page(since, streams or STREAMS, limit).entries]


def test_only_complete_lines_until_the_job_ends(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    _write(tmp_path, STDOUT, "one\ntw")
    log.ingest(final=False)
    assert _texts(log, STDOUT) == ["one"]
    _write(tmp_path, STDOUT, "o\nthree")
    log.ingest(final=False)
    assert _texts(log, STDOUT) == ["one", "two"]
    log.ingest(final=True)
    assert _texts(log, STDOUT) == ["one", "two", "three"]
    assert log.combined_path.read_bytes() == b"one\ntwo\nthree"  # byte-exact, no newline invented


def test_a_burst_shares_timestamps_in_groups_and_time_never_goes_back(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    _write(tmp_path, STDOUT, "".join(f"{n}\n" for n in range(250)))
    _write(tmp_path, STDERR, "oops\n")
    log.ingest(final=False, lines_per_timestamp=100)
    entries = log.page(0, STREAMS, 10_000).entries
    sizes = [
        (stream, len(list(group)))
        for (stream, _), group in itertools.groupby(entries, lambda e: (e.stream, e.time_ns))
    ]
    assert sizes == [(STDOUT, 100), (STDOUT, 100), (STDOUT, 50), (STDERR, 1)]
    times = [entry.time_ns for entry in entries]
    assert times == sorted(times) and all(moment % 1_000_000 == 0 for moment in times)  # whole milliseconds
    _write(tmp_path, STDOUT, "late\n")
    log.ingest(final=False)
    later = log.page(0, (STDOUT,), 10_000).entries[-1]
    assert later.text == "late" and later.time_ns > times[-1]


def test_the_page_is_inclusive_and_filters_streams(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    _write(tmp_path, PREPARE_OUTPUT, "setup\n")
    _write(tmp_path, STDOUT, "a\nb\nc\n")
    log.ingest(final=False, lines_per_timestamp=2)
    out = log.page(0, (STDOUT,), 10)
    assert [e.text for e in out.entries] == ["a", "b", "c"] and out.reached_end
    second_group = out.entries[2].time_ns
    assert [e.text for e in log.page(out.entries[0].time_ns, (STDOUT,), 10).entries] == ["a", "b", "c"]
    assert [e.text for e in log.page(second_group, (STDOUT,), 10).entries] == ["c"]
    assert log.page(second_group + 1, (STDOUT,), 10).entries == []
    cut = log.page(0, (STDOUT,), 2)
    assert [e.text for e in cut.entries] == ["a", "b"] and not cut.reached_end
    assert _texts(log, PREPARE_OUTPUT) == ["setup"]
    assert log.combined_path.read_text() == "a\nb\nc\n"  # setup output is not in the plain-text log


def test_a_reloaded_log_serves_the_same_entries(tmp_path: Path) -> None:
    log = JobLog(tmp_path)
    _write(tmp_path, STDOUT, "x\ny\n")
    log.ingest(final=True)
    before = log.page(0, STREAMS, 10).entries
    again = JobLog(tmp_path)
    assert again.page(0, STREAMS, 10).entries == before
    again.ingest(final=True)  # nothing new: nothing changes
    assert again.page(0, STREAMS, 10).entries == before


def test_a_huge_backlog_is_ingested_over_several_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joblogs, "MAX_INGEST_BYTES", 8)
    log = JobLog(tmp_path)
    _write(tmp_path, STDOUT, "aaa\nbbb\nccc\nddd\n")
    log.ingest(final=True)
    assert not log.caught_up and _texts(log, STDOUT) == ["aaa", "bbb"]
    log.ingest(final=True)
    assert not log.caught_up and _texts(log, STDOUT) == [
        "aaa",
        "bbb",
        "ccc",
        "ddd",
    ]  # a full read: maybe more
    log.ingest(final=True)
    assert log.caught_up and _texts(log, STDOUT) == ["aaa", "bbb", "ccc", "ddd"]
    _write(tmp_path, STDERR, "z" * 20)  # one line longer than a read is split, never stalls
    for _ in range(3):
        log.ingest(final=False)
    assert "".join(_texts(log, STDERR)) == "z" * 16
