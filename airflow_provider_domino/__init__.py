"""Apache Airflow provider for Domino Data Lab jobs.

Kept deliberately tiny: DAG files import the operator modules, and every import here is paid on
each parse.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
