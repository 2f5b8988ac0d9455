"""Allow ``python -m domino_emulator``, the same as the ``domino-emulator`` script."""

from domino_emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
