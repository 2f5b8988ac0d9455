"""Apache Airflow provider for Domino Data Lab jobs.

Kept deliberately tiny: DAG files import the operator modules, and every import here is paid on
each parse.
"""

from __future__ import annotations

#: The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``).
__version__ = "0.2.0"

__all__ = ["__version__"]
