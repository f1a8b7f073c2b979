from django.core.management.base import BaseCommand, CommandError

from apps.common.mq import ClassicQueueInTheWay, mq_connection, mq_queues_declare


class Command(BaseCommand):
    help = (
        "Declare the team-callback bus's queues as quorum queues (idempotent): an empty classic queue of the same "
        "name is replaced, one still holding messages is refused with what to do. Run at deploy, before the web "
        "and the consumers start."
    )

    def handle(self, *args, **options) -> None:
        with mq_connection() as conn:
            try:
                declared = mq_queues_declare(conn)
            except ClassicQueueInTheWay as exc:
                raise CommandError(str(exc)) from None
        for queue in declared:
            self.stdout.write(f"{queue.name}: {queue.outcome}")
