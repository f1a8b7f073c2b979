"""Figures, the JSON report in ``benchmarks/results/`` and the short summary printed at the end."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.environment import REPO_ROOT
from benchmarks.loadgen import LoadResult
from benchmarks.scenarios import RATE_LIMITED, SUCCESS
from benchmarks.suites import Suite

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
MAX_ERROR_SHARE = 0.01  # above this the run measured failures, not the endpoint: the harness fails


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
    """Throughput, latency percentiles, outcomes and CPU of one endpoint; ``expected_codes`` are not errors."""
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
        "cpu": cpu_figures(result),
    }


def cpu_figures(result: LoadResult) -> dict[str, Any]:
    """CPU per request by part (the endpoint's cost, whatever else ran) and cores used by part.

    ``other`` is busy CPU that none of the bench's parts used: work of other users of the machine (or of
    the kernel on their behalf); when it is large the throughput figures of that run are noisy.
    """
    if not result.cpu_s or not result.requests or not result.wall_s:
        return {}
    parts = {part: seconds for part, seconds in result.cpu_s.items() if part != "machine"}
    other = max(0.0, result.cpu_s.get("machine", 0.0) - sum(parts.values()))
    return {
        "ms_per_request": {part: round(seconds * 1000 / result.requests, 3) for part, seconds in parts.items()},
        "cores_used": {
            **{part: round(seconds / result.wall_s, 2) for part, seconds in parts.items()},
            "other": round(other / result.wall_s, 2),
            "machine": round(result.cpu_s.get("machine", 0.0) / result.wall_s, 2),
        },
    }


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator is not None and denominator else None


def _gunicorn_ms(figures: dict[str, Any]) -> float | None:
    return figures["cpu"].get("ms_per_request", {}).get("gunicorn")


def ratios_and_targets(
    suite: Suite, baseline: str, endpoints: dict[str, dict[str, Any]]
) -> tuple[dict[str, float | None], dict[str, dict[str, Any]]]:
    base = endpoints[baseline]
    ratios: dict[str, float | None] = {}
    for name, figures in endpoints.items():
        if name == baseline:
            continue
        ratios[f"{name}_vs_{baseline}_throughput"] = _ratio(figures["throughput_rps"], base["throughput_rps"])
        # Successful answers only: below the one above when the scenario provokes rejections (lock races).
        ratios[f"{name}_vs_{baseline}_ok_throughput"] = _ratio(figures["ok_rps"], base["throughput_rps"])
        ratios[f"{name}_vs_{baseline}_p50"] = _ratio(figures["p50_ms"], base["p50_ms"])
        ratios[f"{name}_vs_{baseline}_p99"] = _ratio(figures["p99_ms"], base["p99_ms"])
        # The throughput ratio if gunicorn's CPU were the only limit: steadier than the measured one when
        # other work shares the machine, since CPU per request hardly depends on how busy it is.
        ratios[f"{name}_vs_{baseline}_throughput_by_cpu"] = _ratio(_gunicorn_ms(base), _gunicorn_ms(figures))
    for subject, reference in suite.comparisons:  # e.g. the trial against the signed floor
        if subject in endpoints and reference in endpoints:
            ours, theirs = endpoints[subject], endpoints[reference]
            ratios[f"{subject}_vs_{reference}_throughput"] = _ratio(ours["throughput_rps"], theirs["throughput_rps"])
            ratios[f"{subject}_vs_{reference}_throughput_by_cpu"] = _ratio(_gunicorn_ms(theirs), _gunicorn_ms(ours))
    targets = {}
    for target in suite.targets:
        key = target.key(baseline)
        measured = ratios.get(key)
        targets[key] = {
            "target": target.minimum,
            "measured": measured,
            "met": bool(measured and measured >= target.minimum),
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
    """Runs worth a second look: foreign work took CPU from the bench, or a scenario's check failed."""
    warnings = []
    for name, figures in endpoints.items():
        if figures.get("checks", {}).get("rate_limiter_active") is False:
            warnings.append(
                f"{name}: the rate limiter did not refuse a repeated user; is DCC rateLimiterSwitch closed?"
            )
        other = figures["cpu"].get("cores_used", {}).get("other", 0.0)
        if other > limit_cores:
            warnings.append(f"{name}: other processes used {other} cores meanwhile; its figures are noisy")
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


