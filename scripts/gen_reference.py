"""Write docs/reference.md from the code, so the reference cannot drift from it.

    python scripts/gen_reference.py           # (re)write docs/reference.md
    python scripts/gen_reference.py --check   # exit 1 when docs/reference.md is stale

What is read from the code:
- the parameters of the operator, the decorator, the sensor and the trigger: name, type and default from
  the signature's source, "templated" from ``template_fields``, the description from the docstring's
  ``:param name:`` line;
- the hook's public methods: signature and the first paragraph of the docstring;
- the XCom keys the package pushes (every ``xcom_push(key=...)``/``_push(context, "...")`` call in the
  source), the asset-event extra keys (``integrations.assets.EXTRA_KEYS``), the connection's extra fields
  (``get_provider_info.CONNECTION_FIELDS``) and the config options (``get_provider_info()["config"]``).

The only hand-written text here is what a key means (``XCOM_KEYS``, ``ASSET_EXTRAS``); a key the code
pushes without a description here, or a description of a key the code no longer pushes, stops the
generator with an error instead of writing a wrong reference.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "airflow_provider_domino"
OUTPUT = ROOT / "docs" / "reference.md"

#: Marks a parameter whose docstring says nothing about it; tests/docs/test_reference.py fails on it.
UNDOCUMENTED = "**undocumented**"

#: What each XCom key the package pushes holds: (who pushes it, when, what it holds).
XCOM_KEYS: dict[str, str] = {
    "return_value": "The job id (`DominoStartJobOperator`, `@task.domino`); the final job details "
    "(`DominoJobSensor`).",
    "job_id": "The job id, pushed right after the start, before waiting (operator, `@task.domino`).",
    "project_id": "The job's project id, pushed right after the start (operator, `@task.domino`): a "
    "`DominoJobSensor(job_id=start.output)` downstream reads it to name the job's project.",
    "job_url": "The job's page in the Domino UI, pushed right after the start (operator, "
    '`@task.domino`, sensor); the "Domino Job" extra link reads it. Pushed even with '
    "`do_xcom_push=False`.",
    "job": "The final job details as one flat dict, every key always present: see "
    "[XCom `job`](#xcom-job) below (operator, `@task.domino`; the sensor's return value).",
    "domino_stats": "The metrics the job wrote to `dominostats.json` (Domino's `dominoStats`) as a dict, "
    "numbers as numbers and anything else as text; `{}` when it wrote none (operator, `@task.domino`).",
    "domino_cost": "The job's estimated cost: `jobId`, `estimatedCents`, `estimatedDollars`, "
    "`runMinutes`, `parts` (each tier used: `role`, `tierId`, `tierName`, `count`, `centsPerMinute`, "
    "`cents`) and `notes`; figures that are not known are `null`, never guessed (operator, "
    "`@task.domino`; see docs/cost.md).",
    "domino_log_cursor": "How much of the job log a deferred task has shown (written by the trigger "
    "after each poll that streamed lines, so a restarted triggerer does not show lines again). "
    "Internal: its shape may change.",
}

#: What each key of an outlet asset event's ``extra`` holds.
ASSET_EXTRAS: dict[str, str] = {
    "domino_job_id": "The id of the Domino job that succeeded.",
    "output_commit_id": "The commit holding the files the job wrote (run a downstream job on it).",
    "project_id": "The Domino project the task ran the job in.",
    "job_url": "The job's page in the Domino UI.",
    "domino_stats": "The metrics the job wrote to `dominostats.json`, as in XCom `domino_stats`.",
}

#: A sentence under a class's table, for what its signature does not show.
NOTES: dict[str, str] = {
    "@task.domino": "Plus every parameter of `DominoStartJobOperator` except `command` (the function "
    "returns it), and the usual task arguments (`retries`, `outlets`, ...).",
    "DominoJobSensor": "Plus Airflow's sensor arguments: `poke_interval` (seconds between checks), `mode` "
    "(`poke` or `reschedule`), `timeout` (seconds until the sensor fails; the job keeps running: a sensor "
    "never stops the job it watches), `soft_fail`.",
    "DominoStartJobOperator": "Plus the usual task arguments (`retries`, `execution_timeout`, `outlets`, "
    "`do_xcom_push`, ...). `timeout` and `execution_timeout` both stop the Domino job.",
}

#: The public classes whose constructor parameters are listed, and how to find them.
CLASSES: tuple[tuple[str, str, str], ...] = (
    ("DominoStartJobOperator", "airflow_provider_domino.operators.domino", "DominoStartJobOperator"),
    ("@task.domino", "airflow_provider_domino.decorators.domino", "DominoDecoratedOperator"),
    ("DominoJobSensor", "airflow_provider_domino.sensors.domino", "DominoJobSensor"),
    ("DominoJobTrigger", "airflow_provider_domino.triggers.domino", "DominoJobTrigger"),
    ("DominoJobEventTrigger", "airflow_provider_domino.triggers.job_events", "DominoJobEventTrigger"),
)
HOOK = ("airflow_provider_domino.hooks.domino", "DominoHook")

_PARAM = re.compile(r"^:param\s+(\w+):\s*(.*)$")


def param_docs(doc: str | None) -> dict[str, str]:
    """``{name: description}`` from a docstring's ``:param name:`` fields (continuation lines joined)."""
    found: dict[str, str] = {}
    current: str | None = None
    for raw in inspect.cleandoc(doc or "").splitlines():
        line = raw.strip()
        match = _PARAM.match(line)
        if match:
            current = match.group(1)
            found[current] = match.group(2)
        elif current and raw.startswith((" ", "\t")) and line:
            found[current] += " " + line
        else:
            current = None
    return found


