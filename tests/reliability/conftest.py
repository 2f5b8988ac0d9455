"""Fixtures of the reliability suite (shared with ``tests/security`` through ``support``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from tests.reliability.support import private_emulator, run_dag

if TYPE_CHECKING:
    import pytest

__all__ = ["private_emulator", "pytest_terminal_summary", "run_dag"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the fault matrix's figures (they go into the README's "Reliability" section)."""
    matrix = sys.modules.get("tests.reliability.test_fault_matrix")
    figures = getattr(matrix, "FIGURES", None)
    if not figures:
        return
    terminalreporter.section("fault matrix: 30 job-tasks per scenario")
    terminalreporter.write_line(
        f"{'scenario':32} {'requests':>8} {'faulted':>8} {'latency':>8} {'starts':>7} {'lookups':>8} "
        f"{'ambig.':>6} {'retries':>8} {'seconds':>8}  statuses"
    )
    for name, row in figures.items():
        terminalreporter.write_line(
            f"{name:32} {row['requests']:>8} {row['faulted']:>8} {row['latency']:>8} {row['starts']:>7} "
            f"{row['lookups']:>8} {row['ambiguous_starts']:>6} {row['retries']:>8} {row['duration']:>8}  "
            f"{row['statuses']}"
        )
        for crash in row.get("crashes", ()):
            terminalreporter.write_line(
                f"{'':32} crashed with {crash['jobs']} jobs, running: {crash['running']}"
            )
