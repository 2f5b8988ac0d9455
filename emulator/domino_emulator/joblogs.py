"""A job's log as Domino serves it: timestamped entries per stream, paged by time.

A job writes plain bytes to one file per stream (``prepare.log``, ``stdout.log``,
``stderr.log``); that keeps a job that outlives a crashed emulator writing happily. The
emulator *ingests* those files lazily, whenever someone asks for the log and when the job
ends: every complete line not seen before becomes an entry, stamped with the time the
emulator first saw it. That is how Domino's own log shipper behaves, and it has the two
properties clients must cope with:

- many entries share one timestamp (everything printed between two reads, in groups of at
  most ``lines_per_timestamp``, 100 by default, which the caller keeps well under the per-call
  page cap so an inclusive cursor can always move forward);
- timestamps never go backwards, and an entry never changes once served.

Ingested entries are recorded as groups (time, stream, byte range, line count) in
``log-index.jsonl`` next to the stream files, so a restarted emulator serves the same entries
with the same timestamps. stdout and stderr are also appended, in ingestion order, to
``output.log``: the plain-text log the simplified reference's byte-range route serves.
"""

from __future__ import annotations

import bisect
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PREPARE_OUTPUT = "prepareOutput"
STDOUT = "stdOut"
STDERR = "stdErr"
COMPLETE = "complete"
#: Streams in ingestion order; an entry's stream is stored as its index here.
STREAMS = (PREPARE_OUTPUT, STDOUT, STDERR)
STREAM_FILES = {PREPARE_OUTPUT: "prepare.log", STDOUT: "stdout.log", STDERR: "stderr.log"}
LOG_TYPES = (*STREAMS, COMPLETE)

#: Bytes read from one stream file per ingestion, so one request never reads a huge log at once.
MAX_INGEST_BYTES = 8 * 1024 * 1024
INDEX_FILE = "log-index.jsonl"
COMBINED_FILE = "output.log"


@dataclass(frozen=True)
class LogEntry:
    """One line of a job's log."""

    time_ns: int
    stream: str
    text: str


@dataclass(frozen=True)
class LogPage:
    """Entries at or after a cursor; ``reached_end`` says nothing ingested was left out."""

    entries: list[LogEntry]
    reached_end: bool


