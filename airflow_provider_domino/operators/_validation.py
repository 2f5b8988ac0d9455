"""Parse-time checks shared by the operator and the sensor: fail early, naming the parameter."""

from __future__ import annotations

from typing import Any

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.api.project_path import split_project_path


def is_templated(value: Any) -> bool:
    """True for values Jinja will render later; those are checked at run time instead."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def is_runtime_value(value: Any) -> bool:
    """True for values only known when the task runs: Jinja templates and task outputs (``XComArg``).

    Duck-typed on what Airflow resolves at run time (``resolve`` and ``iter_references``), so DAG
    parsing imports nothing more.
    """
    return is_templated(value) or (hasattr(value, "resolve") and hasattr(value, "iter_references"))


def require_text_unless_runtime(name: str, value: Any) -> None:
    """Like :func:`require_text`, but a template or an upstream task's output is checked when it runs."""
    if not is_runtime_value(value):
        require_text(name, value)


def check_names(name: str, value: Any) -> Any:
    """Tags or goal ids as given: one string (one name), a list of names, a template or a task output.

    Literal names are checked now; a value known only at run time is kept as is for :func:`names_of`.
    """
    if is_runtime_value(value) or value is None:
        return value
    if isinstance(value, str):
        require_text(name, value)
        return value
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise DominoConfigError(f"Parameter '{name}' must be a string or a list of strings, got {value!r}")
    for item in value:
        if not is_runtime_value(item):
            require_text(name, item)
    return list(value)


def names_of(name: str, value: Any) -> list[str]:
    """The rendered value as a list of names: one string is one name (never a list of characters)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise DominoConfigError(f"Parameter '{name}' must be a string or a list of strings, got {value!r}")
    names = []
    for item in value:
        require_text(name, item)
        names.append(item)
    return names


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
