"""Figures of a measurement (throughput, latency, CPU by process, spread over the workers, ratios, targets) and
the JSON report in ``benchmarks/results/``; ``summary.py`` prints them."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.cpu import part_of, worker_pid
from benchmarks.environment import REPO_ROOT
from benchmarks.loadgen import LoadResult
from benchmarks.scenarios import RATE_LIMITED, SUCCESS
from benchmarks.suites import Suite

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
MAX_ERROR_SHARE = 0.01  # above this the run measured failures, not the endpoint: the harness fails
# A round is uneven when a worker served more than this times its fair share (1 / workers) of its requests.
UNEVEN_SHARE = 1.2


def percentile(sorted_values: list[Any], q: float) -> Any:
    """Nearest-rank percentile (q in 0..100) of an ascending list; 0 for an empty one."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution_ms(values_ms: list[float]) -> dict[str, Any]:
    """Count, min, p50/p90/p99, max and mean of durations in milliseconds."""
    values = sorted(values_ms)
    figures: dict[str, Any] = {"count": len(values)}
    if values:
        figures["min_ms"] = round(values[0], 3)
        figures.update({f"p{q}_ms": round(percentile(values, q), 3) for q in (50, 90, 99)})
        figures["max_ms"] = round(values[-1], 3)
        figures["mean_ms"] = round(sum(values) / len(values), 3)
    return figures


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


