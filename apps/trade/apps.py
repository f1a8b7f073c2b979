from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TradeConfig(AppConfig):
    name = "apps.trade"
    verbose_name = _("Teams and orders")

    def ready(self) -> None:
        import apps.trade.metrics  # noqa: F401 - the business counters exist (at 0) from the first scrape
        from apps.common.redis_state import register_rebuilder
        from apps.trade.own_teams import own_teams_mirror_rebuild
        from apps.trade.redis_state import rebuild_team_stock

        register_rebuilder("team stock", rebuild_team_stock)
        register_rebuilder("own-teams mirror", own_teams_mirror_rebuild)

        from apps.tags.selectors import trading_history_register
        from apps.trade.selectors import paid_order_user_ids

        trading_history_register(paid_order_user_ids)  # crowd tags from paid orders; tags import no trade

        from apps.activities.customers import paid_before_register
        from apps.trade.selectors import user_paid_before

        paid_before_register(user_paid_before)  # new customers (the trial's customer node); activities import no trade

        from apps.common.mq import TEAM_REFUND
        from apps.notifications.consumers import register_handler
        from apps.trade.consumers import recover_team_seat

        register_handler(name="trade.recover_team_seat", routing_key=TEAM_REFUND, handle=recover_team_seat)

        from django.db.models.signals import post_save

        from apps.activities.models import Activity
        from apps.trade.signals import activity_saved

        # A changed team limit counts again from the teams (apps.trade.limits); activities import no trade.
        post_save.connect(activity_saved, sender=Activity, dispatch_uid="trade.formation_quota_reset")
