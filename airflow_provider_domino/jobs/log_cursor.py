"""Which job log lines are new: the log cursor shared by the operator, the sensor and the trigger.

Domino's published log endpoint is JSON, paged by time: each call returns up to ``limit`` entries
``{log, logType, size, timestamp}`` from ``latestTimeNano`` on. The cursor must be treated as
inclusive (entries stamped exactly ``latestTimeNano`` may come again) and many entries share one
timestamp, so a time alone cannot say where we were. A :class:`LogCursor` therefore keeps, per log
stream, the timestamp of the last entry shown and *how many* entries at that timestamp were shown;
the next page skips exactly those. Nothing is shown twice and nothing is skipped, whether the server's
cursor is inclusive or exclusive, whether pages are full or short, and across a rebuilt trigger or a
rescheduled sensor, because the cursor is a few primitives (:meth:`LogCursor.to_json`).

``logType`` is always named (a server asked without one may answer with the setup output only). When
all three streams are wanted (the trigger, the operator), one ``logType=complete`` request per page
reads ``prepareOutput`` (labelled, since image-pull and setup failures live there), ``stdOut`` and
``stdErr`` together, oldest first; each entry carries its ``logType``, and the cursor still counts per
stream, so streams sharing a timestamp stay exact. Narrower reads (``streams=("stdOut",)``) ask for one
``logType`` at a time. Paging goes on until caught up, one page in memory at a time: until a page brings
nothing new, or a page is clearly not full (shorter than the most entries the server has ever
returned in one page, or than the cap it says it serves). Stopping a little early is harmless (the next
poll continues from the cursor); the poll after the job ended reads until the server says the log is
complete or nothing new comes.

A server that answers ``text/plain`` (the simplified reference) is read as before: by byte offset with
``Range`` (:mod:`~airflow_provider_domino.jobs.log_lines`), and the cursor remembers that mode.

:class:`LogPoll` is one poll's worth of reading as a pure state machine (``next_call`` / ``take``);
:func:`stream_log` and :func:`astream_log` drive it over a sync or async ``send``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from airflow_provider_domino.api import endpoints
from airflow_provider_domino.api.models import Job, LogChunk, LogEntries, LogEntry, LogPage
from airflow_provider_domino.api.status import JobStatus
from airflow_provider_domino.jobs.log_lines import TAIL_CHUNK_BYTES, shorten_line, split_lines

log = logging.getLogger(__name__)

#: The log streams shown, in this order within one poll.
LOG_STREAMS = ("prepareOutput", "stdOut", "stdErr")
#: Prefix of each stream's lines in the task log (stdout and stderr read as a terminal would).
STREAM_LABELS = {"prepareOutput": "[prepareOutput] "}
#: Entries asked for per call (the API's maximum; a server may return fewer).
PAGE_LIMIT = endpoints.MAX_LOG_LIMIT
#: Longest run of log work between two yields to the event loop in :func:`astream_log`, in seconds.
#: Writing one line into the task log costs 15 us or more (Airflow's structured logging), so a page of
#: 10,000 entries is 150 ms of work: handed over in one callback it would hold every other trigger of
#: the triggerer for as long. A time budget, not a line count, also bounds a slow log handler.
YIELD_EVERY_SECONDS = 0.005

UNKNOWN, JSON, TEXT = "unknown", "json", "text"
#: The ``logType`` that reads every stream in one request.
COMPLETE = "complete"


#: Where one stream was read to: ``(time_nano, seen)``, the last shown entry's time (ns since the epoch)
#: and how many entries at that time were shown. A plain tuple of two ints, which the garbage collector
#: stops tracking at its first pass: a cursor outlives many polls, and whatever does reaches the
#: collector's oldest generation, whose growth sets off full collections.
StreamPosition = tuple[int, int]


@dataclass(frozen=True, slots=True)
class LogCursor:
    """How much of a job's log has been shown; small, immutable and serializable.

    :param mode: ``json`` (published paged log), ``text`` (a ``text/plain`` server, read by byte
        offset) or ``unknown`` (nothing read yet).
    :param positions: per JSON stream, where it was read to (a stream not present starts at the beginning).
    :param byte_offset: bytes of a text log already shown.
    """

    mode: str = UNKNOWN
    positions: Mapping[str, StreamPosition] = field(default_factory=dict)
    byte_offset: int = 0

    def to_json(self) -> dict[str, Any]:
        """Primitives for trigger kwargs, events, XCom checkpoints and ``task_state_store``.

        Times travel as strings: nanoseconds since the epoch do not survive a JSON double.
        """
        return {
            "mode": self.mode,
            "streams": {name: [str(pos[0]), pos[1]] for name, pos in self.positions.items()},
            "byte_offset": self.byte_offset,
        }

    @classmethod
    def from_json(cls, value: Any) -> LogCursor:
        """Rebuild a cursor from :meth:`to_json`'s output. Tolerant: ``None`` or garbage is a fresh
        cursor (the log is shown from its start rather than the watch failing)."""
        if isinstance(value, LogCursor):
            return value
        if not isinstance(value, Mapping):
            return cls()
        mode = value.get("mode") if value.get("mode") in (UNKNOWN, JSON, TEXT) else UNKNOWN
        positions: dict[str, StreamPosition] = {}
        streams = value.get("streams")
        for name, pair in streams.items() if isinstance(streams, Mapping) else ():
            try:
                positions[str(name)] = (int(pair[0]), int(pair[1]))
            except (TypeError, ValueError, IndexError):
                continue
        offset = value.get("byte_offset")
        byte_offset = offset if isinstance(offset, int) and offset > 0 else 0
        return cls(str(mode), positions, byte_offset)

    def is_behind(self, other: LogCursor) -> bool:
        """True when ``other`` has shown strictly more than this cursor (a newer checkpoint)."""
        if other.mode == UNKNOWN:
            return False
        if self.mode == UNKNOWN:
            return True
        if other.mode == TEXT or self.mode == TEXT:
            return self.mode == other.mode and other.byte_offset > self.byte_offset
        ahead = False
        for name, theirs in other.positions.items():
            mine = self.positions.get(name)
            if mine is None or theirs > mine:
                ahead = True
            elif theirs < mine:
                return False
        return ahead


_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def timestamp_nanos(value: str) -> int | None:
    """An entry's ``timestamp`` as integer nanoseconds since the epoch (every fraction digit kept).

    Accepts ISO-8601 (``2022-03-12T02:13:51.616Z``, up to nine fraction digits) and plain integers
    (nanoseconds). ``None`` when unreadable.
    """
    text = value.strip()
    if text.isdigit():
        return int(text)
    match = _ISO.match(text)
    if not match:
        return None
    base, fraction, zone = match.groups()
    try:
        when = datetime.fromisoformat(base + ("+00:00" if zone in (None, "Z") else zone))
    except ValueError:
        return None
    if when.tzinfo is None:  # pragma: no cover - the zone is always set above
        when = when.replace(tzinfo=timezone.utc)
    seconds = int(when.timestamp())
    nanos = int((fraction or "0")[:9].ljust(9, "0"))
    return seconds * 1_000_000_000 + nanos


def entry_lines(log_type: str, text: str) -> list[str]:
    """The task-log lines of one entry: labelled, trailing newline dropped, long lines shortened."""
    label = STREAM_LABELS.get(log_type, "")
    body = text[:-1] if text.endswith("\n") else text
    return [label + shorten_line(part.rstrip("\r")) for part in body.split("\n")]


#: Entries :meth:`LogPoll.take_iter` hands out at a time: how often :func:`astream_log` checks its budget.
ENTRIES_PER_SLICE = 32
#: Statuses in which a job has written nothing yet: its log is not asked for (one request less a poll).
NO_OUTPUT_YET = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.PENDING})


def may_have_new_lines(job: Job) -> bool:
    """Whether reading the log can bring anything: not while the job waits to start.

    A job that has ended always gets its final read, which finishes the log.
    """
    return job.is_finished or job.status not in NO_OUTPUT_YET


class LogPoll:
    """One poll of a job's log: which request to send next, and which lines of its answer are new.

    Drive it with ``while (call := poll.next_call()) is not None: lines = poll.take(send(call))`` (or
    iterate :meth:`take_iter` to process a page in slices); :attr:`cursor` is always the position after
    the lines handed out so far, so a caller that fails half-way keeps what it has shown. ``final`` (the
    job has ended) also emits an unterminated last line of a text log and reads until the server says the
    log is complete. ``streams`` narrows the JSON streams read (e.g. ``("stdOut", "stdErr")``).

    :param full_page: the most entries the server has returned in one page so far (carry
        :attr:`full_page` from one poll to the next): a page with fewer entries is caught up.
    """

    def __init__(
        self,
        job_id: str,
        cursor: LogCursor | None = None,
        *,
        final: bool = False,
        streams: Sequence[str] = LOG_STREAMS,
        full_page: int = 0,
    ) -> None:
        self.job_id = job_id
        start = cursor or LogCursor()
        self._mode = start.mode
        self._byte_offset = start.byte_offset
        self._positions: dict[str, StreamPosition] = dict(start.positions)
        self._cursor: LogCursor | None = start
        self.final = final
        self.streams = tuple(streams)
        #: One ``logType=complete`` request per page for every stream at once.
        self.combined = set(self.streams) == set(LOG_STREAMS)
        self.full_page = full_page
        self._stream_index = 0
        self._done = False
        self._warned_stuck = False

    @property
    def cursor(self) -> LogCursor:
        """Where the log has been shown to: every line handed out so far, nothing more."""
        if self._cursor is None:
            self._cursor = LogCursor(self._mode, dict(self._positions), self._byte_offset)
        return self._cursor

    @cursor.setter
    def cursor(self, value: LogCursor) -> None:
        """Move the poll to ``value`` (a driver that reads the log its own way, e.g. a test double)."""
        self._mode, self._byte_offset = value.mode, value.byte_offset
        self._positions = dict(value.positions)
        self._cursor = value

    def next_call(self) -> endpoints.ApiCall[Any] | None:
        """The next request of this poll, or ``None`` when the log is caught up."""
        if self._done:
            return None
        if self._mode == TEXT:
            return endpoints.get_job_log_tail(self.job_id, self._byte_offset, TAIL_CHUNK_BYTES)
        if self.combined:
            return endpoints.get_job_log_page(
                self.job_id, log_type=COMPLETE, limit=PAGE_LIMIT, latest_time_nano=self._combined_start()
            )
        position = self._positions.get(self.streams[self._stream_index])
        return endpoints.get_job_log_page(
            self.job_id,
            log_type=self.streams[self._stream_index],
            limit=PAGE_LIMIT,
            latest_time_nano=None if position is None else position[0],
        )

    def _combined_start(self) -> int | None:
        """Ask from the earliest stream position; a stream never read means from the beginning."""
        times = [self._positions[name][0] for name in self.streams if name in self._positions]
        return min(times) if len(times) == len(self.streams) else None

    def take(self, answer: LogPage | LogChunk) -> list[str]:
        """The new lines of ``answer`` (the reply to :meth:`next_call`), advancing :attr:`cursor`."""
        lines: list[str] = []
        for batch in self.take_iter(answer):
            lines.extend(batch)
        return lines

    def take_iter(
        self, answer: LogPage | LogChunk, slice_entries: int = ENTRIES_PER_SLICE
    ) -> Iterator[list[str]]:
        """:meth:`take` in slices of at most ``slice_entries`` entries; :attr:`cursor` covers each slice
        handed out (so a consumer may pause between slices, or stop, without losing its place)."""
        if isinstance(answer, LogChunk):
            yield self._take_text(answer)
            return
        yield from self._take_page(answer, max(1, slice_entries))

    def _take_text(self, chunk: LogChunk) -> list[str]:
        offset = self._byte_offset
        if chunk.start < offset:  # a whole log from a server that was asked without Range
            chunk = LogChunk(chunk.data[offset - chunk.start :], offset)
        lines = split_lines(chunk, final=self.final)
        self._mode, self._byte_offset, self._cursor = TEXT, lines.next_offset, None
        self._done = not lines.more
        return lines.lines

    def _take_page(self, page: LogPage, slice_entries: int) -> Iterator[list[str]]:
        wanted = self.streams if self.combined else (self.streams[self._stream_index],)
        # Where this page was asked from, per stream: entries at exactly that time were shown ``seen``
        # times already and come again from an inclusive cursor.
        start = {name: self._positions.get(name) for name in wanted}
        at_start = dict.fromkeys(wanted, 0)
        positions = self._positions
        stamps = _StampReader()
        last_stamp: int | None = None
        new = new_at_slice = 0
        lines: list[str] = []
        for index, (text, log_type, timestamp) in enumerate(_columns(page.entries), 1):
            stream = _stream_of(log_type, wanted, self.combined)
            if stream is not None:
                stamp = stamps.read(timestamp, positions.get(stream))
                last_stamp = stamp if last_stamp is None else max(last_stamp, stamp)
                if self._is_new(stream, stamp, start[stream], at_start):
                    current = positions.get(stream)
                    if current is not None and current[0] == stamp:
                        positions[stream] = (stamp, current[1] + 1)
                    else:
                        positions[stream] = (stamp, 1)
                    new += 1
                    lines.extend(entry_lines(stream, text))
            if index % slice_entries == 0:
                self._moved(new != new_at_slice)
                new_at_slice = new
                yield lines
                lines = []
        advanced = False
        if self.combined and last_stamp is not None:
            # A combined page is sorted by time across streams: every stream is read up to its last
            # timestamp (a stream with no entry at that time has shown none of them).
            for name in wanted:
                current = positions.get(name)
                if current is None or current[0] < last_stamp:
                    positions[name] = (last_stamp, 0)
                    advanced = True
        self._moved(advanced or new != new_at_slice)
        self._finish_page(page, new, at_start)
        yield lines

    def _moved(self, positions_changed: bool) -> None:
        """Rebuild :attr:`cursor` on its next read only if the positions moved: a poll that brings
        nothing new (most polls of most jobs) keeps the cursor object it started from, rather than
        leaving a fresh copy per trigger and poll for the garbage collector to promote."""
        if positions_changed or self._mode != JSON:
            self._mode, self._cursor = JSON, None

    @staticmethod
    def _is_new(stream: str, stamp: int, start: StreamPosition | None, at_start: dict[str, int]) -> bool:
        if start is None or stamp > start[0]:
            return True
        if stamp < start[0]:
            return False  # before the cursor: shown already
        at_start[stream] += 1
        return at_start[stream] > start[1]  # else the inclusive cursor sent it again

    def _finish_page(self, page: LogPage, new: int, at_start: dict[str, int]) -> None:
        """Decide whether to read another page of this stream (or of the combined log)."""
        size = len(page.entries)
        if page.limit is not None and page.limit < PAGE_LIMIT:
            self.full_page = max(self.full_page, page.limit)  # the server's own cap, below what we asked
        caught_up = new == 0
        if self.final:
            caught_up = caught_up or page.is_complete is True
        elif self.full_page and size < self.full_page:
            caught_up = True  # clearly not a full page: the rest (if any) waits for the next poll
        self.full_page = max(self.full_page, size)
        if new == 0:
            self._warn_if_stuck(page, sum(at_start.values()))
        if caught_up:
            self._next_stream()

    def _warn_if_stuck(self, page: LogPage, at_cursor: int) -> None:
        """A full page of already-seen entries at one timestamp: the time cursor cannot get past it."""
        full = at_cursor and at_cursor == len(page.entries) and at_cursor >= (page.limit or PAGE_LIMIT)
        if full and not self._warned_stuck:
            self._warned_stuck = True
            log.warning(
                "Domino job %s: more than %d log entries share one timestamp; the log API cannot "
                "page past them, so later entries at that time are not shown",
                self.job_id,
                at_cursor,
            )

    def _next_stream(self) -> None:
        self._stream_index += 1
        if self.combined or self._stream_index >= len(self.streams):
            self._done = True


def _columns(entries: Sequence[LogEntry]) -> Iterator[tuple[str, str, str]]:
    """A page's entries as ``(log, logType, timestamp)``, straight from its columns when it has them."""
    if isinstance(entries, LogEntries):
        return zip(entries.logs, entries.log_types, entries.timestamps, strict=True)
    return ((entry.log, entry.log_type, entry.timestamp) for entry in entries)


