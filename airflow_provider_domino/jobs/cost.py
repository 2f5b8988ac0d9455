"""What a finished job cost, estimated from its run time and its hardware tiers' prices.

The estimate is run minutes (``stageTimes.startTime`` to ``completedTime``) times the tier's
``centsPerMinute`` from ``GET /v4/projects/{id}/hardwareTiers``. A compute-cluster job adds its
workers at their tier, counted at ``workerCount`` (an autoscaling cluster may have run more), and its
master when the cluster names a master tier. A price the server did not give is reported as unknown:
no number is ever made up, and then there is no total.

The prices come from a :class:`PriceSheet`, built from the tier list the job's start already read
(tier names are resolved through it), so the estimate costs no request of its own. The sheet is small
and JSON-ready: a deferred task hands it from the step that started the job to the step that resumes
after the trigger (see the operator), instead of reading the tier list again.

Setup and queue time are not billed by this estimate, and neither is storage; see ``docs/cost.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_domino.api.models import epoch_seconds

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import HardwareTier, Job

#: XCom key of the estimate.
COST_XCOM_KEY = "domino_cost"


@dataclass(frozen=True)
class TierPrice:
    """One tier as the estimate uses it: id, name (when known) and price (``None``: unknown)."""

    id: str
    name: str | None
    cents_per_minute: float | None

    def label(self) -> str:
        """``Small (small-k8s)``, or the id alone when the name is unknown."""
        return f"{self.name} ({self.id})" if self.name and self.name != self.id else self.id

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "centsPerMinute": self.cents_per_minute}

    @classmethod
    def from_json(cls, data: Any) -> TierPrice | None:
        if not isinstance(data, Mapping) or not data.get("id"):
            return None
        price = data.get("centsPerMinute")
        number = float(price) if isinstance(price, (int, float)) and not isinstance(price, bool) else None
        name = data.get("name")
        return cls(str(data["id"]), str(name) if name else None, number)


def tier_price(tier_id: str, tiers: Sequence[HardwareTier] | None) -> TierPrice:
    """The price of ``tier_id`` among ``tiers`` (``None`` tiers: the list could not be read)."""
    for tier in tiers or ():
        if tier.id == tier_id:
            return TierPrice(tier.id, tier.name, tier.cents_per_minute)
    return TierPrice(tier_id, None, None)


@dataclass(frozen=True)
class PriceSheet:
    """The tiers a job runs on and their prices: what :func:`estimate_cost` needs besides the job.

    :param main: the job's own tier.
    :param workers: a compute cluster's worker tier, with ``worker_count`` workers (``max_worker_count``
        when the cluster autoscales).
    :param master: a compute cluster's master tier, when the cluster names one.
    """

    main: TierPrice
    workers: TierPrice | None = None
    worker_count: int = 0
    max_worker_count: int | None = None
    master: TierPrice | None = None
    cluster_type: str | None = None

    @classmethod
    def of(
        cls,
        tier_id: str,
        tiers: Sequence[HardwareTier] | None,
        compute_cluster: Mapping[str, Any] | None = None,
    ) -> PriceSheet:
        """The sheet of a job on ``tier_id`` with ``compute_cluster`` (tier fields already ids)."""
        if not compute_cluster:
            return cls(tier_price(tier_id, tiers))
        worker_tier = compute_cluster.get("workerHardwareTier")
        master_tier = compute_cluster.get("masterHardwareTierId")
        count = compute_cluster.get("workerCount")
        most = compute_cluster.get("maxWorkerCount")
        return cls(
            main=tier_price(tier_id, tiers),
            workers=tier_price(str(worker_tier), tiers) if worker_tier else None,
            worker_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
            max_worker_count=most if isinstance(most, int) and not isinstance(most, bool) else None,
            master=tier_price(str(master_tier), tiers) if master_tier else None,
            cluster_type=str(compute_cluster.get("clusterType") or "") or None,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (trigger events, ``next_kwargs``); read back with :meth:`from_json`."""
        return {
            "main": self.main.to_json(),
            "workers": self.workers.to_json() if self.workers else None,
            "workerCount": self.worker_count,
            "maxWorkerCount": self.max_worker_count,
            "master": self.master.to_json() if self.master else None,
            "clusterType": self.cluster_type,
        }

    @classmethod
    def from_json(cls, data: Any) -> PriceSheet | None:
        """The sheet :meth:`to_json` wrote, or ``None`` for anything else."""
        if not isinstance(data, Mapping):
            return None
        main = TierPrice.from_json(data.get("main"))
        if main is None:
            return None
        count = data.get("workerCount")
        most = data.get("maxWorkerCount")
        return cls(
            main=main,
            workers=TierPrice.from_json(data.get("workers")),
            worker_count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
            max_worker_count=most if isinstance(most, int) and not isinstance(most, bool) else None,
            master=TierPrice.from_json(data.get("master")),
            cluster_type=str(data["clusterType"]) if data.get("clusterType") else None,
        )


