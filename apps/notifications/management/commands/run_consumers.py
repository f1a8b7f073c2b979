import signal

from django.core.management.base import BaseCommand

from apps.common.mq import ROUTES, mq_connection
from apps.notifications.consumers import TeamCallbackConsumer, handlers_for
from config.guards import refuse_unsafe_start


class Command(BaseCommand):
    help = "Consume team callbacks (team_success, team_refund) from the bus until stopped (SIGTERM/SIGINT)."

    def handle(self, *args, **options) -> None:
        refuse_unsafe_start("The bus consumer")  # production: never on a database with demo credentials
        routing_keys = [key for key in ROUTES if handlers_for(key)]
        with mq_connection() as connection:
            consumer = TeamCallbackConsumer(connection, routing_keys)

            def stop(signum, frame) -> None:
                consumer.should_stop = True

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            self.stdout.write(f"consuming {', '.join(routing_keys) or 'nothing'} from {connection.as_uri()}")
            consumer.run()
