import factory

from apps.channels.models import ChannelCredential


class ChannelCredentialFactory(factory.django.DjangoModelFactory[ChannelCredential]):
    class Meta:
        model = ChannelCredential
        django_get_or_create = ("source", "channel")

    source = factory.Sequence(lambda n: f"s{n:02d}")
    channel = factory.Sequence(lambda n: f"c{n:02d}")
    secret = factory.Sequence(lambda n: f"secret-{n:04d}-abcdefghijkl")
