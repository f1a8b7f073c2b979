"""Crowd tags' signal: a tag has members but its Redis bitmap is missing (a trial noticed it).

The selector sends it after the commit; the Celery adapter (``tasks.py``) receives it and queues the
rebuild. So selectors never import their tasks: adapters -> services/selectors, one way (.importlinter).
"""

from django.dispatch import Signal

crowd_tag_bitmap_missing = Signal()  # keyword argument: tag_id
