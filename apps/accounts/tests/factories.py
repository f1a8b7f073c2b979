import factory

from apps.accounts.models import ChannelCredential, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True


class ChannelCredentialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelCredential
        django_get_or_create = ("source", "channel")

    source = factory.Sequence(lambda n: f"s{n:02d}")
    channel = factory.Sequence(lambda n: f"c{n:02d}")
    secret = factory.Sequence(lambda n: f"secret-{n:04d}-abcdefghijkl")
