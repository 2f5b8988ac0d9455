"""A local stand-in for the Domino Jobs API, for tests, demos and offline DAG development.

The emulator is a real HTTP server (FastAPI + uvicorn) that runs job commands as local
subprocesses, so DAGs using this provider can run end to end without a Domino account.
Start it with ``domino-emulator --api-key KEY`` or ``python -m domino_emulator``.

This package module deliberately imports nothing: the provider's operators and hooks must
never pull FastAPI or uvicorn in while Airflow parses DAG files. Import the submodules
(``cli``, ``app``, ``harness``...) explicitly when you need them.
"""

__all__: list[str] = []