def format_summary(report: dict[str, Any]) -> str:
    lines = [f"benchmark {report['name']!r}: {report['description']}"]
    load, server = report["load"], report["server"]
    if "rounds" in load:
        lines.append(
            f"  {server['workers']} {server['worker_class']} workers, concurrency {load['concurrency']}, "
            f"{load['duration_s']} s per endpoint in {load['rounds']} alternating rounds"
        )
    else:
        lines.append(f"  {server['workers']} {server['worker_class']} workers, {load['model']}")
    header = ("scenario", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "gunicorn CPU ms/req")
    lines.append("  {:<10} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>20}".format(*header))
    for name, figures in report["endpoints"].items():
        lines.append(
            f"  {name:<10} {figures['throughput_rps']:>9.1f} {figures['p50_ms']:>8.2f} {figures['p90_ms']:>8.2f} "
            f"{figures['p99_ms']:>8.2f} {figures['max_ms']:>8.2f} {figures['error_count']:>7} "
            f"{figures['cpu'].get('ms_per_request', {}).get('gunicorn', 0):>20.2f}"
        )
    for name, figures in report["endpoints"].items():
        if figures["cpu"]:
            cores = ", ".join(f"{part} {value}" for part, value in figures["cpu"]["cores_used"].items())
            lines.append(f"  {name} cores used: {cores}")
    if report.get("cpu"):  # the notify suite: CPU of the whole run, per completed team
        cores = ", ".join(f"{part} {value}" for part, value in report["cpu"]["cores_used"].items())
        per_team = ", ".join(f"{part} {value}" for part, value in report["cpu"]["ms_per_team"].items())
        lines.append(f"  cores used: {cores}; CPU ms per team: {per_team}")
    limited = ", ".join(f"{name} {figures['rate_limited']}" for name, figures in report["endpoints"].items())
    lines.append(f"  rate-limited answers (0006, expected 0): {limited}")
    for name, figures in report["endpoints"].items():
        if figures["rejections"]:
            lines.append(
                f"  {name}: {figures['ok']} ok ({figures['ok_rps']}/s), expected rejections {figures['rejections']}"
            )
    if "delivery" in report:
        delivery = report["delivery"]
        lines.append(
            f"  notify callbacks: {delivery['delivered_once']} of {delivery['expected']} delivered exactly once, "
            f"missing {delivery['missing']}, duplicated {delivery['duplicated']}, unexpected {delivery['unexpected']}"
        )
        for key, figures in report["latency"].items():
            if isinstance(figures, dict) and figures.get("count"):
                lines.append(
                    f"  latency {key}: p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
                    f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms (n={figures['count']})"
                )
    if "invariants" in report:
        inv = report["invariants"]
        lines.append(
            f"  invariants ({'ok' if inv['ok'] else 'VIOLATED'}): oversold teams {inv['oversold_teams']}, "
            f"lock_count mismatches {inv['lock_count_mismatches']}, Redis mismatches {inv['redis_mismatches']} "
            f"({inv['teams_checked']} teams, {inv['teams_checked_in_redis']} with Redis keys)"
        )
        lines.extend(f"    {example}" for example in inv["examples"])
    for key, value in report["ratios"].items():
        lines.append(f"  {key}: {value}")
    for key, target in report["targets"].items():
        verdict = "met" if target["met"] else "MISSED"
        lines.append(f"  target {key} >= {target['target']}: measured {target['measured']} ({verdict})")
    for warning in report["warnings"]:
        lines.append(f"  warning: {warning}")
    for problem in report["problems"]:
        lines.append(f"  PROBLEM: {problem}")
    return "\n".join(lines)
