"""Allow ``python -m airflow_provider_domino.emulator``, the same as the ``domino-emulator`` script."""

from airflow_provider_domino.emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
