"""The payments modules import one way: adapters (tasks, views, apis, admin) → flows → gateways → models.

Function-level imports count too: they hide a cycle from Python, not from a reader (or import-linter).
"""

import ast
from pathlib import Path

from celery import current_app

from apps.payments import enqueue, tasks

PACKAGE = Path(__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parents[1]).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every module of apps.payments (tests and migrations aside) → the apps.payments modules it imports."""
    modules = {
        _module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
    }
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            targets |= {candidate for candidate in candidates if candidate in modules and candidate != name}
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            found = visit(target, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    return next((found for node in sorted(graph) if (found := visit(node, []))), None)


def test_no_import_cycle_inside_payments():
    graph = _imports()
    assert {"apps.payments.orders", "apps.payments.tasks", "apps.payments.gateways.sandbox"} <= set(graph)
    assert _cycle(graph) is None


def test_no_payments_module_imports_the_tasks():
    importers = {name for name, targets in _imports().items() if "apps.payments.tasks" in targets}
    assert importers == set()


def test_the_enqueued_names_are_the_tasks():
    assert current_app.tasks[enqueue.REFUND_MALL_ORDER].name == tasks.refund_mall_order.name
    assert current_app.tasks[enqueue.SANDBOX_NOTIFY_DELIVER].name == tasks.sandbox_notify_deliver.name


def test_a_process_that_never_imported_the_tasks_still_enqueues_them():
    """A web process imports no tasks.py on its own (only a worker autodiscovers them): ``task_delay`` finds it."""
    import subprocess
    import sys

    script = (
        "import sys, django; django.setup()\n"
        "from unittest import mock\n"
        "from apps.payments.enqueue import REFUND_MALL_ORDER, task_delay\n"
        "assert 'apps.payments.tasks' not in sys.modules\n"
        "with mock.patch('celery.app.task.Task.delay') as delay:\n"
        "    task_delay(REFUND_MALL_ORDER, '1', 'why')\n"
        "print(delay.call_args.args)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "('1', 'why')"
