"""Fixtures of the security suite (defined in ``tests/reliability/support``)."""

from tests.reliability.support import private_emulator, run_dag

__all__ = ["private_emulator", "run_dag"]
