"""Render the benchmark figures as ``RESULTS.md``: a summary against the targets, then one section each."""

from __future__ import annotations

import math
from typing import Any


def _f(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _x(numerator: float, denominator: float) -> str:
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


# ------------------------------------------------------------------------------------------ summary


def _row(
    label: str, figure: str, ours: str, baseline: str, ratio: str, target: str, ok: bool | None
) -> list[str]:
    return [label, figure, ours, baseline, ratio, target, _met(ok)]


def _scale_rows(scale: dict[str, Any]) -> list[list[str]]:
    params, v = scale["params"], scale["variants"]
    ours = v.get("ours")
    if not ours:
        return []
    pool = params.get("pool_size", 64)
    a, b, before = v.get("per_poll_client"), v.get("threads"), v.get("pool64")
    label = f"1. {params['triggers']} triggers, poll {params['poll']:g} s"

    def others(key: str, digits: int = 2, *pairs: tuple[str, Any]) -> str:
        return ", ".join(f"{name} {_f(fig[key], digits)}" for name, fig in pairs if fig)

    rows = [
        _row(
            label,
            "HTTP requests per trigger per interval (fetch_logs off)",
            _f(ours["requests_per_poll"]),
            others("requests_per_poll", 2, ("(b)", b)),
            "",
            "<= 1",
            ours["requests_per_poll"] <= 1.0,
        )
    ]
    if "ours_logs" in v:
        rows.append(
            _row(
                label,
                "... with fetch_logs on",
                _f(v["ours_logs"]["requests_per_poll"]),
                "",
                "",
                "(info)",
                None,
            )
        )
    rows.append(
        _row(
            label,
            "polls done / polls scheduled (is the 2-s schedule kept?)",
            _f(ours["polls_per_interval"]),
            others("polls_per_interval", 2, ("(b)", b), ("pool64", before), ("(a)", a)),
            "",
            "~1 (>= 0.9)",
            ours["polls_per_interval"] >= 0.9,
        )
    )
    rows.append(
        _row(
            label,
            "TCP connections opened (peak open at once)",
            f"{_f(ours['tcp_opened'])} ({_f(ours['peak_open_connections'])})",
            others("tcp_opened", 0, ("(a)", a), ("(b)", b), ("pool64", before)),
            f"{ours['polls']:,} polls",
            f"bounded by the pool ({pool}), not by triggers/polls",
            ours["peak_open_connections"] <= pool and ours["tcp_opened"] <= 0.01 * ours["polls"],
        )
    )
    if a:
        rows.append(
            _row(
                label,
                "CPU ms per poll",
                _f(ours["cpu_ms_per_poll"]),
                others("cpu_ms_per_poll", 2, ("(a)", a), ("(b)", b), ("pool64", before)),
                _x(a["cpu_ms_per_poll"], ours["cpu_ms_per_poll"]) + " less than (a)",
                ">= 3x less than (a)",
                a["cpu_ms_per_poll"] >= 3 * ours["cpu_ms_per_poll"],
            )
        )
    if b:
        rows.append(
            _row(
                label,
                "peak RSS growth per trigger (KiB)",
                _f(ours["rss_kib_per_trigger"], 1),
                others("rss_kib_per_trigger", 1, ("(b)", b), ("(a)", a)),
                _x(ours["rss_kib_per_trigger"], b["rss_kib_per_trigger"]) + " of (b)",
                "a fraction of (b)",
                ours["rss_kib_per_trigger"] < b["rss_kib_per_trigger"],
            )
        )
    rows.append(
        _row(
            label,
            "event-loop lag p99 (ms), whole run / steady state",
            f"{_f(ours['lag_p99_ms'], 0)} / {_f(ours['steady_lag_p99_ms'], 0)}",
            others("lag_p99_ms", 0, ("(a)", a), ("(b) thread wake-up", b), ("pool64", before)),
            "",
            "< 100 ms",
            ours["lag_p99_ms"] < 100,
        )
    )
    for name, fig in v.items():
        if name.startswith("gated"):
            rows.append(
                _row(
                    label,
                    f"pool-size check `{name}`: CPU ms/poll, schedule kept, lag p99",
                    f"{_f(fig['cpu_ms_per_poll'])} ms, {_f(fig['polls_per_interval'])}, {_f(fig['lag_p99_ms'], 0)} ms",
                    f"ours ({pool}) {_f(ours['cpu_ms_per_poll'])} ms, {_f(ours['polls_per_interval'])}, "
                    f"{_f(ours['lag_p99_ms'], 0)} ms",
                    "",
                    "(info)",
                    None,
                )
            )
    return rows


def _requests_rows(requests: dict[str, Any]) -> list[list[str]]:
    long, short = requests["long"], requests["short"]
    ours, ours_logs = long.get("ours (adaptive, poll_interval 30)"), long.get("ours + fetch_logs")
    fixed, fixed_logs = long.get("fixed 30 s"), long.get("fixed 30 s + fetch_logs")
    base = long.get("baseline: fixed 5 s (python-domino)")
    rows = []
    if ours and fixed and base:
        rows.append(
            _row(
                "3. 10-min job, poll_interval 30",
                "requests per job, fetch_logs off / on",
                f"{ours['requests']} / {ours_logs['requests'] if ours_logs else 'n/a'}",
                f"fixed 30 s {fixed['requests']} / {fixed_logs['requests'] if fixed_logs else 'n/a'}; "
                f"fixed 5 s {base['requests']}",
                _x(base["requests"], ours["requests"]) + " fewer than 5 s",
                "(info)",
                None,
            )
        )
    ours_short = short.get("ours (adaptive, poll_interval 30)")
    fixed_short = short.get("fixed 30 s")
    if ours_short and fixed_short:
        rows.append(
            _row(
                "3. 5-s job, poll_interval 30",
                "seen ending after (median s)",
                _f(ours_short["latency_median"]),
                f"fixed 30 s {_f(fixed_short['latency_median'])}",
                _x(fixed_short["latency_median"], ours_short["latency_median"]) + " sooner",
                "(info)",
                None,
            )
        )
    return rows


def _logs_rows(logs: dict[str, Any]) -> list[list[str]]:
    if "ours" not in logs:
        return []
    ours, size = logs["ours"], logs["log_bytes"]
    label = f"4. {size / 1e6:.0f} MB log"

    def mib(name: str) -> str:
        return _f(logs[name]["rss_growth_bytes"] / 2**20, 1) if name in logs else "n/a"

    rows = [
        _row(
            label,
            "bytes received / log size",
            _f(ours["bytes_received"] / size, 3),
            ", ".join(
                f"{name} {_f(logs[key]['bytes_received'] / size, 2)}"
                for name, key in (("quadratic", "quadratic"), ("no-Range server", "ours_no_range"))
                if key in logs
            ),
            _x(logs["quadratic"]["bytes_received"], ours["bytes_received"]) + " fewer than quadratic"
            if "quadratic" in logs
            else "",
            "<= 1.05 (server honours Range)",
            ours["bytes_received"] <= 1.05 * size and ours["complete"],
        ),
        _row(
            label,
            "peak RSS growth while tailing (MiB)",
            mib("ours"),
            f"unbounded {mib('unbounded')}, quadratic {mib('quadratic')}, streamed prototype {mib('streamed')}",
            "",
            "< 30 MB",
            ours["rss_growth_bytes"] < 30e6,
        ),
    ]
    if "backlog_ours" in logs:
        rows.append(
            _row(
                f"4. {size / 1e6:.0f} MB backlog in one poll",
                "peak RSS growth (MiB)",
                mib("backlog_ours"),
                f"unbounded {mib('backlog_unbounded')}, streamed prototype {mib('backlog_streamed')}",
                "",
                "< 30 MB",
                logs["backlog_ours"]["rss_growth_bytes"] < 30e6,
            )
        )
    if "trigger" in logs:
        trig = logs["trigger"]
        protos = ", ".join(
            f"{name} prototype {_f(logs[key]['lag_max'] * 1000, 0)}"
            for name, key in (
                ("YieldingLogTrigger", "trigger_yielding"),
                ("StreamedLogTrigger", "trigger_streamed"),
            )
            if key in logs
        )
        rows.append(
            _row(
                label,
                "real trigger logging every line: longest event-loop stall (ms)",
                _f(trig["lag_max"] * 1000, 0),
                protos,
                "",
                "< 100 ms (as for 1.)",
                trig["lag_max"] < 0.1,
            )
        )
    return rows


def _parse_rows(parse: dict[str, Any]) -> list[list[str]]:
    bare, dag = parse["imports"]["bare"], parse["imports"]["dag_imports"]
    return [
        _row(
            "5. DAG parsing",
            "import of operator+sensor+trigger modules over `import airflow.sdk` (ms, median)",
            _f(bare["provider_ms"], 1),
            f"`import airflow.sdk` {_f(bare['baseline_ms'], 0)}",
            f"+{100 * bare['provider_ms'] / bare['baseline_ms']:.1f}%",
            "< 30 ms",
            bare["provider_ms"] < 30,
        ),
        _row(
            "5. DAG parsing",
            "... over a DAG file's own SDK imports (ms, median)",
            _f(dag["provider_ms"], 1),
            f"SDK imports {_f(dag['baseline_ms'], 0)}",
            f"+{100 * dag['provider_ms'] / dag['baseline_ms']:.1f}%",
            "< 30 ms",
            dag["provider_ms"] < 30,
        ),
    ]


def summary(results: dict[str, Any]) -> list[str]:
    rows: list[list[str]] = []
    if results.get("scale"):
        rows += _scale_rows(results["scale"])
    latency = results.get("latency")
    if latency:
        ours, base = latency["ours"], latency["threads"]
        rows.append(
            _row(
                f"2. {latency['jobs']} jobs, poll {latency['poll']:g} s",
                "detection latency p50 / p99 (s)",
                f"{_f(ours['p50'])} / {_f(ours['p99'])}",
                f"(b) {_f(base['p50'])} / {_f(base['p99'])}",
                _x(ours["p99"], base["p99"]) + " (p99)",
                f"p99 < {latency['poll'] + 0.5:g} s",
                ours["p99"] < latency["poll"] + 0.5,
            )
        )
    if results.get("requests"):
        rows += _requests_rows(results["requests"])
    if results.get("logs"):
        rows += _logs_rows(results["logs"])
    if results.get("parse"):
        rows += _parse_rows(results["parse"])
    header = ["benchmark", "figure", "ours", "baselines", "ratio", "target", "result"]
    return _table(header, rows)


# ------------------------------------------------------------------------------------------ sections


def scale_section(scale: dict[str, Any]) -> list[str]:
    params = scale["params"]
    lines = [
        f"## 1. Triggerer scale: {params['triggers']} triggers in one loop, jobs of {params['job_seconds']:g} s, "
        f"poll {params['poll']:g} s",
        "",
        "Every variant ran against a fresh emulator with its own jobs; all triggers start at once, as after a "
        "triggerer restart. Polls and requests come from the emulator's request log; CPU and peak RSS from the "
        "worker process itself (RSS growth = kernel high-water mark minus RSS after warm-up); TCP connections "
        "opened are counted in httpcore's and urllib3's connect calls; peak open connections are sampled from "
        "outside with psutil; lag is how late a 50-ms ticker task wakes (for (b), a ticker thread).",
        "",
    ]
    pool = params.get("pool_size", 64)
    names = {
        "ours": f"ours (fetch_logs off; semaphore + {pool}-connection pool)",
        "ours_logs": "ours (fetch_logs on)",
        "per_poll_client": "(a) new AsyncClient per poll",
        "threads": "(b) thread per job, blocking requests",
        "pool64": "pool64: 64 connections, no semaphore (the provider before)",
    }
    rows = []
    for name, v in scale["variants"].items():
        label = names.get(name, f"{name}: semaphore + {name[5:]}-connection pool")
        rows.append(
            [
                label,
                _f(v["polls"]),
                _f(v["requests_per_poll"]),
                _f(v["polls_per_interval"]),
                f"{_f(v['poll_gap_median'])} / {_f(v['poll_gap_p99'])}",
                _f(v["cpu_ms_per_poll"]),
                _f(v["worker_cpu_percent"], 0),
                _f(v["emulator_cpu_percent"], 0),
                _f(v["rest_of_machine_cpu_percent"], 0),
                _f(v["tcp_opened"]),
                _f(v["peak_open_connections"]),
                _f(v["rss_kib_per_trigger"], 1),
                f"{_f(v['lag_p99_ms'], 0)} / {_f(v['steady_lag_p99_ms'], 0)} / {_f(v['lag_max_ms'], 0)}",
                ", ".join(f"{k} {n}" for k, n in v["events"].items()),
            ]
        )
    header = [
        "variant",
        "polls",
        "requests / poll",
        "polls / scheduled",
        "gap between a trigger's polls, median / p99 (s)",
        "CPU ms / poll",
        "worker CPU %",
        "emulator CPU %",
        "rest of machine CPU %",
        "TCP opened",
        "peak open TCP",
        "peak RSS / trigger (KiB)",
        "lag p99 all / steady / max (ms)",
        "events",
    ]
    lines += _table(header, rows)
    return lines


def latency_section(latency: dict[str, Any]) -> list[str]:
    lines = [
        f"## 2. Detection latency: {latency['jobs']} jobs of {latency['durations'][0]:g}-{latency['durations'][1]:g} s, "
        f"poll {latency['poll']:g} s",
        "",
        "From the time each job wrote just before exiting (`date +%s.%N`) to the watcher's event. Both watchers "
        "ran side by side on the same jobs, warmed up before the jobs started. The emulator's own part (exit "
        f"noticed, output committed, `endedAt` set) was p50 {_f(latency['emulator_p50'])} s, "
        f"p99 {_f(latency['emulator_p99'])} s.",
        "",
    ]
    rows = []
    for name, label in (("ours", "ours (DominoJobTrigger)"), ("threads", "(b) thread per job")):
        v = latency[name]
        rows.append(
            [
                label,
                f"{v['fired']}/{latency['jobs']}",
                _f(v["p50"]),
                _f(v["p99"]),
                _f(v["max"]),
                f"{_f(v['after_ended_p50'])} / {_f(v['after_ended_p99'])}",
            ]
        )
    lines += _table(
        ["watcher", "fired", "p50 (s)", "p99 (s)", "max (s)", "after `endedAt` p50 / p99 (s)"], rows
    )
    return lines


def requests_section(requests: dict[str, Any]) -> list[str]:
    scale = requests["scale"]
    lines = [
        f"## 3. Requests per job: a 10-minute job (run compressed x{scale:g}) and 5-s jobs (real clock)",
        "",
        f"The 10-minute job ran for 600/{scale:g} s with every interval divided by {scale:g}; request counts "
        "depend only on job length / intervals, so they are the 10-minute job's. Ours is the provider's "
        "adaptive schedule (`api.polling.next_poll_delay`: 2 s at first, then as long as it has watched, up "
        "to `poll_interval`) evaluated on the compressed clock (`variants.CompressedClockTrigger`); fixed "
        "intervals are `variants.FixedIntervalTrigger`.",
        "",
    ]
    rows = []
    for name, v in requests["long"].items():
        rows.append(
            [
                name,
                _f(v["requests"]),
                _f(v["status_requests"]),
                _f(v["log_requests"]),
                _f(v["equivalent_job_seconds"] / 60, 1),
                str(v["fired"]),
            ]
        )
    lines += _table(
        ["watcher", "requests", "status", "log tail", "job length, equivalent (min)", "fired"], rows
    )
    lines += ["", "5-second jobs on the real clock, default `poll_interval=30`:", ""]
    rows = [
        [
            name,
            str(len(v["latencies"])),
            _f(v["latency_median"]),
            _f(v["latency_max"]),
            _f(v["requests_median"], 0),
        ]
        for name, v in requests["short"].items()
    ]
    lines += _table(["watcher", "jobs", "seen after, median (s)", "max (s)", "requests, median"], rows)
    return lines


def logs_section(logs: dict[str, Any]) -> list[str]:
    size = logs["log_bytes"]
    lines = [
        f"## 4. Log tailing: {size / 1e6:.0f} MB ({logs['lines']:,} lines) written while the job runs, poll "
        f"{logs['poll']:g} s",
        "",
        "Bytes are counted at the socket (headers and the status polls included). `complete` = every line "
        "arrived once, in order (for the trigger rows: the final offset equals the log size). Loop lag: how "
        "late a 50-ms ticker task in the same loop woke, i.e. how long the tail held the loop that every other "
        "trigger shares.",
        "",
    ]
    labels = {
        "ours": "ours (1 MiB Range windows + split_lines)",
        "unbounded": "one open Range read per poll (the provider before)",
        "quadratic": "baseline: whole log every poll",
        "streamed": "prototype: streamed tail",
        "ours_no_range": "ours, server ignores Range",
        "backlog_ours": "ours, whole log already written (1 poll)",
        "backlog_unbounded": "one open Range read, same backlog",
        "backlog_streamed": "prototype: streamed tail, same backlog",
        "trigger": "the real trigger, every line logged (INFO)",
        "trigger_yielding": "prototype YieldingLogTrigger (yields every 1,000 lines)",
        "trigger_streamed": "prototype StreamedLogTrigger, every line logged",
    }
    rows = []
    for name, label in labels.items():
        if name not in logs:
            continue
        v = logs[name]
        largest = v.get("largest_poll_bytes")
        rows.append(
            [
                label,
                _f(v["bytes_received"] / 1e6, 1),
                _f(v["bytes_received"] / size, 3),
                _f(largest / 1e6, 1) if largest else "n/a",
                _f(v["polls"]) if v.get("polls") else "n/a",
                _f(v["rss_growth_bytes"] / 2**20, 1),
                _f(v["cpu_seconds"]),
                _f(v["wall_seconds"], 1),
                f"{_f(v['lag_p99'] * 1000, 0)} / {_f(v['lag_max'] * 1000, 0)}",
                str(v["complete"]),
            ]
        )
    header = [
        "variant",
        "MB received",
        "x log size",
        "largest poll (MB)",
        "polls",
        "peak RSS growth (MiB)",
        "CPU (s)",
        "wall (s)",
        "loop lag p99 / max (ms)",
        "complete",
    ]
    lines += _table(header, rows)
    return lines


def parse_section(parse: dict[str, Any]) -> list[str]:
    lines = ["## 5. DAG parse cost", ""]
    rows = []
    for name, v in parse["imports"].items():
        rows.append(
            [
                {"bare": "`import airflow.sdk`", "dag_imports": "a DAG file's SDK imports"}[name],
                _f(v["baseline_ms"], 0),
                _f(v["provider_ms"], 1),
                _f(v["provider_p90_ms"], 1),
                ", ".join(v["heavy_loaded_by_provider"]) or "none",
                str(v["repetitions"]),
            ]
        )
    lines += _table(
        [
            "baseline",
            "baseline (ms)",
            "+ provider modules, median (ms)",
            "p90 (ms)",
            "heavy modules the provider loads",
            "fresh interpreters",
        ],
        rows,
    )
    lines += ["", "Slowest modules the provider's imports load (`-X importtime`, self / cumulative ms):", ""]
    lines += _table(
        ["module", "self (ms)", "cumulative (ms)"],
        [[f"`{name}`", _f(own, 1), _f(cumulative, 1)] for name, own, cumulative in parse["importtime_top"]],
    )
    dags = parse["dags"]
    lines += [
        "",
        "`DagBag` on one file, fresh interpreter with Airflow already imported (median):",
        "",
    ]
    rows = []
    for label, v in dags.items():
        if not isinstance(v, dict):
            continue
        errors = "; ".join(f"{k}: {str(e)[-120:]}" for k, e in v["import_errors"].items()) or "none"
        rows.append([label, _f(v["ms"], 1), ", ".join(v["dag_ids"]) or "none", errors])
    lines += _table(["file", "parse (ms)", "DAGs", "import errors"], rows)
    if not dags.get("examples_found"):
        lines += ["", "No example DAGs were found in `example_dags/`; only the reference DAGs were parsed."]
    return lines


def render(results: dict[str, Any], notes: list[str]) -> str:
    meta = results["meta"]
    lines = [
        "# Benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}`{' (smoke run: --quick)' if meta['quick'] else ''}",
        f"- run time: {meta['elapsed_seconds'] / 60:.1f} min; load average before / after: "
        f"{meta['load_before']} / {meta['load_after']}",
        f"- provider measured: {meta.get('provider', 'unknown')}",
        "- machine: " + ", ".join(f"{key} {value}" for key, value in meta["machine"].items()),
        "- everything on loopback: emulator, jobs and the measured client share the machine's cores.",
        "",
        "## Summary against the targets",
        "",
        *summary(results),
        "",
    ]
    sections = (
        ("scale", scale_section),
        ("latency", latency_section),
        ("requests", requests_section),
        ("logs", logs_section),
        ("parse", parse_section),
    )
    for key, render_section in sections:
        if results.get(key):
            lines += [*render_section(results[key]), ""]
    if notes:
        lines += ["## Notes", "", *notes, ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ notes


def notes(results: dict[str, Any]) -> list[str]:
    """Plain-language readings of the figures (computed from them, so they stay true to this run)."""
    out: list[str] = []
    scale = results.get("scale")
    if scale and "ours" in scale["variants"]:
        v, params = scale["variants"], scale["params"]
        ours, pool = v["ours"], params.get("pool_size", 64)
        saturated = ours["polls_per_interval"] < 0.9
        out.append(
            f"- **Where the bottleneck is (1).** With the provider's trigger the worker used "
            f"{ours['worker_cpu_percent']:.0f}% of a core and the emulator {ours['emulator_cpu_percent']:.0f}%"
            + (
                ": the client side is the limit, not the emulator."
                if saturated
                else "; neither was saturated."
            )
            + f" The triggers kept {ours['polls_per_interval']:.0%} of their {params['poll']:g}-s schedule "
            f"(median gap between one trigger's polls {ours['poll_gap_median']:.2f} s, p99 {ours['poll_gap_p99']:.2f} s)."
        )
        if "ours_logs" in v:
            logs = v["ours_logs"]
            out.append(
                f"- With fetch_logs on, every poll is two requests (status, then the log tail): "
                f"{2 * params['triggers'] / params['poll']:,.0f} requests/s at this scale. The worker used "
                f"{logs['worker_cpu_percent']:.0f}% of a core at {logs['cpu_ms_per_poll']:.2f} CPU ms per poll and "
                f"kept {logs['polls_per_interval']:.0%} of the schedule (lag p99 {logs['lag_p99_ms']:.0f} ms): "
                "one core of this machine serves about "
                f"{1000 / logs['cpu_ms_per_poll']:,.0f} polls/s with logs, "
                f"{1000 / ours['cpu_ms_per_poll']:,.0f} without (the default poll_interval of 30 s needs "
                f"{params['triggers'] / 30:,.0f} polls/s for {params['triggers']:,} triggers)."
            )
        if "pool64" in v:
            before = v["pool64"]
            out.append(
                f"- **The shared pool (1).** httpcore re-scans every pooled connection and every queued request on "
                "each request and each response (`AsyncConnectionPool._assign_requests_to_connections`, with a "
                "`poll()` syscall per idle connection through anyio), so a big pool with a long queue in front of "
                f"it costs CPU per request. `pool64` (64 connections, no semaphore: the shared client before the "
                f"provider gated it) cost {before['cpu_ms_per_poll']:.2f} CPU ms/poll and kept "
                f"{before['polls_per_interval']:.0%} of the schedule; the provider's {pool}-connection pool behind "
                f"an `asyncio.Semaphore` cost {ours['cpu_ms_per_poll']:.2f} ms and kept {ours['polls_per_interval']:.0%}."
            )
        for name, fig in v.items():
            if name.startswith("gated"):
                out.append(
                    f"- Pool size check: `{name}` cost {fig['cpu_ms_per_poll']:.2f} CPU ms/poll, kept "
                    f"{fig['polls_per_interval']:.0%} of the schedule, lag p99 {fig['lag_p99_ms']:.0f} ms (ours with "
                    f"{pool}: {ours['cpu_ms_per_poll']:.2f} ms, {ours['polls_per_interval']:.0%}, "
                    f"{ours['lag_p99_ms']:.0f} ms). On loopback a few connections suffice; over a WAN the pool "
                    "bounds throughput to about pool size / round-trip time."
                )
        if "threads" in v:
            b = v["threads"]
            out.append(
                f"- **Baseline (b) is cheap in CPU ({b['cpu_ms_per_poll']:.2f} ms/poll) but not in resources:** "
                f"{b['tcp_opened']:,} TCP connections (one per job) and {b['rss_kib_per_trigger']:.0f} KiB per job "
                "in one process. In Airflow a blocking wait also holds a worker slot per job: a whole task "
                "process; a process with just Airflow's SDK, the provider and its HTTP clients loaded had "
                f"{b['raw']['rss_before_bytes'] / 2**20:.0f} MiB RSS here (a lower bound per waiting job)."
            )
        if "per_poll_client" in v:
            a = v["per_poll_client"]
            out.append(
                f"- **Baseline (a)** spends {a['cpu_ms_per_poll']:.1f} ms per poll, mostly building a client: httpx "
                "0.28 creates an SSL context (loading the CA bundle, about 22 ms of CPU on this machine) for "
                "every new client, even for http:// URLs, on the event loop; hence its loop lag of up to "
                f"{a['lag_max_ms'] / 1000:.1f} s."
            )
        if ours["tcp_opened"] > pool:
            out.append(
                f"- TCP connections opened by ours ({ours['tcp_opened']}) exceed the pool ({pool}): pooled "
                "connections are replaced when the server has closed them (uvicorn closes keep-alive connections "
                f"idle for 5 s). They stay bounded by the pool and time, not by the {ours['polls']:,} polls or "
                "the triggers."
            )
        busiest = max(v.values(), key=lambda figures: figures["rest_of_machine_cpu_percent"])
        out.append(
            "- The machine was shared: besides the worker and the emulator, the rest of the machine (other "
            "processes, kernel time billed to no process) used up to "
            f"{busiest['rest_of_machine_cpu_percent']:.0f}% of a core during a variant (column 'rest of machine')."
        )
    logs = results.get("logs")
    if logs and "ours" in logs:
        ours = logs["ours"]
        if "unbounded" in logs:
            unbounded = logs["unbounded"]
            out.append(
                f"- **Bounded reads (4).** Ours reads 1 MiB `Range` windows until caught up, so memory no longer "
                f"follows the size of a poll: peak RSS +{ours['rss_growth_bytes'] / 2**20:.0f} MiB vs "
                f"+{unbounded['rss_growth_bytes'] / 2**20:.0f} MiB for one open-ended read per poll (largest poll "
                f"{unbounded['largest_poll_bytes'] / 1e6:.0f} MB)"
                + (
                    f"; with the whole {logs['log_bytes'] / 1e6:.0f} MB already written, "
                    f"+{logs['backlog_ours']['rss_growth_bytes'] / 2**20:.0f} MiB"
                    f" vs +{logs['backlog_unbounded']['rss_growth_bytes'] / 2**20:.0f} MiB."
                    if "backlog_ours" in logs and "backlog_unbounded" in logs
                    else "."
                )
            )
        if "trigger" in logs:
            trig = logs["trigger"]
            per_line_us = 1e6 * trig["cpu_seconds"] / logs["lines"]
            text = (
                f"- **Logging every line holds the shared event loop (4).** The real trigger logs each line "
                f"through Airflow's logging: {trig['cpu_seconds']:.1f} s of CPU for {logs['lines']:,} lines "
                f"(about {per_line_us:.0f} us per line, reading and splitting included). It gives the loop back "
                f"only between 1 MiB windows, so the loop every other trigger shares stalled for up to "
                f"{trig['lag_max'] * 1000:.0f} ms (p99 {trig['lag_p99'] * 1000:.0f} ms)."
            )
            if "trigger_yielding" in logs:
                yielding = logs["trigger_yielding"]
                text += (
                    f" The prototype `YieldingLogTrigger` (the same windows, `await asyncio.sleep(0)` every 1,000 "
                    f"lines) stalled it for at most {yielding['lag_max'] * 1000:.0f} ms."
                )
            if "trigger_streamed" in logs:
                proto = logs["trigger_streamed"]
                text += (
                    f" The prototype `StreamedLogTrigger` logs while the response streams in and yields at each "
                    f"network chunk: longest stall {proto['lag_max'] * 1000:.0f} ms, peak RSS "
                    f"+{proto['rss_growth_bytes'] / 2**20:.1f} MiB (trigger: +{trig['rss_growth_bytes'] / 2**20:.1f} MiB). "
                    "None of them reduces the CPU; only logging fewer lines would."
                )
            out.append(text)
        if "ours_no_range" in logs:
            no_range = logs["ours_no_range"]
            out.append(
                f"- Against a server that ignores `Range`, the same tail code stays correct but transfers "
                f"{no_range['bytes_received'] / logs['log_bytes']:.1f}x the log size (every poll is the whole log)."
            )
    return out
