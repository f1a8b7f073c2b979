"""What the harness prints: a summary after each suite (``format_summary``) and one table of the whole run at the
end (``format_run_table``), both read from the JSON reports (``report.py``, ``cli.run_report``)."""

from __future__ import annotations

from typing import Any

from benchmarks.cpu import GUNICORN_MASTER, worker_pid


def _ratio(report: dict[str, Any], name: str, kind: str) -> float | None:
    return report.get("ratios", {}).get(f"{name}_vs_{report.get('baseline')}_{kind}")


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "" if value is None else format(value, spec)


def _processes(figures: dict[str, Any]) -> str:
    """``master 0.01 | worker 123 0.74/own req (50%) | ... | mariadb 0.30 | ...``: CPU ms per request."""
    cpu = figures["cpu"]
    workers = cpu.get("workers", {})
    parts = []
    for label, ms in cpu.get("process_ms_per_request", {}).items():
        pid = worker_pid(label)
        if pid is not None:
            own = workers.get(pid, {})
            parts.append(
                f"worker {pid} {_fmt(own.get('cpu_ms_per_request'), '.2f')}/own req ({own.get('share', 0):.0%})"
            )
        else:
            parts.append(f"{'master' if label == GUNICORN_MASTER else label} {ms:.2f}")
    parts.append(f"other {cpu.get('cores_used', {}).get('other', 0)} cores")
    return " | ".join(parts)


def format_summary(report: dict[str, Any]) -> str:
    lines = [f"benchmark {report['name']!r} ({report['wall_s']} s): {report['description']}"]
    where = report.get("placement", {})
    if where.get("placement") == "split":
        lines.append(
            f"  placement split: gunicorn on cores {where['gunicorn_cores']}, the services and the load generator"
            f" on {where['other_cores']}"
        )
    load = report["load"]
    balance = [figures.get("balance", {}) for figures in report["endpoints"].values()]
    rounds = sum(spread.get("rounds", 0) for spread in balance)
    balanced = sum(spread.get("connections_balanced", 0) for spread in balance)
    spread_note = f"connections spread evenly over the workers in {balanced} of {rounds} measured rounds"
    if not any(spread.get("balanced") is not None for figures in balance for spread in figures.get("detail", [])):
        spread_note = "connections not spread (sync workers: no keep-alive)"
    if report.get("baseline"):
        shape = (
            load["model"]
            if load.get("burst")
            else f"{load['duration_s']} s per endpoint in {load['rounds']} alternating rounds"
        )
        lines.append(f"  {load['concurrency']} connections, {shape}; {spread_note}")
    else:
        lines.append(f"  {load['model']}")
    header = ("scenario", "req/s", "p50 ms", "p99 ms", "errors", "gunicorn ms/req", "vs bare", "by CPU")
    lines.append("  {:<12} {:>9} {:>8} {:>8} {:>7} {:>16} {:>8} {:>8}".format(*header))
    for name, figures in report["endpoints"].items():
        gunicorn = figures["cpu"].get("ms_per_request", {}).get("gunicorn")
        lines.append(
            f"  {name:<12} {figures['throughput_rps']:>9.1f} {figures['p50_ms']:>8.2f} {figures['p99_ms']:>8.2f} "
            f"{figures['error_count']:>7} {_fmt(gunicorn, '.2f'):>16} {_fmt(_ratio(report, name, 'throughput')):>8}"
            f" {_fmt(_ratio(report, name, 'by_cpu')):>8}"
        )
    measured_cpu = {name: figures for name, figures in report["endpoints"].items() if figures["cpu"]}
    if measured_cpu:
        lines.append("  CPU ms per request by process (a worker's: per request it served):")
    lines.extend(f"    {name:<12} {_processes(figures)}" for name, figures in measured_cpu.items())
    if report.get("cpu"):  # the notify suite: CPU of the whole run, per completed team
        per_team = ", ".join(f"{part} {value}" for part, value in report["cpu"]["ms_per_team"].items())
        lines.append(f"  CPU ms per completed team: {per_team}")
    rejecting = {name for name, figures in report["endpoints"].items() if figures["rejections"]}
    for name, figures in report["endpoints"].items():
        if figures["rejections"]:
            lines.append(
                f"  {name}: {figures['ok']} ok ({figures['ok_rps']}/s), expected rejections {figures['rejections']}"
            )
    lines += _delivery_lines(report)
    if "invariants" in report:
        inv = report["invariants"]
        lines.append(
            f"  invariants ({'ok' if inv['ok'] else 'VIOLATED'}): oversold teams {inv['oversold_teams']}, "
            f"lock_count mismatches {inv['lock_count_mismatches']}, Redis mismatches {inv['redis_mismatches']} "
            f"({inv['teams_checked']} teams, {inv['teams_checked_in_redis']} with Redis keys)"
        )
        lines.extend(f"    {example}" for example in inv["examples"])
    for name, checks in report.get("checks", {}).items():
        lines.append(f"  {name} checks ({'ok' if checks.get('ok') else 'VIOLATED'}): {_check_line(name, checks)}")
    baseline = report.get("baseline")
    for key, value in report["ratios"].items():  # those to the bare view are in the table above
        if f"_vs_{baseline}_" not in key or (key.endswith("_ok_throughput") and key.split("_vs_")[0] in rejecting):
            lines.append(f"  {key}: {value}")
    for subject, target in report["targets"].items():
        lines.append(
            f"  target {subject} >= {target['target']} x bare: {target['by_throughput']} by throughput"
            f" ({'met' if target['met'] else 'MISSED'}), {target['by_cpu']} by CPU"
            f" ({'met' if target['met_by_cpu'] else 'MISSED'})"
        )
    lines.extend(f"  warning: {warning}" for warning in report["warnings"])
    lines.extend(f"  PROBLEM: {problem}" for problem in report["problems"])
    return "\n".join(lines)


