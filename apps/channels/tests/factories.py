import factory

from apps.channels.models import ChannelCredential


class ChannelCredentialFactory(factory.django.DjangoModelFactory[ChannelCredential]):
    class Meta:
        model = ChannelCredential
        django_get_or_create = ("source", "channel")

    # Never the s01/c01 style of the demo and of tests that name their channel: get_or_create would merge them.
    source = factory.Sequence(lambda n: f"mall{n}")
    channel = factory.Sequence(lambda n: f"app{n}")
    secret = factory.Sequence(lambda n: f"secret-{n:04d}-abcdefghijkl")
