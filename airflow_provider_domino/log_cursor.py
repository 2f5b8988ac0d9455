"""Which job log lines are new: the log cursor shared by the operator, the sensor and the trigger.

Domino's published log endpoint is JSON, paged by time: each call returns up to ``limit`` entries
``{log, logType, size, timestamp}`` from ``latestTimeNano`` on. The cursor must be treated as
inclusive (entries stamped exactly ``latestTimeNano`` may come again) and many entries share one
timestamp, so a time alone cannot say where we were. A :class:`LogCursor` therefore keeps, per log
stream, the timestamp of the last entry shown and *how many* entries at that timestamp were shown;
the next page skips exactly those. Nothing is shown twice and nothing is skipped, whether the server's
cursor is inclusive or exclusive, whether pages are full or short, and across a rebuilt trigger or a
rescheduled sensor, because the cursor is a few primitives (:meth:`LogCursor.to_json`).

Streams are read one ``logType`` at a time, always named (a server asked without one may answer with
the setup output only): ``prepareOutput`` (labelled, since image-pull and setup failures live there),
then ``stdOut`` and ``stdErr``. Each stream is paged until a page brings nothing new, one page in
memory at a time.

A server that answers ``text/plain`` (the simplified reference) is read as before: by byte offset with
``Range`` (:mod:`~airflow_provider_domino.api.log_lines`), and the cursor remembers that mode.

:class:`LogPoll` is one poll's worth of reading as a pure state machine (``next_call`` / ``take``);
:func:`stream_log` and :func:`astream_log` drive it over a sync or async ``send``.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from airflow_provider_domino.api import endpoints
from airflow_provider_domino.api.log_lines import TAIL_CHUNK_BYTES, shorten_line, split_lines
from airflow_provider_domino.api.models import LogChunk, LogPage

log = logging.getLogger(__name__)

#: The log streams shown, in this order within one poll.
LOG_STREAMS = ("prepareOutput", "stdOut", "stdErr")
#: Prefix of each stream's lines in the task log (stdout and stderr read as a terminal would).
STREAM_LABELS = {"prepareOutput": "[prepareOutput] "}
#: Entries asked for per call (the API's maximum; a server may return fewer).
PAGE_LIMIT = endpoints.MAX_LOG_LIMIT
#: Log lines handed on between two yields to the event loop in :func:`astream_log`.
LINES_PER_YIELD = 1000

UNKNOWN, JSON, TEXT = "unknown", "json", "text"


@dataclass(frozen=True)
class StreamPosition:
    """Where one stream was read to: the last shown entry's time, and how many entries at it were shown."""

    time_nano: int
    seen: int


@dataclass(frozen=True)
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
            "streams": {name: [str(pos.time_nano), pos.seen] for name, pos in self.positions.items()},
            "byte_offset": self.byte_offset,
        }

    @classmethod
    def from_json(cls, value: Any) -> LogCursor:
        """Rebuild a cursor from :meth:`to_json`'s output. Tolerant: ``None`` or garbage is a fresh
        cursor, and an ``int`` is a byte offset saved by provider 0.1 (a text log)."""
        if isinstance(value, LogCursor):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(TEXT, {}, value) if value > 0 else cls()
        if not isinstance(value, Mapping):
            return cls()
        mode = value.get("mode") if value.get("mode") in (UNKNOWN, JSON, TEXT) else UNKNOWN
        positions: dict[str, StreamPosition] = {}
        streams = value.get("streams")
        for name, pair in streams.items() if isinstance(streams, Mapping) else ():
            try:
                positions[str(name)] = StreamPosition(int(pair[0]), int(pair[1]))
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
            if mine is None or (theirs.time_nano, theirs.seen) > (mine.time_nano, mine.seen):
                ahead = True
            elif (theirs.time_nano, theirs.seen) < (mine.time_nano, mine.seen):
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


