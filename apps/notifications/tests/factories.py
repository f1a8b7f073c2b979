import factory

from apps.accounts.tests.factories import UserFactory
from apps.notifications.models import InboxMessage


class InboxMessageFactory(factory.django.DjangoModelFactory[InboxMessage]):
    class Meta:
        model = InboxMessage

    user = factory.SubFactory(UserFactory)
    kind = InboxMessage.Kind.TEAM_FORMED
    team_id = factory.Sequence(lambda n: f"{70000000 + n}")
    params = factory.LazyFunction(lambda: {"goodsName": "Java 面试手册", "targetCount": 3})
