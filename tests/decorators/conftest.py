"""``run_dag`` for the decorator's real ``dag.test()`` runs (the same fixture as ``tests/e2e``)."""

from __future__ import annotations

from tests.e2e.conftest import run_dag

__all__ = ["run_dag"]
