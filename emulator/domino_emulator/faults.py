"""Seeded, deterministic fault injection, so client retry logic can be tested for real.

A fault configuration is a list of rules. For each API request the rules are checked in
order and the first one that *fires* decides the fault; later rules are not consulted (so
their counters, random draws and sequences do not advance for that request). Every rule
has its own ``random.Random(seed + rule_index)``, so a given sequence of requests always
meets the same faults.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

ENDPOINT_NAMES = frozenset(
    {
        "list_jobs",
        "get_job",
        "get_job_logs",
        "start_job",
        "stop_job",
        "add_tag",
        "remove_tag",
        "list_goals",
        "link_goal",
        "unlink_goal",
        "find_project",
        "get_project",
        "get_v4_job",
        "list_hardware_tiers",
    }
)
FAULT_KINDS = frozenset({"status", "latency", "drop", "drop_before"})


class FaultConfigError(ValueError):
    """The fault configuration is malformed; the message says where."""


@dataclass(frozen=True)
class Fault:
    """What to do to one request.

    ``status``: answer ``status`` without processing (``retry_after`` sent verbatim if set);
    ``latency``: wait ``seconds`` then process normally; ``drop``: process, then close the
    connection without answering; ``drop_before``: close the connection without processing.
    """

    kind: str
    status: int = 503
    retry_after: str | None = None
    seconds: float = 0.0


@dataclass
class _Rule:
    endpoint: str
    fault: Fault | None
    sequence: list[Fault | None] | None
    probability: float
    times: int | None
    skip: int
    rng: random.Random
    matched: int = 0
    fired: int = 0
    position: int = 0

    def draw(self) -> Fault | None:
        """Decide for one matching request; advances this rule's counters and random stream."""
        if self.sequence is not None:
            if self.position >= len(self.sequence):
                return None
            fault = self.sequence[self.position]
            self.position += 1
            return fault
        self.matched += 1
        if self.matched <= self.skip:
            return None
        if self.times is not None and self.fired >= self.times:
            return None
        if self.probability < 1.0 and self.rng.random() >= self.probability:
            return None
        self.fired += 1
        return self.fault


def _parse_fault(raw: Any, where: str) -> Fault:
    if not isinstance(raw, dict):
        raise FaultConfigError(f"{where}: a fault must be an object")
    kind = raw.get("fault")
    if kind not in FAULT_KINDS:
        raise FaultConfigError(f"{where}: 'fault' must be one of {', '.join(sorted(FAULT_KINDS))}")
    status = raw.get("status", 503)
    if kind == "status" and (
        not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599
    ):
        raise FaultConfigError(f"{where}: 'status' must be an HTTP status code")
    retry_after = raw.get("retry_after")
    if retry_after is not None and not isinstance(retry_after, (str, int, float)):
        raise FaultConfigError(f"{where}: 'retry_after' must be a string")
    seconds = raw.get("seconds", 0.0)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise FaultConfigError(f"{where}: 'seconds' must be a non-negative number")
    return Fault(
        kind=kind,
        status=int(status),
        retry_after=None if retry_after is None else str(retry_after),
        seconds=float(seconds),
    )


def _optional_count(raw: dict[str, Any], key: str, where: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FaultConfigError(f"{where}: '{key}' must be a non-negative integer")
    return value


@dataclass
class FaultInjector:
    """The active fault configuration and its per-rule state."""

    config: dict[str, Any] = field(default_factory=dict)
    ignore_range: bool = False
    _rules: list[_Rule] = field(default_factory=list)

    @classmethod
    def from_config(cls, raw: Any) -> FaultInjector:
        """Validate a configuration (see the module docstring) and build fresh rule state."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise FaultConfigError("fault configuration must be a JSON object")
        seed = raw.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise FaultConfigError("'seed' must be an integer")
        ignore_range = raw.get("ignore_range", False)
        if not isinstance(ignore_range, bool):
            raise FaultConfigError("'ignore_range' must be true or false")
        raw_rules = raw.get("rules", [])
        if not isinstance(raw_rules, list):
            raise FaultConfigError("'rules' must be a list")
        rules = [cls._parse_rule(rule, index, seed) for index, rule in enumerate(raw_rules)]
        return cls(config=copy.deepcopy(raw), ignore_range=ignore_range, _rules=rules)

    @staticmethod
    def _parse_rule(raw: Any, index: int, seed: int) -> _Rule:
        where = f"rules[{index}]"
        if not isinstance(raw, dict):
            raise FaultConfigError(f"{where}: a rule must be an object")
        endpoint = raw.get("endpoint", "*")
        if endpoint != "*" and endpoint not in ENDPOINT_NAMES:
            raise FaultConfigError(
                f"{where}: unknown endpoint {endpoint!r}; "
                f"use '*' or one of {', '.join(sorted(ENDPOINT_NAMES))}"
            )
        probability = raw.get("probability", 1.0)
        if (
            not isinstance(probability, (int, float))
            or isinstance(probability, bool)
            or not 0 <= probability <= 1
        ):
            raise FaultConfigError(f"{where}: 'probability' must be between 0 and 1")
        sequence: list[Fault | None] | None = None
        fault: Fault | None = None
        if "sequence" in raw:
            if not isinstance(raw["sequence"], list):
                raise FaultConfigError(f"{where}: 'sequence' must be a list")
            sequence = [
                None if item is None else _parse_fault(item, f"{where}.sequence[{position}]")
                for position, item in enumerate(raw["sequence"])
            ]
        else:
            fault = _parse_fault(raw, where)
        return _Rule(
            endpoint=endpoint,
            fault=fault,
            sequence=sequence,
            probability=float(probability),
            times=_optional_count(raw, "times", where),
            skip=_optional_count(raw, "skip", where) or 0,
            rng=random.Random(seed + index),
        )

    def choose(self, endpoint: str) -> Fault | None:
        """The fault for one request to ``endpoint``, or None to serve it normally."""
        for rule in self._rules:
            if rule.endpoint == "*" or rule.endpoint == endpoint:
                fault = rule.draw()
                if fault is not None:
                    return fault
        return None
