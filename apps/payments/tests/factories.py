from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.payments.models import PayOrder


class PayOrderFactory(factory.django.DjangoModelFactory[PayOrder]):
    class Meta:
        model = PayOrder

    order_id = factory.Sequence(lambda n: f"260101000000{n:06d}")
    user = factory.SubFactory(UserFactory)
    product_id = "9890001"
    product_name = "手写MyBatis：渐进式源码实践"
    order_time = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))
    total_amount = Decimal("100.00")
    market_deduction_amount = Decimal("20.00")
    pay_amount = Decimal("80.00")
    market_type = PayOrder.MarketType.GROUP_BUY
    status = PayOrder.Status.PAY_WAIT
