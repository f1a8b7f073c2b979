"""A Django child interpreter for cross-process tests: it prints lines, the test reads them with a deadline."""

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings


class Child:
    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None  # started with stdout=PIPE
        for line in self.process.stdout:
            self._lines.put(line.strip())

    def next_line(self, deadline: float) -> str | None:
        """The child's next line, or None if it says nothing before ``deadline`` (a ``time.monotonic()``)."""
        try:
            return self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None


@contextmanager
def django_child(module: str, *args: str, **env: str) -> Iterator[Child]:
    """``python -m module args`` with the test settings and this process's service URLs; killed at the end."""
    environ = os.environ | {"DJANGO_SETTINGS_MODULE": "config.settings.test", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=settings.BASE_DIR, env=environ, stdout=subprocess.PIPE, text=True
    )
    try:
        yield Child(process)
    finally:
        process.kill()
        process.wait(timeout=10)
