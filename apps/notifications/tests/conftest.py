import pytest

from apps.notifications.tests.receiver import Receiver, start_receiver


@pytest.fixture
def receiver():
    box = Receiver()
    server = start_receiver(box)
    yield box
    server.shutdown()
    server.server_close()
