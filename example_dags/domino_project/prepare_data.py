"""Generate a small, deterministic synthetic churn dataset: ``data/train.csv`` and ``data/test.csv``.

Two numeric features (``tenure``, ``support_calls``) and a 0/1 ``churned`` label drawn from a noisy
linear rule, so a logistic regression can learn it well but not perfectly.

    python prepare_data.py [--rows 600] [--test-fraction 0.25] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from pathlib import Path

COLUMNS = ("tenure", "support_calls", "churned")


def make_rows(count: int, seed: int) -> list[tuple[float, float, int]]:
    """``count`` rows; the same seed always gives the same rows."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        tenure = rng.uniform(0.0, 10.0)  # years as a customer
        support_calls = rng.uniform(0.0, 8.0)  # calls in the last quarter
        # Churn grows with support calls and falls with tenure; the logistic noise keeps it imperfect.
        score = 2.0 * support_calls - 1.5 * tenure + 1.0
        probability = 1.0 / (1.0 + math.exp(-score))
        churned = 1 if rng.random() < probability else 0
        rows.append((round(tenure, 4), round(support_calls, 4), churned))
    return rows


def write_csv(path: Path, rows: list[tuple[float, float, int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rows = make_rows(args.rows, args.seed)
    split = int(len(rows) * (1.0 - args.test_fraction))
    write_csv(Path("data/train.csv"), rows[:split])
    write_csv(Path("data/test.csv"), rows[split:])
    churn_rate = sum(row[2] for row in rows) / len(rows)
    print(f"wrote data/train.csv ({split} rows) and data/test.csv ({len(rows) - split} rows)")
    print(f"churn rate {churn_rate:.3f}")


if __name__ == "__main__":
    main()
