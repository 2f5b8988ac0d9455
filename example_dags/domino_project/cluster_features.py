"""Compute feature statistics as a compute-cluster job would, and report them as ``dominoStats``.

On Domino this script runs on the cluster's driver with a Spark (or Ray, Dask, MPI) cluster attached:
``DOMINO_CLUSTER_TYPE`` and ``DOMINO_CLUSTER_WORKER_COUNT`` say which (the local emulator sets them
too, and runs the script alone). It splits the work into one partition per worker, so the numbers do
not depend on the cluster's size, and writes ``dominostats.json``: Domino returns its entries as the
job's ``dominoStats`` and the Airflow task pushes them to XCom ``domino_stats``.

    python cluster_features.py [--rows 5000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    cluster = os.environ.get("DOMINO_CLUSTER_TYPE", "none")
    workers = max(1, int(os.environ.get("DOMINO_CLUSTER_WORKER_COUNT") or 1))
    rng = random.Random(args.seed)
    values = [rng.gauss(50.0, 12.0) for _ in range(args.rows)]
    partitions = [values[index::workers] for index in range(workers)]
    size = len(partitions[0])
    print(f"{cluster} cluster with {workers} worker(s): {len(partitions)} partitions of ~{size} rows")
    total = sum(sum(part) for part in partitions)
    mean = total / len(values)
    variance = sum((value - mean) ** 2 for value in values) / len(values)
    missing = sum(1 for value in values if value < 0)
    stats = {
        "rows": len(values),
        "feature_mean": round(mean, 4),
        "feature_std": round(variance**0.5, 4),
        "missing_rate": round(missing / len(values), 6),
        "cluster": cluster,
    }
    Path("dominostats.json").write_text(json.dumps(stats) + "\n")
    print("feature statistics: " + ", ".join(f"{key}={value}" for key, value in stats.items()))


if __name__ == "__main__":
    main()