def summary(doc: str | None) -> str:
    """The docstring's first paragraph, on one line."""
    first = inspect.cleandoc(doc or "").split("\n\n", 1)[0]
    return " ".join(first.split())


def signature_source(func: Callable[..., Any]) -> ast.arguments:
    """The parsed arguments of ``func`` (defaults as written, not as evaluated at import)."""
    source = textwrap.dedent(inspect.getsource(func))
    node = ast.parse(source).body[0]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    return node.args


def parameters(func: Callable[..., Any]) -> Iterator[tuple[str, str, str]]:
    """``(name, type, default)`` of each named parameter but ``self``, ``*args`` and ``**kwargs``."""
    args = signature_source(func)
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True)) + list(
        zip(args.kwonlyargs, args.kw_defaults, strict=True)
    )
    for arg, default in pairs:
        if arg.arg in ("self", "cls"):
            continue
        kind = ast.unparse(arg.annotation) if arg.annotation is not None else ""
        value = "required" if default is None else f"`{ast.unparse(default)}`"
        yield arg.arg, kind, value


_ROLE = re.compile(r":(?:meth|mod|class|func|attr):`~?([^`<]+?)(?:\s*<[^>]+>)?`")


def markdown(text: str) -> str:
    """Docstring markup as Markdown: ``:meth:`x <y>``` and ````x```` become `` `x` ``."""
    text = _ROLE.sub(lambda match: f"`{match.group(1).strip()}`", text)
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def constructor(cls: type) -> Callable[..., Any]:
    """The ``__init__`` the class itself defines (every documented class defines its own)."""
    init: Callable[..., Any] = vars(cls)["__init__"]
    return init


def cell(text: str) -> str:
    return markdown(text).replace("|", "\\|").replace("\n", " ")


def class_section(title: str, cls: type) -> list[str]:
    """A table of the constructor's parameters."""
    docs = param_docs(cls.__doc__)
    templated = set(getattr(cls, "template_fields", ()))
    lines = [f"## `{title}`", "", markdown(summary(cls.__doc__)), ""]
    lines += [f"`{cls.__module__}.{cls.__name__}`", ""]
    lines += ["| parameter | type | default | templated | description |", "|---|---|---|---|---|"]
    for name, kind, default in parameters(constructor(cls)):
        description = docs.get(name, UNDOCUMENTED)
        mark = "yes" if name in templated else "no"
        kind_text = f"`{cell(kind)}`" if kind else ""
        lines.append(f"| `{name}` | {kind_text} | {cell(default)} | {mark} | {cell(description)} |")
    lines.append("")
    if title in NOTES:
        lines += [NOTES[title], ""]
    return lines


