"""docs/reference.md is generated from the code and must name every public parameter, key and option."""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference.md"
PACKAGE = ROOT / "airflow_provider_domino"

sys.path.insert(0, str(ROOT / "scripts"))
import gen_reference  # noqa: E402

#: The public classes, named here independently of the generator's own list.
PUBLIC_CLASSES = [
    ("airflow_provider_domino.operators.domino", "DominoStartJobOperator"),
    ("airflow_provider_domino.decorators.domino", "DominoDecoratedOperator"),
    ("airflow_provider_domino.sensors.domino", "DominoJobSensor"),
    ("airflow_provider_domino.triggers.domino", "DominoJobTrigger"),
]


@pytest.fixture(scope="module")
def reference() -> str:
    return REFERENCE.read_text()


def section(text: str, heading: str) -> str:
    """The text under ``## heading`` up to the next ``## ``."""
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_reference_is_up_to_date(reference: str) -> None:
    assert reference == gen_reference.render(), "docs/reference.md is stale: run `make reference`"


@pytest.mark.parametrize(("module", "name"), PUBLIC_CLASSES)
def test_every_public_parameter_is_documented(reference: str, module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    wanted = [
        p.name
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    assert wanted, f"{name} has no parameters to check"
    rows = {
        match.group(1): match.group(0)
        for match in re.finditer(r"^\| `(\w+)` \|.*$", section(reference, f"`{_title(name)}`"), re.M)
    }
    missing = [p for p in wanted if p not in rows]
    assert not missing, f"{name} parameters missing from docs/reference.md: {missing}"
    undocumented = [p for p in wanted if gen_reference.UNDOCUMENTED in rows[p]]
    assert not undocumented, f"{name} parameters without a ':param' line in the docstring: {undocumented}"


def _title(class_name: str) -> str:
    return "@task.domino" if class_name == "DominoDecoratedOperator" else class_name


def test_every_public_hook_method_is_listed(reference: str) -> None:
    from airflow_provider_domino.hooks.domino import DominoHook

    listed = section(reference, "`DominoHook`")
    methods = [n for n, v in vars(DominoHook).items() if not n.startswith("_") and callable(v)]
    assert methods
    missing = [m for m in methods if not re.search(rf"`(async )?{m}\(", listed)]
    assert not missing, f"DominoHook methods missing from docs/reference.md: {missing}"


def test_every_pushed_xcom_key_is_documented(reference: str) -> None:
    # Found by a plain text scan, independently of the generator's AST walk.
    source = "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))
    constants = dict(re.findall(r'^([A-Z_]+_KEY)\s*=\s*"([^"]+)"', source, re.M))
    keys = set(re.findall(r'xcom_push\(\s*key="([^"]+)"', source))
    keys |= {constants[name] for name in re.findall(r"xcom_push\(\s*key=([A-Z_]+)", source)}
    keys |= set(re.findall(r'self\._push\(context,\s*"([^"]+)"', source))
    assert {"job_id", "job_url", "job"} <= keys, f"the scan found too little: {keys}"
    documented = set(re.findall(r"^\| `(\w+)` \|", section(reference, "XCom keys"), re.M))
    assert keys | {"return_value"} <= documented, f"undocumented XCom keys: {keys - documented}"


def test_every_asset_extra_is_documented(reference: str) -> None:
    from airflow_provider_domino.integrations.assets import EXTRA_KEYS

    documented = set(re.findall(r"^\| `(\w+)` \|", section(reference, "Asset-event extras"), re.M))
    assert set(EXTRA_KEYS) <= documented


def test_every_config_option_and_connection_extra_is_documented(reference: str) -> None:
    from airflow_provider_domino.get_provider_info import CONNECTION_FIELDS, get_provider_info

    config = section(reference, "Configuration options")
    for name, body in (get_provider_info().get("config") or {}).items():
        for option in body.get("options") or {}:
            assert f"`[{name}] {option}`" in config
    connection = section(reference, "Connection (type `domino`)")
    for extra in CONNECTION_FIELDS:
        assert f"| `{extra}` |" in connection


def test_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "reference.md"
    stale.write_text("# Reference\n")
    monkeypatch.setattr(gen_reference, "OUTPUT", stale)
    assert gen_reference.main(["--check"]) == 1
    stale.write_text(gen_reference.render())
    assert gen_reference.main(["--check"]) == 0
