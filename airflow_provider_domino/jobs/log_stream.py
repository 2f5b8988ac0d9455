"""Following one job's log into a task log: the routine the operator, the trigger and the sensor share.

A :class:`LogFollower` holds what a watcher keeps between two reads of a job's log: the cursor (how
much was shown), the last lines shown (quoted when the job fails), the most entries the server has
returned in one page, and the last log error it warned about. Each read decides the same way wherever
it runs:

- no read while the job waits to start (queued, scheduled, pending: it has written nothing yet), see
  :func:`~airflow_provider_domino.jobs.log_cursor.may_have_new_lines`; a job that ended always gets its
  final read;
- a log endpoint that fails never fails the watch: the error is logged as a warning once per distinct
  error (not once per poll), and the cursor still covers every line shown before it;
- every new line goes to ``emit`` and into :attr:`LogFollower.recent`.

:meth:`LogFollower.follow` reads through a sync hook (the operator on a worker, the sensor's poke),
:meth:`LogFollower.afollow` through an async one (the trigger); both share :meth:`_begin` and
:meth:`_end`, so they cannot disagree.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_domino.jobs.log_cursor import LogCursor, LogPoll, may_have_new_lines

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job

#: Log lines kept for a failure message (the operator's) or an event (the trigger's).
RECENT_LINES = 20

SyncRead = Callable[[LogPoll, Callable[[str], None]], Any]
AsyncRead = Callable[[LogPoll, Callable[[str], None]], Awaitable[Any]]


class LogFollower:
    """How far one job's log was shown, and the one way to show more.

    :param job_id: the job whose log is followed.
    :param emit: called with each new line (e.g. to write it into the task log).
    :param cursor: where an earlier read stopped (a checkpoint, a rescheduled sensor's state).
    :param log: where warnings about the log endpoint go (the task's logger).
    """

    def __init__(
        self,
        job_id: str,
        emit: Callable[[str], None],
        cursor: LogCursor | None = None,
        *,
        log: logging.Logger | Any,
        recent_lines: int = RECENT_LINES,
    ) -> None:
        self.job_id = job_id
        self.cursor = cursor or LogCursor()
        self.recent: deque[str] = deque(maxlen=recent_lines)
        self._emit = emit
        self._log = log
        self._full_page = 0
        self._last_error: tuple[type, int | None] | None = None

    def wants(self, job: Job) -> bool:
        """Whether reading now can bring anything (see the module docstring)."""
        return may_have_new_lines(job)

    def follow(self, read: SyncRead, job: Job) -> LogCursor:
        """Show the lines of ``job``'s log past :attr:`cursor` through a sync ``read`` (``hook.stream_log``).

        Returns the new cursor. Never raises a Domino error.
        """
        from airflow_provider_domino.api.errors import DominoError

        poll = self._begin(job)
        if poll is None:
            return self.cursor
        try:
            read(poll, self._show)
        except DominoError as err:
            self._warn(err)
        finally:
            self._end(poll)
        return self.cursor

    async def afollow(self, read: AsyncRead, job: Job) -> LogCursor:
        """:meth:`follow` through an async ``read`` (``hook.astream_log``)."""
        from airflow_provider_domino.api.errors import DominoError

        poll = self._begin(job)
        if poll is None:
            return self.cursor
        try:
            await read(poll, self._show)
        except DominoError as err:
            self._warn(err)
        finally:
            self._end(poll)
        return self.cursor

    def _begin(self, job: Job) -> LogPoll | None:
        if not self.wants(job):
            return None
        return LogPoll(self.job_id, self.cursor, final=job.is_finished, full_page=self._full_page)

    def _end(self, poll: LogPoll) -> None:
        """Keep every line shown so far, even after a page that failed half-way."""
        self.cursor = poll.cursor
        self._full_page = poll.full_page

    def _show(self, line: str) -> None:
        self.recent.append(line)
        self._emit(line)

    def _warn(self, err: Exception) -> None:
        """A warning once per distinct error (its type and HTTP status), not once per poll."""
        seen = (type(err), getattr(err, "status", None))
        if seen != self._last_error:
            self._last_error = seen
            self._log.warning("Could not fetch the log of Domino job %s: %s", self.job_id, err)
