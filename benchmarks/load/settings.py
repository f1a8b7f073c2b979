"""The load suite's Django settings: the bench's (production) with a Celery queue and a bus of its own.

The load suite refunds orders, and every refund publishes a ``topic.team_refund`` message (seat recovery)
to the team-callback bus. The bus's exchange and queues have fixed names on the shared RabbitMQ, where
other people's consumers would take the messages (and apply them to their databases). So the suite's
processes publish to and consume from an exchange and queues of its own (and their own Celery queue,
as the bench has); nothing else differs from production.
"""

from benchmarks.settings import *  # noqa: F403

LOAD_QUEUE = "groupbuy_load"
CELERY_TASK_DEFAULT_QUEUE = LOAD_QUEUE
GBM_EXCHANGE = "groupbuy_load_exchange"
GBM_QUEUE_PREFIX = "groupbuy_load"  # its queues: groupbuy_load_team_refund, ... (apps/common/mq.py)