@dataclass(frozen=True)
class CostPart:
    """One line of the estimate: ``count`` machines of ``tier`` for the run's minutes."""

    role: str
    tier: TierPrice
    count: int
    cents: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "tierId": self.tier.id,
            "tierName": self.tier.name,
            "count": self.count,
            "centsPerMinute": self.tier.cents_per_minute,
            "cents": _round(self.cents),
        }


@dataclass(frozen=True)
class CostEstimate:
    """The estimate of one job: the figures it used and the total, when every figure is known."""

    job_id: str
    run_minutes: float | None
    parts: tuple[CostPart, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def cents(self) -> float | None:
        """The total in cents; ``None`` when the run time or any price is unknown."""
        if self.run_minutes is None or any(part.cents is None for part in self.parts):
            return None
        return sum(part.cents for part in self.parts if part.cents is not None)

    def to_dict(self) -> dict[str, Any]:
        """XCom ``domino_cost``."""
        cents = self.cents
        return {
            "jobId": self.job_id,
            "estimatedCents": _round(cents),
            "estimatedDollars": None if cents is None else round(cents / 100, 4),
            "runMinutes": _round(self.run_minutes),
            "parts": [part.to_dict() for part in self.parts],
            "notes": list(self.notes),
        }

    def describe(self) -> str:
        """One line for the task log, naming every figure used."""
        minutes = "unknown run time" if self.run_minutes is None else _duration(self.run_minutes)
        pieces = []
        for part in self.parts:
            price = part.tier.cents_per_minute
            rate = "price unknown" if price is None else f"{price:g} cents/min"
            count = f"{part.count} x " if part.count != 1 else ""
            pieces.append(f"{part.role} {count}{part.tier.label()} at {rate}")
        cents = self.cents
        total = (
            f"~{_cents(cents)} cents (${cents / 100:.4f})"
            if cents is not None
            else "no estimate (" + "; ".join(self.notes or ("a figure is unknown",)) + ")"
        )
        text = f"Estimated cost of Domino job {self.job_id}: {total}; {minutes}, " + ", ".join(pieces)
        extra = [note for note in self.notes if cents is not None]
        return text + ("; " + "; ".join(extra) if extra else "")


def _duration(minutes: float) -> str:
    """``5.00 min``; a run under a minute in seconds (``12.3 s``), so a short job does not read 0."""
    return f"{minutes:.2f} min" if minutes >= 1 else f"{minutes * 60:.1f} s"


def _cents(cents: float) -> str:
    """``4.00``; under a cent with four decimals (``0.0133``), so a short job does not read 0."""
    return f"{cents:.2f}" if cents >= 1 or cents == 0 else f"{cents:.4f}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_minutes(job: Job) -> float | None:
    """Minutes from ``stageTimes.startTime`` to ``completedTime``; ``None`` when either is missing."""
    started, ended = epoch_seconds(job.started_at), epoch_seconds(job.ended_at)
    if started is None or ended is None or ended < started:
        return None
    return (ended - started) / 60


def estimate_cost(job: Job, sheet: PriceSheet) -> CostEstimate:
    """The estimate for the finished ``job`` on the tiers of ``sheet``."""
    minutes = run_minutes(job)
    notes: list[str] = []
    if minutes is None:
        notes.append("the job's start or end time is unknown")
    roles = [("job", sheet.main, 1)]
    if sheet.master is not None:
        roles.append(("master", sheet.master, 1))
    if sheet.workers is not None:
        roles.append(("workers", sheet.workers, sheet.worker_count))
        if sheet.max_worker_count is not None and sheet.max_worker_count > sheet.worker_count:
            notes.append(
                f"workers counted at workerCount={sheet.worker_count}; the cluster autoscales up to "
                f"{sheet.max_worker_count} workers, so it may have cost more"
            )
        if sheet.master is None:
            notes.append("the cluster's master node is not included (no masterHardwareTierId was given)")
    parts = []
    for role, tier, count in roles:
        price = tier.cents_per_minute
        if price is None:
            notes.append(f"the price of tier {tier.label()} is unknown")
        cents = None if price is None or minutes is None else minutes * price * count
        parts.append(CostPart(role, tier, count, cents))
    return CostEstimate(job.id, minutes, tuple(parts), tuple(notes))
