"""Turn tails of a growing job log into whole lines, carrying only a byte offset between polls.

The offset only ever moves past complete lines, so a line that was half written when we looked is read
again, whole, next time; nothing is repeated or lost, even when the watcher is rebuilt elsewhere from
its serialized offset. A line longer than ``MAX_LINE_BYTES`` with no newline yet is emitted in pieces so
one runaway line cannot make every poll re-download it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import LogChunk

#: Longest partial line held back waiting for its newline.
MAX_LINE_BYTES = 1024 * 1024
#: Most bytes asked for in one log request, so memory stays flat however fast a job writes. Equal to
#: ``MAX_LINE_BYTES`` so a full chunk always yields at least one line (the offset always moves on).
TAIL_CHUNK_BYTES = MAX_LINE_BYTES
#: Longest line written to the Airflow log; the rest is cut with a note (a 1 MB line is unreadable there).
MAX_LOGGED_LINE_CHARS = 16 * 1024


@dataclass(frozen=True)
class LogLines:
    """Whole lines from a chunk, the offset just after the last byte they cover, and whether to read on.

    ``more`` is true when the chunk filled a whole ``TAIL_CHUNK_BYTES`` request: the log probably goes on
    and the caller should ask again from ``next_offset`` before sleeping.
    """

    lines: list[str]
    next_offset: int
    more: bool = False


def split_lines(chunk: LogChunk, *, final: bool) -> LogLines:
    """Whole lines of ``chunk``; with ``final`` (the job has ended) the unterminated tail counts too."""
    data = chunk.data
    # Exactly a full window: the server honoured the bounded Range and there may be more. (A server that
    # ignores Range sends everything at once, often more than the window: nothing left to ask for.)
    full = len(data) == TAIL_CHUNK_BYTES
    cut = data.rfind(b"\n") + 1
    if (final and not full) or (cut == 0 and len(data) >= MAX_LINE_BYTES):
        cut = len(data)
    if cut == 0:
        return LogLines([], chunk.start)
    text = data[:cut].decode("utf-8", "replace")
    lines = [shorten_line(line.rstrip("\r")) for line in text.split("\n")]
    if lines and lines[-1] == "" and text.endswith("\n"):
        lines.pop()
    return LogLines(lines, chunk.start + cut, more=full)


def shorten_line(line: str) -> str:
    """``line``, cut to ``MAX_LOGGED_LINE_CHARS`` with a note saying how much was cut."""
    if len(line) <= MAX_LOGGED_LINE_CHARS:
        return line
    return f"{line[:MAX_LOGGED_LINE_CHARS]} … [{len(line) - MAX_LOGGED_LINE_CHARS} more characters cut]"


def last_lines(text: str, count: int = 20) -> str:
    """The last ``count`` non-empty lines of ``text`` (for failure messages)."""
    lines = [line for line in text.splitlines() if line.strip()]
    return "\n".join(shorten_line(line) for line in lines[-count:])


def text_log_end(data: bytes, max_bytes: int) -> str:
    """The last ``max_bytes`` of a text log as text, without the line the window cuts in two.

    ``data`` is what a suffix ``Range`` request brought back: at most ``max_bytes`` from a server that
    honours it, the whole log from one that does not.
    """
    if len(data) >= max_bytes:  # the window starts mid-log: its first line is probably cut
        data = data[-max_bytes:]
        data = data[data.find(b"\n") + 1 :]
    return data.decode("utf-8", "replace")
