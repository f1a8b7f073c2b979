"""The security suite's Django settings: the bench's (production) with a Celery queue and a bus of its own.

Attacks that succeed on a vulnerable build refund and settle orders, and a refund publishes
``topic.team_refund`` to the team-callback bus, whose queues have fixed names on the shared RabbitMQ:
as in the load suite (``benchmarks/load/settings.py``), the suite's server publishes to its own exchange
and queues instead, which nobody consumes. Nothing else differs from production.
"""

from benchmarks.settings import *  # noqa: F403

SECURITY_QUEUE = "groupbuy_security"
CELERY_TASK_DEFAULT_QUEUE = SECURITY_QUEUE
GBM_EXCHANGE = "groupbuy_security_exchange"
GBM_QUEUE_PREFIX = "groupbuy_security"  # its queues: groupbuy_security_team_refund, ... (apps/common/mq.py)
