"""Train a logistic regression on ``data/train.csv`` by batch gradient descent.

Prints the loss after every epoch (``epoch 3/20 loss=0.4123``) and, last, the validation log loss and
accuracy as ``FINAL_LOSS=0.2871`` and ``FINAL_ACCURACY=0.9312``. Writes ``model.json`` and
``metrics/train_metrics.json``; both end up in the job's output commit. The same metrics go to
``dominostats.json``, which Domino shows as the job's metrics and the API returns as ``dominoStats``
(the Airflow task pushes them to XCom ``domino_stats``).

    python train.py [--lr 0.5] [--epochs 20] [--validation-fraction 0.2]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from model_utils import accuracy, load_rows, log_loss, sigmoid, standardize


def fit(rows, lr: float, epochs: int) -> dict:
    """Batch gradient descent on standardized features; logs the mean log loss per epoch."""
    columns = list(zip(*(features for features, _ in rows), strict=True))
    means = [sum(column) / len(column) for column in columns]
    stds = [
        math.sqrt(sum((v - m) ** 2 for v in column) / len(column)) or 1.0
        for column, m in zip(columns, means, strict=True)
    ]
    scaled = [(standardize(features, means, stds), label) for features, label in rows]
    weights = [0.0] * len(means)
    bias = 0.0
    loss = float("nan")
    for epoch in range(1, epochs + 1):
        grad_w = [0.0] * len(weights)
        grad_b = 0.0
        loss = 0.0
        for features, label in scaled:
            p = sigmoid(bias + sum(w * x for w, x in zip(weights, features, strict=True)))
            error = p - label
            grad_w = [g + error * x for g, x in zip(grad_w, features, strict=True)]
            grad_b += error
            p = min(max(p, 1e-12), 1 - 1e-12)
            loss -= label * math.log(p) + (1 - label) * math.log(1 - p)
        count = len(scaled)
        weights = [w - lr * g / count for w, g in zip(weights, grad_w, strict=True)]
        bias -= lr * grad_b / count
        loss /= count
        print(f"epoch {epoch}/{epochs} loss={loss:.4f}", flush=True)
    return {"weights": weights, "bias": bias, "means": means, "stds": stds, "final_loss": loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--validation-fraction", type=float, default=0.2)
    args = parser.parse_args()
    if args.lr <= 0 or args.epochs < 1:
        parser.error("--lr must be positive and --epochs at least 1")

    rows = load_rows("data/train.csv")
    split = int(len(rows) * (1.0 - args.validation_fraction))
    train_rows, validation_rows = rows[:split], rows[split:]
    print(f"training on {len(train_rows)} rows, validating on {len(validation_rows)} (lr={args.lr})")

    model = fit(train_rows, args.lr, args.epochs)
    model.update(lr=args.lr, epochs=args.epochs)
    metrics = {
        "lr": args.lr,
        "epochs": args.epochs,
        "final_loss": round(model["final_loss"], 6),
        "train_accuracy": round(accuracy(model, train_rows), 4),
        "validation_accuracy": round(accuracy(model, validation_rows), 4),
        "validation_loss": round(log_loss(model, validation_rows), 6),
    }
    Path("model.json").write_text(json.dumps(model, indent=2) + "\n")
    Path("metrics").mkdir(exist_ok=True)
    Path("metrics/train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    Path("dominostats.json").write_text(json.dumps(metrics) + "\n")
    print(f"train accuracy {metrics['train_accuracy']:.4f}; wrote model.json and metrics/train_metrics.json")
    # Human-readable summary lines, last in the log (DAGs read dominostats.json's metrics instead).
    print(f"FINAL_LOSS={metrics['validation_loss']:.6f}")
    print(f"FINAL_ACCURACY={metrics['validation_accuracy']:.4f}")


if __name__ == "__main__":
    main()