def _stream_of(log_type: str, wanted: tuple[str, ...], combined: bool) -> str | None:
    """The stream an entry belongs to among ``wanted``, or ``None`` to leave it out.

    A one-stream read keeps to its own entries (a server that ignored ``logType``); an untyped entry
    belongs to the stream asked for, or to stdout in a combined read.
    """
    if not log_type:
        return wanted[0] if not combined else "stdOut"
    if log_type in wanted:
        return log_type
    folded = log_type.casefold()
    for name in wanted:
        if name.casefold() == folded:
            return name
    return None


class _StampReader:
    """:func:`timestamp_nanos` with the last answer remembered: entries come in runs sharing a stamp."""

    def __init__(self) -> None:
        self._text = ""
        self._value = 0

    def read(self, text: str, position: StreamPosition | None) -> int:
        if text != self._text:
            stamp = timestamp_nanos(text)
            if stamp is None:  # unreadable: counted at the stream's latest time
                return position[0] if position is not None else 0
            self._text, self._value = text, stamp
        return self._value


def stream_log(
    poll: LogPoll, send: Callable[[endpoints.ApiCall[Any]], Any], emit: Callable[[str], None]
) -> LogCursor:
    """Run ``poll`` to the end over a sync ``send``, handing each new line to ``emit``.

    Returns the final cursor; if ``send`` raises, ``poll.cursor`` still covers every line emitted.
    """
    while (call := poll.next_call()) is not None:
        for line in poll.take(send(call)):
            emit(line)
    return poll.cursor


