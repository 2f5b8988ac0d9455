"""Shared by ``train.py`` and ``evaluate.py``: reading the CSVs and scoring a logistic regression."""

from __future__ import annotations

import csv
import math
from pathlib import Path

Row = tuple[list[float], int]


def load_rows(path: str | Path) -> list[Row]:
    """``(features, label)`` pairs from a CSV written by ``prepare_data.py``."""
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"{path} not found: run this job on the output commit of the prepare_data.py job")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        next(reader)  # header
        return [([float(value) for value in line[:-1]], int(line[-1])) for line in reader if line]


def sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


def standardize(features: list[float], means: list[float], stds: list[float]) -> list[float]:
    return [(value - mean) / std for value, mean, std in zip(features, means, stds, strict=True)]


def predict_proba(model: dict, features: list[float]) -> float:
    """Churn probability of one raw (unstandardized) feature vector."""
    scaled = standardize(features, model["means"], model["stds"])
    return sigmoid(model["bias"] + sum(w * x for w, x in zip(model["weights"], scaled, strict=True)))


def accuracy(model: dict, rows: list[Row]) -> float:
    if not rows:
        return 0.0
    correct = sum(1 for features, label in rows if (predict_proba(model, features) >= 0.5) == bool(label))
    return correct / len(rows)


def log_loss(model: dict, rows: list[Row]) -> float:
    """Mean negative log-likelihood; lower is better (breaks ties between equally accurate models)."""
    if not rows:
        return 0.0
    total = 0.0
    for features, label in rows:
        p = min(max(predict_proba(model, features), 1e-12), 1 - 1e-12)
        total -= label * math.log(p) + (1 - label) * math.log(1 - p)
    return total / len(rows)
