"""Mall and payment API under /api/v1/: orders, teams, gateway notify. Filled by the payments work."""

urlpatterns: list = []
