from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.activities.tests.factories import ActivityFactory, DiscountFactory, ScSkuActivityFactory, SkuFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "fields",
    [
        {"target": 0},
        {"valid_time": 0},
        {"take_limit_count": 0},
        {"status": 9},
        {"end_time": timezone.now() - timedelta(days=2)},  # ends before it starts
    ],
)
def test_activity_rules_are_database_constraints(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivityFactory(**fields)


def test_sku_price_must_be_positive():
    with pytest.raises(IntegrityError), transaction.atomic():
        SkuFactory(original_price=Decimal("0.00"))


def test_tag_only_discount_needs_a_tag_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        DiscountFactory(discount_type=1, tag=None)


def test_one_activity_per_sku_per_channel():
    mapping = ScSkuActivityFactory()
    ScSkuActivityFactory(sku=mapping.sku, channel="c02")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScSkuActivityFactory(sku=mapping.sku)
