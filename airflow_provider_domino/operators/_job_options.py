"""The ``NewJobV1`` options and the tier parameters as the operator and ``@task.domino`` take them.

Kept apart from the operator module so that the option list, its parse-time checks and its run-time
form are written once for both. Importing this at DAG-parse time costs no more than the checks do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.api.job_spec import OPTION_NAMES, JobOptions, check_job_options
from airflow_provider_domino.operators._validation import is_runtime_value

#: The ``NewJobV1`` parameters (all templated): ``compute_cluster``, ``main_repo_git_ref``...
JOB_OPTION_FIELDS: tuple[str, ...] = OPTION_NAMES


def check_options_at_parse(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check the options known when the DAG is parsed; templates and task outputs wait for the run."""
    return check_job_options(values, is_runtime_value)


def options_at_run_time(values: Mapping[str, Any]) -> JobOptions | None:
    """The rendered options, checked again (``None`` when none is set: nothing extra is sent)."""
    if all(value is None for value in values.values()):
        return None
    return JobOptions.checked(**values)


def check_tier_choice(hardware_tier: Any, hardware_tier_id: Any) -> None:
    """Exactly one of ``hardware_tier`` (a name or id) and ``hardware_tier_id`` (the older spelling)."""
    given = [value for value in (hardware_tier, hardware_tier_id) if value is not None]
    if len(given) == 2:
        raise DominoConfigError(
            "Give either 'hardware_tier' (a tier name or id) or 'hardware_tier_id', not both"
        )
    if not given:
        raise DominoConfigError("Parameter 'hardware_tier' must name a Domino hardware tier (its name or id)")
    for name, value in (("hardware_tier", hardware_tier), ("hardware_tier_id", hardware_tier_id)):
        if (
            value is not None
            and not is_runtime_value(value)
            and (not isinstance(value, str) or not value.strip())
        ):
            raise DominoConfigError(f"Parameter '{name}' must be a non-empty string, got {value!r}")