def hook_section(cls: type) -> list[str]:
    """Each public method: its signature, the first paragraph of its docstring, its ``:param`` fields."""
    lines = ["## `DominoHook`", "", markdown(summary(cls.__doc__)), ""]
    lines += [f"`{cls.__module__}.{cls.__name__}`", ""]
    init_docs = param_docs(cls.__doc__)
    lines += ["| parameter | type | default | description |", "|---|---|---|---|"]
    for name, kind, default in parameters(constructor(cls)):
        kind_text = f"`{cell(kind)}`" if kind else ""
        lines.append(f"| `{name}` | {kind_text} | {cell(default)} | {cell(init_docs.get(name, ''))} |")
    lines += ["", "Public methods:", ""]
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_"):
            continue
        func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
        if isinstance(func, property):
            lines.append(f"- `{name}` (property): {markdown(summary(func.__doc__))}")
            continue
        if not inspect.isfunction(func):
            continue
        params = ", ".join(
            f"{pname}: {kind}" + ("" if default == "required" else f" = {default.strip('`')}")
            for pname, kind, default in parameters(func)
        )
        prefix = "async " if inspect.iscoroutinefunction(func) else ""
        lines.append(f"- `{prefix}{name}({params})`: {markdown(summary(func.__doc__))}")
        for pname, text in param_docs(func.__doc__).items():
            lines.append(f"  - `{pname}`: {markdown(text)}")
    lines.append("")
    return lines


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Top-level ``NAME = "literal"`` assignments of a module (imported names resolved by the caller)."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def pushed_xcom_keys() -> set[str]:
    """Every XCom key the package pushes: ``xcom_push(key=...)``, ``xcom_aset(KEY, ...)`` and the
    operator's ``self._push(context, KEY, ...)`` and a job report's ``self.push(KEY, ...)``, with module
    constants resolved across the package."""
    trees = {path: ast.parse(path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))}
    constants: dict[str, str] = {}
    for tree in trees.values():
        constants.update(_module_constants(tree))

    def value(node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in constants:
            return constants[node.id]
        if isinstance(node, ast.Name) and node.id.islower():
            return None  # a helper forwarding its own parameter (``_push(context, key, value)``)
        raise SystemExit(f"gen_reference: cannot read the XCom key {ast.unparse(node)!r}")

    keys: set[str | None] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "xcom_push":
                keys.update(value(kw.value) for kw in node.keywords if kw.arg == "key")
            elif name == "xcom_aset" and node.args:
                keys.add(value(node.args[0]))
            elif name == "_push" and len(node.args) >= 2:
                keys.add(value(node.args[1]))
            elif name == "push" and len(node.args) >= 2:  # a job report's ``self.push(KEY, value)``
                keys.add(value(node.args[0]))
    return {key for key in keys if key is not None} | {"return_value"}


def xcom_section() -> list[str]:
    keys = pushed_xcom_keys()
    missing = sorted(keys - XCOM_KEYS.keys())
    stale = sorted(XCOM_KEYS.keys() - keys)
    if missing or stale:
        raise SystemExit(
            f"gen_reference: XCom keys pushed but not described in XCOM_KEYS: {missing}; "
            f"described but no longer pushed: {stale}"
        )
    lines = ["## XCom keys", "", "| key | holds |", "|---|---|"]
    lines += [f"| `{key}` | {cell(XCOM_KEYS[key])} |" for key in XCOM_KEYS]
    return [*lines, ""]


def asset_section() -> list[str]:
    from airflow_provider_domino.integrations.assets import EXTRA_KEYS

    if set(EXTRA_KEYS) != ASSET_EXTRAS.keys():
        raise SystemExit(
            f"gen_reference: asset-event extras in the code {sorted(EXTRA_KEYS)} differ from "
            f"ASSET_EXTRAS {sorted(ASSET_EXTRAS)}"
        )
    lines = [
        "## Asset-event extras",
        "",
        "Set in the `extra` of each outlet asset event when a task with `outlets` sees its job succeed.",
        "",
        "| key | holds |",
        "|---|---|",
    ]
    lines += [f"| `{key}` | {cell(ASSET_EXTRAS[key])} |" for key in EXTRA_KEYS]
    return [*lines, ""]


def connection_section() -> list[str]:
    from airflow_provider_domino.get_provider_info import CONNECTION_FIELDS, CONNECTION_UI_BEHAVIOUR

    labels = CONNECTION_UI_BEHAVIOUR.get("relabeling", {})
    lines = [
        "## Connection (type `domino`)",
        "",
        "| field | label in the UI |",
        "|---|---|",
    ]
    lines += [f"| `{field}` | {cell(label)} |" for field, label in labels.items()]
    hidden_fields = CONNECTION_UI_BEHAVIOUR.get("hidden-fields", [])
    hidden = " and ".join(f"`{field}`" for field in hidden_fields if field != "extra")
    lines += ["", f"The form hides {hidden}."]
    if "extra" in hidden_fields:
        lines[-1] += (
            ' The extras below are its labelled "Extra Fields"; Airflow 3.3\'s form also shows them as raw '
            'JSON under "Extra Fields JSON".'
        )
    lines += ["", "Extra fields:", ""]
    lines += ["| extra | label | default | description |", "|---|---|---|---|"]
    for name, field in CONNECTION_FIELDS.items():
        default = field.get("schema", {}).get("default")
        default_text = "" if default is None else f"`{default!r}`"
        lines.append(
            f"| `{name}` | {cell(field.get('label', ''))} | {default_text} | "
            f"{cell(field.get('description', ''))} |"
        )
    return [*lines, ""]


def config_options() -> list[tuple[str, str, dict[str, Any]]]:
    """``(section, option, description dict)`` for every option in ``get_provider_info()["config"]``."""
    from airflow_provider_domino.get_provider_info import get_provider_info

    found = []
    for section, body in (get_provider_info().get("config") or {}).items():
        for option, spec in (body.get("options") or {}).items():
            found.append((section, option, spec))
    return found


def config_section() -> list[str]:
    options = config_options()
    lines = ["## Configuration options", ""]
    if not options:
        lines += [
            "The provider defines no Airflow configuration options of its own. It reads one of Airflow's: "
            "`[operators] default_deferrable`, the default of `deferrable`.",
            "",
        ]
        return lines
    lines += ["| option | type | default | description |", "|---|---|---|---|"]
    for section, option, spec in options:
        lines.append(
            f"| `[{section}] {option}` | {spec.get('type', '')} | `{spec.get('default')}` | "
            f"{cell(' '.join(str(spec.get('description', '')).split()))} |"
        )
    return [*lines, ""]


def job_shape_section() -> list[str]:
    """XCom ``job``'s keys, read from the table in ``Job.to_dict``'s docstring (the one description)."""
    from airflow_provider_domino.api.models import Job

    rows: list[list[str]] = []
    rules, columns = 0, [0]
    for line in (Job.to_dict.__doc__ or "").splitlines():
        if line.strip().startswith("====="):
            rules += 1
            # A simple reST table: columns start where the rule's runs of "=" start.
            columns = [i for i, char in enumerate(line) if char == "=" and (i == 0 or line[i - 1] == " ")]
            continue
        if rules == 2 and line.strip():  # between the header's closing rule and the table's last rule
            ends = [*columns[1:], None]
            key, kind, meaning = (line[a:b].strip() for a, b in zip(columns, ends, strict=True))
            rows.append([key.strip("`"), kind, meaning])
    if not rows:
        raise SystemExit("gen_reference: no key table in Job.to_dict's docstring")
    lines = ["## XCom `job`", "", "| key | type | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | {cell(kind)} | {cell(markdown(meaning))} |" for key, kind, meaning in rows]
    return [*lines, ""]


def render() -> str:
    lines = [
        "# Reference",
        "",
        "<!-- Generated by scripts/gen_reference.py from the code; do not edit. "
        "Regenerate: make reference -->",
        "",
        "Every public parameter, XCom key, asset-event extra, connection field and configuration option "
        "of the provider. Parameters marked templated accept Jinja.",
        "",
    ]
    for title, module, name in CLASSES:
        lines += class_section(title, getattr(importlib.import_module(module), name))
    lines += hook_section(getattr(importlib.import_module(HOOK[0]), HOOK[1]))
    lines += xcom_section() + job_shape_section() + asset_section() + connection_section() + config_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/reference.md is stale")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    text = render()
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print("docs/reference.md is stale: run `make reference`", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
