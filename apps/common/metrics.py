"""Prometheus helpers shared by the apps.

A labelled counter has no series until its first ``inc``: a dashboard or an alert on
``rate(gbm_locks_total{outcome="E0008"}[5m])`` then sees "no data" instead of 0 (Prometheus'
"avoid missing metrics" advice). Each app names its known label values once, next to its counters,
and ``counter_labels_init`` creates those children at 0 when the module is imported.

In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, gunicorn), creating a child writes its 0 to the
process's file at once (prometheus_client >= 0.13), so a scrape shows it before any increment too;
each app's ``ready()`` imports its metrics module, so every worker writes them at start.
"""

from collections.abc import Iterable

from prometheus_client import Counter


def counter_labels_init(counter: Counter, combinations: Iterable[str | tuple[str, ...]]) -> None:
    """Create the children of ``counter`` for each label value (or tuple of values), at 0."""
    for values in combinations:
        counter.labels(*((values,) if isinstance(values, str) else values))
