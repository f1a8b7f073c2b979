"""An activity's save drops its formation quota row once the save commits (``apps.trade.limits``): its team limit
may have changed, so the next team to open counts the slots again from the teams as they are."""

from typing import Any

from django.db import transaction

from apps.activities.models import Activity
from apps.trade.limits import formation_quota_reset


def activity_saved(sender: type[Activity], instance: Activity, **kwargs: Any) -> None:
    activity_id = instance.activity_id
    transaction.on_commit(lambda: formation_quota_reset(activity_id=activity_id))
