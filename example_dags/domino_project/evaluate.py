"""Evaluate ``model.json`` on ``data/test.csv``; fail the job when accuracy is below a threshold.

Run it on the output commit of the ``train.py`` job, which holds both files. Prints
``accuracy=0.9300`` and writes ``metrics/eval_metrics.json`` and ``dominostats.json`` (the job's
``dominoStats``: the Airflow task pushes them to XCom ``domino_stats``, where a DAG can gate on them).
Exits with status 1 when the accuracy is below ``--min-accuracy`` (when given), so the Airflow task
fails instead of shipping a bad model.

    python evaluate.py [--min-accuracy 0.75]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model_utils import accuracy, load_rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-accuracy", type=float, default=None)
    args = parser.parse_args()

    model_path = Path("model.json")
    if not model_path.exists():
        print("model.json not found: run this job on the output commit of the train.py job", file=sys.stderr)
        return 2
    model = json.loads(model_path.read_text())
    rows = load_rows("data/test.csv")
    score = accuracy(model, rows)
    passed = args.min_accuracy is None or score >= args.min_accuracy
    metrics = {
        "accuracy": round(score, 4),
        "test_rows": len(rows),
        "min_accuracy": args.min_accuracy,
        "passed": passed,
        "model_lr": model.get("lr"),
    }
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/eval_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    stats = {"accuracy": metrics["accuracy"], "test_rows": len(rows), "model_lr": model.get("lr")}
    Path("dominostats.json").write_text(json.dumps(stats) + "\n")
    threshold = "" if args.min_accuracy is None else f" (threshold {args.min_accuracy})"
    print(f"accuracy={score:.4f} on {len(rows)} test rows{threshold}")
    if not passed:
        print(f"accuracy {score:.4f} is below --min-accuracy {args.min_accuracy}: failing", file=sys.stderr)
        return 1
    print("model passed evaluation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