def endpoint_figures(
    endpoint: str, result: LoadResult, *, concurrency: int, expected_codes: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Throughput, latency percentiles, outcomes, CPU by process and the spread over the workers of one
    endpoint; ``expected_codes`` are not errors."""
    latencies = sorted(result.latencies_ns)
    requests = result.requests
    expected = expected_codes
    errors = {
        code: count for code, count in sorted(result.outcomes.items()) if code != SUCCESS and code not in expected
    }
    rejections = {code: count for code, count in sorted(result.outcomes.items()) if code in expected}
    ok = result.outcomes.get(SUCCESS, 0)
    return {
        "endpoint": endpoint,
        "requests": requests,
        "ok": ok,
        # Business answers the scenario provokes on purpose (joins losing the race for a seat): not errors.
        "rejections": rejections,
        "errors": errors,
        "error_count": sum(errors.values()),
        "rate_limited": result.outcomes.get(RATE_LIMITED, 0),
        "duration_s": round(result.wall_s, 3),
        "throughput_rps": round(requests / result.wall_s, 1) if result.wall_s else 0.0,
        "ok_rps": round(ok / result.wall_s, 1) if result.wall_s else 0.0,
        "p50_ms": _ms(percentile(latencies, 50)),
        "p90_ms": _ms(percentile(latencies, 90)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "max_ms": _ms(latencies[-1] if latencies else 0),
        "mean_ms": _ms(sum(latencies) // len(latencies) if latencies else 0),
        "concurrency": concurrency,
        "cpu": cpu_figures(result.cpu_s, count=requests, wall_s=result.wall_s, worker_requests=result.worker_requests),
        "balance": balance_figures(result.rounds),
    }


def cpu_figures(
    cpu_s: dict[str, float],
    *,
    count: int,
    wall_s: float,
    worker_requests: Counter[str] | None = None,
    unit: str = "request",
) -> dict[str, Any]:
    """CPU per ``unit`` by part and by process (the endpoint's cost, whatever else ran), cores used by part,
    and each gunicorn worker's CPU per request it served.

    ``other`` is busy CPU that none of the bench's parts used: work of other users of the machine (or of
    the kernel on their behalf); when it is large the throughput figures of that run are noisy.
    """
    if not cpu_s or not count or not wall_s:
        return {}
    processes = {label: seconds for label, seconds in cpu_s.items() if label != "machine"}
    parts: dict[str, float] = {}
    for label, seconds in processes.items():
        parts[part_of(label)] = parts.get(part_of(label), 0.0) + seconds
    machine = cpu_s.get("machine", 0.0)
    other = max(0.0, machine - sum(parts.values()))
    figures: dict[str, Any] = {
        f"ms_per_{unit}": {part: round(seconds * 1000 / count, 3) for part, seconds in parts.items()},
        f"process_ms_per_{unit}": {label: round(seconds * 1000 / count, 3) for label, seconds in processes.items()},
        "cores_used": {
            **{part: round(seconds / wall_s, 2) for part, seconds in parts.items()},
            "other": round(other / wall_s, 2),
            "machine": round(machine / wall_s, 2),
        },
    }
    if worker_requests is not None:
        workers = {}
        for label, seconds in processes.items():
            pid = worker_pid(label)
            if pid is None:
                continue
            served = worker_requests.get(pid, 0)
            workers[pid] = {
                "requests": served,
                "share": round(served / count, 3),
                "cpu_ms_per_request": round(seconds * 1000 / served, 3) if served else None,
                "cores_used": round(seconds / wall_s, 2),
            }
        figures["workers"] = workers
    return figures


def balance_figures(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """How evenly the measured rounds spread over the workers: connections (``loadgen.open_balanced``) and the
    requests each worker served. A round is even when its connections were and no worker served more than
    ``UNEVEN_SHARE`` times its fair share of the round's requests."""
    shares = []
    uneven = []
    for number, spread in enumerate(rounds, start=1):
        served = spread.get("requests", {})
        total = sum(served.values())
        workers = max(1, len(spread.get("connections", {})))
        share = max(served.values()) / total if total else 0.0
        shares.append(round(share, 3))
        if spread.get("balanced") is False or share > UNEVEN_SHARE / workers:
            uneven.append(number)
    return {
        "rounds": len(rounds),
        "connections_balanced": sum(1 for spread in rounds if spread.get("balanced")),
        "uneven_rounds": uneven,
        "max_worker_share_by_round": shares,
        "detail": rounds,
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


def _gunicorn_ms(figures: dict[str, Any]) -> float | None:
    return figures["cpu"].get("ms_per_request", {}).get("gunicorn")


def ratios_and_targets(
    suite: Suite, baseline: str, endpoints: dict[str, dict[str, Any]]
) -> tuple[dict[str, float | None], dict[str, dict[str, Any]]]:
    """Each endpoint's ratios to the baseline (the bare view) measured in the same run, and the suite's targets.

    ``_throughput``: requests per second over the bare view's; ``_by_cpu``: the bare view's gunicorn CPU per
    request over the endpoint's, i.e. the throughput ratio if gunicorn's CPU were the only limit, steadier than
    the measured one when other work shares the machine.
    """
    base = endpoints[baseline]
    ratios: dict[str, float | None] = {}
    for name, figures in endpoints.items():
        if name == baseline:
            continue
        ratios[f"{name}_vs_{baseline}_throughput"] = _ratio(figures["throughput_rps"], base["throughput_rps"])
        # Successful answers only: below the one above when the scenario provokes rejections (lock races).
        ratios[f"{name}_vs_{baseline}_ok_throughput"] = _ratio(figures["ok_rps"], base["throughput_rps"])
        ratios[f"{name}_vs_{baseline}_by_cpu"] = _ratio(_gunicorn_ms(base), _gunicorn_ms(figures))
        ratios[f"{name}_vs_{baseline}_p50"] = _ratio(figures["p50_ms"], base["p50_ms"])
        ratios[f"{name}_vs_{baseline}_p99"] = _ratio(figures["p99_ms"], base["p99_ms"])
    for subject, reference in suite.comparisons:  # e.g. the trial against the signed no-op
        if subject in endpoints and reference in endpoints:
            ours, theirs = endpoints[subject], endpoints[reference]
            ratios[f"{subject}_vs_{reference}_throughput"] = _ratio(ours["throughput_rps"], theirs["throughput_rps"])
            ratios[f"{subject}_vs_{reference}_by_cpu"] = _ratio(_gunicorn_ms(theirs), _gunicorn_ms(ours))
    targets = {}
    for target in suite.targets:
        by_throughput = ratios.get(f"{target.subject}_vs_{baseline}_throughput")
        by_cpu = ratios.get(f"{target.subject}_vs_{baseline}_by_cpu")
        targets[target.subject] = {
            "target": target.minimum,
            "vs": baseline,
            "by_throughput": by_throughput,
            "by_cpu": by_cpu,
            "met": by_throughput is not None and by_throughput >= target.minimum,
            "met_by_cpu": by_cpu is not None and by_cpu >= target.minimum,
        }
    return ratios, targets


def harness_problems(endpoints: dict[str, dict[str, Any]]) -> list[str]:
    """Why the run cannot be trusted (empty: it can). A missed target is no problem of the harness."""
    problems = []
    for name, figures in endpoints.items():
        if not figures["requests"]:
            problems.append(f"{name}: no request completed")
        elif figures["error_count"] > MAX_ERROR_SHARE * figures["requests"]:
            problems.append(
                f"{name}: {figures['error_count']} of {figures['requests']} answers were errors {figures['errors']}"
            )
    return problems


def run_warnings(endpoints: dict[str, dict[str, Any]], *, limit_cores: float = 0.25) -> list[str]:
    """Runs worth a second look: foreign work took CPU from the bench, a round spread unevenly over the
    workers, or a scenario's check failed."""
    warnings = []
    for name, figures in endpoints.items():
        if figures.get("checks", {}).get("rate_limiter_active") is False:
            warnings.append(
                f"{name}: the rate limiter did not refuse a repeated user; is DCC rateLimiterSwitch closed?"
            )
        other = figures["cpu"].get("cores_used", {}).get("other", 0.0)
        if other > limit_cores:
            warnings.append(f"{name}: other processes used {other} cores meanwhile; its figures are noisy")
        uneven = figures.get("balance", {}).get("uneven_rounds")
        if uneven:
            warnings.append(f"{name}: rounds {uneven} spread unevenly over the workers")
    return warnings


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            completed = subprocess.run(  # noqa: S603 - read-only git queries with fixed arguments
                ["git", *args],  # noqa: S607 - git from PATH, as a developer runs it
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return completed.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def machine_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "loadavg_at_end": [round(value, 2) for value in os.getloadavg()],
    }


def write_report(report: dict[str, Any], *, results_dir: Path = RESULTS_DIR, latest: bool = True) -> list[Path]:
    """``<name>-<UTC timestamp>.json``, and ``latest-<name>.json`` overwritten when ``latest``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    paths = [results_dir / f"{report['name']}-{stamp}.json"]
    if latest:
        paths.append(results_dir / f"latest-{report['name']}.json")
    for path in paths:
        path.write_text(text)
    return paths
