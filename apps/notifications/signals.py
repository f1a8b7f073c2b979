"""The outbox's signal: a task was committed and can be delivered now.

The service sends it after the commit; the Celery adapter (``tasks.py``) receives it and enqueues the
delivery. So services never import their tasks: adapters -> services, one way (.importlinter).
"""

from django.dispatch import Signal

notify_task_committed = Signal()  # keyword argument: task_id