class JobLog:
    """The ingested log of one job; call from the event-loop thread only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # Parallel lists (cheap for a million-line log): group time, stream index, byte range, lines.
        self._times: list[int] = []
        self._streams: list[int] = []
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._offsets = [0] * len(STREAMS)
        self._last_ms = 0
        #: Whether the last ingestion read every stream to its end (a huge backlog takes several).
        self.caught_up = False
        self._load()

    def stream_path(self, stream: str) -> Path:
        """The raw file a job's ``stream`` is written to."""
        return self.directory / STREAM_FILES[stream]

    @property
    def combined_path(self) -> Path:
        """stdout and stderr, in ingestion order, as plain text."""
        return self.directory / COMBINED_FILE

    def _load(self) -> None:
        try:
            with open(self.directory / INDEX_FILE, encoding="utf-8") as index:
                for line in index:
                    try:
                        time_ms, stream, start, end = json.loads(line)
                    except ValueError:
                        break  # a line torn by a crash ends the index; its bytes are re-ingested
                    self._append_group(time_ms, stream, start, end)
        except FileNotFoundError:
            pass

    def _append_group(self, time_ms: int, stream: int, start: int, end: int) -> None:
        self._times.append(time_ms * 1_000_000)
        self._streams.append(stream)
        self._starts.append(start)
        self._ends.append(end)
        self._offsets[stream] = max(self._offsets[stream], end)
        self._last_ms = max(self._last_ms, time_ms)

    # --------------------------------------------------------------- ingesting
    def ingest(self, *, final: bool, lines_per_timestamp: int = 100) -> None:
        """Turn lines written since the last call into entries; ``final`` also takes an unterminated tail.

        A burst is split into groups of at most ``lines_per_timestamp`` entries, one timestamp each.
        """
        new_groups: list[tuple[int, int, int, int]] = []
        combined: list[bytes] = []
        time_ms = max(time.time_ns() // 1_000_000, self._last_ms + 1)
        self.caught_up = True
        for stream_index, stream in enumerate(STREAMS):
            data = self._read_new(stream, stream_index)
            at_end = len(data) < MAX_INGEST_BYTES
            self.caught_up = self.caught_up and at_end
            if not data:
                continue
            cut = len(data) if final and at_end else data.rfind(b"\n") + 1
            if cut == 0:
                if at_end:
                    continue
                cut = len(data)  # one line longer than a whole read: split it rather than stall
            start = self._offsets[stream_index]
            position = 0
            while position < cut:
                end = position
                for _ in range(lines_per_timestamp):
                    newline = data.find(b"\n", end, cut)
                    end = cut if newline < 0 else newline + 1
                    if end >= cut:
                        break
                new_groups.append((time_ms, stream_index, start + position, start + end))
                time_ms += 1
                position = end
            if stream != PREPARE_OUTPUT:
                combined.append(data[:cut])
        if not new_groups:
            return
        if combined:
            self._append_combined(combined)
        with open(self.directory / INDEX_FILE, "a", encoding="utf-8") as index:
            index.write("".join(json.dumps(group) + "\n" for group in new_groups))
        for group in new_groups:
            self._append_group(*group)

    def _append_combined(self, chunks: list[bytes]) -> None:
        """Append to the plain-text log; an unterminated line gets its newline only when more follows.

        The file is opened for appending, so the write lands at the end whatever the seeks did.
        """
        with open(self.combined_path, "ab+") as handle:
            size = handle.seek(0, os.SEEK_END)
            previous_ends_line = True
            if size:
                handle.seek(size - 1)
                previous_ends_line = handle.read(1) == b"\n"
            parts: list[bytes] = []
            for chunk in chunks:
                if not previous_ends_line:
                    parts.append(b"\n")
                parts.append(chunk)
                previous_ends_line = chunk.endswith(b"\n")
            handle.write(b"".join(parts))

    def _read_new(self, stream: str, stream_index: int) -> bytes:
        try:
            with open(self.stream_path(stream), "rb") as handle:
                handle.seek(self._offsets[stream_index])
                return handle.read(MAX_INGEST_BYTES)
        except FileNotFoundError:
            return b""

    # ----------------------------------------------------------------- reading
    def page(self, since_ns: int, log_types: Iterable[str], limit: int) -> LogPage:
        """Up to ``limit`` entries of ``log_types`` whose time is at or after ``since_ns`` (inclusive)."""
        wanted = {STREAMS.index(stream) for stream in log_types}
        entries: list[LogEntry] = []
        handles: dict[int, int] = {}
        try:
            for group in range(bisect.bisect_left(self._times, since_ns), len(self._times)):
                stream_index = self._streams[group]
                if stream_index not in wanted:
                    continue
                if len(entries) >= limit:
                    return LogPage(entries, reached_end=False)
                if stream_index not in handles:
                    handles[stream_index] = os.open(self.stream_path(STREAMS[stream_index]), os.O_RDONLY)
                start, end = self._starts[group], self._ends[group]
                data = os.pread(handles[stream_index], end - start, start)
                if data.endswith(b"\n"):
                    data = data[:-1]
                lines = data.split(b"\n")
                room = limit - len(entries)
                for line in lines[:room]:
                    entries.append(
                        LogEntry(self._times[group], STREAMS[stream_index], line.decode("utf-8", "replace"))
                    )
                if len(lines) > room:
                    return LogPage(entries, reached_end=False)
        finally:
            for handle in handles.values():
                os.close(handle)
        return LogPage(entries, reached_end=True)

    def append_line(self, stream: str, text: str) -> None:
        """Append an emulator message to a stream file, on a line of its own."""
        path = self.stream_path(stream)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab+") as log:
            prefix = b""
            if log.seek(0, os.SEEK_END) > 0:
                log.seek(-1, os.SEEK_END)
                if log.read(1) != b"\n":
                    prefix = b"\n"
            log.write(prefix + text.encode() + b"\n")