def _delivery_lines(report: dict[str, Any]) -> list[str]:
    if "delivery" not in report:
        return []
    delivery = report["delivery"]
    lines = [
        f"  notify callbacks: {delivery['delivered_once']} of {delivery['expected']} delivered exactly once, "
        f"missing {delivery['missing']}, duplicated {delivery['duplicated']}, unexpected {delivery['unexpected']}"
    ]
    for key, figures in report["latency"].items():
        if isinstance(figures, dict) and figures.get("count"):
            lines.append(
                f"  latency {key}: p50 {figures['p50_ms']} ms, p90 {figures['p90_ms']} ms, "
                f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms (n={figures['count']})"
            )
    return lines


def _check_line(name: str, checks: dict[str, Any]) -> str:
    if name == "race":
        text = (
            f"{checks.get('joins')} joins on a team of {checks.get('target')}: {checks.get('seated')} seated"
            f" ({checks.get('live_orders')} live orders, Redis {checks.get('redis_joiner_seats')} joiners),"
            f" refused {checks.get('refused')}, oversold {checks.get('oversold')}"
        )
        return text + "".join(f"; {violation}" for violation in checks.get("violations", []))
    if name in ("settle", "gateway_notify"):
        text = (
            f"{checks['orders_answered_settled']} settled (0000) of {checks['orders']} orders, {checks['orders_paid']}"
            f" paid; {checks['teams_complete']} of {checks['teams']} teams complete, {checks['outbox_rows']} outbox"
            f" rows; mismatches: answered-not-paid {checks['answered_not_paid']}, paid-not-sent"
            f" {checks['paid_not_answered']}, complete_count {checks['complete_count_mismatches']}, completion"
            f" {checks['completion_mismatches']}, outbox {checks['outbox_mismatches']}, retries"
            f" {checks['retry_failures']}"
        )
        if "mall_answered_not_paid" in checks:  # the gateway suite: the mall's own orders too
            text += (
                f"; mall: answered-not-paid {checks['mall_answered_not_paid']},"
                f" paid-not-sent {checks['mall_paid_not_sent']}"
            )
        return text + "".join(f"; {example}" for example in checks["examples"])
    return str(checks)


def format_run_table(run: dict[str, Any]) -> str:
    """One row per measured endpoint of every suite, its ratios to the bare view of its suite and its target."""
    server = run["server"]
    arguments = run["arguments"]
    commit = (run["git"].get("commit") or "?")[:7] + (" (dirty)" if run["git"].get("dirty") else "")
    lines = [
        "",
        f"make bench: {server['workers']} {server['worker_class']} workers x {server['threads']} threads,"
        f" {arguments['concurrency']} connections (race {arguments['race_concurrency']}), commit {commit},"
        f" load average at the end {run['machine']['loadavg_at_end']}",
    ]
    header = ("suite", "scenario", "req/s", "p50 ms", "p99 ms", "gunicorn ms/req", "vs bare", "by CPU", "target", "met")
    row = "{:<12} {:<12} {:>9} {:>8} {:>8} {:>16} {:>8} {:>8} {:>7} {:>8}"
    lines.append(row.format(*header))
    for suite, report in run["suites"].items():
        for name, figures in report.get("endpoints", {}).items():
            target = report.get("targets", {}).get(name)
            met = ""
            if target:
                met = f"{'yes' if target['met'] else 'NO'}/{'yes' if target['met_by_cpu'] else 'NO'}"
            gunicorn = figures["cpu"].get("ms_per_request", {}).get("gunicorn")
            lines.append(
                row.format(
                    suite,
                    name,
                    f"{figures['throughput_rps']:.1f}",
                    f"{figures['p50_ms']:.2f}",
                    f"{figures['p99_ms']:.2f}",
                    _fmt(gunicorn, ".2f"),
                    _fmt(_ratio(report, name, "throughput")),
                    _fmt(_ratio(report, name, "by_cpu")),
                    _fmt(target["target"], ".2f") if target else "",
                    met,
                )
            )
    lines.append("(met: by throughput / by gunicorn CPU per request, each against the bare view of the same suite;")
    lines.append(" @split: gunicorn on cores of its own, the services and the load generator on the others)")
    for suite, report in run["suites"].items():
        verdicts = [f"not measured: {report['skipped']}"] if report.get("skipped") else []
        if "invariants" in report:
            inv = report["invariants"]
            verdicts.append(
                f"invariants {'ok' if inv['ok'] else 'VIOLATED'} ({inv['oversold_teams']} oversold of"
                f" {inv['teams_checked']} teams)"
            )
        for name, checks in report.get("checks", {}).items():
            verdicts.append(f"{name} {'ok' if checks.get('ok') else 'VIOLATED'}: {_check_line(name, checks)}")
        if "delivery" in report:
            delivery, latency = report["delivery"], report["latency"].get("from_task_created", {})
            verdicts.append(
                f"{delivery['delivered_once']} of {delivery['expected']} callbacks delivered exactly once,"
                f" commit -> receiver p50 {latency.get('p50_ms')} ms, p99 {latency.get('p99_ms')} ms"
            )
        verdicts += [f"PROBLEM {problem}" for problem in report.get("problems", [])]
        lines.extend(f"{suite}: {verdict}" for verdict in verdicts)
    return "\n".join(lines)