class LogPoll:
    """One poll of a job's log: which request to send next, and which lines of its answer are new.

    Drive it with ``while (call := poll.next_call()) is not None: lines = poll.take(send(call))``;
    :attr:`cursor` is always the position after the lines handed out so far, so a caller that fails
    half-way keeps what it has shown. ``final`` (the job has ended) also emits an unterminated last line
    of a text log. ``streams`` narrows the JSON streams read (e.g. ``("stdOut", "stdErr")``).
    """

    def __init__(
        self,
        job_id: str,
        cursor: LogCursor | None = None,
        *,
        final: bool = False,
        streams: Sequence[str] = LOG_STREAMS,
    ) -> None:
        self.job_id = job_id
        self.cursor = cursor or LogCursor()
        self.final = final
        self.streams = tuple(streams)
        self._stream_index = 0
        self._done = False
        self._warned_stuck = False

    def next_call(self) -> endpoints.ApiCall[Any] | None:
        """The next request of this poll, or ``None`` when the log is caught up."""
        if self._done:
            return None
        if self.cursor.mode == TEXT:
            return endpoints.get_job_log_tail(self.job_id, self.cursor.byte_offset, TAIL_CHUNK_BYTES)
        stream = self.streams[self._stream_index]
        position = self.cursor.positions.get(stream)
        return endpoints.get_job_log_page(
            self.job_id,
            log_type=stream,
            limit=PAGE_LIMIT,
            latest_time_nano=None if position is None else position.time_nano,
        )

    def take(self, answer: LogPage | LogChunk) -> list[str]:
        """The new lines of ``answer`` (the reply to :meth:`next_call`), advancing :attr:`cursor`."""
        if isinstance(answer, LogChunk):
            return self._take_text(answer)
        return self._take_page(answer)

    def _take_text(self, chunk: LogChunk) -> list[str]:
        offset = self.cursor.byte_offset
        if chunk.start < offset:  # a whole log from a server that was asked without Range
            chunk = LogChunk(chunk.data[offset - chunk.start :], offset)
        lines = split_lines(chunk, final=self.final)
        self.cursor = replace(self.cursor, mode=TEXT, byte_offset=lines.next_offset)
        self._done = not lines.more
        return lines.lines

    def _take_page(self, page: LogPage) -> list[str]:
        stream = self.streams[self._stream_index]
        position = self.cursor.positions.get(stream)
        # Where this page was asked from: entries at exactly that time were shown ``start_seen`` times.
        start_time, start_seen = (position.time_nano, position.seen) if position else (None, 0)
        time_nano, seen = start_time, start_seen  # where the cursor moves to
        at_cursor = 0  # entries of this page stamped exactly at the start time
        lines: list[str] = []
        new = 0
        for entry in page.entries:
            if entry.log_type and entry.log_type.lower() != stream.lower():
                continue  # a server that ignored logType: each stream keeps to its own entries
            stamp = timestamp_nanos(entry.timestamp)
            if stamp is None:  # unreadable: counted at the latest time seen
                stamp = time_nano if time_nano is not None else 0
            if start_time is not None:
                if stamp < start_time:
                    continue  # before the cursor: shown already
                if stamp == start_time:
                    at_cursor += 1
                    if at_cursor <= start_seen:
                        continue  # the inclusive cursor sent it again
            if stamp == time_nano:
                seen += 1
            elif time_nano is None or stamp > time_nano:
                time_nano, seen = stamp, 1
            new += 1
            lines.extend(entry_lines(stream, entry.log))
        if time_nano is not None:
            positions = {**self.cursor.positions, stream: StreamPosition(time_nano, seen)}
            self.cursor = replace(self.cursor, mode=JSON, positions=positions)
        else:
            self.cursor = replace(self.cursor, mode=JSON)
        if new == 0:
            self._warn_if_stuck(stream, page, at_cursor)
            self._next_stream()
        return lines

    def _warn_if_stuck(self, stream: str, page: LogPage, at_cursor: int) -> None:
        """A full page of already-seen entries at one timestamp: the time cursor cannot get past it."""
        full = at_cursor and at_cursor == len(page.entries) and at_cursor >= (page.limit or PAGE_LIMIT)
        if full and not self._warned_stuck:
            self._warned_stuck = True
            log.warning(
                "Domino job %s: more than %d %s log entries share one timestamp; the log API cannot "
                "page past them, so later entries at that time are not shown",
                self.job_id,
                at_cursor,
                stream,
            )

    def _next_stream(self) -> None:
        self._stream_index += 1
        if self._stream_index >= len(self.streams):
            self._done = True


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
    lines_per_yield: int = LINES_PER_YIELD,
) -> LogCursor:
    """Async :func:`stream_log`; yields to the event loop every ``lines_per_yield`` lines.

    A page holds up to 10,000 entries and logging one costs tens of microseconds: emitting a page in
    one go would hold every other trigger in the triggerer up for a fraction of a second.
    """
    emitted = 0
    while (call := poll.next_call()) is not None:
        for line in poll.take(await send(call)):
            emit(line)
            emitted += 1
            if emitted % lines_per_yield == 0:
                await asyncio.sleep(0)
    return poll.cursor
