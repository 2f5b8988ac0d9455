"""``@task.domino``: a TaskFlow function whose return value is the command of a Domino job.

Registered through the provider's ``task-decorators`` entry, so ``from airflow.sdk import task`` gives::

    @task.domino(project="acme/churn", hardware_tier_id="small", deferrable=True)
    def train(lr: float) -> str:
        return f"python train.py --lr {lr}"

    train.expand(lr=[0.01, 0.1, 0.5])  # a sweep: one Domino job per value

The function runs on the worker when the task starts; the string it returns is the job's command,
exactly as returned: Python values are formatted in by the function, and Jinja is not applied to it
(``{{ ... }}`` in the returned command stays literal). The decorator takes every parameter of
:class:`~airflow_provider_domino.operators.domino.DominoStartJobOperator` (those stay templated as
usual) and pushes the same XComs: ``return_value`` and ``job_id`` (the job id), ``project_id``,
``job_url``, ``job``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.bases.decorator import DecoratedOperator, task_decorator_factory

from airflow_provider_domino.operators.domino import DominoStartJobOperator

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.bases.decorator import TaskDecorator

    from airflow_provider_domino.api.models import Job

#: What ``command`` holds until the task runs and the function returns the real one.
COMMAND_SET_AT_RUN_TIME = "(set when the task runs: the return value of the decorated function)"


class DominoDecoratedOperator(DecoratedOperator, DominoStartJobOperator):
    """The operator behind ``@task.domino``: call the function, then run its return value on Domino.

    :param python_callable: the decorated function; it returns the command as a non-empty string.
    :param op_args: positional arguments for the function (templated).
    :param op_kwargs: keyword arguments for the function (templated).
    :param kwargs: any parameter of ``DominoStartJobOperator`` except ``command``.
    """

    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *DominoStartJobOperator.template_fields,
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **DominoStartJobOperator.template_fields_renderers,
    }
    custom_operator_name = "@task.domino"
    # Show the command the function returned (not the placeholder) among the rendered fields.
    overwrite_rtif_after_execution = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if "command" in kwargs:
            from airflow_provider_domino.api.errors import DominoConfigError

            raise DominoConfigError(
                "@task.domino takes no 'command': the decorated function returns it "
                "(use DominoStartJobOperator for a fixed command)"
            )
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            command=COMMAND_SET_AT_RUN_TIME,
            **kwargs,
        )

    def execute(self, context: Context) -> Any:
        # Template fields (op_args, op_kwargs, project, commit_id...) were rendered before this runs; the
        # command is set afterwards and so is never rendered.
        self.command = self._command_from_function(context)
        return super().execute(context)

    def _command_from_function(self, context: Context) -> str:
        from airflow.sdk.definitions.context import context_merge

        from airflow_provider_domino._compat import determine_kwargs
        from airflow_provider_domino.api.errors import DominoConfigError

        context_merge(context, self.op_kwargs)
        kwargs = determine_kwargs(self.python_callable, self.op_args, context)
        command = self.python_callable(*self.op_args, **kwargs)
        if not isinstance(command, str) or not command.strip():
            name = getattr(self.python_callable, "__name__", "the function")
            raise DominoConfigError(
                f"@task.domino function {name}() must return the command to run as a non-empty string, "
                f"got {command!r}"
            )
        return command

    def _succeed(self, context: Context, job: Job) -> str:
        self._show_command(job)
        return super()._succeed(context, job)

    def _finish(self, context: Context, job: Job) -> None:
        self._show_command(job)
        super()._finish(context, job)

    def _show_command(self, job: Job) -> None:
        """After a deferral the task is a fresh object: show the command the job ran, not the placeholder."""
        if self.command == COMMAND_SET_AT_RUN_TIME and job.command:
            self.command = job.command


def domino_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
    """``@task.domino(...)``: run the command the decorated function returns as a Domino job.

    Takes every parameter of ``DominoStartJobOperator`` except ``command``. The task's return value is the
    job id, so ``multiple_outputs`` does not apply.
    """
    if kwargs.get("multiple_outputs"):
        from airflow_provider_domino.api.errors import DominoConfigError

        raise DominoConfigError("@task.domino returns the Domino job id; multiple_outputs does not apply")
    kwargs["multiple_outputs"] = False
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=DominoDecoratedOperator,
        **kwargs,
    )