async def astream_log(
    poll: LogPoll,
    send: Callable[[endpoints.ApiCall[Any]], Awaitable[Any]],
    emit: Callable[[str], None],
    *,
    yield_every: float = YIELD_EVERY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> LogCursor:
    """Async :func:`stream_log`, giving the event loop back whenever ``yield_every`` seconds of work
    have passed since it last had it (see :data:`YIELD_EVERY_SECONDS`).

    The page is read in slices of :data:`ENTRIES_PER_SLICE` entries (a text log in one slice per
    chunk); :attr:`LogPoll.cursor` covers each slice as it is handed out. A task cancelled while paused
    inside a slice (a triggerer stopping) first emits the rest of that slice, so the cursor it leaves
    covers exactly the lines shown: none is lost or repeated when the watch resumes from it.
    """
    while (call := poll.next_call()) is not None:
        answer = await send(call)
        await asyncio.sleep(0)  # decoding the answer took a slice of its own
        started = clock()
        for lines in poll.take_iter(answer, ENTRIES_PER_SLICE):
            for index, line in enumerate(lines, 1):
                emit(line)
                if clock() - started < yield_every:
                    continue
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError:
                    for rest in lines[index:]:  # already counted by the cursor: show them before leaving
                        emit(rest)
                    raise
                started = clock()
            if clock() - started >= yield_every:  # a slice of entries shown before: no line to pause at
                await asyncio.sleep(0)
                started = clock()
    return poll.cursor
