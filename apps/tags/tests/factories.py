import factory

from apps.tags.models import CrowdTag, CrowdTagDetail, CrowdTagJob


class CrowdTagFactory(factory.django.DjangoModelFactory[CrowdTag]):
    class Meta:
        model = CrowdTag

    tag_id = factory.Sequence(lambda n: f"TAG{n:06d}")
    tag_name = factory.Sequence(lambda n: f"crowd {n}")


class CrowdTagDetailFactory(factory.django.DjangoModelFactory[CrowdTagDetail]):
    class Meta:
        model = CrowdTagDetail

    tag = factory.SubFactory(CrowdTagFactory)
    user_id = factory.Sequence(lambda n: f"member{n}")


class CrowdTagJobFactory(factory.django.DjangoModelFactory[CrowdTagJob]):
    """A CSV import job by default; pass ``source_file__data=b"..."`` for its file's content."""

    class Meta:
        model = CrowdTagJob

    batch_id = factory.Sequence(lambda n: f"B{n:08d}")
    tag = factory.SubFactory(CrowdTagFactory)
    tag_type = CrowdTagJob.TagType.CSV_IMPORT
    source_file = factory.django.FileField(filename="users.csv", data=b"u1\nu2\n")

    class Params:
        trading_history = factory.Trait(
            tag_type=CrowdTagJob.TagType.TRADING_HISTORY,
            source_file="",
            tag_rule="1",
        )
