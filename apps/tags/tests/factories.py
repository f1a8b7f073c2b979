import factory

from apps.tags.models import CrowdTag


class CrowdTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CrowdTag

    tag_id = factory.Sequence(lambda n: f"TAG{n:06d}")
    tag_name = factory.Sequence(lambda n: f"crowd {n}")
