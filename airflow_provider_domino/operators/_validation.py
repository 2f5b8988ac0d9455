"""Parse-time checks shared by the operator and the sensor: fail early, naming the parameter."""

from __future__ import annotations

from typing import Any

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.api.models import split_project_path


def is_templated(value: Any) -> bool:
    """True for values Jinja will render later; those are checked at run time instead."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def require_text(name: str, value: Any) -> None:
    """``value`` must be a non-blank string."""
    if not isinstance(value, str) or not value.strip():
        raise DominoConfigError(f"Parameter '{name}' must be a non-empty string, got {value!r}")


def require_positive(name: str, value: Any, *, optional: bool = False) -> None:
    """``value`` must be a positive number (or ``None`` when optional)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise DominoConfigError(f"Parameter '{name}' must be a positive number of seconds, got {value!r}")


def check_project_choice(project_id: Any, project: Any) -> None:
    """At most one of ``project_id`` and ``project``; ``project`` must be ``owner/name``."""
    if project_id and project:
        raise DominoConfigError("Give either 'project_id' or 'project' ('owner/name'), not both")
    if project and not is_templated(project):
        try:
            split_project_path(project)
        except ValueError as err:
            raise DominoConfigError(str(err)) from None
